"""dequantize_output: the output edge. Integers -> real values, y = x * scale, where `scale` is
kept as an exact rational and applied as its nearest float64."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from compiler.ir.ops.base import Op, register, require, require_int


@dataclass(frozen=True)
class DequantizeOutputAttrs:
    scale: Fraction


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
        return [xs[0].astype(np.float64) * float(a.scale)]
