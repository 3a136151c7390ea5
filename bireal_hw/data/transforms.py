"""Training transforms written with torch (torchvision is not available beside our torch pin).

Every random choice takes an explicit `torch.Generator`, so an epoch's augmentation depends only on
(seed, epoch): `--resume` continues exactly.
"""

from __future__ import annotations

import math

import torch
from PIL import Image

# ImageNet PCA lighting noise (AlexNet), as in the Bi-Real / ReActNet training code.
IMAGENET_EIGVAL = torch.tensor([0.2175, 0.0188, 0.0045])
IMAGENET_EIGVEC = torch.tensor(
    [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]]
)


def random_crop_flip(x: torch.Tensor, pad: int, flip: bool, gen: torch.Generator) -> torch.Tensor:
    """Per-sample random crop of a zero-padded batch (N, C, H, W) and optional horizontal flip."""
    n, _, h, w = x.shape
    if pad > 0:
        xp = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        oy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
        ox = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
        rows = (oy[:, None] + torch.arange(h))[:, :, None]
        cols = (ox[:, None] + torch.arange(w))[:, None, :]
        x = xp[torch.arange(n)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
    if flip:
        mask = torch.rand(n, generator=gen) < 0.5
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    return x.contiguous()


def random_resized_crop_params(
    width: int,
    height: int,
    gen: torch.Generator,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[int, int, int, int]:
    """(left, top, w, h) of an Inception-style random crop; falls back to a central crop."""
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        u = torch.rand(2, generator=gen).tolist()
        target = area * (scale[0] + (scale[1] - scale[0]) * u[0])
        aspect = math.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * u[1])
        cw = round(math.sqrt(target * aspect))
        ch = round(math.sqrt(target / aspect))
        if 0 < cw <= width and 0 < ch <= height:
            left = int(torch.randint(0, width - cw + 1, (1,), generator=gen))
            top = int(torch.randint(0, height - ch + 1, (1,), generator=gen))
            return left, top, cw, ch
    in_ratio = width / height
    if in_ratio < ratio[0]:
        cw, ch = width, round(width / ratio[0])
    elif in_ratio > ratio[1]:
        cw, ch = round(height * ratio[1]), height
    else:
        cw, ch = width, height
    return (width - cw) // 2, (height - ch) // 2, cw, ch


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL image -> float tensor (3, H, W) in [0, 1]."""
    data = torch.frombuffer(bytearray(img.convert("RGB").tobytes()), dtype=torch.uint8)
    return data.view(img.height, img.width, 3).permute(2, 0, 1).float() / 255.0


def imagenet_train_transform(img: Image.Image, size: int, gen: torch.Generator) -> torch.Tensor:
    """RandomResizedCrop(size, scale 0.08-1) + horizontal flip + PCA lighting (std 0.1)."""
    left, top, cw, ch = random_resized_crop_params(img.width, img.height, gen)
    img = img.convert("RGB").crop((left, top, left + cw, top + ch)).resize((size, size), Image.BILINEAR)
    if float(torch.rand(1, generator=gen)) < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    x = pil_to_tensor(img)
    alpha = torch.randn(3, generator=gen) * 0.1
    rgb = IMAGENET_EIGVEC @ (alpha * IMAGENET_EIGVAL)
    return (x + rgb[:, None, None]).clamp_(0.0, 1.0)


def imagenet_eval_transform(img: Image.Image, size: int) -> torch.Tensor:
    """Resize the short side to size * 256/224, then a central size x size crop."""
    short = round(size * 256 / 224)
    w, h = img.size
    if w <= h:
        nw, nh = short, max(short, round(h * short / w))
    else:
        nw, nh = max(short, round(w * short / h)), short
    img = img.convert("RGB").resize((nw, nh), Image.BILINEAR)
    left, top = (nw - size) // 2, (nh - size) // 2
    return pil_to_tensor(img.crop((left, top, left + size, top + size)))
