"""quantize_input: the input edge. Real images -> integers on the grid `scale`:
q = clip(round_half_even(x / scale), qmin, qmax)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.ir.ops.base import Op, register, require
from compiler.ir.types import Bounds, RealType


@dataclass(frozen=True)
class QuantizeInputAttrs:
    scale: float
    qmin: int
    qmax: int


@register
class QuantizeInput(Op):
    name = "quantize_input"
    Attrs = QuantizeInputAttrs

    def check(self, a, ins, consts):
        require(isinstance(ins[0].dtype, RealType), "quantize_input takes the real-valued graph input")
        require(a.scale > 0 and a.qmin < a.qmax, "quantize_input needs scale > 0 and qmin < qmax")

    def shapes(self, a, ins):
        return [ins[0].shape]

    def bounds(self, a, ins, consts, infos):
        return [Bounds.of(a.qmin, a.qmax)]

    def reference(self, a, xs):
        q = np.round(np.asarray(xs[0], dtype=np.float64) / a.scale)
        return [np.clip(q, a.qmin, a.qmax).astype(np.int64)]
