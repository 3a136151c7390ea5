"""The Python API on the embedded model: build it for the simulated dataflow design, then
classify Fashion-MNIST test images with the built form (the simulator's integers, equal to the
golden's).

    python examples/python_api.py [--out build/api] [--target sim] [--fps 20000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import compiler
from bireal_hw.checkpoint import load_model
from bireal_hw.data import FASHION_MNIST_DIR
from bireal_hw.data.idx import read_idx

CHECKPOINT = Path(__file__).resolve().parent / "fashion_mnist" / "checkpoint.pt"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="build/api")
    p.add_argument("--target", default="sim", choices=["ir", "sim", "fpga", "cpu", "hls4ml"])
    p.add_argument("--fps", type=float, default=20_000)
    args = p.parse_args()

    model, _ = load_model(CHECKPOINT)  # any bireal_hw model, Brevitas module, ONNX proto or path
    hw = {"fps": args.fps} if args.target in ("sim", "fpga") else {}
    result = compiler.compile(model, target=args.target, out=args.out, verify_images=200, **hw)
    print(f"built {result.target} into {result.out}: ok={result.ok}, checked on "
          f"{result.report['bit_exact']['images']} images, {result.report['bit_exact']['mismatches']} mismatches")  # fmt: skip
    if "fps" in result.report:
        print(
            f"{result.report['fps']:,.0f} frames/s, fits {result.report.get('fits')}; plot: {result.paths['plot']}"
        )

    images = read_idx(FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz")[:16, None].astype(np.float32) / 255
    labels = read_idx(FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz")[:16]
    predicted = result.classify(images)
    print(f"classes of 16 test images: {predicted.tolist()}")
    print(f"correct: {int((predicted == labels).sum())} of 16")


if __name__ == "__main__":
    main()
