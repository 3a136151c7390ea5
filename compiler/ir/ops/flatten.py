"""flatten: (N, 1, 1, C) -> (N, C)."""

from __future__ import annotations

from compiler.ir.ops.base import Op, register, require, require_int


@register
class Flatten(Op):
    """(N, 1, 1, C) -> (N, C). Only spatially 1x1 maps flatten, so NHWC and NCHW orders agree."""

    name = "flatten"

    def check(self, a, ins, consts):
        require_int(ins[0], "flatten's input")
        require(
            len(ins[0].shape) == 4 and ins[0].shape[1:3] == (1, 1),
            f"flatten of a {ins[0].shape} map: only N x 1 x 1 x C maps flatten in the IR",
        )

    def shapes(self, a, ins):
        return [(ins[0].shape[0], ins[0].shape[3])]

    def bounds(self, a, ins, consts, infos):
        return [ins[0]]

    def reference(self, a, xs):
        return [xs[0].reshape(xs[0].shape[0], -1)]
