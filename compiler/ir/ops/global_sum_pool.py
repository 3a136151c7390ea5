"""global_sum_pool: (N, H, W, C) -> (N, 1, 1, C) sums; a global average pool whose 1/(H*W) is
folded into the next scale."""

from __future__ import annotations

import numpy as np

from compiler.ir.ops.base import Op, register, require, require_int
from compiler.ir.types import Bounds


@register
class GlobalSumPool(Op):
    name = "global_sum_pool"

    def check(self, a, ins, consts):
        require_int(ins[0], "global_sum_pool's input")
        require(len(ins[0].shape) == 4, "global_sum_pool takes NHWC tensors")

    def shapes(self, a, ins):
        n, _, _, c = ins[0].shape
        return [(n, 1, 1, c)]

    def bounds(self, a, ins, consts, infos):
        hw = infos[0].shape[1] * infos[0].shape[2]
        return [Bounds.of(ins[0].lo * hw, ins[0].hi * hw)]

    def reference(self, a, xs):
        return [xs[0].sum(axis=(1, 2), keepdims=True, dtype=np.int64)]
