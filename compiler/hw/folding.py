"""Folding: PE and SIMD per kernel, stream widths and width converters.

`fold_to_target` gives every kernel the least parallelism that meets a cycles-per-frame target
(the slowest kernel sets the frame interval, so every kernel must meet it); each kernel class
chooses its own (`Kernel.fold`: matrix-vector units minimize PE x SIMD, ties to the larger SIMD;
element-wise kernels take the smallest PE dividing their channels). A folding can also be given
as JSON: {"kernel name": {"pe": P, "simd": S}}.
"""

from __future__ import annotations

import json
from pathlib import Path

from bireal_hw.errors import UserError
from compiler.hw.dataflow import Dataflow, Stream
from compiler.hw.kernels import OutputDMA, WidthConverter


def follow_neighbours(df: Dataflow) -> None:
    """Kernels without a folding of their own take their neighbour's (a sliding window its
    matrix-vector unit's SIMD, a fork its producer's beat), in topological order."""
    for k in df.order():
        if not k.folded:
            k.follow(df)


def connect_widths(df: Dataflow) -> None:
    """Set stream widths from the kernels' folding, inserting a width converter where a producer's
    beat differs from its consumer's (existing converters are removed first)."""
    for name in [n for n, k in df.kernels.items() if isinstance(k, WidthConverter)]:
        dwc = df.kernels.pop(name)
        s_in, s_out = df.streams[dwc.inputs[0]], df.streams.pop(dwc.outputs[0])
        s_in.consumer = s_out.consumer
        consumer = df.kernels[s_out.consumer]
        consumer.inputs[consumer.inputs.index(s_out.name)] = s_in.name
    for s in list(df.streams.values()):
        producer, consumer = df.kernels[s.producer], df.kernels[s.consumer]
        if isinstance(consumer, OutputDMA):
            consumer.follow(df)
        a, b = producer.out_width(), consumer.in_width()
        s.width = a
        if a != b:
            dwc = WidthConverter(
                f"{WidthConverter.kind}_{len(df.kernels)}",
                [s.name],
                [],
                WidthConverter.Geometry(a, b, s.elements),
            )
            dwc.pe = b
            out = Stream(
                f"s{len(df.streams)}", dwc.name, consumer.name, s.elements, s.bits, width=b, tensor=s.tensor
            )
            while out.name in df.streams:
                out.name += "_"
            df.streams[out.name] = out
            dwc.outputs = [out.name]
            consumer.inputs[consumer.inputs.index(s.name)] = out.name
            s.consumer = dwc.name
            df.kernels[dwc.name] = dwc
    for s in df.streams.values():
        if s.elements % s.width:
            raise UserError(f"stream {s.name}: {s.elements} elements do not split into beats of {s.width}")


def fold_to_target(df: Dataflow, target_cycles: int, fps: float, clock_mhz: float) -> None:
    """Fold every kernel to meet `target_cycles` per frame; UserError if one cannot."""
    for stage in (0, 1):  # the matrix units, then the element-wise kernels that may take their beat
        for k in df.order():
            if k.folded and k.fold_order == stage and not k.fold(df, target_cycles):
                fastest = k.fastest_cycles()
                raise UserError(
                    f"--fps {fps:g} at {clock_mhz:g} MHz needs a frame every {target_cycles} cycles, but layer "
                    f"{k.name} ({k.describe()}) needs {fastest} even fully "
                    f"parallel: at most {clock_mhz * 1e6 / fastest:.0f} fps; lower --fps or raise --clock-mhz"
                )
    follow_neighbours(df)
    connect_widths(df)
    for k in df.order():
        cycles = k.cycles(df)
        if cycles > target_cycles:
            raise UserError(
                f"--fps {fps:g} at {clock_mhz:g} MHz needs a frame every {target_cycles} cycles; {k.kind} "
                f"{k.name} needs {cycles}: at most {clock_mhz * 1e6 / cycles:.0f} fps"
            )


def folding_dict(df: Dataflow) -> dict:
    """Each folded kernel's PE and SIMD, in the order the kernels were made (the report's rows)."""
    return {k.name: {"pe": k.pe, "simd": k.simd} for k in df.kernels.values() if k.folded}


def apply_folding_file(df: Dataflow, path: Path) -> None:
    """Apply a folding JSON ({kernel: {"pe", "simd"}}); UserError on unknown kernels or illegal values."""
    try:
        spec = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"--folding {path}: not a readable JSON file ({str(exc)[:120]})") from None
    if not isinstance(spec, dict):
        raise UserError(f"--folding {path}: expected an object of kernel name -> {{pe, simd}}")
    entries = spec.get("kernels", spec)
    if not isinstance(entries, dict):
        raise UserError(f"--folding {path}: expected an object of kernel name -> {{pe, simd}}")
    for name, f in entries.items():
        k = df.kernels.get(name)
        if k is None or not isinstance(f, dict):
            raise UserError(
                f"--folding {path}: unknown kernel {name[:60]!r}; kernels: {', '.join(folding_dict(df))}"
            )
        pe, simd = f.get("pe", k.pe), f.get("simd", k.simd)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (pe, simd)):
            raise UserError(
                f"--folding {path}: {name[:60]!r} needs positive integer pe and simd, got {pe!r}, {simd!r}"
            )
        k.pe, k.simd = pe, simd
        if not k.legal(df):
            raise UserError(f"--folding {path}: pe={k.pe} simd={k.simd} is not legal for {k.name}")
    follow_neighbours(df)
    connect_widths(df)
