"""conv: integer 2D convolution on NHWC, constant weights (O, kh, kw, I), as imported from the
model. Padded taps take `pad_value` (0 = PyTorch zero padding, also for bipolar inputs, where a
padded tap contributes nothing). Lowered by a pass to sliding_window + matmul."""

from __future__ import annotations

from compiler.ir.ops.base import (
    Op,
    exact_matmul,
    linear_bounds,
    magnitude_bound,
    register,
    require,
    require_int,
)
from compiler.ir.ops.sliding_window import WindowAttrs, check_window, im2col, window_bounds, window_shape


@register
class Conv(Op):
    name = "conv"
    Attrs = WindowAttrs
    n_inputs = 2
    const_inputs = (1,)

    def check(self, a, ins, consts):
        check_window(a, ins, self.name)
        require_int(ins[1], "conv's weights")
        require(consts[1] is not None, "conv's weights must be a constant")
        o, kh, kw, i = ins[1].shape
        require((kh, kw) == tuple(a.kernel), f"conv weights {ins[1].shape} do not match kernel {a.kernel}")
        require(i == ins[0].shape[3], f"conv weights expect {i} input channels, input has {ins[0].shape[3]}")

    def shapes(self, a, ins):
        n, oh, ow = window_shape(a, ins[0].shape)
        return [(n, oh, ow, ins[1].shape[0])]

    def bounds(self, a, ins, consts, infos):
        w = consts[1]
        taps = window_bounds(a, ins[0], infos[0].shape[3])
        return [linear_bounds(w.reshape(w.shape[0], -1), taps.lo, taps.hi)]

    def reference(self, a, xs):
        cols = im2col(a, xs[0])
        w = xs[1].reshape(xs[1].shape[0], -1)
        return [exact_matmul(cols, w, magnitude_bound(cols, w))]
