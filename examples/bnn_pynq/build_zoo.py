"""Build the Brevitas bnn_pynq zoo (CNV, LFC, SFC, TFC at W1A1, W1A2, W2A2) for every target, from
the brevitas installed here: seeded random weights and randomized BatchNorm (nothing downloaded),
exported unchanged with Brevitas' own QONNX export, built with `compiler.compile`.

    python examples/bnn_pynq/build_zoo.py [--models cnv_w1a1,...] [--targets ir,sim,fpga,rtl,cpu,hls4ml]
                                          [--images 300] [--small] [--out DIR] [--json F]

Each build checks its executable form against the model's exact reference (the IR as imported:
the exact semantics of the QONNX file) with == on `--images` inputs and fails on any difference.
The top-1 agreement with Brevitas' own float32 forward is measured on the same number of images
(Fashion-MNIST test images for the 28x28 FC models, seeded random 8-bit images for CNV, as no
CIFAR-10 is on this machine): the compiled integers are exact, so a disagreement is Brevitas'
float rounding at a decision boundary (a BatchNorm output at 0 before a sign, a rounding tie), and
the script counts them with the float logits' top-2 margin of each.

A target that cannot express a model refuses in one line (exit status 2 from the CLI); the table
says so. Exit status 1 when any build found a mismatch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bireal_hw import bnn_pynq  # noqa: E402
from bireal_hw.errors import CheckFailed, UserError  # noqa: E402

TARGETS = ("ir", "sim", "fpga", "rtl", "cpu", "hls4ml")


def evaluation_images(model: str, n: int, seed: int = 0) -> tuple[np.ndarray, str]:
    from compiler.verification import verification_images

    z = bnn_pynq.zoo_model(model)
    _, c, h, w = z.input_shape
    dataset = "fashion-mnist" if z.arch != "cnv" else None
    return verification_images(dataset, (c, h, w), n, seed)


def agreement(model, onnx_path: Path, images: np.ndarray) -> dict:
    """Top-1 of the exact integer model (its IR) against Brevitas' float forward."""
    from compiler.frontend import load_model_graph
    from compiler.ir import execute
    from compiler.ir.ops.dequantize_output import dequantize
    from compiler.verification import logits_tensor

    graph = load_model_graph(onnx_path).graph
    name = logits_tensor(graph)
    ints = execute(
        graph, np.ascontiguousarray(images.transpose(0, 2, 3, 1), dtype=np.float64), outputs=[name]
    )[name]
    dq = next(n for n in graph.nodes if n.op == "dequantize_output").attrs
    exact = dequantize(dq, ints).reshape(len(images), -1)
    ref = bnn_pynq.float_forward(model, images).reshape(len(images), -1)
    ours, theirs = exact.argmax(1), ref.argmax(1)
    differ = np.flatnonzero(ours != theirs)
    top2 = np.sort(ref, axis=1)[:, -2:]
    return {
        "images": len(images),
        "top1_agree": int(len(images) - len(differ)),
        "differ": [int(i) for i in differ[:20]],
        "float_top2_margin_where_differ": [float(top2[i, 1] - top2[i, 0]) for i in differ[:20]],
        "max_abs_logit_difference": float(np.abs(exact - ref).max()),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(bnn_pynq.MODELS))
    p.add_argument("--targets", default=",".join(TARGETS))
    p.add_argument("--images", type=int, default=300, help="check images per build (and for the agreement)")
    p.add_argument("--small", action="store_true", help="the narrow versions (fast)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("build/bnn_pynq"))
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    import compiler

    rows, failed = [], False
    for model in args.models.split(","):
        folder = args.out / model
        folder.mkdir(parents=True, exist_ok=True)
        net = bnn_pynq.build(model, args.seed, args.small)
        onnx_path = bnn_pynq.export(net, bnn_pynq.zoo_model(model).input_shape, folder / f"{model}.onnx")
        images, source = evaluation_images(model, args.images, args.seed)
        row = {"model": model, "agreement": agreement(net, onnx_path, images), "agreement_images": source}
        for target in args.targets.split(","):
            start = time.perf_counter()
            try:
                result = compiler.compile(
                    onnx_path, target, folder / target, verify_images=args.images, seed=args.seed
                )
                checks = {k: v for k, v in result.report.items() if isinstance(v, dict) and "mismatches" in v}
                row[target] = {
                    "images": min(v["images"] for v in checks.values()),
                    "mismatches": sum(v["mismatches"] for v in checks.values()),
                    "checks": sorted(checks),
                    "seconds": round(time.perf_counter() - start, 1),
                }
                if "fps" in result.report:
                    row[target]["fps"] = result.report["fps"]
            except CheckFailed as exc:
                failed = True
                row[target] = {"failed": str(exc)[:300]}
            except UserError as exc:
                row[target] = {"refused": str(exc)[:300]}
            print(f"{model:9s} {target:6s} {json.dumps(row[target])}", flush=True)
        a = row["agreement"]
        print(
            f"{model:9s} top-1 agreement with Brevitas' float forward: {a['top1_agree']}/{a['images']}",
            flush=True,
        )
        rows.append(row)
    print_table(rows, args.targets.split(","))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 1 if failed else 0


def print_table(rows: list[dict], targets: list[str]) -> None:
    print("\n| model | " + " | ".join(targets) + " | top-1 = Brevitas float |")
    print("|---" * (len(targets) + 2) + "|")
    for r in rows:
        cells = []
        for t in targets:
            c = r[t]
            if "images" in c:
                cells.append(f"{c['mismatches']} of {c['images']} differ ({c['seconds']:.0f} s)")
            else:
                cells.append("refused" if "refused" in c else "**FAILED**")
        a = r["agreement"]
        cells.append(f"{a['top1_agree']}/{a['images']}")
        print(f"| {r['model']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
