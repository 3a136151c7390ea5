"""Folding: PE and SIMD per kernel, stream widths and width converters.

`fold_to_target` gives every kernel the least parallelism that meets a cycles-per-frame target
(the slowest kernel sets the frame interval, so every kernel must meet it): matrix-vector units
minimize PE x SIMD (ties: the larger SIMD), element-wise kernels take the smallest PE dividing
their channels. A folding can also be given as JSON: {"kernel name": {"pe": P, "simd": S}}.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from bireal_hw.errors import UserError
from compiler.hw.cost import kernel_cycles
from compiler.hw.dataflow import Dataflow, Kernel, Stream


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def channels(k: Kernel) -> int:
    g = k.geometry
    for key in ("ifm", "shape"):
        if key in g:
            return g[key][-1]
    return g.get("elements", 1)


def mvu_simd_options(k: Kernel, df: Dataflow) -> list[int]:
    """SIMD must divide MW; behind a sliding window it is a divisor of the input channels or a
    whole number of taps (C x m with m dividing kh*kw: a wider window per beat)."""
    producer = df.kernels[df.streams[k.inputs[0]].producer]
    mw = k.geometry["mw"]
    if producer.kind == "swu":
        c = producer.geometry["ifm"][2]
        taps = producer.geometry["kernel"][0] * producer.geometry["kernel"][1]
        return sorted(set(divisors(c)) | {c * m for m in divisors(taps)})
    return divisors(mw)


def out_width(k: Kernel) -> int:
    if k.kind == "input_dma":
        return k.geometry["shape"][2]
    if k.kind == "swu":
        return k.simd
    return k.pe


def in_width(k: Kernel) -> int:
    if k.kind == "swu":
        return min(k.simd, k.geometry["ifm"][2])
    if k.kind == "mvu":
        return k.simd
    return k.pe


def follow_neighbours(df: Dataflow) -> None:
    """Kernels without a folding of their own: a sliding window takes its matrix-vector unit's
    SIMD, a fork its producer's beat (so neither needs a width converter)."""
    for k in df.order():
        if k.kind == "swu":
            k.simd = df.kernels[df.streams[k.outputs[0]].consumer].simd
    for k in df.order():
        if k.kind == "fork":
            k.pe = out_width(df.kernels[df.streams[k.inputs[0]].producer])


def connect_widths(df: Dataflow) -> None:
    """Set stream widths from the kernels' folding, inserting a width converter where a producer's
    beat differs from its consumer's (existing converters are removed first)."""
    for name in [n for n, k in df.kernels.items() if k.kind == "dwc"]:
        dwc = df.kernels.pop(name)
        s_in, s_out = df.streams[dwc.inputs[0]], df.streams.pop(dwc.outputs[0])
        s_in.consumer = s_out.consumer
        consumer = df.kernels[s_out.consumer]
        consumer.inputs[consumer.inputs.index(s_out.name)] = s_in.name
    for s in list(df.streams.values()):
        producer, consumer = df.kernels[s.producer], df.kernels[s.consumer]
        if consumer.kind == "output_dma":
            consumer.pe = out_width(producer)
        a, b = out_width(producer), in_width(consumer)
        s.width = a
        if a != b:
            dwc = Kernel(
                f"dwc_{len(df.kernels)}", "dwc", [s.name], [], {"in": a, "out": b, "elements": s.elements}
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


def _feeding_width(df: Dataflow, k: Kernel) -> int:
    """The beat of the kernel feeding k's first input, looking through forks."""
    producer = df.kernels[df.streams[k.inputs[0]].producer]
    while producer.kind == "fork":
        producer = df.kernels[df.streams[producer.inputs[0]].producer]
    return out_width(producer)


def _best_mvu(k: Kernel, df: Dataflow, target: int) -> tuple[int, int] | None:
    g = k.geometry
    best = None
    for simd in mvu_simd_options(k, df):
        for pe in divisors(g["mh"]):
            cycles = g["pixels"] * math.ceil(g["mw"] / simd) * math.ceil(g["mh"] / pe)
            if cycles <= target:
                key = (pe * simd, -simd)
                if best is None or key < best[0]:
                    best = (key, pe, simd)
    return (best[1], best[2]) if best else None


def fold_to_target(df: Dataflow, target_cycles: int, fps: float, clock_mhz: float) -> None:
    """Fold every kernel to meet `target_cycles` per frame; UserError if one cannot."""
    for k in df.order():
        if k.kind == "mvu":
            choice = _best_mvu(k, df, target_cycles)
            if choice is None:
                g = k.geometry
                fastest = g["pixels"]
                raise UserError(
                    f"--fps {fps:g} at {clock_mhz:g} MHz needs a frame every {target_cycles} cycles, but layer "
                    f"{k.name} ({g['mh']}x{g['mw']} over {g['pixels']} pixels) needs {fastest} even fully "
                    f"parallel: at most {clock_mhz * 1e6 / fastest:.0f} fps; lower --fps or raise --clock-mhz"
                )
            k.pe, k.simd = choice
    for k in df.order():  # element-wise kernels after the units that feed them
        if k.kind in ("add", "max_pool", "sum_pool", "global_sum_pool"):
            c = channels(k)
            pixels = df.streams[k.inputs[0]].elements // c
            least = next((d for d in divisors(c) if pixels * c // d <= target_cycles), c)
            # take the feeding unit's beat when it is wider: no width converter in between
            feed = _feeding_width(df, k)
            k.pe = feed if (feed >= least and c % feed == 0) else least
    follow_neighbours(df)
    connect_widths(df)
    for k in df.order():
        cycles = kernel_cycles(k, df)
        if cycles > target_cycles:
            raise UserError(
                f"--fps {fps:g} at {clock_mhz:g} MHz needs a frame every {target_cycles} cycles; {k.kind} "
                f"{k.name} needs {cycles}: at most {clock_mhz * 1e6 / cycles:.0f} fps"
            )


def folding_dict(df: Dataflow) -> dict:
    return {
        k.name: {"pe": k.pe, "simd": k.simd}
        for k in df.order()
        if k.kind in ("mvu", "add", "max_pool", "sum_pool", "global_sum_pool")
    }


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
        _check_legal(k, df, path)
    follow_neighbours(df)
    connect_widths(df)


def _check_legal(k: Kernel, df: Dataflow, path: Path) -> None:
    if k.kind == "mvu":
        ok = k.simd in mvu_simd_options(k, df) and k.geometry["mh"] % k.pe == 0
    elif k.kind == "swu":
        ok = True
    else:
        ok = channels(k) % k.pe == 0
    if not ok:
        raise UserError(f"--folding {path}: pe={k.pe} simd={k.simd} is not legal for {k.name}")
