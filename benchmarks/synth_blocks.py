"""Yosys synthesis of a large model's stage blocks at its fastest folding on a board: for each
stage of a Bi-Real net (each distinct input width of its binary 3x3 convolutions), the first
block's binary conv with the kernels around it (the sliding window feeding it, the fork before the
window and the add after the conv), synthesized with `only` (each instance as in the whole design,
compiler/backends/rtl/synth.py) beside the cost model's estimate.

    python benchmarks/synth_blocks.py [--model bireal18] [--residual-bits 4] [--board zcu104]
        [--fps FPS] [--json F]

Weights are random with randomized BatchNorm (seed 0; resources depend on the folding and on the
ROM contents' structure, not on trained values). Prints per instance the synthesized and
estimated LUT/FF/BRAM36/URAM/DSP, the error and the logic depth.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bireal_hw.export import export_qonnx_model  # noqa: E402
from bireal_hw.models import build_model, model_config  # noqa: E402
from compiler.backends.rtl.codegen import TOP, generate  # noqa: E402
from compiler.backends.rtl.synth import RESOURCES, synthesize_xilinx  # noqa: E402
from compiler.frontend.importer import import_qonnx  # noqa: E402
from compiler.hw.boards import board as board_named  # noqa: E402
from compiler.hw.design import folded_for, make_design  # noqa: E402
from compiler.hw.kernels import Add, Fork, MatrixVector, SlidingWindow  # noqa: E402
from compiler.passes import PassManager, lowering_passes, streamline_passes  # noqa: E402
from compiler.synth_steps import error, estimates  # noqa: E402
from sim.simulate import size_fifos  # noqa: E402
from tests.conftest import randomize_batchnorm  # noqa: E402


def stage_blocks(df) -> list[set[str]]:
    """Per distinct input width of the binary 3x3 convs, the first one's block: its window, the
    fork before the window (the residual map read twice), the conv and the add after it."""
    blocks, seen = [], set()
    for k in df.order():
        if not (isinstance(k, MatrixVector) and k.geometry.binary) or k.geometry.mw in seen:
            continue
        window = df.kernels[df.streams[k.inputs[0]].producer]
        if not isinstance(window, SlidingWindow) or window.geometry.kernel != (3, 3):
            continue
        seen.add(k.geometry.mw)
        block = {k.name, window.name}
        before = df.kernels[df.streams[window.inputs[0]].producer]
        if isinstance(before, Fork):
            block.add(before.name)
        after = df.kernels[df.streams[k.outputs[0]].consumer]
        if isinstance(after, Add):
            block.add(after.name)
        blocks.append(block)
    return blocks


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="bireal18")
    p.add_argument("--residual-bits", type=int, default=4)
    p.add_argument("--board", default="zcu104")
    p.add_argument(
        "--fps",
        type=float,
        help="the folding for this frame rate (default: the fastest that fits; a model that fits "
        "only with weights in DRAM: its folding for this rate, the units' shapes are what is measured)",
    )
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args()
    torch.manual_seed(0)
    model = build_model(model_config(args.model).replace(residual_bits=args.residual_bits)).eval()
    randomize_batchnorm(model, torch.Generator().manual_seed(1))
    graph = import_qonnx(export_qonnx_model(model), args.model).graph
    graph = PassManager(streamline_passes() + lowering_passes()).run(graph)
    b = board_named(args.board)
    clock = b.default_clock_mhz
    if args.fps:
        design = folded_for(graph, int(clock * 1e6 // args.fps), args.fps, clock, b)
    else:
        design = make_design(graph, b, clock, None, None)
    df = design.dataflow
    print(
        f"{args.model} r{args.residual_bits} on {b.name}: {design.fps:.1f} fps, {design.cost.interval} cycles",
        flush=True,
    )
    for name, depth in size_fifos(df, 2)[0].items():
        df.streams[name].depth = depth
    est = estimates(df, b.resources())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "rtl"
        project = generate(df, graph, root, b.resources())
        for i, block in enumerate(stage_blocks(df)):
            start = time.perf_counter()
            result = synthesize_xilinx(root, project.sources, TOP, root / f"block{i}", only=block)
            seconds = time.perf_counter() - start
            for name in sorted(block, key=lambda n: [k.name for k in df.order()].index(n)):
                c, k = result.instances[name], df.kernels[name]
                got = {r: round(v, 1) for r, v in c.resources().items()}
                row = {"block": i, "instance": name, "pe": k.pe, "simd": k.simd, "synthesized": got,
                       "estimate": est[name], "error": {r: error(est[name][r], got[r]) for r in RESOURCES},
                       "logic_depth": c.depth, "seconds": round(seconds, 1)}  # fmt: skip
                rows.append(row)
                print(
                    f"block {i} {name:14s} PE {k.pe:4d} SIMD {k.simd:5d}  "
                    + "  ".join(f"{r} {got[r]:g}/{est[name][r]:g}" for r in RESOURCES)
                    + f"  depth {c.depth}",
                    flush=True,
                )
            print(f"block {i}: {seconds:.0f} s", flush=True)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"model": args.model, "board": b.name, "fps": design.fps, "rows": rows})
        )


if __name__ == "__main__":
    main()
