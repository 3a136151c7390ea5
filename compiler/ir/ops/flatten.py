"""flatten: (N, H, W, C) -> (N, H*W*C) in NHWC order, features ordered (h, w, c). (The frontend
permutes the next matmul's weight columns from ONNX's (c, h, w) order.)"""

from __future__ import annotations

import numpy as np

from compiler.ir.ops.base import Op, register, require, require_int
from compiler.ir.types import Bounds


@register
class Flatten(Op):
    name = "flatten"

    def check(self, a, ins, consts):
        require_int(ins[0], "flatten's input")
        require(len(ins[0].shape) == 4, f"flatten takes an NHWC map, got {ins[0].shape}")

    def shapes(self, a, ins):
        n, h, w, c = ins[0].shape
        return [(n, h * w * c)]

    def bounds(self, a, ins, consts, infos):
        n, h, w, c = infos[0].shape
        b = ins[0].channels(c)
        return [Bounds.of(np.tile(b.lo, h * w), np.tile(b.hi, h * w))]

    def reference(self, a, xs):
        return [xs[0].reshape(xs[0].shape[0], -1)]
