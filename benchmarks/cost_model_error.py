"""The cost model against Yosys: per kernel class and resource, how far the analytical estimates
(compiler/hw/cost.py and each kernel class's logic()/memories()) are from what synthesis of the
generated RTL gives (Yosys synth_xilinx -family xcup, every top-level instance apart).

    python benchmarks/cost_model_error.py [--split held-out|calibration|both] [--json F] [--rows F]
        [--reuse F [--again dwc,mvu_lut]] [--classes mvu_dsp,...]

Designs: seeded random Bi-Real-like designs (tests/hls/designs.py: a stem conv with 8-bit
weights, thresholds, max pools, a binary 3x3 conv block with zero or +-1 padding, stride 1 or 2
with a pooled 1x1 shortcut, a global pool and a classifier; random sizes, channels and foldings)
and the narrow bnn_pynq zoo models (binary and 2-bit dense layers with 1 and 3 thresholds, CNV's
convolutions) at random foldings. The calibration split is what the formulas were fitted to
(docs/hardware.md gives them); the held-out split (the default) is designs the fit never saw.

Printed: per kernel class the median absolute error of LUT and FF and the share of instances
whose BRAM36 and DSP are exact; --json F writes {"LUT": {"median_abs_error": e, ...}, "FF": ...,
"BRAM36": ..., "DSP": ...} (errors as fractions of the synthesized count) and the per-class table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bireal_hw import bnn_pynq  # noqa: E402
from compiler.backends.rtl.codegen import TOP, generate  # noqa: E402
from compiler.backends.rtl.synth import RESOURCES, synthesize_in_groups, synthesize_xilinx  # noqa: E402
from compiler.frontend import load_model_graph  # noqa: E402
from compiler.hw.boards import BOARDS  # noqa: E402
from compiler.hw.calibrated import fifo_features as fifo_features_of  # noqa: E402
from compiler.hw.cost import design_cost  # noqa: E402
from compiler.hw.dataflow import build_dataflow  # noqa: E402
from compiler.hw.folding import connect_widths, follow_neighbours  # noqa: E402
from compiler.hw.kernels import (  # noqa: E402
    MatrixVector,  # noqa: E402
    clog2,
    divisors,
)
from compiler.passes import PassManager, lowering_passes, streamline_passes  # noqa: E402
from compiler.synth_steps import estimates  # noqa: E402
from sim.simulate import size_fifos  # noqa: E402
from tests.hls.designs import Shape, bireal_like  # noqa: E402

ZOO = ("tfc_w1a1", "tfc_w1a2", "tfc_w2a2", "sfc_w1a2", "lfc_w1a1", "cnv_w1a1", "cnv_w2a2")
SPLITS = {"calibration": range(0, 10), "held-out": range(100, 110)}
MAX_LANES = 16  # PE and SIMD of the random foldings (bigger kernels: minutes of synthesis each)
BOARD = BOARDS["zcu104"].resources()


def random_shape(rng: np.random.Generator) -> Shape:
    stride = int(rng.choice([1, 2]))
    maxpool = bool(rng.integers(2))
    size = int(rng.integers(5, 13))
    if stride == 2:  # the map entering the block must be even (the 2x2 sum-pooled shortcut)
        inner = (size - 1) // 2 + 1 if maxpool else size
        size += inner % 2 * (2 if maxpool else 1)
    c1 = int(rng.integers(3, 17))
    c2 = c1 if stride == 1 else int(rng.integers(3, 17))
    return Shape(size, int(rng.integers(1, 5)), c1, c2, stride, int(rng.choice([0, -1, 1])), maxpool,
                 bool(rng.integers(4) == 0))  # fmt: skip


def kernel_class(k) -> str:
    if isinstance(k, MatrixVector):
        g = k.geometry
        return "mvu_binary" if g.binary else ("mvu_lut" if g.lut_macs else "mvu_dsp")
    return k.kind


def random_folding(graph, seed: int):
    """The graph's dataflow with random legal PE/SIMD (up to MAX_LANES) on every folded kernel."""
    rng = np.random.default_rng(seed)
    df = build_dataflow(graph)

    def pick(options):
        small = [o for o in options if o <= MAX_LANES] or [min(options)]
        return int(rng.choice(small))

    for k in df.order():
        if isinstance(k, MatrixVector):
            k.simd = pick(k.simd_options(df))
            k.pe = pick(divisors(k.geometry.mh))
        elif k.folded:
            k.pe = pick(divisors(k.channels()))
    follow_neighbours(df)
    connect_widths(df)
    return df


