"""Bit-exact verification of IR graphs against a reference, with `==` on every output element.

References:
- `pytorch-integer`: the integer golden of a bireal_hw checkpoint (`bireal_hw.integer`);
- `imported-ir`: the IR as imported from the QONNX file (exact rational semantics of its
  Quant / BatchNorm / Add nodes), for ONNX files without a checkpoint.

Images: the first N test images of the model's dataset when it is on this machine, otherwise
seeded random 8-bit images (the report says which).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from compiler.ir import Graph, execute

IntegerModel = Callable[[np.ndarray], np.ndarray]  # NCHW images in [0, 1] -> int64 logits


@dataclass
class Reference:
    name: str
    model: IntegerModel
    cache: dict = field(default_factory=dict)  # batch digest -> logits (a build checks several forms)

    def run(self, images: np.ndarray) -> np.ndarray:
        key = hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest() + str(images.shape)
        if key not in self.cache:
            self.cache[key] = self.model(images)
        return self.cache[key]


def logits_tensor(graph: Graph) -> str:
    """The integer logits: the input of the output dequantizer."""
    producers = graph.producers()
    last = producers[graph.outputs[0]]
    return last.inputs[0] if last.op == "dequantize_output" else graph.outputs[0]


def graph_runner(graph: Graph) -> IntegerModel:
    name = logits_tensor(graph)

    def run(images: np.ndarray) -> np.ndarray:
        nhwc = np.ascontiguousarray(images.transpose(0, 2, 3, 1), dtype=np.float64)
        return execute(graph, nhwc, outputs=[name])[name]

    return run


def golden_reference(checkpoint) -> Reference:
    import torch

    from bireal_hw.checkpoint import load_model
    from bireal_hw.integer import integer_model

    model, _ = load_model(checkpoint)
    golden = integer_model(model)

    def run(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
            return golden(golden.quantize_input(x)).numpy()

    return Reference("pytorch-integer", run)


def verification_images(
    dataset: str | None, shape: tuple[int, int, int], n: int, seed: int
) -> tuple[np.ndarray, str]:
    """(N, C, H, W) float32 images in [0, 1] on the 1/255 grid, and where they come from."""
    c, h, w = shape
    if dataset == "fashion-mnist" and (c, h, w) == (1, 28, 28):
        from bireal_hw.data import FASHION_MNIST_DIR
        from bireal_hw.data.idx import read_idx

        path = FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz"
        if path.is_file():
            images = read_idx(path)[:n]
            return images[:, None].astype(np.float32) / 255, f"fashion-mnist test[:{len(images)}]"
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, c, h, w), dtype=np.uint8)
    return pixels.astype(np.float32) / 255, f"random uint8 images (seed {seed})"


def batches(images: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for s in range(0, len(images), size):
        yield images[s : s + size]


def count_mismatches(got: np.ndarray, want: np.ndarray) -> int:
    """Images whose logits differ in any element (shapes must agree)."""
    if got.shape != want.shape:
        raise ValueError(f"output shapes differ: {got.shape} vs {want.shape}")
    return int((got != want).reshape(len(got), -1).any(axis=1).sum())
