"""quantize_input: the input edge. Real images -> integers on the grid `scale`:
    q = clip(round_half_even(x / scale + offset), qmin, qmax)
(`offset` an integer: float pre-processing such as FINN's `2x - 1` absorbed by the frontend), or,
with `cut` set, bipolar pixels: q = +1 if x >= cut else -1 (a BipolarQuant of the input; `cut`
is the exact float64 boundary of the pre-processed sign). `quantize` is the one host-side
implementation that every target's runtime calls."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from compiler.ir.ops.base import Op, register, require
from compiler.ir.types import Bounds, RealType


@dataclass(frozen=True)
class QuantizeInputAttrs:
    scale: float
    qmin: int
    qmax: int
    offset: int = 0
    cut: float = math.nan  # finite: bipolar pixels (x >= cut)

    @property
    def bipolar(self) -> bool:
        return math.isfinite(self.cut)


def quantize(a: QuantizeInputAttrs, x: np.ndarray) -> np.ndarray:
    """Images (any layout, float) -> int64 pixels, exactly as the IR's reference."""
    x = np.asarray(x, dtype=np.float64)
    if a.bipolar:
        return np.where(x >= a.cut, 1, -1).astype(np.int64)
    q = np.round(x / a.scale + a.offset) if a.offset else np.round(x / a.scale)
    return np.clip(q, a.qmin, a.qmax).astype(np.int64)


@register
class QuantizeInput(Op):
    name = "quantize_input"
    Attrs = QuantizeInputAttrs

    def check(self, a, ins, consts):
        require(isinstance(ins[0].dtype, RealType), "quantize_input takes the real-valued graph input")
        require(a.scale > 0 and a.qmin < a.qmax, "quantize_input needs scale > 0 and qmin < qmax")
        require(not a.bipolar or (a.qmin, a.qmax) == (-1, 1), "a bipolar quantize_input has qmin -1, qmax 1")

    def shapes(self, a, ins):
        return [ins[0].shape]

    def bounds(self, a, ins, consts, infos):
        return [Bounds.of(a.qmin, a.qmax)]

    def reference(self, a, xs):
        return [quantize(a, xs[0])]
