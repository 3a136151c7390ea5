"""The integer golden: an integer-only PyTorch reference of a trained Bi-Real model.

Every executable form of a model (IR interpreter, TVM library, HLS C-simulation, sim/) must equal
this module's outputs with `==`. It computes on int64 tensors (convolutions run in float64 on
integer values, exact because every |accumulator| < 2**53, which is checked):

  pixels (uint8 grid)                       = round_half_even(x * 255) from images in [0, 1]
  stem: acc = conv(pixels, W_int8)          -> thresholds -> residual grid r  [-> maxpool]
  block: bits = (r >= 0)  (sign(0) = +1);  acc = conv(2*bits - 1, sign(W)) with the declared pad
         q = thresholds(acc);  shortcut = r  or  thresholds(conv1x1(sum2x2(r), W_int8))
         r = clip(q + shortcut, qmin, qmax)                       (integer add, saturating)
  head: acc = W_int8 @ sum_hw(r) + bias_int,   logits = acc * output_scale   (edge dequantizer)

BN, the magnitude-aware weight scale alpha, the weight/activation scales and the 1/4 of the
average pools are all folded into per-channel thresholds (`bireal_hw.thresholds`), exactly.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bireal_hw.models import BiRealBlock, BiRealBottleneck, BiRealNet, Padding, Stem
from bireal_hw.quantizers import LearnedScaleIntQuant, bipolar_sign
from bireal_hw.thresholds import Requantization, fold_requantization, requantization_from_affine

EXACT_LIMIT = 2**53


@dataclass
class IntConv:
    """An integer convolution: int weights (O, I, kh, kw), stride, pad, and the pad value."""

    weight: torch.Tensor  # int64
    stride: int
    pad: int
    pad_value: float = 0.0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.to(torch.float64)
        if self.pad and self.pad_value != 0.0:
            xf = F.pad(xf, (self.pad,) * 4, value=self.pad_value)
            acc = F.conv2d(xf, self.weight.to(torch.float64), stride=self.stride)
        else:
            acc = F.conv2d(xf, self.weight.to(torch.float64), stride=self.stride, padding=self.pad)
        if acc.numel() and float(acc.abs().max()) >= EXACT_LIMIT:
            raise OverflowError("accumulator exceeds 2**53; float64 convolution is no longer exact")
        return acc.to(torch.int64)

    def bounds(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-output-channel [min, max] of the accumulator for inputs in [lo, hi] (Python ints;
        padded taps included at the pad value, which lies in [lo, hi] or is 0)."""
        w = self.weight.reshape(self.weight.shape[0], -1).numpy().astype(object)
        low = np.minimum(w * lo, w * hi).sum(axis=1)
        high = np.maximum(w * lo, w * hi).sum(axis=1)
        if self.pad and self.pad_value == 0.0:
            low, high = np.minimum(low, 0), np.maximum(high, 0)
        return low, high


class Requant(nn.Module):
    """Applies a `Requantization` to an int64 (N, C, H, W) accumulator."""

    def __init__(self, r: Requantization) -> None:
        super().__init__()
        self.r = r
        self.register_buffer("direction", torch.from_numpy(r.direction).view(1, -1, 1, 1))
        self.register_buffer("thresholds", torch.from_numpy(r.thresholds).contiguous())

    def forward(self, acc: torch.Tensor) -> torch.Tensor:
        n, c, h, w = acc.shape
        v = (acc * self.direction).permute(1, 0, 2, 3).reshape(c, -1).contiguous()
        count = torch.searchsorted(self.thresholds, v, right=True)
        return count.reshape(c, n, h, w).permute(1, 0, 2, 3) + self.r.qmin


def _bn_params(bn: nn.BatchNorm2d) -> dict:
    return {
        "gamma": bn.weight.detach().double().numpy(),
        "beta": bn.bias.detach().double().numpy(),
        "mean": bn.running_mean.detach().double().numpy(),
        "var": bn.running_var.detach().double().numpy(),
        "eps": float(np.float32(bn.eps)),  # the float32 value the model (and ONNX) carries
    }


