"""Measure the residual grid's bit width: the same short training at several widths, one run.

    python benchmarks/residual_bits.py [--bits 4,6,8] [--epochs 1] [--out runs/residual_bits]

Every width gets the identical recipe (seed, data order, schedule); the script prints, per
width, the test accuracy (all test images), its distance to the best width, and the integer
golden's top-1 agreement with the QAT forward on the first `--golden-images` test images. The default width in `bireal_hw.models` was chosen from
this table (docs/decisions.md records the run).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from bireal_hw import train as train_mod
from bireal_hw.checkpoint import load_model
from bireal_hw.evaluate import evaluate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bits", default="4,6,8")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument(
        "--extra",
        default="--batch-size 256 --lr 4e-3 --no-augment --compile",
        help="further train arguments, shared by every width",
    )
    p.add_argument("--golden-images", type=int, default=1000, help="test images for the golden's agreement")
    p.add_argument("--out", default="runs/residual_bits")
    args = p.parse_args()
    rows = []
    for bits in [int(b) for b in args.bits.split(",")]:
        out = Path(args.out) / f"{bits}b"
        shutil.rmtree(out, ignore_errors=True)
        argv = [
            "--dataset",
            args.dataset,
            "--epochs",
            str(args.epochs),
            "--residual-bits",
            str(bits),
            "--quiet",
            "--out",
            str(out),
            *args.extra.split(),
        ]
        t0 = time.time()
        train_mod.train(train_mod.build_parser().parse_args(argv))
        model, _ = load_model(out / "checkpoint.pt")
        report = evaluate(model, args.dataset, integer=True, progress=False)
        rows.append(
            {
                "bits": bits,
                "qat_acc": report["accuracy"],
                "integer_acc": report["integer"]["accuracy"],
                "agreement": report["integer"]["top1_agreement"],
                "seconds": round(time.time() - t0, 1),
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    best = max(r["integer_acc"] for r in rows)
    print(f"{'bits':>4} {'QAT acc':>8} {'int acc':>8} {'agree':>8} {'vs best':>8} {'s':>6}")
    for r in rows:
        print(
            f"{r['bits']:>4} {r['qat_acc']:>8.4f} {r['integer_acc']:>8.4f} {r['agreement']:>8.4%} "
            f"{r['integer_acc'] / best:>8.4f} {r['seconds']:>6}"
        )


if __name__ == "__main__":
    main()
