"""CPU latency, batch 1, 224x224, in one run (issue 6; first part: ours against PyTorch fp32).

    python benchmarks/cpu_latency.py [--rounds 10] [--threads 2]

- ours: bireal18 (random weights, randomized BN, 4-bit residual grid) compiled by `--target cpu`'s
  code path (TVM kernels from the streamlined IR, the host CPU's LLVM target), run through
  compiler.runtime; its logits are checked against the golden first;
- PyTorch fp32: bireal18's float twin (ResNet-18 shapes, real weights, ReLU), torch.inference_mode.
Prints the median of `--rounds` runs each, the ratio and our slowest kernels. onnxruntime,
OpenVINO's binary network and the XOR-popcount peak are not measured yet.
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
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bireal_hw.checkpoint import save_checkpoint  # noqa: E402
from bireal_hw.models import build_model, model_config  # noqa: E402
from compiler.build import BuildConfig, Target, build  # noqa: E402
from compiler.runtime import CompiledModel  # noqa: E402
from tests.conftest import randomize_batchnorm  # noqa: E402


def median_ms(fn, rounds: int) -> float:
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.rand(1, 3, 224, 224)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(model_config("bireal18").replace(residual_bits=4)).eval()
        randomize_batchnorm(model, torch.Generator().manual_seed(1))
        ckpt = Path(tmp) / "bireal18.pt"
        save_checkpoint(ckpt, model)
        report = build(
            BuildConfig(model=ckpt, out=Path(tmp) / "out", target=Target.CPU, verify_images=2),
            progress=lambda m: None,
        )
        assert report["bit_exact"]["mismatches"] == 0
        ours = CompiledModel(Path(tmp) / "out" / "cpu")
        images = x.numpy().astype(np.float64)
        results["ours_bireal18"] = median_ms(lambda: ours.run(images), args.rounds)
        layers = ours.profile(images, rounds=args.rounds)
        print("slowest kernels (median ms):")
        for name, ms in sorted(layers.items(), key=lambda kv: -kv[1])[:8]:
            print(f"  {name:24s} {ms:8.2f}")
    twin = build_model(model_config("bireal18").replace(quantized=False)).eval()
    with torch.inference_mode():
        results["pytorch_fp32_resnet18"] = median_ms(lambda: twin(x), args.rounds)
    results["speedup_vs_pytorch_fp32"] = results["pytorch_fp32_resnet18"] / results["ours_bireal18"]
    print(json.dumps({k: round(v, 3) for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
