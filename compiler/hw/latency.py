"""Analytical latency of the first frame: when each kernel emits its first and last beat of frame
0, walking the design in topological order (docs/hardware.md, "Latency"); each kernel class gives
its own rule (`Kernel.latency`).

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

and each output beat is written `pipeline_stages` cycles after its op (the RTL's register stages).
"""

from __future__ import annotations

from compiler.hw.dataflow import Dataflow


def first_frame_latency(df: Dataflow) -> int:
    """Estimated cycles from the first input beat to the last output beat of frame 0."""
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for k in df.order():
        ins, outs = df.input_streams(k), df.output_streams(k)
        if not ins:  # input DMA: a beat per cycle from cycle 0
            f_in, l_in, beats_in = -1.0, (outs[0].beats - 2.0), outs[0].beats
        else:
            f_in = max(first[s.name] for s in ins) + 1  # visible the cycle after the push
            l_in = max(last[s.name] for s in ins) + 1
            beats_in = ins[0].beats
        rate = (l_in - f_in) / max(1, beats_in - 1)  # cycles between input beats
        f_out, l_out = k.latency(f_in, l_in, rate, ins, outs, k.cycles(df))
        f_out, l_out = f_out + k.pipeline_stages(), l_out + k.pipeline_stages()  # written that much later
        for s in outs:
            first[s.name], last[s.name] = f_out, l_out
        if not outs:  # output DMA: the frame is done when its last beat is read
            return int(round(l_in)) + 1
    raise ValueError("the design has no output DMA")
