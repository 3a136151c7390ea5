"""Bit-exact verification of IR graphs against a reference, with `==` on every output element.

References:
- `pytorch-integer`: the integer golden of a bireal_hw checkpoint (`bireal_hw.integer`);
- `imported-ir`: the IR as imported from the QONNX file (exact rational semantics of its
  Quant / BatchNorm / Add nodes), for ONNX files without a checkpoint.

Inputs (`check_images`): the extremes of the model's input grid (all minimum, all maximum and
two checkerboards of both), then the model's dataset images where it has one on this machine
alternating with seeded random integers over the whole input grid; the report says which, and
how many distinct outputs the reference gave on them (a check whose outputs are all equal
cannot see a wrong kernel).
"""

from __future__ import annotations

import hashlib
import os
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


def golden_reference(checkpoint_or_model) -> Reference:
    """The integer golden of a bireal_hw checkpoint (a path) or of a BiRealNet."""
    import torch

    from bireal_hw.checkpoint import load_model
    from bireal_hw.integer import integer_model

    model = checkpoint_or_model
    if isinstance(model, str | os.PathLike):
        model, _ = load_model(model)
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


@dataclass(frozen=True)
class InputGrid:
    """The model's integer input grid: pixel q in [qmin, qmax] is the image value q * scale."""

    scale: float
    qmin: int
    qmax: int

    @staticmethod
    def of(graph: Graph) -> InputGrid:
        q = next(n for n in graph.nodes if n.op == "quantize_input").attrs
        if q.bipolar:  # a sign of the image: 8-bit pixels over [0, 1] on both sides of the cut
            return InputGrid(1 / 255, 0, 255)
        # pixel q is the image value (q - offset) * scale
        return InputGrid(float(q.scale), int(q.qmin) - int(q.offset), int(q.qmax) - int(q.offset))

    def images(self, pixels: np.ndarray) -> np.ndarray:
        """Integer pixels -> the float32 images the models take (they quantize back exactly)."""
        images = (pixels.astype(np.float64) * self.scale).astype(np.float32)
        back = np.clip(np.round(images.astype(np.float64) / self.scale), self.qmin, self.qmax)
        if not np.array_equal(back, pixels):  # a scale float32 cannot carry: keep float64
            images = pixels.astype(np.float64) * self.scale
        return images


EXTREMES = 4  # all-min, all-max and the two checkerboards lead every check's images


def check_images(
    grid: InputGrid, shape: tuple[int, int, int], n: int, seed: int, dataset: str | None = None
) -> tuple[np.ndarray, str]:
    """(N, C, H, W) images for the bit-exact checks and where they come from: the grid's
    extremes, then dataset images (where the model has a dataset on this machine) alternating
    with seeded random integers over [qmin, qmax]."""
    c, h, w = shape
    yy, xx = np.indices((h, w))
    board = ((yy + xx) % 2).astype(bool)[None]
    lo, hi = grid.qmin, grid.qmax
    extremes = [np.full(shape, lo), np.full(shape, hi), np.where(board, hi, lo), np.where(board, lo, hi)]
    extremes = np.stack([np.broadcast_to(e, shape) for e in extremes])[:n].astype(np.int64)
    rest = n - len(extremes)
    from_data = np.zeros((0, c, h, w), dtype=np.int64)
    if dataset is not None and rest > 0:
        data, found = verification_images(dataset, shape, rest - rest // 2, seed)
        if found.startswith(f"{dataset} test["):  # else the dataset is not on this machine
            from_data = np.clip(np.round(data.astype(np.float64) / grid.scale), lo, hi).astype(np.int64)
    rng = np.random.default_rng(seed)
    randoms = rng.integers(lo, hi + 1, size=(rest - len(from_data), c, h, w), dtype=np.int64)
    mixed = np.empty((rest, c, h, w), dtype=np.int64)
    k = 2 * min(len(from_data), len(randoms))
    mixed[0:k:2], mixed[1:k:2] = from_data[: k // 2], randoms[: k // 2]
    mixed[k:] = from_data[k // 2 :] if len(from_data) > len(randoms) else randoms[k // 2 :]
    parts = [f"{len(extremes)} grid extremes"]
    if len(from_data):
        parts.append(f"{len(from_data)} {dataset} test images")
    if len(randoms):
        parts.append(f"{len(randoms)} random integers in [{lo}, {hi}] (seed {seed})")
    return grid.images(np.concatenate([extremes, mixed])), " + ".join(parts)


def batches(images: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for s in range(0, len(images), size):
        yield images[s : s + size]


def count_mismatches(got: np.ndarray, want: np.ndarray) -> int:
    """Images whose logits differ in any element (shapes must agree)."""
    if got.shape != want.shape:
        raise ValueError(f"output shapes differ: {got.shape} vs {want.shape}")
    return int((got != want).reshape(len(got), -1).any(axis=1).sum())
