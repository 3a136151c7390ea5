"""add: integer add of two tensors on the same grid, saturating: clip(a + b, qmin, qmax)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.ir.ops.base import Op, register, require, require_int
from compiler.ir.types import Bounds


@dataclass(frozen=True)
class AddAttrs:
    qmin: int
    qmax: int


def check_integer_pair(ins, what: str) -> None:
    """Both inputs integer tensors of one shape."""
    require_int(ins[0], f"{what}'s first input")
    require_int(ins[1], f"{what}'s second input")
    require(ins[0].shape == ins[1].shape, f"{what} of shapes {ins[0].shape} and {ins[1].shape}")


def saturated_bounds(lo, hi, qmin: int, qmax: int) -> Bounds:
    clip = np.vectorize(lambda v: min(max(int(v), qmin), qmax), otypes=[object])
    return Bounds.of(clip(lo), clip(hi))


@register
class Add(Op):
    name = "add"
    Attrs = AddAttrs
    n_inputs = 2

    def check(self, a, ins, consts):
        check_integer_pair(ins, self.name)
        require(a.qmin < a.qmax, "add needs qmin < qmax")

    def shapes(self, a, ins):
        return [ins[0].shape]

    def bounds(self, a, ins, consts, infos):
        c = max(len(ins[0].lo), len(ins[1].lo))
        x, y = ins[0].channels(c), ins[1].channels(c)
        return [saturated_bounds(x.lo + y.lo, x.hi + y.hi, a.qmin, a.qmax)]

    def reference(self, a, xs):
        return [np.clip(xs[0].astype(np.int64) + xs[1], a.qmin, a.qmax)]
