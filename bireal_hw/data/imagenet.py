"""ImageNet in the ImageFolder layout: root/{train,val}/<class>/<image>."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from bireal_hw.data.transforms import imagenet_eval_transform, imagenet_train_transform
from bireal_hw.errors import UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm"}


def scan_image_folder(root: str | Path) -> tuple[list[Path], list[int], list[str]]:
    """Files, labels and sorted class names of an ImageFolder tree (symlinks are not followed)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"image folder {root} does not exist; pass --data-dir with train/ and val/")
    try:
        classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink())
        if not classes:
            raise UserError(f"image folder {root} has no class sub-folders")
        files, labels = [], []
        for label, name in enumerate(classes):
            for f in sorted((root / name).iterdir()):
                if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file() and not f.is_symlink():
                    files.append(f)
                    labels.append(label)
    except OSError as exc:
        raise UserError(f"cannot read image folder {root}: {exc.strerror or exc}") from None
    if not files:
        raise UserError(f"image folder {root} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files, labels, classes


class ImageFolderSamples(torch.utils.data.Dataset):
    """Decoded, transformed samples; sample i of epoch e uses the generator seeded (seed, e, i)."""

    def __init__(self, files, labels, size: int, train: bool, seed: int, epoch: int) -> None:
        self.files, self.labels = files, labels
        self.size, self.train, self.seed, self.epoch = size, train, seed, epoch

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        try:
            with Image.open(self.files[i]) as img:
                img.load()
                if self.train:
                    gen = torch.Generator().manual_seed(hash((self.seed, self.epoch, i)) & (2**62))
                    x = imagenet_train_transform(img, self.size, gen)
                else:
                    x = imagenet_eval_transform(img, self.size)
        except (
            OSError,
            UnidentifiedImageError,
            Image.DecompressionBombError,
            ValueError,
            SyntaxError,
        ) as exc:
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise UserError(f"cannot decode image {self.files[i]}: {first}") from None
        return x, self.labels[i]
