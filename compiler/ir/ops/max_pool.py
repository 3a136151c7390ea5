"""max_pool on NHWC integers; padded taps are ignored (PyTorch semantics). Also the window
attributes shared by the pools."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.ir.ops.base import Op, register, require, require_int, window_output_size, window_view


@dataclass(frozen=True)
class PoolAttrs:
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)


def pool_shape(a: PoolAttrs, shape: tuple[int, ...]) -> tuple[int, ...]:
    n, h, w, c = shape
    oh = window_output_size(h, a.kernel[0], a.stride[0], a.pads[0], a.pads[2])
    ow = window_output_size(w, a.kernel[1], a.stride[1], a.pads[1], a.pads[3])
    return (n, oh, ow, c)


def check_pool(a: PoolAttrs, ins, what: str) -> None:
    require_int(ins[0], f"{what}'s input")
    require(len(ins[0].shape) == 4, f"{what} takes NHWC tensors")
    require(min(a.kernel) >= 1 and min(a.stride) >= 1 and min(a.pads) >= 0, f"{what}: bad window")
    require(max(a.pads) < max(a.kernel), f"{what}: padding must be smaller than the window")


@register
class MaxPool(Op):
    name = "max_pool"
    Attrs = PoolAttrs

    def check(self, a, ins, consts):
        check_pool(a, ins, self.name)

    def shapes(self, a, ins):
        return [pool_shape(a, ins[0].shape)]

    def bounds(self, a, ins, consts, infos):
        return [ins[0]]

    def reference(self, a, xs):
        lowest = np.iinfo(np.int64).min
        return [window_view(xs[0].astype(np.int64), a.kernel, a.stride, a.pads, lowest).max(axis=(3, 4))]
