"""The Brevitas bnn_pynq W1A1 models against FINN's own estimates, like with like: the same model,
board, fps target and clock, side by side with each total's kernels named.

    python benchmarks/finn_zoo.py [--models cnv,lfc,sfc,tfc] [--no-sim] [--json F]

FINN's figures are its analytical estimates (the finn-plus 1.6.1 estimate-only flow, random
weights), copied from the peers' record (`shared/peers/finn-estimates.md`); its totals count its
matrix-vector units, sliding-window generators, pools and thresholding layers, and leave out DMAs,
width converters and FIFOs. Ours are the same models made by `bireal_hw.bnn_pynq` (seeded random
weights, randomized BatchNorm, Brevitas' own QONNX export, built unchanged), folded by our search
at the same clock on the same board for the same fps target, or for the fps FINN's folding reached
where it overshoots the target (so that "the same or higher fps" compares like with like):

  fps        ours analytical (clock / the slowest kernel's cycles, FINN's definition) and
             simulated (the frame interval of the cycle-level simulation with the sized FIFOs)
  LUT ...    ours over the kernels FINN counts (mvu, swu, max_pool, thresholding), and our whole
             design (DMAs, width converters, FIFOs included) in brackets
  BRAM       FINN's BRAM_18K beside ours in BRAM36 and its BRAM_18K equivalent (2 per BRAM36)
  fps/kLUT   each side's fps per 1,000 of the LUTs it counts; ratio = ours / FINN's

Pynq-Z1 is the xc7z020 of the pynq-z1 board row. Rows `_ww10000` (FINN with mvau_wwidth_max
raised) and `_finnexamples` (finn-examples' CNV folding) are compared with our search at the same
target, which has no such limit.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bireal_hw import bnn_pynq  # noqa: E402
from compiler.frontend import load_model_graph  # noqa: E402
from compiler.hw.boards import BOARDS  # noqa: E402
from compiler.hw.design import make_design  # noqa: E402
from compiler.passes import PassManager, lowering_passes, streamline_passes  # noqa: E402

# FINN (finn-plus 1.6.1) estimates: build -> (est. fps, max cycles, latency cycles, LUT, BRAM_18K, URAM, DSP)
FINN = {
    "cnv_w1a1_Pynq-Z1_10000fps_10ns": (7972, 12544, 165171, 55939, 245, 0, 0),
    "cnv_w1a1_Pynq-Z1_10000fps_5ns": (10643, 18791, 257450, 42818, 197, 0, 0),
    "cnv_w1a1_Pynq-Z1_3000fps_10ns": (3028, 33020, 425870, 26795, 141, 0, 0),
    "cnv_w1a1_Pynq-Z1_3000fps_10ns_finnexamples": (3028, 33020, 337956, 23912, 147, 0, 0),
    "cnv_w1a1_Pynq-Z1_3000fps_5ns": (3020, 66236, 803834, 15638, 109, 0, 0),
    "cnv_w1a1_ZCU104_10000fps_10ns": (7972, 12544, 165171, 55939, 245, 0, 0),
    "cnv_w1a1_ZCU104_10000fps_10ns_ww10000": (10658, 9383, 140903, 73753, 313, 0, 0),
    "cnv_w1a1_ZCU104_10000fps_5ns": (10643, 18791, 257450, 42818, 197, 0, 0),
    "cnv_w1a1_ZCU104_10000fps_5ns_ww10000": (10643, 18791, 261050, 39802, 195, 0, 0),
    "cnv_w1a1_ZCU104_3000fps_10ns": (3028, 33020, 425870, 26795, 141, 0, 0),
    "cnv_w1a1_ZCU104_3000fps_5ns": (3020, 66236, 803834, 15638, 109, 0, 0),
    "lfc_w1a1_Pynq-Z1_10000fps_10ns": (12207, 8192, 30250, 3869, 178, 0, 0),
    "lfc_w1a1_Pynq-Z1_10000fps_5ns": (12207, 16384, 60970, 2516, 177, 0, 0),
    "lfc_w1a1_Pynq-Z1_3000fps_10ns": (3052, 32768, 106026, 1955, 185, 0, 0),
    "lfc_w1a1_Pynq-Z1_3000fps_5ns": (3052, 65536, 200234, 1651, 185, 0, 0),
    "lfc_w1a1_ZCU104_10000fps_10ns": (12207, 8192, 30250, 3869, 178, 0, 0),
    "lfc_w1a1_ZCU104_10000fps_5ns": (12207, 16384, 60970, 2516, 177, 0, 0),
    "lfc_w1a1_ZCU104_3000fps_10ns": (3052, 32768, 106026, 1955, 185, 0, 0),
    "lfc_w1a1_ZCU104_3000fps_5ns": (3052, 65536, 200234, 1651, 185, 0, 0),
    "sfc_w1a1_Pynq-Z1_10000fps_10ns": (12207, 8192, 27690, 1631, 23, 0, 0),
    "sfc_w1a1_Pynq-Z1_10000fps_5ns": (12207, 16384, 51242, 1487, 23, 0, 0),
    "sfc_w1a1_Pynq-Z1_3000fps_10ns": (3052, 32768, 98346, 1413, 23, 0, 0),
    "sfc_w1a1_Pynq-Z1_3000fps_5ns": (3052, 65536, 185386, 1381, 22, 0, 0),
    "sfc_w1a1_ZCU104_10000fps_10ns": (12207, 8192, 27690, 1631, 23, 0, 0),
    "sfc_w1a1_ZCU104_10000fps_5ns": (12207, 16384, 51242, 1487, 23, 0, 0),
    "sfc_w1a1_ZCU104_3000fps_10ns": (3052, 32768, 98346, 1413, 23, 0, 0),
    "sfc_w1a1_ZCU104_3000fps_5ns": (3052, 65536, 185386, 1381, 22, 0, 0),
    "tfc_w1a1_Pynq-Z1_10000fps_10ns": (13951, 7168, 17578, 1395, 7, 0, 0),
    "tfc_w1a1_Pynq-Z1_10000fps_5ns": (15944, 12544, 22954, 1375, 7, 0, 0),
    "tfc_w1a1_Pynq-Z1_3000fps_10ns": (3986, 25088, 35498, 1362, 7, 0, 0),
    "tfc_w1a1_Pynq-Z1_3000fps_10ns_codegen": (3986, 25088, 35498, 1362, 7, 0, 0),
    "tfc_w1a1_Pynq-Z1_3000fps_5ns": (3986, 50176, 60586, 1355, 7, 0, 0),
    "tfc_w1a1_ZCU104_10000fps_10ns": (13951, 7168, 17578, 1395, 7, 0, 0),
    "tfc_w1a1_ZCU104_10000fps_5ns": (15944, 12544, 22954, 1375, 7, 0, 0),
    "tfc_w1a1_ZCU104_3000fps_10ns": (3986, 25088, 35498, 1362, 7, 0, 0),
    "tfc_w1a1_ZCU104_3000fps_5ns": (3986, 50176, 60586, 1355, 7, 0, 0),
}
BOARD_OF = {"Pynq-Z1": "pynq-z1", "ZCU104": "zcu104"}
FINN_KINDS = ("mvu", "swu", "max_pool", "thresholding")  # the kernels FINN's totals count


def parse(build: str) -> tuple[str, str, float, float]:
    """'cnv_w1a1_Pynq-Z1_10000fps_10ns[_...]' -> (model, board, fps target, clock MHz)."""
    arch, prec, board, fps, ns = build.split("_")[:5]
    return f"{arch}_{prec}", BOARD_OF[board], float(fps[: -len("fps")]), 1000.0 / float(ns[: -len("ns")])


def graph_of(model: str, folder: Path):
    path = bnn_pynq.export_model(model, folder / f"{model}.onnx")
    graph = load_model_graph(path).graph
    return PassManager(streamline_passes() + lowering_passes()).run(graph)


def ours(graph, board: str, fps: float, clock: float, simulate_it: bool) -> dict:
    from sim.simulate import simulate

    d = make_design(graph.copy(), BOARDS[board], clock, fps, None)
    counted = {r: 0 for r in ("LUT", "FF", "BRAM36", "URAM", "DSP")}
    for kc in d.cost.kernels:
        if kc.kind in FINN_KINDS:
            for r, v in kc.resources().items():
                counted[r] += v
    row = {
        "cycles": d.cost.interval,
        "fps": d.fps,
        "counted": counted,
        "total": d.cost.totals(),
        "bottleneck": d.cost.bottleneck,
    }
    if simulate_it:
        result = simulate(d.dataflow, 2, per_kernel=False)
        row["sim_cycles"] = result.interval
        row["sim_fps"] = clock * 1e6 / result.interval
        row["latency_cycles"] = result.latency
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="cnv,lfc,sfc,tfc", help="architectures (W1A1), comma-separated")
    p.add_argument(
        "--no-sim", action="store_true", help="analytical figures only (no cycle-level simulation)"
    )
    p.add_argument("--json", type=Path, help="write the rows here")
    args = p.parse_args()
    archs = args.models.split(",")
    rows, graphs = [], {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for build, (f_fps, f_cycles, f_lat, f_lut, f_bram18, f_uram, f_dsp) in FINN.items():
            model, board, target, clock = parse(build)
            if model.split("_")[0] not in archs:
                continue
            if model not in graphs:
                graphs[model] = graph_of(model, Path(tmp))
            # FINN's folding may overshoot the target: ask ours for what FINN reached, if more
            asked = max(target, float(f_fps))
            o = ours(graphs[model], board, asked, clock, not args.no_sim)
            o["asked_fps"] = asked
            c, t = o["counted"], o["total"]
            fps = o.get("sim_fps", o["fps"])
            row = {
                "build": build,
                "finn": {
                    "fps": f_fps,
                    "cycles": f_cycles,
                    "latency_cycles": f_lat,
                    "LUT": f_lut,
                    "BRAM18": f_bram18,
                    "URAM": f_uram,
                    "DSP": f_dsp,
                },
                "ours": o,
                "fps_per_klut": {"finn": f_fps / (f_lut / 1000), "ours": fps / (c["LUT"] / 1000)},
            }
            row["fps_per_klut"]["ratio"] = row["fps_per_klut"]["ours"] / row["fps_per_klut"]["finn"]
            row["fps_ratio"] = fps / f_fps
            rows.append(row)
            print(
                f"{build:44s} fps FINN {f_fps:6d} ours {o['fps']:8.1f} sim {o.get('sim_fps', float('nan')):8.1f} | "
                f"LUT FINN {f_lut:6d} ours {c['LUT']:6d} ({t['LUT']:6d}) | BRAM18 FINN {f_bram18:4d} "
                f"ours {2 * c['BRAM36']:4d} ({c['BRAM36']} BRAM36, {c['URAM']} URAM) | DSP {f_dsp}/{c['DSP']} | "
                f"fps/kLUT x{row['fps_per_klut']['ratio']:.2f}",
                flush=True,
            )
    print_table(rows)
    worst_fps = min(r["fps_ratio"] for r in rows)
    worst_eff = min(r["fps_per_klut"]["ratio"] for r in rows)
    print(f"\n{len(rows)} points in {time.perf_counter() - start:.0f} s: fps ours/FINN at least {worst_fps:.3f}, "
          f"fps/kLUT ours/FINN at least {worst_eff:.2f}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def print_table(rows: list[dict]) -> None:
    print(
        "\n| build | FINN fps | ours fps (sim) | FINN LUT | ours LUT (whole design) | FINN BRAM18 | ours BRAM36 "
        "(=BRAM18) | DSP FINN/ours | fps/kLUT FINN | ours | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        f, o, e = r["finn"], r["ours"], r["fps_per_klut"]
        c, t = o["counted"], o["total"]
        sim = f"{o['sim_fps']:.0f}" if "sim_fps" in o else "-"
        print(
            f"| {r['build']} | {f['fps']} | {o['fps']:.0f} ({sim}) | {f['LUT']:,} | {c['LUT']:,} ({t['LUT']:,}) | "
            f"{f['BRAM18']} | {c['BRAM36']} (={2 * c['BRAM36']}) | {f['DSP']}/{c['DSP']} | {e['finn']:.0f} | "
            f"{e['ours']:.0f} | {e['ratio']:.2f} |"
        )


if __name__ == "__main__":
    main()
