"""matmul: integer x (..., K) times constant integer weights (O, K), plus an optional constant
integer bias (O,): y = x @ W.T + b. The 8-bit stem, downsample and classifier layers."""

from __future__ import annotations

import numpy as np

from compiler.ir.ops.base import (
    Op,
    exact_matmul,
    linear_bounds,
    magnitude_bound,
    register,
    require,
    require_int,
)
from compiler.ir.types import Bounds


def check_weights(ins, consts, k: int, what: str) -> None:
    require(consts[1] is not None, f"{what}'s weights must be a constant")
    require(len(ins[1].shape) == 2, f"{what}'s weights must be (O, K), got {ins[1].shape}")
    require(ins[1].shape[1] == k, f"{what}: weights have K={ins[1].shape[1]}, input has K={k}")


@register
class MatMul(Op):
    name = "matmul"
    n_inputs = (2, 3)
    const_inputs = (1, 2)

    def check(self, a, ins, consts):
        require_int(ins[0], "matmul's input")
        require_int(ins[1], "matmul's weights")
        check_weights(ins, consts, ins[0].shape[-1], self.name)
        if len(ins) == 3:
            require_int(ins[2], "matmul's bias")
            require(ins[2].shape == (ins[1].shape[0],), "matmul's bias must be (O,)")

    def shapes(self, a, ins):
        return [(*ins[0].shape[:-1], ins[1].shape[0])]

    def bounds(self, a, ins, consts, infos):
        w = consts[1]
        x = ins[0].channels(w.shape[1])
        out = linear_bounds(w, x.lo, x.hi)
        if len(consts) == 3:
            bias = np.array([int(v) for v in consts[2]], dtype=object)
            out = Bounds.of(out.lo + bias, out.hi + bias)
        return [out]

    def reference(self, a, xs):
        x, w = xs[0], xs[1]
        y = exact_matmul(x, w, magnitude_bound(x, w))
        if len(xs) == 3:
            y = y + xs[2].astype(np.int64)
        return [y]
