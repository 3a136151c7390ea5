"""Brevitas quantizers for Bi-Real Net.

Conventions (docs/conventions.md):
- sign(0) = +1: a bipolar value is +1 where x >= 0, else -1 (as Brevitas/QONNX/FINN; not torch.sign).
- Binary activations use the ApproxSign gradient of the paper (piecewise polynomial).
- Binary weights are sign(W) * alpha_c, alpha_c = mean |W| over the output channel (detached), with
  a straight-through gradient clipped to |W| <= 1, as in the paper's PyTorch code.
- Multi-bit tensors use Brevitas' integer quantizers, round half to even, narrow range for weights.

Every quantizer here exports as a QONNX node: bit width 1 -> BipolarQuant, otherwise Quant.
"""

from __future__ import annotations

import math

import torch
from brevitas.core.restrict_val import RestrictValueType
from brevitas.inject import ExtendedInjector
from brevitas.inject.enum import FloatToIntImplType, QuantType, ScalingImplType
from brevitas.proxy import ActQuantProxyFromInjector, WeightQuantProxyFromInjector
from brevitas.quant import Int8WeightPerChannelFloat, Int8WeightPerTensorFloat
from brevitas.quant.scaled_int import Uint8ActPerTensorFloat
from torch import nn


def bipolar_sign(x: torch.Tensor) -> torch.Tensor:
    """+1 where x >= 0, else -1 (sign(0) = +1), in x's dtype."""
    return (x >= 0).to(x.dtype) * 2 - 1


class ApproxSign(torch.autograd.Function):
    """Forward: bipolar sign. Backward: the Bi-Real ApproxSign derivative
    2 + 2x on [-1, 0), 2 - 2x on [0, 1), 0 elsewhere."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return bipolar_sign(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * approx_sign_derivative(x)


def approx_sign_derivative(x: torch.Tensor) -> torch.Tensor:
    """d/dx of the ApproxSign polynomial: 2+2x on [-1,0), 2-2x on [0,1), 0 elsewhere."""
    # 2 + 2x on [-1, 0) and 2 - 2x on [0, 1) are both 2 - 2|x|, which is <= 0 outside (-1, 1).
    return (2 - 2 * x.abs()).clamp_min(0)


class ClippedStraightThroughSign(torch.autograd.Function):
    """Forward: bipolar sign. Backward: identity where |w| <= 1, 0 elsewhere."""

    @staticmethod
    def forward(ctx, w: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(w)
        return bipolar_sign(w)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (w,) = ctx.saved_tensors
        return grad * (w.abs() <= 1).to(grad.dtype)


def weight_scale(w: torch.Tensor) -> torch.Tensor:
    """Magnitude-aware scale: per-output-channel mean |W|, shape (C_out, 1, ..., 1), detached."""
    dims = tuple(range(1, w.dim()))
    return w.detach().abs().mean(dim=dims, keepdim=True)


class _UnitQuantMetadata(nn.Module):
    """Holds the constant zero point and bit width a Brevitas tensor_quant must return."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("one", torch.tensor(1.0), persistent=False)
        self.register_buffer("zero", torch.tensor(0.0), persistent=False)


class ApproxSignActQuant(_UnitQuantMetadata):
    """tensor_quant for bipolar activations: values in {-1, +1}, scale 1."""

    def forward(self, x: torch.Tensor):
        return ApproxSign.apply(x), self.one, self.zero, self.one


class MeanAbsBinaryWeightQuant(_UnitQuantMetadata):
    """tensor_quant for binary weights: sign(W) * mean|W| per output channel.

    `binarize = False` passes the real weights through (step 1 of two-step training);
    `unit_scale = True` gives sign(W) alone (the Caffe recipe's +-1 weights)."""

    binarize: bool = True
    unit_scale: bool = False

    def forward(self, w: torch.Tensor):
        alpha = torch.ones_like(weight_scale(w)) if self.unit_scale else weight_scale(w)
        if not self.binarize:
            return w, alpha, self.zero, self.one
        return ClippedStraightThroughSign.apply(w) * alpha, alpha, self.zero, self.one


def set_binary_weights(model: nn.Module, enabled: bool) -> None:
    """Switch every binary weight quantizer of `model` between binary and real weights."""
    for m in model.modules():
        if isinstance(m, MeanAbsBinaryWeightQuant):
            m.binarize = enabled


def set_unit_weight_scale(model: nn.Module, enabled: bool) -> None:
    """Binary weights of `model` as sign(W) alone (enabled) or sign(W) * mean|W|."""
    for m in model.modules():
        if isinstance(m, MeanAbsBinaryWeightQuant):
            m.unit_scale = enabled


