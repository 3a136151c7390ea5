"""Compile time to IR and interpreter speed, with peers measured in the same run.

    python benchmarks/compile_ir.py [--images 1000] [--models bireal18,bireal34]

1. For each model at 224x224 (random weights, randomized BN): the seconds to compile a QONNX file
   to the final integer IR (untrusted-file checks + import + streamline + lower), next to the
   seconds Brevitas takes to export that QONNX file from PyTorch (the peer step before ours).
2. On the embedded default model: images/s of the IR interpreter on the final IR and of the
   PyTorch integer golden on the same images, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import onnx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bireal_hw.export import export_qonnx_model  # noqa: E402
from bireal_hw.models import build_model, model_config  # noqa: E402
from compiler.build import DEFAULT_MODEL  # noqa: E402
from compiler.frontend import load_model_graph  # noqa: E402
from compiler.passes import PassManager, lowering_passes, streamline_passes  # noqa: E402
from compiler.verification import golden_reference, graph_runner, verification_images  # noqa: E402
from tests.conftest import randomize_batchnorm  # noqa: E402


def compile_to_ir(path: Path):
    graph = load_model_graph(path).graph
    return PassManager(streamline_passes() + lowering_passes()).run(graph)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--models", default="bireal18,bireal34")
    args = p.parse_args()
    results: dict = {"compile": {}, "interpreter": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            torch.manual_seed(0)
            model = build_model(model_config(name)).eval()
            randomize_batchnorm(model, torch.Generator().manual_seed(1))
            start = time.perf_counter()
            proto = export_qonnx_model(model)
            export_s = time.perf_counter() - start
            path = Path(tmp) / f"{name}.onnx"
            onnx.save(proto, str(path))
            start = time.perf_counter()
            graph = compile_to_ir(path)
            compile_s = time.perf_counter() - start
            results["compile"][name] = {
                "compile_to_ir_s": round(compile_s, 2),
                "brevitas_export_s": round(export_s, 2),
                "nodes": len(graph.nodes),
            }
            print(
                f"{name}: compile QONNX -> IR {compile_s:.2f} s (Brevitas export {export_s:.2f} s, "
                f"ratio {export_s / compile_s:.2f}x)",
                flush=True,
            )

    graph = compile_to_ir(DEFAULT_MODEL)
    images, source = verification_images("fashion-mnist", (1, 28, 28), args.images, seed=0)
    golden = golden_reference(DEFAULT_MODEL)
    run = graph_runner(graph)
    timings = {}
    for label, fn in (("ir_interpreter", run), ("pytorch_integer_golden", golden.run)):
        start = time.perf_counter()
        for s in range(0, len(images), 250):
            fn(images[s : s + 250])
        timings[label] = len(images) / (time.perf_counter() - start)
    ratio = timings["ir_interpreter"] / timings["pytorch_integer_golden"]
    results["interpreter"] = {
        "images": len(images),
        "source": source,
        "images_per_s": timings,
        "ratio": ratio,
    }
    print(
        f"default model ({source}): IR interpreter {timings['ir_interpreter']:.0f} images/s, "
        f"PyTorch integer golden {timings['pytorch_integer_golden']:.0f} images/s, ratio {ratio:.2f}x"
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
