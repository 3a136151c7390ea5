"""scaled_add: the add of two quantized tensors as imported, before the residual stream is put
on one grid: clip(round_half_even(ratio_a * a + ratio_b * b), qmin, qmax), where ratio_x is the
operand's scale over the output's scale (exact rationals)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from compiler.ir.ops.add import check_integer_pair, saturated_bounds
from compiler.ir.ops.base import Op, register, require


@dataclass(frozen=True)
class ScaledAddAttrs:
    ratio_a: Fraction
    ratio_b: Fraction
    qmin: int
    qmax: int


def round_half_even_rational(num: np.ndarray, den: int) -> np.ndarray:
    """round_half_even(num / den) for an integer array num (int64 or object) and den > 0."""
    q = num // den
    r = num - q * den
    up = (2 * r > den) | ((2 * r == den) & (q % 2 == 1))
    return q + up


@register
class ScaledAdd(Op):
    name = "scaled_add"
    Attrs = ScaledAddAttrs
    n_inputs = 2

    def check(self, a, ins, consts):
        check_integer_pair(ins, self.name)
        require(a.ratio_a > 0 and a.ratio_b > 0, "scaled_add needs positive ratios")

    def shapes(self, a, ins):
        return [ins[0].shape]

    def bounds(self, a, ins, consts, infos):
        c = max(len(ins[0].lo), len(ins[1].lo))
        x, y = ins[0].channels(c), ins[1].channels(c)
        lo = [round(a.ratio_a * p + a.ratio_b * q) for p, q in zip(x.lo, y.lo, strict=True)]
        hi = [round(a.ratio_a * p + a.ratio_b * q) for p, q in zip(x.hi, y.hi, strict=True)]
        return [saturated_bounds(np.array(lo, dtype=object), np.array(hi, dtype=object), a.qmin, a.qmax)]

    def reference(self, a, xs):
        den = a.ratio_a.denominator * a.ratio_b.denominator
        na = a.ratio_a.numerator * a.ratio_b.denominator
        nb = a.ratio_b.numerator * a.ratio_a.denominator
        num = xs[0].astype(object) * na + xs[1].astype(object) * nb
        out = round_half_even_rational(num, den)
        return [np.clip(out, a.qmin, a.qmax).astype(np.int64)]