def _int8_weight(conv: nn.Module) -> tuple[torch.Tensor, np.ndarray]:
    qw = conv.quant_weight()
    w_int = torch.round(qw.value.detach() / qw.scale.detach()).to(torch.int64)
    scale = qw.scale.detach().double().reshape(-1).numpy()
    if scale.size == 1:
        scale = np.repeat(scale, w_int.shape[0])
    return w_int, scale


def _exact_product(*factors: float) -> float:
    """A product of float scales, rounded once from its exact rational value."""
    out = Fraction(1)
    for f in factors:
        out *= Fraction(float(f))
    return float(out)


class IntegerBlock(nn.Module):
    def __init__(
        self,
        conv: IntConv,
        requant: Requant,
        shortcut: tuple[int, IntConv, Requant] | None,
        qmin: int,
        qmax: int,
    ) -> None:
        super().__init__()
        self.conv, self.requant = conv, requant
        self.shortcut = shortcut
        if shortcut is not None:
            self.shortcut_requant = shortcut[2]  # (registered: its buffers move with the module)
        self.qmin, self.qmax = qmin, qmax

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        q = self.requant(self.conv(_bipolar(r)))
        return (q + _shortcut(r, self.shortcut)).clamp_(self.qmin, self.qmax)


def _bipolar(r: torch.Tensor) -> torch.Tensor:
    """The sign of the residual stream as -1 / +1 (sign(0) = +1)."""
    return (r >= 0).to(torch.int64) * 2 - 1


def _shortcut(r: torch.Tensor, shortcut: tuple[int, IntConv, Requant] | None) -> torch.Tensor:
    """The shortcut of a residual add: `r` itself, or AvgPool (its integer sum) -> conv -> thresholds."""
    if shortcut is None:
        return r
    s, conv, rq = shortcut
    return rq(conv(_window_sum(r, s)))


def _window_sum(r: torch.Tensor, s: int) -> torch.Tensor:
    """Sum over s x s windows, stride s (exact in float64 for every grid value)."""
    if s == 1:
        return r
    return F.avg_pool2d(r.to(torch.float64), s, s).mul_(s * s).round_().to(torch.int64)


