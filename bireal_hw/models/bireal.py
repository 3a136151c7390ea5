"""Bi-Real Net in Brevitas, following the paper's PyTorch implementation.

Block: sign -> 3x3 binary conv -> BN -> (+ shortcut), no nonlinearity after the add. The first
block of every later stage halves the resolution; its shortcut is AvgPool2d(2) -> 1x1 conv -> BN.

Quantization for hardware (all on integer grids, see docs/conventions.md):
- input: 8-bit unsigned on the fixed grid 1/255 (raw pixels);
- stem conv, downsample 1x1 convs: 8-bit per-channel weights; classifier: 8-bit per-tensor weights;
- the residual stream: ONE shared `QuantIdentity` (signed, `residual_bits`) applied to the stem
  output, to every BN output that is added, and to every add's result, so every add is an integer
  add with saturation;
- binary convs: bipolar activations (ApproxSign) x sign(W) * mean|W| per channel.
"""

from __future__ import annotations

import brevitas.nn as qnn
import torch
import torch.nn.functional as F
from torch import nn

from bireal_hw.models.config import BiRealConfig, Block, FloatActivation, Padding, Stem, WeightScale
from bireal_hw.quantizers import (
    BipolarActivation,
    Int8Weight,
    Int8WeightPerTensor,
    LeakyClip,
    MeanAbsBinaryWeight,
    PixelInput,
    residual_grid_quant,
    set_unit_weight_scale,
)


def _conv(cfg: BiRealConfig, cin: int, cout: int, k: int, stride: int, pad: int, weight_quant):
    if cfg.quantized:
        return qnn.QuantConv2d(
            cin, cout, k, stride=stride, padding=pad, bias=False, weight_quant=weight_quant
        )
    return nn.Conv2d(cin, cout, k, stride=stride, padding=pad, bias=False)


def _activation(cfg: BiRealConfig) -> nn.Module:
    """The sign of a quantized model (ApproxSign gradient); the float twin's activation there."""
    if cfg.quantized:
        return qnn.QuantIdentity(act_quant=BipolarActivation, return_quant_tensor=False)
    return {
        FloatActivation.RELU: nn.ReLU,
        FloatActivation.LEAKY_CLIP: LeakyClip,
        FloatActivation.CLIP: lambda: nn.Hardtanh(-1.0, 1.0),
    }[cfg.float_activation]()


class Downsample(nn.Module):
    """Shortcut of a resolution-halving block: AvgPool2d(2) -> 1x1 conv (8-bit weights) -> BN."""

    def __init__(self, cfg: BiRealConfig, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(kernel_size=stride, stride=stride) if stride > 1 else nn.Identity()
        self.conv = _conv(cfg, cin, cout, 1, 1, 0, Int8Weight)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(self.pool(x)))


class BiRealBlock(nn.Module):
    """sign -> binary 3x3 conv -> BN -> quantize to the residual grid -> + shortcut -> requantize."""

    def __init__(
        self, cfg: BiRealConfig, cin: int, cout: int, stride: int, residual_quant: nn.Module
    ) -> None:
        super().__init__()
        self.padding = cfg.padding
        self.sign = _activation(cfg)
        conv_pad = 1 if (self.padding is Padding.ZERO or not cfg.quantized) else 0
        self.conv = _conv(cfg, cin, cout, 3, stride, conv_pad, MeanAbsBinaryWeight)
        self.bn = nn.BatchNorm2d(cout)
        self.residual_quant = residual_quant
        self.downsample = Downsample(cfg, cin, cout, stride) if (stride != 1 or cin != cout) else None
        self._constant_pad = cfg.quantized and self.padding is not Padding.ZERO

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.sign(x)
        if self._constant_pad:
            out = F.pad(out, (1, 1, 1, 1), value=self.padding.value_after_sign)
        out = self.residual_quant(self.bn(self.conv(out)))
        shortcut = x if self.downsample is None else self.residual_quant(self.downsample(x))
        return self.residual_quant(out + shortcut)


class BinaryBranch(nn.Module):
    """sign -> binary k x k conv (pad (k - 1) / 2, the config's padding) -> BN -> residual grid:
    the binary path of one unit of a bottleneck block; its shortcut is the block's business."""

    def __init__(
        self, cfg: BiRealConfig, cin: int, cout: int, k: int, stride: int, residual_quant: nn.Module
    ) -> None:
        super().__init__()
        self.sign = _activation(cfg)
        self.pad = (k - 1) // 2
        self._constant_pad = self.pad > 0 and cfg.quantized and cfg.padding is not Padding.ZERO
        self._pad_value = cfg.padding.value_after_sign
        self.conv = _conv(
            cfg, cin, cout, k, stride, 0 if self._constant_pad else self.pad, MeanAbsBinaryWeight
        )
        self.bn = nn.BatchNorm2d(cout)
        self.residual_quant = residual_quant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.sign(x)
        if self._constant_pad:
            out = F.pad(out, (self.pad,) * 4, value=self._pad_value)
        return self.residual_quant(self.bn(self.conv(out)))