class LeakyClip(nn.Module):
    """The Caffe recipe's pre-training activation: x on [-1, 1], slope 0.1 outside."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inside = x.clamp(-1.0, 1.0)
        return inside + 0.1 * (x - inside)


class BipolarActivation(ExtendedInjector):
    """Brevitas activation quantizer: bipolar sign with the ApproxSign gradient."""

    proxy_class = ActQuantProxyFromInjector
    tensor_quant = ApproxSignActQuant
    quant_type = QuantType.BINARY
    bit_width = 1
    signed = True
    narrow_range = True


class MeanAbsBinaryWeight(ExtendedInjector):
    """Brevitas weight quantizer: sign(W) scaled by the per-channel mean |W| (detached)."""

    proxy_class = WeightQuantProxyFromInjector
    tensor_quant = MeanAbsBinaryWeightQuant
    quant_type = QuantType.BINARY
    bit_width = 1
    signed = True
    narrow_range = True


class PixelInput(Uint8ActPerTensorFloat):
    """8-bit unsigned input on the fixed grid 1/255: an input in [0, 1] built from 8-bit pixels
    quantizes to exactly the pixel value, so hardware takes raw pixels."""

    scaling_impl_type = ScalingImplType.CONST
    restrict_scaling_type = RestrictValueType.FP
    max_val = 1.0


class Int8Weight(Int8WeightPerChannelFloat):
    """8-bit narrow-range symmetric weights, per-output-channel float scale (stem, downsample)."""


class Int8WeightPerTensor(Int8WeightPerTensorFloat):
    """8-bit narrow-range symmetric weights, one scale (classifier)."""


RESIDUAL_SCALING_INIT = 4.0
"""Initial max |value| of the residual stream (BN outputs summed over a few blocks)."""


class LearnedScaleFakeQuant(torch.autograd.Function):
    """y = s * clamp(round_half_even(x / s), qmin, qmax) with LSQ gradients.

    d y / d x = 1 inside the grid's range, 0 outside (straight-through rounding, clipped);
    d y / d s = round(x/s) - x/s inside, qmin or qmax outside. One fused function instead of
    Brevitas' chain of generic ops: the residual stream is quantized three times per block, and
    this halves the cost of a CPU training step.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: torch.Tensor, qmin: int, qmax: int) -> torch.Tensor:  # type: ignore[override]
        v = x / scale
        q = torch.round(v).clamp_(qmin, qmax)
        ctx.save_for_backward(v, q)
        ctx.qrange = (qmin, qmax)
        return q * scale

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        v, q = ctx.saved_tensors
        qmin, qmax = ctx.qrange
        inside = (v >= qmin) & (v <= qmax)
        grad_x = grad * inside
        grad_scale = (grad * torch.where(inside, q - v, q)).sum().reshape(())
        return grad_x, grad_scale, None, None


class LearnedScaleIntQuant(nn.Module):
    """tensor_quant of the residual grid: signed `bit_width`-bit integers times one learned scale."""

    def __init__(self, bit_width: int, scaling_init: float) -> None:
        super().__init__()
        self.qmin = -(2 ** (bit_width - 1))
        self.qmax = 2 ** (bit_width - 1) - 1
        # The scale is learned in the log domain (as Brevitas' LOG_FP): one Adam step then moves
        # it by a bounded ratio. In the linear domain a step of lr ~ 1e-3 moved a scale of ~0.03
        # by several percent per step, shaking the grid of every layer at once.
        self.log_scale = nn.Parameter(torch.tensor(math.log(float(scaling_init) / self.qmax)))
        self.register_buffer("zero", torch.tensor(0.0), persistent=False)
        self.register_buffer("bits", torch.tensor(float(bit_width)), persistent=False)

    def scale(self) -> torch.Tensor:
        return self.log_scale.exp()

    def set_scale(self, scale: float) -> None:
        with torch.no_grad():
            self.log_scale.fill_(math.log(scale))

    def forward(self, x: torch.Tensor):
        scale = self.scale()
        y = LearnedScaleFakeQuant.apply(x, scale, self.qmin, self.qmax)
        return y, scale, self.zero, self.bits


def residual_grid_quant(bit_width: int) -> type:
    """The quantizer of the residual stream: signed `bit_width`-bit, one learned scale.

    One `QuantIdentity` built from it is shared by every point of the stream, so that all
    operands of every residual add live on the same integer grid and every add is an integer add.
    """
    if not 2 <= bit_width <= 16:
        raise ValueError(f"residual bit width must be in [2, 16], got {bit_width}")
    attrs = {
        "proxy_class": ActQuantProxyFromInjector,
        "tensor_quant": LearnedScaleIntQuant,
        "quant_type": QuantType.INT,
        "bit_width": bit_width,
        "scaling_init": RESIDUAL_SCALING_INIT,
        "signed": True,
        "narrow_range": False,
        "float_to_int_impl_type": FloatToIntImplType.ROUND,  # exported as rounding_mode=ROUND
    }
    return type(f"ResidualGrid{bit_width}b", (ExtendedInjector,), attrs)
