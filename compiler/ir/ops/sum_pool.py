"""sum_pool: an average pool as an integer window *sum*; its 1/window factor is folded into the
next layer's scale (thresholds or the output dequantizer), so nothing is rounded here. No padding."""

from __future__ import annotations

import numpy as np

from compiler.ir.ops.base import Op, register, require, window_view
from compiler.ir.ops.max_pool import PoolAttrs, check_pool, pool_shape
from compiler.ir.types import Bounds


@register
class SumPool(Op):
    name = "sum_pool"
    Attrs = PoolAttrs

    def check(self, a, ins, consts):
        check_pool(a, ins, self.name)
        require(not any(a.pads), "sum_pool (an average pool) with padding is not supported")

    def shapes(self, a, ins):
        return [pool_shape(a, ins[0].shape)]

    def bounds(self, a, ins, consts, infos):
        k = a.kernel[0] * a.kernel[1]
        return [Bounds.of(ins[0].lo * k, ins[0].hi * k)]

    def reference(self, a, xs):
        return [window_view(xs[0], a.kernel, a.stride, a.pads, 0).sum(axis=(3, 4), dtype=np.int64)]
