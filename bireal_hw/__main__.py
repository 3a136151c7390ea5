"""The main job: evaluate a trained Bi-Real checkpoint (default: the embedded Fashion-MNIST model)
on the test set, check its integer golden against the QAT forward, export QONNX to OUT/model.onnx
and write OUT/report.json. The README's main command then compiles the same checkpoint to
hardware with `python -m compiler.build --target fpga --out out/fpga`.

    python -m bireal_hw [--checkpoint examples/fashion_mnist/checkpoint.pt] [--out out/] [--limit N]

1. evaluates the trained Bi-Real model on the Fashion-MNIST test set (QAT forward),
2. builds the integer golden and checks it: its accuracy and its top-1 agreement with the QAT
   forward on the same images,
3. exports QONNX to OUT/model.onnx,
4. writes OUT/report.json and prints the OPs/memory summary.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bireal_hw.checkpoint import atomic_write, load_model
from bireal_hw.errors import cli_main
from bireal_hw.evaluate import evaluate
from bireal_hw.export import export_qonnx_model, write_onnx
from bireal_hw.summary import format_table, summarize
from bireal_hw.validate import Parser, check_output_path, integer

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "examples" / "fashion_mnist" / "checkpoint.pt"


@cli_main
def main(argv: list[str] | None = None) -> None:
    p = Parser(prog="python -m bireal_hw", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    p.add_argument("--out", default="out", help="output folder (model.onnx, report.json)")
    p.add_argument("--limit", type=integer(1), help="evaluate only the first N test images")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    out = check_output_path("--out", args.out, folder=True)
    t0 = time.time()
    model, state = load_model(args.checkpoint)
    dataset = (state.get("train_args") or {}).get("dataset", "fashion-mnist")
    data_dir = (state.get("train_args") or {}).get("data_dir")
    report = evaluate(model, dataset, data_dir, integer=True, limit=args.limit, progress=not args.quiet)
    # (printed once the input is known good: a refusal is the only line on stderr)
    print(f"model {model.cfg.name} from {args.checkpoint} (epoch {state['epoch']})", file=sys.stderr)
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
