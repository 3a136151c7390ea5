"""The fastest design that fits each board, for bireal18 and bireal34 at 224x224 (analytical
cycles and resources; `python -m compiler.build --target sim` simulates any of them).

    python benchmarks/boards.py [--residual-bits 4,8] [--models bireal18,bireal34] [--boards B,...]
                                [--external-weights auto|none] [--json F]

Weights are random with randomized BN statistics (throughput and resources do not depend on the
values, only on the thresholds' count, i.e. the residual grid's bits). Each board runs at its
default clock (compiler/hw/boards.py); with --external-weights auto (the default) matrix units
stream their weights from DRAM where the design does not fit on chip (compiler/hw/external.py).
Printed per design: fps, every resource against the board, the bottleneck kernel, the resource
nearest its limit, and the units streaming their weights with the DRAM rate they take; then the table of best fps per
model and board beside `PUBLISHED`, the table this benchmark gave before issue 20 (README, the
cost model of stop 27, before its calibration against Yosys).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bireal_hw.errors import UserError  # noqa: E402
from bireal_hw.export import export_qonnx_model  # noqa: E402
from bireal_hw.models import build_model, model_config  # noqa: E402
from compiler.frontend.importer import import_qonnx  # noqa: E402
from compiler.hw.boards import BOARDS  # noqa: E402
from compiler.hw.design import make_design  # noqa: E402
from compiler.hw.kernels import WeightDMA  # noqa: E402
from compiler.passes import PassManager, lowering_passes, streamline_passes  # noqa: E402
from tests.conftest import randomize_batchnorm  # noqa: E402

# (model, residual bits) -> board -> fps, as published before issue 20 (absent: did not fit)
PUBLISHED = {
    ("bireal18", 4): {"kv260": 443.0, "zcu104": 2657.0, "u250": 4983.0},
    ("bireal18", 8): {"zcu104": 443.0, "u250": 4983.0},
    ("bireal34", 4): {"zcu104": 443.0, "u250": 4983.0},
    ("bireal34", 8): {"u250": 4983.0},
}


def limiting(totals: dict, capacity: dict) -> str:
    """The resource nearest its board's limit, as `LUT 84%`."""
    r = max((r for r in capacity if capacity[r]), key=lambda r: totals[r] / capacity[r])
    return f"{r} {totals[r] / capacity[r]:.0%}"


def table(rows: list[dict]) -> str:
    """Markdown: best fps per model and board, before (PUBLISHED) and now."""
    boards = [b for b in BOARDS if b != "pynq-z1"]  # the pynq-z2's part: the same answers
    keys = list(dict.fromkeys((r["model"], r["bits"]) for r in rows))
    now = {(r["model"], r["bits"], r["board"]): r for r in rows}
    lines = ["| model | " + " | ".join(f"{b}: before / now" for b in boards) + " |",
             "|---|" + "---|" * len(boards)]  # fmt: skip
    for key in keys:
        cells = []
        for b in boards:
            before = PUBLISHED.get(key, {}).get(b)
            r = now.get((*key, b))
            new = (
                "-" if r is None else ("does not fit" if "error" in r else f"{r['fps']:,.0f} ({r['limit']})")
            )
            cells.append(f"{'does not fit' if before is None else f'{before:,.0f}'} / {new}")
        lines.append(f"| {key[0]}, {key[1]}-bit residual | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="bireal18,bireal34")
    p.add_argument("--residual-bits", default="4,8")
    p.add_argument("--boards", default=",".join(BOARDS), help="comma-separated board names")
    p.add_argument("--external-weights", default="auto", choices=("auto", "none"))
    p.add_argument("--json", type=Path, help="write the rows here")
    args = p.parse_args()
    rows = []
    for name in args.models.split(","):
        for bits in (int(b) for b in args.residual_bits.split(",")):
            torch.manual_seed(0)
            model = build_model(model_config(name).replace(residual_bits=bits)).eval()
            randomize_batchnorm(model, torch.Generator().manual_seed(1))
            graph = import_qonnx(export_qonnx_model(model), name).graph
            graph = PassManager(streamline_passes() + lowering_passes()).run(graph)
            for b in (BOARDS[n] for n in args.boards.split(",")):
                try:
                    d = make_design(graph.copy(), b, b.default_clock_mhz, None, None, args.external_weights)
                except UserError as exc:
                    rows.append({"model": name, "bits": bits, "board": b.name, "error": str(exc)})
                    print(f"{name} r{bits} {b.name}: {exc}", flush=True)
                    continue
                t = d.cost.totals()
                cap = b.resources()
                dmas = [k for k in d.dataflow.order() if isinstance(k, WeightDMA)]
                dram_bytes = sum(k.geometry.bytes_per_frame for k in dmas)
                row = {
                    "model": name,
                    "bits": bits,
                    "board": b.name,
                    "clock_mhz": b.default_clock_mhz,
                    "fps": round(d.fps, 1),
                    "cycles": d.cost.interval,
                    "bottleneck": d.cost.bottleneck,
                    "limit": limiting(t, cap),
                    **t,
                    "streaming": [k.geometry.unit for k in dmas],
                    "dram_gbs": round(dram_bytes * d.fps / 1e9, 2),
                }
                rows.append(row)
                print(
                    f"{name} r{bits} {b.name:8s} {b.default_clock_mhz:5.0f} MHz {d.fps:9.1f} fps  "
                    + "  ".join(f"{r} {t[r]:,}/{cap[r]:,}" for r in cap)
                    + f"  bottleneck {d.cost.bottleneck}, nearest limit {row['limit']}"
                    + (f", weights of {len(dmas)} units from DRAM at {row['dram_gbs']} GB/s" if dmas else ""),
                    flush=True,
                )
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
