"""Folding: PE and SIMD per kernel, stream widths and width converters.

`fold_to_target` gives every kernel the least parallelism that meets a cycles-per-frame target
(the slowest kernel sets the frame interval, so every kernel must meet it); each kernel class
chooses its own (`Kernel.fold`: matrix-vector units minimize PE x SIMD, ties to the larger SIMD;
element-wise kernels take the smallest PE dividing their channels). A folding can also be given
as JSON: {"kernel name": {"pe": P, "simd": S}} (or that object under "kernels", as the build's
folding.json has it); `read_folding_file` checks its form before any work (at most
MAX_FOLDING_BYTES, nesting refused in one line, pe and simd integers in [1, MAX_PARALLELISM]),
`apply_folding_file` its kernel names and legality against the design.
"""

from __future__ import annotations

import json
from pathlib import Path

from bireal_hw import validate
from bireal_hw.errors import UserError
from compiler.hw.dataflow import Dataflow, Stream
from compiler.hw.kernels import MatrixVector, OutputDMA, WeightDMA, WidthConverter

MAX_FOLDING_BYTES = 4 << 20  # a folding of thousands of kernels is a few hundred KB
MAX_PARALLELISM = 1 << 16  # no kernel has more channels than this
FOLDING_KEYS = ("pe", "simd")
WEIGHT_PLACES = ("chip", "dram")  # a matrix unit's "weights": on chip, or streamed from DRAM


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
        if isinstance(producer, WeightDMA):  # a weight word per beat, read as it is
            continue
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
    """Each folded kernel's PE and SIMD (and "weights": "dram" for a matrix unit whose weights
    stream from DRAM), in the order the kernels were made (the report's rows)."""
    return {
        k.name: {"pe": k.pe, "simd": k.simd} | ({"weights": "dram"} if getattr(k, "external", False) else {})
        for k in df.kernels.values()
        if k.folded
    }


def _not_json(name: str):
    raise ValueError(f"{name} is not a JSON number")


def read_folding_file(path: Path) -> dict[str, dict[str, int]]:
    """The folding JSON at `path` as {kernel: {"pe"?: P, "simd"?: S}}, its form checked (one-line
    UserError): a regular file of at most MAX_FOLDING_BYTES, JSON without NaN or Infinity and not
    nested too deeply, an object of objects whose only keys are pe and simd, each an integer in
    [1, MAX_PARALLELISM]. Kernel names are checked against the design by `apply_folding_file`."""
    shape = "expected an object of kernel name -> {pe, simd}"
    try:
        if not Path(path).is_file():  # a folder, a FIFO or a device would block or fail the read
            raise FileNotFoundError(f"{path} is not a regular file")
        size = Path(path).stat().st_size
        if size > MAX_FOLDING_BYTES:
            raise UserError(
                f"--folding {path}: the file is {size} bytes, over the {MAX_FOLDING_BYTES} a folding file "
                "needs; give the folding JSON of this model ({kernel: {pe, simd}})"
            )
        spec = json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=_not_json)
    except (OSError, ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else " ".join(str(exc).split())[:120]
        raise UserError(f"--folding {path}: not a readable JSON file ({why}); {shape}") from None
    entries = spec.get("kernels", spec) if isinstance(spec, dict) else spec
    if not isinstance(entries, dict):
        raise UserError(f"--folding {path}: {shape}, got a JSON {type(entries).__name__}")
    for name, f in entries.items():
        if not isinstance(f, dict):
            raise UserError(
                f"--folding {path}: kernel {name[:60]!r} maps to a JSON {type(f).__name__}, not an object "
                "{pe, simd}; needs positive integer pe and simd"
            )
        unknown = sorted(set(f) - set(FOLDING_KEYS) - {"weights"})
        if unknown:
            raise UserError(f"--folding {path}: kernel {name[:60]!r} has unknown key {unknown[0][:40]!r}; "
                            "only pe, simd and weights")  # fmt: skip
        if "weights" in f and f["weights"] not in WEIGHT_PLACES:
            raise UserError(f"--folding {path}: {name[:60]!r} has weights {str(f['weights'])[:40]!r}; "
                            f"only {' or '.join(WEIGHT_PLACES)}")  # fmt: skip
        for key, value in f.items():
            if key == "weights":
                continue
            try:
                validate.check_integer(key, value, 1, MAX_PARALLELISM)
            except UserError as exc:
                raise UserError(
                    f"--folding {path}: {name[:60]!r} needs positive integer pe and simd: {exc}"
                ) from None
            if not isinstance(value, int):  # a whole float (4.0) is not an integer in JSON either
                raise UserError(f"--folding {path}: {name[:60]!r} needs positive integer pe and simd, "
                                f"got {key} {value!r}")  # fmt: skip
    return entries


def apply_folding_file(df: Dataflow, path: Path) -> None:
    """Apply a folding JSON ({kernel: {"pe", "simd", "weights"?}}); UserError on unknown kernels or
    illegal values (the weight DMAs are attached by the caller, which knows the board)."""
    entries = read_folding_file(path)
    for name, f in entries.items():
        k = df.kernels.get(name)
        if k is None:
            raise UserError(
                f"--folding {path}: unknown kernel {name[:60]!r}; kernels: {', '.join(folding_dict(df))}"
            )
        k.pe, k.simd = f.get("pe", k.pe), f.get("simd", k.simd)
        if "weights" in f:
            if not isinstance(k, MatrixVector):
                raise UserError(f"--folding {path}: {k.name} is not a matrix unit; only those have weights")
            k.external = f["weights"] == "dram"
        if not k.legal(df):
            raise UserError(f"--folding {path}: pe={k.pe} simd={k.simd} is not legal for {k.name}")
    follow_neighbours(df)
    connect_widths(df)