class BiRealBottleneck(nn.Module):
    """Bi-Real-50's block: a ResNet-50 bottleneck (1x1 reduce, 3x3, 1x1 expand) with a real-valued
    shortcut around every binary conv. Two residual streams run through the stage: the narrow one
    (`mid` channels, the 1x1 reduce's and the 3x3's outputs) and the wide one (`width` channels):

        u1 = q(q(BN(bconv1x1(sign w))) + n')      n' = n, or q(1x1 8-bit conv + BN of n) (channels)
        u2 = q(q(BN(bconv3x3/s(sign u1))) + u1')  u1' = u1, or q(AvgPool2d(s)(u1))
        u3 = q(q(BN(bconv1x1(sign u2))) + w')     w' = w, or Downsample(w) (as in Bi-Real-18)

    and the block passes (u2, u3) on as the next block's (n, w). Every add is on the one residual
    grid (q). The choices the paper leaves open are in docs/decisions.md."""

    def __init__(
        self, cfg: BiRealConfig, n_in: int, w_in: int, width: int, stride: int, residual_quant: nn.Module
    ) -> None:
        super().__init__()
        mid = width // 4
        self.reduce = BinaryBranch(cfg, w_in, mid, 1, 1, residual_quant)
        self.narrow_shortcut = Downsample(cfg, n_in, mid, 1) if n_in != mid else None
        self.conv3x3 = BinaryBranch(cfg, mid, mid, 3, stride, residual_quant)
        self.mid_pool = nn.AvgPool2d(kernel_size=stride, stride=stride) if stride > 1 else None
        self.expand = BinaryBranch(cfg, mid, width, 1, 1, residual_quant)
        self.downsample = Downsample(cfg, w_in, width, stride) if (stride != 1 or w_in != width) else None
        self.residual_quant = residual_quant

    def forward(self, streams: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        n, w = streams
        q = self.residual_quant
        n = n if self.narrow_shortcut is None else q(self.narrow_shortcut(n))
        u1 = q(self.reduce(w) + n)
        s1 = u1 if self.mid_pool is None else q(self.mid_pool(u1))
        u2 = q(self.conv3x3(u1) + s1)
        s2 = w if self.downsample is None else q(self.downsample(w))
        return u2, q(self.expand(u2) + s2)


class BiRealNet(nn.Module):
    """A Bi-Real network (or its float twin) built from a `BiRealConfig`.

    Takes images in [0, 1] (N, C, H, W); returns class logits (N, num_classes).
    """

    def __init__(self, cfg: BiRealConfig) -> None:
        super().__init__()
        self.cfg = cfg
        q = cfg.quantized
        self.input_quant = (
            qnn.QuantIdentity(act_quant=PixelInput, return_quant_tensor=False) if q else nn.Identity()
        )
        if q:
            self.residual_quant = qnn.QuantIdentity(
                act_quant=residual_grid_quant(cfg.residual_bits), return_quant_tensor=False
            )
        else:
            self.residual_quant = nn.Identity()
        if cfg.stem is Stem.IMAGENET:
            self.stem_conv = _conv(cfg, cfg.in_channels, cfg.stem_channels, 7, 2, 3, Int8Weight)
            self.stem_pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            self.stem_conv = _conv(cfg, cfg.in_channels, cfg.stem_channels, 3, 1, 1, Int8Weight)
            self.stem_pool = nn.Identity()
        self.stem_bn = nn.BatchNorm2d(cfg.stem_channels)
        blocks = []
        cin = narrow = cfg.stem_channels
        for stage, (n, width) in enumerate(zip(cfg.stage_blocks, cfg.widths, strict=False)):
            for i in range(n):
                stride = 2 if (stage > 0 and i == 0) else 1
                if cfg.block is Block.BOTTLENECK:
                    blocks.append(BiRealBottleneck(cfg, narrow, cin, width, stride, self.residual_quant))
                    narrow = width // 4
                else:
                    blocks.append(BiRealBlock(cfg, cin, width, stride, self.residual_quant))
                cin = width
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        if q and cfg.weight_scale is WeightScale.ONE:
            set_unit_weight_scale(self.blocks, True)
            # Brevitas re-creates its quantizers when a state dict is loaded: set it again then
            self.register_load_state_dict_post_hook(lambda module, _keys: set_unit_weight_scale(module, True))
        if q:
            self.fc = qnn.QuantLinear(cin, cfg.num_classes, bias=True, weight_quant=Int8WeightPerTensor)
        else:
            self.fc = nn.Linear(cin, cfg.num_classes)

    def binary_convs(self) -> list[nn.Module]:
        """The convs with binary weights (every block's binary 3x3 or bottleneck 1x1/3x3/1x1)."""
        return [m.conv for m in self.modules() if isinstance(m, BiRealBlock | BinaryBranch)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_quant(x)
        x = self.stem_pool(self.residual_quant(self.stem_bn(self.stem_conv(x))))
        bottleneck = self.cfg.block is Block.BOTTLENECK
        x = self.blocks((x, x))[1] if bottleneck else self.blocks(x)  # the stem feeds both streams
        return self.fc(torch.flatten(self.pool(x), 1))
