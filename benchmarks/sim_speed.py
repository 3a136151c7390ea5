"""Simulator speed: simulated cycles per second of the fast timing engine, against the
tick-by-tick reference engine run in the same script on the same design.

    python benchmarks/sim_speed.py [--bireal18-checkpoint C.pt] [--fps 2000] [--board zcu104]

1. The embedded default model folded for 20,000 fps on zcu104: one frame with the fast engine
   and with the tick engine (identical times asserted), seconds and cycles/s of each.
2. With --bireal18-checkpoint: bireal18 at 224x224 with its zcu104 folding for --fps: seconds per
   simulated frame (two frames simulated, the interval measured between them).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compiler.build import DEFAULT_MODEL  # noqa: E402
from compiler.frontend import load_model_graph  # noqa: E402
from compiler.hw.boards import board  # noqa: E402
from compiler.hw.design import make_design  # noqa: E402
from compiler.passes import PassManager, lowering_passes, streamline_passes  # noqa: E402
from sim.schedule import build_processes  # noqa: E402
from sim.simulate import size_fifos  # noqa: E402
from sim.timing import solve, tick  # noqa: E402


def lowered(path):
    return PassManager(streamline_passes() + lowering_passes()).run(load_model_graph(path).graph)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bireal18-checkpoint")
    p.add_argument("--fps", type=float, default=2000.0)
    p.add_argument("--board", default="zcu104")
    args = p.parse_args()

    design = make_design(lowered(DEFAULT_MODEL), board("zcu104"), 200.0, 20_000.0, None)
    depths, _, _ = size_fifos(design.dataflow, 2)
    procs = build_processes(design.dataflow, 1)
    start = time.perf_counter()
    fast = solve(procs, depths)
    fast_s = time.perf_counter() - start
    start = time.perf_counter()
    ref = tick(procs, depths)
    tick_s = time.perf_counter() - start
    assert all(np.array_equal(fast.times[n], ref.times[n]) for n in fast.times)
    cycles = int(max(t[-1] for t in fast.times.values())) + 1
    print(
        f"default model, one frame ({cycles} cycles, {sum(p.ops for p in procs)} ops): fast engine "
        f"{fast_s:.3f} s ({cycles / fast_s:,.0f} cycles/s), tick engine {tick_s:.2f} s "
        f"({cycles / tick_s:,.0f} cycles/s), speed-up {tick_s / fast_s:.1f}x"
    )
    if args.bireal18_checkpoint:
        design = make_design(
            lowered(Path(args.bireal18_checkpoint)), board(args.board), 200.0, args.fps, None
        )
        depths, _, _ = size_fifos(design.dataflow, 2)
        procs = build_processes(design.dataflow, 2)
        start = time.perf_counter()
        timing = solve(procs, depths)
        seconds = time.perf_counter() - start
        cycles = int(max(t[-1] for t in timing.times.values())) + 1
        print(
            f"bireal18 on {args.board} ({design.fps:.0f} fps folding): 2 frames = {cycles} cycles, "
            f"{sum(p.ops for p in procs)} ops, timing {seconds:.1f} s = {seconds / 2:.1f} s per frame "
            f"({cycles / seconds:,.0f} cycles/s)"
        )


if __name__ == "__main__":
    main()
