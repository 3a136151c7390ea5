"""The main job on the embedded default model (until the compiler lands):

    python -m bireal_hw [--checkpoint examples/fashion_mnist/checkpoint.pt] [--out out/]

1. evaluates the trained Bi-Real model on the Fashion-MNIST test set (QAT forward),
2. builds the integer golden and measures its accuracy and top-1 agreement with the QAT forward,
3. exports QONNX to OUT/model.onnx,
4. writes OUT/report.json and prints the OPs/memory summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bireal_hw.checkpoint import atomic_write, load_model
from bireal_hw.errors import cli_main
from bireal_hw.evaluate import evaluate
from bireal_hw.export import export_qonnx_model, write_onnx
from bireal_hw.summary import format_table, summarize

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "examples" / "fashion_mnist" / "checkpoint.pt"


@cli_main
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bireal_hw", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    p.add_argument("--out", default="out", help="output folder (model.onnx, report.json)")
    p.add_argument("--limit", type=int, help="evaluate only the first N test images")
    args = p.parse_args(argv)
    out = Path(args.out)
    t0 = time.time()
    model, state = load_model(args.checkpoint)
    dataset = (state.get("train_args") or {}).get("dataset", "fashion-mnist")
    print(f"model {model.cfg.name} from {args.checkpoint} (epoch {state['epoch']})", file=sys.stderr)
    report = evaluate(model, dataset, integer=True, limit=args.limit)
    print(
        f"test accuracy: QAT {report['accuracy']:.4f}, integer golden {report['integer']['accuracy']:.4f}, "
        f"top-1 agreement {report['integer']['top1_agreement']:.4%} "
        f"({report['integer']['disagreements']} of {report['images']} differ)",
        file=sys.stderr,
    )
    proto = export_qonnx_model(model)
    write_onnx(proto, out / "model.onnx")
    summary = summarize(model)
    print(format_table([(summary, None)]), file=sys.stderr)
    report.update(
        {
            "checkpoint": args.checkpoint,
            "model": model.cfg.to_dict(),
            "onnx": str(out / "model.onnx"),
            "ops": summary.ops,
            "memory_mbit": summary.memory_mbit,
            "seconds": round(time.time() - t0, 2),
        }
    )
    atomic_write(out / "report.json", lambda tmp: Path(tmp).write_text(json.dumps(report, indent=2)))
    print(json.dumps({k: report[k] for k in ("accuracy", "integer", "images", "onnx")}))


if __name__ == "__main__":
    main()
