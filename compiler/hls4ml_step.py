"""The build's `hls4ml` step (--target hls4ml): the streamlined IR as an hls4ml project
(compiler/backends/hls4ml), compiled by hls4ml and C-simulated with its `predict`, compared with
the reference using == on every logit."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from bireal_hw.errors import CheckFailed
from compiler.backends.hls4ml.convert import PROJECT, hls4ml_model
from compiler.ir import Graph
from compiler.ir.ops.quantize_input import quantize
from compiler.verify_build import compare, images_for, reference_for, require


def model_runner(graph: Graph, model):
    """NCHW images in [0, 1] -> the integer logits of an hls4ml model's C-simulation."""
    quantizer = next(n for n in graph.nodes if n.op == "quantize_input").attrs

    def run(x: np.ndarray) -> np.ndarray:
        pixels = quantize(quantizer, x).astype(np.float64)
        y = model.predict(np.ascontiguousarray(pixels.transpose(0, 2, 3, 1)))  # float64: exact integers
        got = np.asarray(y, dtype=np.float64).reshape(len(x), -1)
        if not np.array_equal(got, np.round(got)):
            raise CheckFailed("hls4ml: its C-simulation returned non-integer logits")
        return got.astype(np.int64)

    return run


def run_hls4ml(graph: Graph, state) -> None:
    cfg = state.cfg
    chosen = cfg.chosen_board()
    out = state.stage / "hls4ml"
    model = hls4ml_model(graph, out, chosen.part, cfg.clock_mhz)
    start = time.perf_counter()
    model.compile()  # writes the project and builds hls4ml's C-simulation library with g++
    compile_seconds = time.perf_counter() - start
    images, source = images_for(graph, cfg.verify_images, cfg.seed)
    ref = reference_for(graph, state)
    start = time.perf_counter()
    run = model_runner(graph, model)
    check = compare("hls4ml: its C-simulation", run, ref, images, cfg.batch, source)
    mismatches = check.mismatches
    run_seconds = time.perf_counter() - start
    state.report["hls4ml"] = {
        "project": f"hls4ml/ ({PROJECT}, Vitis backend, io_stream)",
        "layers": len(model.get_layers()) if hasattr(model, "get_layers") else None,
        "part": chosen.part,
        "clock_mhz": cfg.clock_mhz,
        **check.as_dict(),
        "compile_seconds": round(compile_seconds, 2),
        "run_seconds": round(run_seconds, 2),
    }
    print(
        f"hls4ml C-simulation: {len(images)} images, {mismatches} mismatches "
        f"(compile {compile_seconds:.1f} s, run {run_seconds:.1f} s)",
        file=sys.stderr,
    )
    require(check)
    point_project_at(out, cfg.out.resolve() / "hls4ml")


def point_project_at(project: Path, final: Path) -> None:
    """hls4ml writes the staging folder's absolute path into the project (its OutputDir, which
    `link_existing_project(...).compile()` builds in): point it at the folder the project is
    moved to, so the project left behind works where it is."""
    for path in project.iterdir():
        if path.is_file() and path.suffix in (".yml", ".yaml", ".sh", ".tcl"):
            text = path.read_text()
            if str(project) in text:
                path.write_text(text.replace(str(project), str(final)))


def project_runner(graph: Graph, project: Path):
    """The integer logits of the hls4ml project in `project` (a build's hls4ml/ folder), as a
    user would run it: linked by hls4ml, compiled in place, C-simulated."""
    import hls4ml

    model = hls4ml.converters.link_existing_project(str(project))
    model.compile()
    return model_runner(graph, model)
