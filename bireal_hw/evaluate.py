"""Evaluate a checkpoint: test accuracy of the trained (QAT) model and of its integer golden.

    python -m bireal_hw.evaluate --checkpoint examples/fashion_mnist/checkpoint.pt [--integer]

With `--integer` the integer golden (`bireal_hw.integer`) runs on the same images, and the report
gives its accuracy and how often its top-1 agrees with the float QAT forward (the two differ only
where a float32 computation lands on the other side of a threshold).
"""

from __future__ import annotations

import json
import sys
import time

import torch
from tqdm import tqdm

from bireal_hw.checkpoint import load_model
from bireal_hw.data import DATASETS, load_dataset
from bireal_hw.errors import UserError, cli_main
from bireal_hw.integer import integer_model
from bireal_hw.models import BiRealNet
from bireal_hw.models.config import memory_estimate
from bireal_hw.validate import Parser, check_integer, integer, memory_budget


def evaluate(
    model: BiRealNet,
    dataset: str,
    data_dir: str | None = None,
    integer: bool = False,
    batch_size: int = 500,
    limit: int | None = None,
    progress: bool = True,
) -> dict:
    """Accuracy of `model` (and of its integer golden) on the test split."""
    if limit is not None:
        limit = check_integer("--limit", limit, 1)
    batch_size = check_integer("batch_size", batch_size, 1)
    cfg = model.cfg
    data = load_dataset(dataset, "test", data_dir, image_size=cfg.image_size)
    if data.in_channels != cfg.in_channels or data.image_size != cfg.image_size:
        raise UserError(
            f"dataset {dataset} has {data.in_channels}x{data.image_size}x{data.image_size} images; "
            f"the model expects {cfg.in_channels}x{cfg.image_size}x{cfg.image_size} "
            "(give the model's dataset with --dataset and --data-dir)"
        )
    if data.num_classes != cfg.num_classes:
        raise UserError(f"dataset {dataset} has {data.num_classes} classes; the model has {cfg.num_classes}")
    if len(data) == 0:
        raise UserError(f"dataset {dataset} holds no test images")
    # Smaller batches when one of `batch_size` images would not fit the size budget.
    per_image = max(1, memory_estimate(cfg, 2) - memory_estimate(cfg, 1))
    batch_size = max(1, min(batch_size, memory_budget() // (3 * per_image)))
    golden = integer_model(model) if integer else None
    model.eval()
    n = correct = correct_int = agree = 0
    t0 = time.time()
    total = min(len(data), limit) if limit else len(data)
    quiet = not progress or not sys.stderr.isatty()
    bar = tqdm(total=total, desc="evaluate", disable=quiet, leave=False, file=sys.stderr)
    with torch.no_grad():
        for x, y in data.batches(batch_size, train=False):
            if limit and n >= limit:
                break
            if limit:
                x, y = x[: limit - n], y[: limit - n]
            pred = model(x).argmax(1)
            correct += int((pred == y).sum())
            if golden is not None:
                pred_int = golden(golden.quantize_input(x)).argmax(1)
                correct_int += int((pred_int == y).sum())
                agree += int((pred_int == pred).sum())
            n += len(y)
            bar.update(len(y))
    bar.close()
    report = {"dataset": dataset, "images": n, "accuracy": correct / n, "seconds": round(time.time() - t0, 2)}
    if golden is not None:
        report["integer"] = {
            "accuracy": correct_int / n,
            "top1_agreement": agree / n,
            "disagreements": n - agree,
        }
    return report


@cli_main
def main(argv: list[str] | None = None) -> None:
    p = Parser(prog="python -m bireal_hw.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--dataset", choices=DATASETS, help="default: the dataset the checkpoint was trained on")
    p.add_argument("--data-dir")
    p.add_argument("--integer", action="store_true", help="also run the integer golden")
    p.add_argument("--limit", type=integer(1), help="evaluate only the first N test images")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    model, state = load_model(args.checkpoint)
    train_args = state.get("train_args") or {}
    dataset = args.dataset or train_args.get("dataset") or "fashion-mnist"
    data_dir = args.data_dir or train_args.get("data_dir")
    if args.integer and not model.cfg.quantized:
        raise UserError("--integer needs a quantized model; this checkpoint holds a float twin")
    report = evaluate(model, dataset, data_dir, args.integer, limit=args.limit, progress=not args.quiet)
    report["checkpoint"] = args.checkpoint
    report["model"] = model.cfg.name
    print(json.dumps(report))


if __name__ == "__main__":
    main()
