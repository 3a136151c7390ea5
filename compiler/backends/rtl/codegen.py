"""Generate the RTL of a folded dataflow design:

    hdl/*.v        the kernel modules (static, parameterized Verilog-2005; copied)
    mem/*.mem      weights, thresholds, directions, biases ($readmemh files)
    bireal_top.v   the top level: one bireal_fifo per stream at its sized depth, one module
                   instance per kernel, AXI-Stream ports for the DMAs
    rtl.json       kernels, streams, ports and word counts (what the test bench and the Vivado
                   flow read)

Identifiers and file names are the dataflow's own (`mvu_4`, `s17`): never a name from the model.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2

from compiler.backends.hls.codegen import environment as templates_environment
from compiler.backends.rtl.kernels import RAM_STYLE, Bits, RtlKernel, rtl_kernel
from compiler.hw.cost import design_cost
from compiler.hw.dataflow import Dataflow
from compiler.ir import Graph

TOP = "bireal_top"
HERE = Path(__file__).resolve().parent
HDL = HERE / "hdl"
TEMPLATES = HERE / "templates"


@dataclass
class RtlProject:
    root: Path
    top: Path
    sources: list[Path]  # every Verilog file, the top level last
    kernels: list[RtlKernel]
    in_words: int  # bus words per frame
    out_words: int


def _literal(value) -> str:
    if isinstance(value, Bits):
        return f"{value.width}'h{value.value:x}"
    return f'"{value}"' if isinstance(value, str) else str(int(value))


def write_rom(path: Path, bits: int, words: list[int]) -> None:
    digits = max(1, -(-bits // 4))
    path.write_text("".join(f"{w:0{digits}x}\n" for w in words))


def environment() -> jinja2.Environment:
    return templates_environment(TEMPLATES)


def placement(df: Dataflow, board: dict[str, int] | None) -> dict[tuple[str, str], str]:
    """(kernel, memory) -> the cost model's placement of it on `board` (none without a board)."""
    if board is None:
        return {}
    cost = design_cost(df, board)
    fifos = {(m.stream, "fifo"): m.kind for m in cost.fifos}
    return {(kc.name, m.what): m.kind for kc in cost.kernels for m in kc.memories} | fifos


def generate(df: Dataflow, graph: Graph, root: Path, board: dict[str, int] | None = None) -> RtlProject:
    """Write the RTL of `df` (folded, FIFOs sized) under `root`; with `board` (its resources) the
    weight ROMs, line buffers and FIFOs ask the synthesizer for the memory the cost model placed
    them in."""
    env = environment()
    order = df.order()
    where = placement(df, board)
    rtl = [rtl_kernel(k, df, graph, where) for k in order]
    for folder in ("hdl", "mem"):  # no stale module or ROM of an earlier design
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).mkdir(parents=True)
    sources = []
    for f in sorted(HDL.glob("*.v")):
        shutil.copy(f, root / "hdl" / f.name)
        sources.append(root / "hdl" / f.name)
    for rk in rtl:
        for name, (bits, words) in rk.roms.items():
            write_rom(root / "mem" / name, bits, words)
    src, dst = df.input_kernel, df.output_kernel
    in_words = src.bus_words(df)
    out_words = dst.bus_words(df)
    streams = [
        {
            "name": s.name,
            "producer": s.producer,
            "consumer": s.consumer,
            "width": s.width,
            "bits": s.bits,
            "beats": s.beats,
            "beat_bits": s.width * s.bits,
            "depth": max(2, s.depth),
            "latency": df.kernels[s.producer].pipeline_stages(),
            "style": RAM_STYLE.get(where.get((s.name, "fifo"), ""), 0),
        }
        for s in df.streams.values()
    ]
    kernels = [
        {
            "name": rk.name,
            "module": rk.module,
            "doc": f"{rk.kernel.describe()}, PE {rk.kernel.pe}, SIMD {rk.kernel.simd}",
            "params": [(key, _literal(v)) for key, v in rk.params.items()],
            "ins": list(zip(rk.in_ports, rk.kernel.inputs, strict=True)),
            "outs": list(zip(rk.out_ports, rk.kernel.outputs, strict=True)),
            "input_bus": rk.kernel is src,
            "output_bus": rk.kernel is dst,
        }
        for rk in rtl
    ]
    top = root / f"{TOP}.v"
    top.write_text(
        env.get_template("top.v.j2").render(
            top=TOP, design=df.name, kernels=kernels, streams=streams, in_words=in_words, out_words=out_words
        )
    )
    sources.append(top)
    info = {
        "top": TOP,
        "in_words": in_words,
        "out_words": out_words,
        "streams": streams,
        "kernels": [{"name": k["name"], "module": k["module"], "params": dict(k["params"])} for k in kernels],
    }
    (root / "rtl.json").write_text(json.dumps(info, indent=1))
    return RtlProject(root, top, sources, rtl, in_words, out_words)
