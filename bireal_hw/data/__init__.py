"""Datasets: `fashion-mnist` (the embedded default), `cifar10`, `imagenet`, `synthetic`.

`load_dataset(name, split, data_dir)` returns a `Dataset` whose `batches(...)` yields
(images float32 in [0, 1] (N, C, H, W), labels int64 (N,)). Shuffling and augmentation depend only
on (seed, epoch), so a resumed run sees exactly the batches it would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bireal_hw.data.cifar import load_cifar10
from bireal_hw.data.idx import read_idx
from bireal_hw.data.imagenet import ImageFolderSamples, scan_image_folder
from bireal_hw.data.transforms import random_crop_flip
from bireal_hw.errors import UserError
from bireal_hw.models.config import MAX_IMAGE_SIZE
from bireal_hw.validate import check_integer

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
DATASETS = ("fashion-mnist", "cifar10", "imagenet", "synthetic")
Batch = tuple[torch.Tensor, torch.Tensor]


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def shard_indices(n: int, shuffle: bool, gen: torch.Generator, rank: int, world: int) -> torch.Tensor:
    """This rank's sample order: one permutation shared by all ranks, cut into equal shards."""
    order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
    per_rank = n // world if world > 1 else n
    return order[rank::world][:per_rank]


@dataclass
class Dataset:
    """A dataset split: in-memory uint8 images or an image folder."""

    name: str
    num_classes: int
    in_channels: int
    image_size: int
    images: torch.Tensor | None = None  # uint8 (N, C, H, W) for in-memory datasets
    labels: torch.Tensor | None = None
    files: list | None = None  # image-folder datasets
    crop_pad: int = 0
    flip: bool = False

    def __len__(self) -> int:
        return len(self.files) if self.files is not None else len(self.labels)

    def batches(
        self,
        batch_size: int,
        train: bool,
        seed: int = 0,
        epoch: int = 0,
        rank: int = 0,
        world: int = 1,
        workers: int = 0,
        augment: bool = True,
    ) -> Iterator[Batch]:
        gen = epoch_generator(seed, epoch)
        idx = shard_indices(len(self), train, gen, rank, world)
        if train and len(idx) >= batch_size:
            # Training drops the last partial batch: every step sees `batch_size` samples (and a
            # compiled training graph never meets a second shape).
            idx = idx[: len(idx) - len(idx) % batch_size]
        if self.files is not None:
            yield from self._folder_batches(idx, batch_size, train and augment, seed, epoch, workers)
            return
        for start in range(0, len(idx), batch_size):
            sel = idx[start : start + batch_size]
            x = self.images[sel].float().div_(255.0)
            if train and augment and (self.crop_pad or self.flip):
                x = random_crop_flip(x, self.crop_pad, self.flip, gen)
            yield x, self.labels[sel]

    def _folder_batches(self, idx, batch_size, train, seed, epoch, workers) -> Iterator[Batch]:
        samples = ImageFolderSamples(self.files, self.labels.tolist(), self.image_size, train, seed, epoch)
        subset = torch.utils.data.Subset(samples, idx.tolist())
        loader = torch.utils.data.DataLoader(
            subset, batch_size=batch_size, shuffle=False, num_workers=workers
        )
        try:
            for x, y in loader:
                yield x, torch.as_tensor(y, dtype=torch.int64)
        except UserError as exc:  # from a worker process: the message holds the worker's traceback
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            raise UserError(lines[-1].removeprefix(f"{UserError.__module__}.UserError: ")) from None


def _in_memory(
    name: str, images: np.ndarray, labels: np.ndarray, classes: int, pad: int, flip: bool, where: str = ""
) -> Dataset:
    where = where or name
    check_images_and_labels(where, images, labels, classes)
    if images.ndim == 3:
        images = images[:, None]
    return Dataset(
        name=name,
        num_classes=classes,
        in_channels=images.shape[1],
        image_size=images.shape[-1],
        images=torch.from_numpy(np.ascontiguousarray(images)),
        labels=torch.from_numpy(labels.astype(np.int64)),
        crop_pad=pad,
        flip=flip,
    )


