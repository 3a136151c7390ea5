"""Generate the Vitis HLS C++ project of a folded dataflow design from the Jinja2 templates:

    src/bireal_hls.h          stream bus word, checked reads, XNOR-popcount (static)
    src/kernels.h             one prototype per kernel, the top level's
    src/<kernel>.cpp          one function per hardware layer (`<kind>_<index>`, the dataflow's names)
    src/params/<kernel>.h     its constants, bit-packed
    src/top.cpp               `bireal_accel`: #pragma HLS DATAFLOW, one hls::stream per FIFO at
                              the depth the FIFO sizing chose
    csim/csim.cpp             the C-simulation entry points (g++ only)
    dram/<weight_dma>.bin     a streaming unit's weights as its DMA reads them from DRAM
                              (little-endian uint64 words; the host loads them, compiler/hw/external.py)
    kernels.json              kernel -> IR nodes -> original ONNX tensor names

Identifiers and file names are the dataflow's own (`mvu_4`, `s17`): never a name from the model.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from compiler.backends.hls.kernels import KernelSpec, dram_port, kernel_spec
from compiler.hw.cost import DesignCost
from compiler.hw.dataflow import Dataflow
from compiler.hw.external import dram_image, weight_words
from compiler.hw.kernels import InputDMA, OutputDMA, WeightDMA
from compiler.ir import Graph

TOP = "bireal_accel"
HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def environment(templates: Path = TEMPLATES) -> jinja2.Environment:
    """The backends' Jinja2 environment over a template folder (strict: an unknown name fails)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def render_kernel(env: jinja2.Environment, spec: KernelSpec) -> tuple[str, str | None]:
    """(kernel .cpp text, params header text or None)."""
    source = env.get_template(spec.template).render(**spec.context)
    params = None
    if spec.arrays:
        params = env.get_template("params.h.j2").render(k=spec.kernel, arrays=spec.arrays)
    return source, params


@dataclass
class Project:
    root: Path
    sources: list[Path]  # kernel .cpp files and top.cpp (what Vitis HLS synthesizes)
    csim: Path  # the C-simulation entry points
    include: Path  # src/
    stream_names: list[str]  # index -> FIFO name (the C-simulation's traffic order)
    in_words: int  # bus words per frame
    out_words: int
    drams: list[dict] = field(default_factory=list)  # per weight DMA: port, file (under root), words, bus


def _word_counts(specs: list[KernelSpec]) -> tuple[int, int]:
    src = next(s for s in specs if isinstance(s.kernel, InputDMA))
    dst = next(s for s in specs if isinstance(s.kernel, OutputDMA))
    return src.context["words"], dst.context["words"]


def generate(
    df: Dataflow, graph: Graph, root: Path, cost: DesignCost | None = None, names: dict | None = None
) -> Project:
    """Write the project of `df` (folded, FIFOs sized) under `root`."""
    env = environment()
    costs = {kc.name: kc for kc in cost.kernels} if cost else {}
    order = df.order()
    specs = [kernel_spec(k, df, graph, costs.get(k.name)) for k in order]
    src = root / "src"
    (src / "params").mkdir(parents=True, exist_ok=True)
    shutil.copy(STATIC / "bireal_hls.h", src / "bireal_hls.h")
    streams = list(df.streams.values())
    index = {s.name: i for i, s in enumerate(streams)}
    sources = []
    kernels_ctx = []
    for spec in specs:
        k = spec.kernel
        source, params = render_kernel(env, spec)
        (src / f"{k.name}.cpp").write_text(source)
        if params is not None:
            (src / "params" / f"{k.name}.h").write_text(params)
        sources.append(src / f"{k.name}.cpp")
        ins = ["input_bus"] if isinstance(k, InputDMA) else list(k.inputs)
        outs = ["output_bus"] if isinstance(k, OutputDMA) else list(k.outputs)
        kernels_ctx.append(
            {
                "signature": spec.signature,
                "call": spec.call(ins, outs),
                "trace": [index[s] for s in k.outputs],
            }
        )
    in_words, out_words = _word_counts(specs)
    drams = []
    for k in order:
        if isinstance(k, WeightDMA):
            image = dram_image(k, weight_words(df.kernels[k.geometry.unit]))
            path = root / "dram" / f"{k.name}.bin"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(image.astype("<u8").tobytes())
            drams.append({
                "port": dram_port(k.name), "file": str(path.relative_to(root)), "words": len(image),
                "bus": k.geometry.bus_bits, "beats": len(image) * 64 // k.geometry.bus_bits,
            })  # fmt: skip
    stream_ctx = [
        {
            "name": s.name,
            "beat_bits": s.width * s.bits,
            "depth": max(2, s.depth),
            "producer": s.producer,
            "consumer": s.consumer,
            "width": s.width,
            "bits": s.bits,
            "beats": s.beats,
        }
        for s in streams
    ]
    common = {
        "kernels": kernels_ctx,
        "streams": stream_ctx,
        "top": TOP,
        "in_words": in_words,
        "out_words": out_words,
        "drams": drams,
    }
    (src / "kernels.h").write_text(env.get_template("kernels.h.j2").render(**common))
    (src / "top.cpp").write_text(env.get_template("top.cpp.j2").render(**common))
    sources.append(src / "top.cpp")
    (root / "csim").mkdir(exist_ok=True)
    (root / "csim" / "csim.cpp").write_text(env.get_template("csim.cpp.j2").render(**common))
    mapping = {
        k.name: {
            "kind": k.kind,
            "pe": k.pe,
            "simd": k.simd,
            "ir_nodes": k.ir_nodes,
            "ir_outputs": sorted({df.streams[s].tensor for s in k.outputs}),
            "onnx_tensors": sorted({(names or {}).get(df.streams[s].tensor, "") for s in k.outputs} - {""}),
        }
        for k in order
    }
    (root / "kernels.json").write_text(json.dumps(mapping, indent=1))
    return Project(
        root, sources, root / "csim" / "csim.cpp", src, [s.name for s in streams], in_words, out_words, drams
    )
