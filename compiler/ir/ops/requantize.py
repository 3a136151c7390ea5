"""requantize: an accumulator back onto an integer grid through BatchNorm, as imported:
    y = clip(round_half_even(a_c * acc + b_c), qmin, qmax)
or, with `bipolar`, y = +1 if a_c * acc + b_c >= 0 else -1 (a BipolarQuant of a BatchNorm: the
sign of an affine map; FINN's single threshold per channel), with exact rationals a_c, b_c from acc_scale (the accumulator's real scale per channel), the
optional BatchNorm (gamma, beta, mean, var, eps) and the output grid's scale
(`bireal_hw.thresholds.affine_coefficients`). The reference evaluates this exactly with Python
integers; a pass folds it into multi_threshold."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from bireal_hw.thresholds import affine_coefficients
from compiler.ir.ops.base import Op, register, require, require_int
from compiler.ir.ops.scaled_add import round_half_even_rational
from compiler.ir.types import Bounds, RealType


@dataclass(frozen=True)
class RequantizeAttrs:
    out_scale: float
    qmin: int
    qmax: int
    eps: float = 0.0
    bipolar: bool = False


def coefficients(a: RequantizeAttrs, params: list[np.ndarray]) -> list[tuple[Fraction, Fraction]]:
    """Per-channel (a_c, b_c); params = [acc_scale] or [acc_scale, gamma, beta, mean, var]."""
    bn = params[1:] if len(params) == 5 else [None] * 4
    return affine_coefficients(params[0], *bn, eps=a.eps, out_scale=a.out_scale)


def sign_exact(x: np.ndarray, coeffs: list[tuple[Fraction, Fraction]]) -> np.ndarray:
    """+1 where a_c * x + b_c >= 0, else -1, exactly (channel by channel, distinct values)."""
    out = np.empty(x.shape, dtype=np.int64)
    for c, (ac, bc) in enumerate(coeffs):
        values, inverse = np.unique(x[..., c], return_inverse=True)
        num = values.astype(object) * (ac.numerator * bc.denominator) + bc.numerator * ac.denominator
        q = np.where(num >= 0, 1, -1).astype(np.int64)
        out[..., c] = q[inverse].reshape(x.shape[:-1])
    return out


def requantize_exact(
    x: np.ndarray, coeffs: list[tuple[Fraction, Fraction]], qmin: int, qmax: int
) -> np.ndarray:
    """Exact evaluation, channel by channel over the distinct accumulator values."""
    out = np.empty(x.shape, dtype=np.int64)
    for c, (ac, bc) in enumerate(coeffs):
        values, inverse = np.unique(x[..., c], return_inverse=True)
        den = ac.denominator * bc.denominator
        num = values.astype(object) * (ac.numerator * bc.denominator) + bc.numerator * ac.denominator
        q = np.clip(round_half_even_rational(num, den), qmin, qmax).astype(np.int64)
        out[..., c] = q[inverse].reshape(x.shape[:-1])
    return out


@register
class Requantize(Op):
    name = "requantize"
    Attrs = RequantizeAttrs
    n_inputs = (2, 6)
    const_inputs = (1, 2, 3, 4, 5)

    def check(self, a, ins, consts):
        require_int(ins[0], "requantize's input")
        c = ins[0].shape[-1]
        for info, value in zip(ins[1:], consts[1:], strict=True):
            require(isinstance(info.dtype, RealType), "requantize's parameters are real constants")
            require(
                value is not None and value.shape == (c,), f"requantize parameters must be ({c},) constants"
            )
        require(a.out_scale > 0 and a.qmin < a.qmax, "requantize needs out_scale > 0 and qmin < qmax")
        require(not a.bipolar or (a.qmin, a.qmax) == (-1, 1), "a bipolar requantize has qmin -1, qmax 1")
        if len(ins) == 6:
            var = consts[5]
            require(bool((var + a.eps > 0).all()), "BatchNorm variance + eps must be positive")

    def shapes(self, a, ins):
        return [ins[0].shape]

    def bounds(self, a, ins, consts, infos):
        return [Bounds.of(a.qmin, a.qmax)]

    def reference(self, a, xs):
        if a.bipolar:
            return [sign_exact(xs[0], coefficients(a, xs[1:]))]
        return [requantize_exact(xs[0], coefficients(a, xs[1:]), a.qmin, a.qmax)]