def features(k, kc, df) -> dict:
    """What a kernel's cost could depend on: folding, beat widths, its geometry's widths, the cost
    model's logic and memories (for refitting the formulas)."""
    f = {
        "pe": k.pe, "simd": k.simd,
        "in_beat": sum(s.width * s.bits for s in df.input_streams(k)),
        "out_beat": sum(s.width * s.bits for s in df.output_streams(k)),
        "logic": kc.logic,
        "memories": [(m.what, m.width, m.depth, m.lanes, m.kind, m.count) for m in kc.memories],
    }  # fmt: skip
    for attr in ("acc_bits", "threshold_bits", "weight_bits", "in_bits", "mw", "mh", "kernel", "ifm", "ofm"):
        if hasattr(k.geometry, attr):
            f[attr] = getattr(k.geometry, attr)
    if isinstance(k, MatrixVector):
        f["folds"] = k.folds()
        f["levels"] = clog2(len(k.consts["thresholds"][0]) + 1) if "thresholds" in k.consts else 0
    return f


def fifo_features(df, inst: str) -> dict:
    s = df.streams[inst[len("fifo_") :]]
    return {"width": s.width * s.bits, "depth": s.depth}


def fit_inputs(k, kc, df, inst: str) -> dict:
    """What benchmarks/fit_cost_model.py fits: the class formula's features and the LUTs the
    model gives the instance's memories (the formula covers the rest)."""
    if k is None:
        s = df.streams[inst[len("fifo_") :]]
        return {"key": "fifo", "features": fifo_features_of(s.width * s.bits, s.depth), "memory_lut": 0}
    memory_lut = sum(m.count for m in kc.memories if m.kind in ("LUTRAM", "SRL", "CONST"))
    return {"key": k.calibration_key(), "features": k.calibration_features(df), "memory_lut": memory_lut}


def design_rows(
    name: str,
    graph,
    df,
    folder: Path,
    reuse: dict | None = None,
    again: set[str] = frozenset(),
    only: set[str] | None = None,
    jobs: int = 1,
    wide: bool = False,
) -> list[dict]:
    """Every instance's synthesized counts and estimates (of the instances in `only`, if given:
    synthesized in `jobs` groups at once); with `reuse` ({(design, instance): row} of an earlier
    run over the same RTL) only the estimates are computed again, except for the instances of the
    classes in `again`, synthesized again (alone: `only`) where their RTL changed, and for a
    design the earlier run did not have."""
    depths, _, _ = size_fifos(df, 2)
    for s, d in depths.items():
        df.streams[s].depth = d
    counts = {}
    if reuse is not None:
        counts = {
            i: (r["synthesized"], r["lutram"], r["depth"], r.get("cells", {}))
            for (d, i), r in reuse.items()
            if d == name
        }
    redo = only
    if counts:
        redo = {k.name for k in df.order() if kernel_class(k) in again and (only is None or k.name in only)}
    if not counts or redo:
        root = folder / name
        project = generate(df, graph, root, BOARD)
        if redo is not None and jobs > 1:
            est0 = estimates(df, BOARD)
            weights = {n: est0[n]["LUT"] + est0[n]["FF"] for n in redo}
            result = synthesize_in_groups(root, project.sources, TOP, root / "synth", weights, jobs)
        else:
            result = synthesize_xilinx(root, project.sources, TOP, root / "synth", only=redo)
        counts |= {i: (c.resources(), c.lutram, c.depth, c.by_type) for i, c in result.instances.items()}
    est = estimates(df, BOARD)
    cost = {kc.name: kc for kc in design_cost(df, BOARD).kernels}
    rows = []
    for inst, (resources, lutram, depth, cells) in counts.items():
        k = df.kernels.get(inst)
        rows.append({
            "features": features(k, cost[inst], df) if k is not None else fifo_features(df, inst),
            "fit": fit_inputs(k, cost.get(inst), df, inst),
            "design": name,
            "instance": inst,
            "class": kernel_class(k) if k is not None else "fifo",
            "pe": getattr(k, "pe", None), "simd": getattr(k, "simd", None),
            "synthesized": resources, "lutram": lutram, "depth": depth, "cells": cells,
            "estimate": est[inst],
            "wide": wide,
        })  # fmt: skip
    return rows


