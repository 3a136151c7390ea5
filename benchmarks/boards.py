"""The fastest design that fits each board, for bireal18 and bireal34 at 224x224 (analytical
cycles and resources; `python -m compiler.build --target sim` simulates any of them).

    python benchmarks/boards.py [--residual-bits 4,8] [--models bireal18,bireal34]

Weights are random with randomized BN statistics (throughput and resources do not depend on the
values, only on the thresholds' count, i.e. the residual grid's bits). Each board runs at its
default clock (compiler/hw/boards.py).
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
from compiler.passes import PassManager, lowering_passes, streamline_passes  # noqa: E402
from tests.conftest import randomize_batchnorm  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="bireal18,bireal34")
    p.add_argument("--residual-bits", default="4,8")
    args = p.parse_args()
    rows = []
    for name in args.models.split(","):
        for bits in (int(b) for b in args.residual_bits.split(",")):
            torch.manual_seed(0)
            model = build_model(model_config(name).replace(residual_bits=bits)).eval()
            randomize_batchnorm(model, torch.Generator().manual_seed(1))
            graph = import_qonnx(export_qonnx_model(model), name).graph
            graph = PassManager(streamline_passes() + lowering_passes()).run(graph)
            for b in BOARDS.values():
                try:
                    d = make_design(graph.copy(), b, b.default_clock_mhz, None, None)
                except UserError as exc:
                    rows.append({"model": name, "bits": bits, "board": b.name, "error": str(exc)})
                    print(f"{name} r{bits} {b.name}: {exc}", flush=True)
                    continue
                t = d.cost.totals()
                row = {
                    "model": name,
                    "bits": bits,
                    "board": b.name,
                    "clock_mhz": b.default_clock_mhz,
                    "fps": round(d.fps, 1),
                    "cycles": d.cost.interval,
                    "bottleneck": d.cost.bottleneck,
                    **t,
                }
                rows.append(row)
                cap = b.resources()
                print(
                    f"{name} r{bits} {b.name:8s} {b.default_clock_mhz:5.0f} MHz {d.fps:9.1f} fps  "
                    + "  ".join(f"{r} {t[r]:,}/{cap[r]:,}" for r in cap)
                    + f"  bottleneck {d.cost.bottleneck}",
                    flush=True,
                )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
