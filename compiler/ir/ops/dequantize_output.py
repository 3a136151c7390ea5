"""dequantize_output: the output edge. Integers -> real values, y = x * scale + offset, with
`scale` and `offset` exact rationals (an affine tail such as Brevitas' TensorNorm folded in by
the frontend; scale > 0, so the class order of the integers is the real logits' order); each
value is the float64 nearest to its exact rational."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from compiler.ir.ops.base import Op, register, require, require_int


@dataclass(frozen=True)
class DequantizeOutputAttrs:
    scale: Fraction
    offset: Fraction = Fraction(0)


def dequantize(a: DequantizeOutputAttrs, x: np.ndarray) -> np.ndarray:
    """Integer logits -> the real values, each the nearest float64 of x * scale + offset."""
    x = np.asarray(x)
    values, inverse = np.unique(x, return_inverse=True)
    exact = [float(int(v) * a.scale + a.offset) for v in values]
    return np.asarray(exact, dtype=np.float64)[inverse].reshape(x.shape)


@register
class DequantizeOutput(Op):
    name = "dequantize_output"
    Attrs = DequantizeOutputAttrs
    real_output = True

    def check(self, a, ins, consts):
        require_int(ins[0], "dequantize_output's input")
        require(a.scale > 0, "dequantize_output needs a positive scale")

    def shapes(self, a, ins):
        return [ins[0].shape]

    def bounds(self, a, ins, consts, infos):
        return [None]

    def reference(self, a, xs):
        return [dequantize(a, xs[0])]