def designs(split: str, folder: Path):
    """(name, graph, dataflow at a random folding) of the split's designs."""
    for seed in SPLITS[split]:
        shape = random_shape(np.random.default_rng(seed))
        graph = bireal_like(shape, seed)
        yield f"bireal_like_{seed}", graph, random_folding(graph, seed)
    for i, model in enumerate(ZOO):
        seed = SPLITS[split][i % len(SPLITS[split])]
        path = bnn_pynq.export_model(model, folder / f"{model}.onnx", seed=seed, small=True)
        graph = PassManager(streamline_passes() + lowering_passes()).run(load_model_graph(path).graph)
        yield f"{model}_{seed}", graph, random_folding(graph, seed)


# --wide: a Bi-Real model at its fastest zcu104 folding, whose matrix units are far beyond the
# random foldings' 16 lanes (PE x SIMD up to 4 x 1,152): only those are synthesized. The
# calibration split has the embedded default model's, the held-out split bireal18's (4-bit grid,
# random weights and BatchNorm: resources follow the folding and the ROMs' structure).
WIDE = {"calibration": "default", "held-out": "bireal18"}
WIDE_FPS = {"bireal18": 569.4}  # its zcu104 folding of stop 34 (with no ROM in URAM it no longer fits)


def wide_design(split: str):
    """(name, graph, dataflow) of the split's wide design: its fastest zcu104 folding, or its folding
    for WIDE_FPS there (the units' shapes are what is measured, not whether the design fits)."""
    import torch

    from bireal_hw.checkpoint import load_model
    from bireal_hw.export import export_qonnx_model
    from bireal_hw.models import build_model, model_config
    from compiler.build import DEFAULT_MODEL
    from compiler.frontend.importer import import_qonnx
    from compiler.hw.design import folded_for, make_design
    from tests.conftest import randomize_batchnorm

    which = WIDE[split]
    if which == "default":
        model, _ = load_model(DEFAULT_MODEL)
    else:
        torch.manual_seed(0)
        model = build_model(model_config(which).replace(residual_bits=4)).eval()
        randomize_batchnorm(model, torch.Generator().manual_seed(1))
    graph = import_qonnx(export_qonnx_model(model), which).graph
    graph = PassManager(streamline_passes() + lowering_passes()).run(graph)
    board = BOARDS["zcu104"]
    clock = board.default_clock_mhz
    if which in WIDE_FPS:
        fps = WIDE_FPS[which]
        design = folded_for(graph, int(clock * 1e6 // fps), fps, clock, board)
    else:
        design = make_design(graph, board, clock, None, None)
    return f"{which}_zcu104", graph, design.dataflow


def errors(rows: list[dict]) -> dict:
    """Per resource: the median absolute relative error |estimate - synthesized| / synthesized
    (a synthesized 0 counts as 1: an estimate of 60 LUTs for none is an error of 60) and the
    instances whose estimate is exact; per class the same."""

    def summarize(sub: list[dict]) -> dict:
        out = {}
        for r in RESOURCES:
            rel = [abs(x["estimate"][r] - x["synthesized"][r]) / max(x["synthesized"][r], 1) for x in sub]
            exact = sum(x["estimate"][r] == x["synthesized"][r] for x in sub)
            out[r] = {
                "median_abs_error": round(statistics.median(rel), 4) if rel else 0.0,
                "exact": exact,
                "instances": len(sub),
            }
        return out

    table = summarize(rows)
    table["per_class"] = {
        c: summarize([x for x in rows if x["class"] == c]) for c in sorted({x["class"] for x in rows})
    }
    return table


def print_table(split: str, table: dict, seconds: float) -> None:
    print(f"\n{split}: cost model against Yosys synth_xilinx -family xcup ({seconds:.0f} s)")
    print(f"{'class':18}{'n':>4}{'LUT err':>10}{'FF err':>10}{'BRAM exact':>12}{'DSP exact':>11}")
    for c, t in [*table["per_class"].items(), ("all", table)]:
        n = t["LUT"]["instances"]
        print(
            f"{c:18}{n:>4}{t['LUT']['median_abs_error']:>10.1%}{t['FF']['median_abs_error']:>10.1%}"
            f"{t['BRAM36']['exact']:>8}/{n:<3}{t['DSP']['exact']:>7}/{n:<3}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--split", choices=["held-out", "calibration", "both"], default="held-out")
    p.add_argument("--json", help="write the error table (the held-out split's, or each split's) here")
    p.add_argument("--rows", help="write every instance's counts and estimates here (for refitting)")
    p.add_argument(
        "--reuse", help="the --rows file of an earlier run over the same RTL: estimates only, no synthesis"
    )
    p.add_argument(
        "--again",
        default="",
        help="with --reuse: kernel classes (comma-separated, e.g. dwc,mvu_lut) to synthesize again, "
        "alone, where their RTL changed",
    )
    p.add_argument("--wide", action="store_true", help="also a Bi-Real model's wide matrix units (WIDE)")
    p.add_argument("--jobs", type=int, default=1, help="Yosys runs at once for --wide's units")
    p.add_argument(
        "--classes",
        default="",
        help="kernel classes (comma-separated, e.g. mvu_dsp): only their instances, synthesized (or with "
        "--reuse estimated again) and reported: a class's RTL changed, its rows for fit_cost_model.py --classes",
    )
    args = p.parse_args()
    again = {c for c in args.again.split(",") if c}
    classes = {c for c in args.classes.split(",") if c}

    def chosen(df, names=None) -> set[str] | None:
        """The instances of --classes (of `names` if given), or `names` without --classes."""
        if not classes:
            return names
        return {
            k.name for k in df.order() if kernel_class(k) in classes and (names is None or k.name in names)
        }

    if again and not args.reuse:
        p.error("--again needs --reuse (the other instances' counts)")
    reuse = None
    if args.reuse:
        reuse = {
            split: {(r["design"], r["instance"]): r for r in rows}
            for split, rows in json.loads(Path(args.reuse).read_text()).items()
        }
    splits = ["calibration", "held-out"] if args.split == "both" else [args.split]
    results, all_rows = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for split in splits:
            start = time.perf_counter()
            rows = []
            for name, graph, df in designs(split, Path(tmp)):
                t0 = time.perf_counter()
                only = chosen(df)
                if only is not None and not only:
                    continue
                rows += design_rows(name, graph, df, Path(tmp), reuse[split] if reuse else None, again, only)
                print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
            if args.wide:
                t0 = time.perf_counter()
                name, graph, df = wide_design(split)
                units = chosen(df, {k.name for k in df.order() if isinstance(k, MatrixVector)})
                if units:
                    rows += design_rows(
                        name,
                        graph,
                        df,
                        Path(tmp),
                        reuse[split] if reuse else None,
                        again,
                        units,
                        args.jobs,
                        True,
                    )
                print(
                    f"  {name} (matrix units): {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True
                )
            if not rows:
                p.exit(
                    2,
                    f"cost_model_error: no instance of the classes {args.classes} in the {split} designs "
                    "(kernel_class() names them, e.g. mvu_dsp, swu, max_pool)\n",
                )
            results[split] = errors(rows)
            all_rows[split] = rows
            if args.rows:  # after each split: a long run's first split is kept if the second is cut short
                Path(args.rows).write_text(json.dumps(all_rows))
            print_table(split, results[split], time.perf_counter() - start)
            wide = [r for r in rows if r.get("wide")]
            if wide:
                results[split]["wide"] = errors(wide)
                print_table(f"{split}, wide matrix units only", results[split]["wide"], 0)
    if args.json:
        out = results[splits[-1]] if len(splits) == 1 else results
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