def check_images_and_labels(where: str, images: np.ndarray, labels: np.ndarray, classes: int) -> None:
    """UserError unless `images` are N uint8 square images (N, H, W) or (N, C, H, W) and `labels`
    are N integers (N,) in [0, classes)."""
    if images.dtype != np.uint8:
        raise UserError(f"{where}: images are {images.dtype}, not 8-bit pixels (uint8)")
    if images.ndim not in (3, 4) or images.shape[-1] != images.shape[-2] or images.shape[-1] < 1:
        raise UserError(
            f"{where}: images have shape {images.shape}; want N square images (N, H, W) or (N, C, H, W)"
        )
    if images.ndim == 4 and not 1 <= images.shape[1] <= 4:
        raise UserError(f"{where}: images have {images.shape[1]} channels; want 1 to 4")
    if labels.ndim != 1:
        raise UserError(f"{where}: labels have shape {labels.shape}; want one label per image, shape (N,)")
    if labels.dtype.kind not in "iu":
        raise UserError(f"{where}: labels are {labels.dtype}, not integers")
    if len(images) != len(labels):
        raise UserError(f"{where}: {len(images)} images but {len(labels)} labels; the counts must match")
    if len(labels) == 0:
        raise UserError(f"{where}: the dataset holds no images")
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= classes:
        bad = lo if lo < 0 else hi
        raise UserError(f"{where}: label {bad} is outside the {classes} classes 0-{classes - 1}")


def synthetic_arrays(
    n: int, num_classes: int = 10, channels: int = 1, size: int = 28, noise_seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Learnable generated data: each class is a fixed random pattern (the same for every split)
    plus per-sample noise drawn from `noise_seed`."""
    prototypes = np.random.default_rng(12345).uniform(0, 255, size=(num_classes, channels, size, size))
    labels = np.arange(n) % num_classes
    rng_samples = np.random.default_rng(noise_seed)
    noise = rng_samples.normal(0, 60, size=(n, channels, size, size))
    images = np.clip(prototypes[labels] + noise, 0, 255).astype(np.uint8)
    return images, labels


def load_dataset(
    name: str,
    split: str,
    data_dir: str | Path | None = None,
    image_size: int = 224,
    synthetic_size: int = 512,
) -> Dataset:
    """Load split 'train' or 'test' of a dataset. `data_dir` overrides the default location."""
    train = split == "train"
    if split not in ("train", "test"):
        raise UserError(f"unknown split {split!r}; use train or test")
    if name == "fashion-mnist":
        root = Path(data_dir) if data_dir else FASHION_MNIST_DIR
        prefix = "train" if train else "t10k"
        img_path, lbl_path = root / f"{prefix}-images-idx3-ubyte.gz", root / f"{prefix}-labels-idx1-ubyte.gz"
        for p in (img_path, lbl_path):
            if not p.is_file():
                raise UserError(
                    f"{p} not found; install it with `apt-get install -y dataset-fashion-mnist` "
                    "or pass --data-dir"
                )
        images, labels = read_idx(img_path), read_idx(lbl_path)
        if images.ndim != 3:
            raise UserError(f"{img_path}: images have shape {images.shape}; want (N, H, W)")
        return _in_memory(name, images, labels, 10, pad=2, flip=True, where=f"{root} ({prefix} files)")
    if name == "cifar10":
        if not data_dir:
            raise UserError("cifar10 needs --data-dir pointing at cifar-10-batches-py")
        images, labels = load_cifar10(data_dir, train)
        return _in_memory(name, images, labels, 10, pad=4, flip=True, where=f"CIFAR-10 in {data_dir}")
    if name == "imagenet":
        if not data_dir:
            raise UserError("imagenet needs --data-dir with train/ and val/ image folders")
        folder = Path(data_dir) / ("train" if train else "val")
        files, labels, classes = scan_image_folder(folder)
        check_integer("--image-size", image_size, 1, MAX_IMAGE_SIZE)
        return Dataset(
            name=name,
            num_classes=len(classes),
            in_channels=3,
            image_size=image_size,
            files=files,
            labels=torch.tensor(labels, dtype=torch.int64),
        )
    if name == "synthetic":
        n = synthetic_size if train else max(synthetic_size // 4, 10)
        images, labels = synthetic_arrays(n, noise_seed=0 if train else 1)
        return _in_memory(name, images, labels, 10, pad=0, flip=False)
    raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
