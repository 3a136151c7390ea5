"""An independent exact reference of a quantized Bi-Real model, for differential tests.

Written apart from `bireal_hw.integer` (the golden) and `bireal_hw.thresholds`: no thresholds,
no torch convolutions, no shared helpers. It evaluates the documented arithmetic
(docs/conventions.md) directly: integer convolutions in numpy int64 (exact: every partial sum is
far below 2**63), and every BatchNorm + requantization as the rational number

    y / s_out = (gamma * (S * acc - mean) / sigma + beta) / s_out,   q = clip(round_half_even(.))

with every float parameter taken at its binary value as a `Fraction` and sigma =
sqrt(var + eps) in float64. If it and the golden agree, the golden's threshold folding is right
on those inputs; if a target agrees with the golden, it agrees with this too.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
from torch import nn

from bireal_hw.models import BiRealBottleneck, BiRealNet, Padding, Stem


def _frac(v) -> Fraction:
    return Fraction(float(v))


def _int_weight(layer: nn.Module) -> tuple[np.ndarray, list[Fraction]]:
    """Brevitas' own integer weights (QuantTensor.int) and per-output-channel scales."""
    qw = layer.quant_weight()
    w = qw.int().detach().numpy().astype(np.int64)
    s = qw.scale.detach().double().reshape(-1).numpy()
    scales = [_frac(v) for v in (np.repeat(s, w.shape[0]) if s.size == 1 else s)]
    return w, scales


