"""Analytical latency of the first frame: when each kernel emits its first and last beat of frame
0, walking the design in stream order (docs/hardware.md, "Latency").

Each kernel is assumed to run at one op per cycle as soon as its inputs allow, its inputs arriving
evenly between the first and last beat its producer emits (back-pressure is ignored, so this is an
estimate, compared with the simulated latency in the report):

  streaming kernels (dma, fork, add, dwc)  first out = first in + 1
                                          last out  = max(last in + 1, first in + cycles)
  mvu                                     first out = arrival of the first pixel's sf beats + 1
                                          last out  = max(last in + (nf - 1) sf + 1, first in + cycles)
  windows (swu, pools)                    first out = arrival of the input its first window needs + 1
                                          last out  = max(last in + beats needing the last input,
                                                          first out + output beats - 1)
  global_sum_pool                         first out = last in + 1, last out = last in + output beats
"""

from __future__ import annotations

from compiler.hw.cost import kernel_cycles, mvu_folds
from compiler.hw.dataflow import Dataflow


def first_frame_latency(df: Dataflow) -> int:
    """Estimated cycles from the first input beat to the last output beat of frame 0."""
    from sim.functional import topological
    from sim.schedule import window_dependencies

    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for k in topological(df):
        ins, outs = df.input_streams(k), df.output_streams(k)
        if not ins:  # input DMA: a beat per cycle from cycle 0
            f_in, l_in, beats_in = -1.0, (outs[0].beats - 2.0), outs[0].beats
        else:
            f_in = max(first[s.name] for s in ins) + 1  # visible the cycle after the push
            l_in = max(last[s.name] for s in ins) + 1
            beats_in = ins[0].beats
        rate = (l_in - f_in) / max(1, beats_in - 1)  # cycles between input beats
        cycles = kernel_cycles(k, df)
        if k.kind == "mvu":
            sf, nf = mvu_folds(k)
            f_out = f_in + (sf - 1) * max(1.0, rate)
            l_out = max(l_in + (nf - 1) * sf, f_in + cycles - 1)
        elif k.kind in ("swu", "max_pool", "sum_pool"):
            need, _, _ = window_dependencies(k, ins[0].width, outs[0].width)
            f_out = f_in + float(need[0]) * rate
            tail = int((need == need[-1]).sum())
            l_out = max(l_in + tail, f_out + outs[0].beats - 1)
        elif k.kind == "global_sum_pool":
            f_out, l_out = l_in, l_in + outs[0].beats - 1
        else:
            f_out, l_out = f_in, max(l_in, f_in + cycles - 1)
        for s in outs:
            first[s.name], last[s.name] = f_out, l_out
        if not outs:  # output DMA: the frame is done when its last beat is read
            return int(round(l_in)) + 1
    raise ValueError("the design has no output DMA")
