"""sign: integers -> bipolar, +1 if x >= 0 else -1 (sign(0) = +1, docs/conventions.md)."""

from __future__ import annotations

import numpy as np

from compiler.ir.ops.base import Op, register, require_int
from compiler.ir.types import BIPOLAR, Bounds


@register
class Sign(Op):
    name = "sign"
    fixed_type = BIPOLAR

    def check(self, a, ins, consts):
        require_int(ins[0], "sign's input")

    def shapes(self, a, ins):
        return [ins[0].shape]

    def bounds(self, a, ins, consts, infos):
        return [Bounds.of(-1, 1)]

    def reference(self, a, xs):
        return [np.where(xs[0] >= 0, 1, -1).astype(np.int8)]