def conv(x: np.ndarray, w: np.ndarray, stride: int, pad: int, pad_value: int = 0) -> np.ndarray:
    """Integer cross-correlation, (N, C, H, W) x (O, C, KH, KW) -> (N, O, OH, OW), int64."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.full((n, c, h + 2 * pad, wd + 2 * pad), pad_value, dtype=np.int64)
    xp[:, :, pad : pad + h, pad : pad + wd] = x
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, o, oh, ow), dtype=np.int64)
    for ky in range(kh):
        for kx in range(kw):
            patch = xp[:, :, ky : ky + stride * oh : stride, kx : kx + stride * ow : stride]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, ky, kx])
    return out


def requantize(
    acc: np.ndarray, scales: list[Fraction], bn: nn.BatchNorm2d, s_out: Fraction, lo: int, hi: int
):
    """clip(round_half_even((gamma * (S_c * acc - mean) / sigma + beta) / s_out), lo, hi) per
    channel (axis 1), exactly."""
    gamma = bn.weight.detach().double().numpy()
    beta = bn.bias.detach().double().numpy()
    mean = bn.running_mean.detach().double().numpy()
    var = bn.running_var.detach().double().numpy()
    eps = np.float64(np.float32(bn.eps))
    out = np.empty_like(acc)
    for c in range(acc.shape[1]):
        sigma = _frac(np.sqrt(np.float64(var[c]) + eps))
        g, m, b = _frac(gamma[c]), _frac(mean[c]), _frac(beta[c])
        values, inverse = np.unique(acc[:, c], return_inverse=True)
        q = [min(max(round((g * (scales[c] * int(v) - m) / sigma + b) / s_out), lo), hi) for v in values]
        out[:, c] = np.asarray(q, dtype=np.int64)[inverse].reshape(acc[:, c].shape)
    return out


def max_pool_3x3_s2(r: np.ndarray) -> np.ndarray:
    n, c, h, w = r.shape
    low = np.iinfo(np.int64).min
    rp = np.full((n, c, h + 2, w + 2), low, dtype=np.int64)
    rp[:, :, 1:-1, 1:-1] = r
    oh, ow = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    taps = [rp[:, :, ky : ky + 2 * oh : 2, kx : kx + 2 * ow : 2] for ky in range(3) for kx in range(3)]
    return np.maximum.reduce(taps)


class ExactBiReal:
    """`ExactBiReal(model)(pixels)`: int64 logits of (N, C, H, W) integer pixels (the input
    grid's integers), on the same grid as the golden's logits."""

    def __init__(self, model: BiRealNet) -> None:
        if not model.cfg.quantized:
            raise ValueError("the exact reference needs a quantized model")
        self.model = model.eval()
        cfg = model.cfg
        residual = model.residual_quant.act_quant.fused_activation_quant_proxy.tensor_quant
        self.s_res = _frac(residual.scale().detach())
        self.lo, self.hi = -(2 ** (cfg.residual_bits - 1)), 2 ** (cfg.residual_bits - 1) - 1
        self.s_in = _frac(model.input_quant.act_quant.scale())

    def _binary(self, unit, r: np.ndarray, pad: int) -> np.ndarray:
        """sign (0 -> +1) -> binary conv sign(W) with the declared pad -> BN -> the residual grid."""
        bits = np.where(r >= 0, 1, -1).astype(np.int64)  # sign(0) = +1
        w = np.where(unit.conv.weight.detach().numpy() >= 0, 1, -1).astype(np.int64)
        alpha = [_frac(a) for a in unit.conv.quant_weight().scale.detach().double().reshape(-1).numpy()]
        pad_value = {Padding.ZERO: 0, Padding.PLUS_ONE: 1, Padding.MINUS_ONE: -1}[self.model.cfg.padding]
        acc = conv(bits, w, unit.conv.stride[0], pad, pad_value)
        return requantize(acc, alpha, unit.bn, self.s_res, self.lo, self.hi)

    @staticmethod
    def _window_sum(r: np.ndarray, k: int) -> np.ndarray:
        n, c, h, wd = r.shape
        return r.reshape(n, c, h // k, k, wd // k, k).sum(axis=(3, 5))

    def _projection(self, ds, r: np.ndarray) -> np.ndarray:
        """AvgPool2d(k) -> 1x1 8-bit conv -> BN -> the residual grid."""
        k = ds.pool.kernel_size if isinstance(ds.pool, nn.AvgPool2d) else 1
        w_ds, s_ds = _int_weight(ds.conv)
        scales = [self.s_res * s / (k * k) for s in s_ds]
        acc = conv(self._window_sum(r, k), w_ds, 1, 0)
        return requantize(acc, scales, ds.bn, self.s_res, self.lo, self.hi)

    def _add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.clip(a + b, self.lo, self.hi)

    def _block(self, blk, r: np.ndarray) -> np.ndarray:
        shortcut = r if blk.downsample is None else self._projection(blk.downsample, r)
        return self._add(self._binary(blk, r, 1), shortcut)

    def _bottleneck(self, blk, n: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bi-Real-50's block: three binary units, each with its shortcut (models/bireal.py)."""
        if blk.narrow_shortcut is not None:
            n = self._projection(blk.narrow_shortcut, n)
        u1 = self._add(self._binary(blk.reduce, w, 0), n)
        s1 = u1
        if blk.mid_pool is not None:  # the average, rounded half to even, clipped to the grid
            k = blk.mid_pool.kernel_size
            total = self._window_sum(u1, k)
            s1 = np.vectorize(lambda t: min(max(round(Fraction(int(t), k * k)), self.lo), self.hi))(total)
            s1 = s1.astype(np.int64)
        u2 = self._add(self._binary(blk.conv3x3, u1, 1), s1)
        s2 = w if blk.downsample is None else self._projection(blk.downsample, w)
        return u2, self._add(self._binary(blk.expand, u2, 0), s2)

    def features(self, pixels: np.ndarray) -> np.ndarray:
        m = self.model
        w, s_w = _int_weight(m.stem_conv)
        acc = conv(pixels.astype(np.int64), w, m.stem_conv.stride[0], m.stem_conv.padding[0])
        r = requantize(acc, [self.s_in * s for s in s_w], m.stem_bn, self.s_res, self.lo, self.hi)
        if m.cfg.stem is Stem.IMAGENET:
            r = max_pool_3x3_s2(r)
        if isinstance(m.blocks[0], BiRealBottleneck):
            n = r  # the stem feeds both streams
            for blk in m.blocks:
                n, r = self._bottleneck(blk, n, r)
            return r
        for blk in m.blocks:
            r = self._block(blk, r)
        return r

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        r = self.features(np.asarray(pixels))
        w_fc, s_fc = _int_weight(self.model.fc)
        pool = r.shape[2] * r.shape[3]
        unit = self.s_res * s_fc[0] / pool  # one unit of the integer logits
        bias = [round(_frac(b) / unit) for b in self.model.fc.bias.detach().double().numpy()]
        return r.sum(axis=(2, 3)) @ w_fc.T + np.asarray(bias, dtype=np.int64)


def exact_logits(model: BiRealNet, pixels: np.ndarray | torch.Tensor) -> np.ndarray:
    return ExactBiReal(model)(np.asarray(pixels))