class IntegerBottleneck(nn.Module):
    """The integer twin of `BiRealBottleneck`: (n, w) -> (u2, u3), every add saturating."""

    def __init__(
        self,
        units: list[tuple[IntConv, Requant]],
        narrow_shortcut: tuple[int, IntConv, Requant] | None,
        mid_pool: tuple[int, Requant] | None,
        downsample: tuple[int, IntConv, Requant] | None,
        qmin: int,
        qmax: int,
    ) -> None:
        super().__init__()
        self.convs = [u[0] for u in units]
        self.requants = nn.ModuleList(u[1] for u in units)
        self.narrow_shortcut, self.downsample = narrow_shortcut, downsample
        self.mid_pool = mid_pool
        # registered, as IntegerBlock's, so that their buffers move with the module
        shortcuts = [x for x in (narrow_shortcut, mid_pool, downsample) if x is not None]
        self.shortcut_requants = nn.ModuleList(x[-1] for x in shortcuts)
        self.qmin, self.qmax = qmin, qmax

    def _binary(self, i: int, r: torch.Tensor) -> torch.Tensor:
        return self.requants[i](self.convs[i](_bipolar(r)))

    def forward(self, streams: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        n, w = streams
        u1 = (self._binary(0, w) + _shortcut(n, self.narrow_shortcut)).clamp_(self.qmin, self.qmax)
        s1 = u1
        if self.mid_pool is not None:
            s, rq = self.mid_pool
            total = _window_sum(u1, s)
            s1 = rq(total.reshape(-1, 1, *total.shape[2:])).reshape(total.shape)  # one rule, all channels
        u2 = (self._binary(1, u1) + s1).clamp_(self.qmin, self.qmax)
        u3 = (self._binary(2, u2) + _shortcut(w, self.downsample)).clamp_(self.qmin, self.qmax)
        return u2, u3


class IntegerBiRealNet(nn.Module):
    """Integer-only twin of a trained quantized `BiRealNet`. `forward` takes uint8-grid pixels
    (int64, N x C x H x W, values 0..255) and returns int64 logits; `logits * output_scale` are
    the real-valued logits. `quantize_input` maps images in [0, 1] to pixels."""

    def __init__(self, model: BiRealNet) -> None:
        super().__init__()
        cfg = model.cfg
        if not cfg.quantized:
            raise ValueError("the integer golden needs a quantized model, not a float twin")
        self.cfg = cfg
        model = model.eval()
        self.input_scale = float(model.input_quant.act_quant.scale())
        residual: LearnedScaleIntQuant = (
            model.residual_quant.act_quant.fused_activation_quant_proxy.tensor_quant
        )
        self.residual_scale = float(residual.scale().detach())
        bits = cfg.residual_bits
        self.qmin, self.qmax = residual.qmin, residual.qmax

        def requant(conv: IntConv, acc_scale: np.ndarray, bn: nn.BatchNorm2d, lo: int, hi: int) -> Requant:
            acc_min, acc_max = conv.bounds(lo, hi)
            return Requant(
                fold_requantization(
                    acc_scale,
                    **_bn_params(bn),
                    out_scale=self.residual_scale,
                    bits=bits,
                    acc_min=acc_min,
                    acc_max=acc_max,
                )
            )

        w, s_w = _int8_weight(model.stem_conv)
        self.stem_conv = IntConv(w, model.stem_conv.stride[0], model.stem_conv.padding[0])
        stem_scale = np.array([_exact_product(self.input_scale, s) for s in s_w])
        self.stem_requant = requant(self.stem_conv, stem_scale, model.stem_bn, 0, 255)
        self.stem_maxpool = cfg.stem is Stem.IMAGENET

        pad_value = cfg.padding.value_after_sign if cfg.padding is not Padding.ZERO else 0.0

        def binary(unit: nn.Module, pad: int) -> tuple[IntConv, Requant]:
            """A binary conv (sign(W), the declared pad) and its BN folded into thresholds."""
            sign_w = bipolar_sign(unit.conv.weight.detach()).to(torch.int64)
            alpha = unit.conv.quant_weight().scale.detach().double().reshape(-1).numpy()
            conv = IntConv(sign_w, unit.conv.stride[0], pad, pad_value)
            return conv, requant(conv, alpha, unit.bn, -1, 1)

        def projection(ds: nn.Module) -> tuple[int, IntConv, Requant]:
            """AvgPool2d(stride) (as a sum; its 1/stride**2 folded) -> 1x1 8-bit conv -> BN."""
            stride = ds.pool.kernel_size if isinstance(ds.pool, nn.AvgPool2d) else 1
            w_ds, s_ds = _int8_weight(ds.conv)
            ds_conv = IntConv(w_ds, 1, 0)
            window = stride * stride
            ds_scale = np.array([_exact_product(self.residual_scale, s) / window for s in s_ds])
            return stride, ds_conv, requant(ds_conv, ds_scale, ds.bn, self.qmin * window, self.qmax * window)

        blocks = []
        for blk in model.blocks:
            if isinstance(blk, BiRealBottleneck):
                blocks.append(
                    IntegerBottleneck(
                        [binary(blk.reduce, 0), binary(blk.conv3x3, 1), binary(blk.expand, 0)],
                        None if blk.narrow_shortcut is None else projection(blk.narrow_shortcut),
                        None if blk.mid_pool is None else self._average(blk.mid_pool.kernel_size, bits),
                        None if blk.downsample is None else projection(blk.downsample),
                        self.qmin,
                        self.qmax,
                    )
                )
                continue
            assert isinstance(blk, BiRealBlock)
            conv, rq = binary(blk, 1)
            shortcut = None if blk.downsample is None else projection(blk.downsample)
            blocks.append(IntegerBlock(conv, rq, shortcut, self.qmin, self.qmax))
        self.blocks = nn.ModuleList(blocks)

        fc_w, fc_s = _int8_weight(model.fc)
        self.fc_weight = fc_w  # (classes, C) int64
        self._fc_scale = float(fc_s[0])
        self._fc_bias = model.fc.bias.detach().double().numpy()
        self._fc_bias_int: dict[int, torch.Tensor] = {}

    def _average(self, stride: int, bits: int) -> tuple[int, Requant]:
        """AvgPool2d(stride) on the residual grid then the grid's quantizer: the window's integer
        sum times 1 / stride**2, rounded half to even and clipped (thresholds on the sum)."""
        window = stride * stride
        channels = 1  # the same rule for every channel: one row, broadcast
        coefficients = [(Fraction(1, window), Fraction(0))] * channels
        rq = requantization_from_affine(
            coefficients, self.qmin, self.qmax, [self.qmin * window], [self.qmax * window]
        )
        return stride, Requant(rq)

    def output_scale(self, pool_size: int) -> float:
        """Real value of one unit of the integer logits for a `pool_size`-pixel final map."""
        return float(Fraction(self.residual_scale) * Fraction(self._fc_scale) / pool_size)

    def fc_bias(self, pool_size: int) -> torch.Tensor:
        """The classifier bias on the logits' integer grid (round half to even), computed once
        per final map size."""
        if pool_size not in self._fc_bias_int:
            unit = Fraction(self.residual_scale) * Fraction(self._fc_scale) / pool_size
            ints = [round(Fraction(float(b)) / unit) for b in self._fc_bias]
            self._fc_bias_int[pool_size] = torch.tensor(ints, dtype=torch.int64)
        return self._fc_bias_int[pool_size]

    def quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> int64 pixels on the input grid, as the input quantizer does."""
        return torch.round(x.double() / self.input_scale).clamp_(0, 255).to(torch.int64)

    def _residual_stream(self, pixels: torch.Tensor) -> Iterator[torch.Tensor]:
        """Yields the residual stream (int64) after the stem and after every block."""
        if pixels.dtype != torch.int64:
            raise TypeError("the integer golden takes int64 pixels; use quantize_input()")
        r = self.stem_requant(self.stem_conv(pixels))
        if self.stem_maxpool:
            r = F.max_pool2d(r.double(), 3, 2, 1).to(torch.int64)
        yield r
        if self.blocks and isinstance(self.blocks[0], IntegerBottleneck):
            streams = (r, r)  # the stem feeds both streams
            for blk in self.blocks:
                streams = blk(streams)
                yield streams[1]  # the wide stream
            return
        for blk in self.blocks:
            r = blk(r)
            yield r

    def residual_trace(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        """The residual stream (int64) after the stem and after every block."""
        return list(self._residual_stream(pixels))

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        """Residual-grid feature map (int64) before the global pool."""
        return collections.deque(self._residual_stream(pixels), maxlen=1)[0]

    def head(self, r: torch.Tensor) -> torch.Tensor:
        """Integer logits from the final residual map: W_int8 @ sum_hw(r) + bias on that grid."""
        pool = r.shape[2] * r.shape[3]
        return r.sum(dim=(2, 3)) @ self.fc_weight.t() + self.fc_bias(pool)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(pixels))

    def real_logits(self, pixels: torch.Tensor) -> torch.Tensor:
        """Logits through the edge dequantizer: integer logits * output_scale (float64)."""
        r = self.features(pixels)
        return self.head(r).double() * self.output_scale(r.shape[2] * r.shape[3])


def integer_model(model: BiRealNet) -> IntegerBiRealNet:
    """Build the integer golden of a trained quantized model."""
    return IntegerBiRealNet(model)
