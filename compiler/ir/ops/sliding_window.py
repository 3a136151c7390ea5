"""sliding_window (im2col): (N, H, W, C) -> (N, OH, OW, kh*kw*C), K ordered (ky, kx, c).

Padded taps take `pad_value`. A bipolar input with pad_value 0 (PyTorch zero padding after the
sign) yields a ternary tensor: -1, +1, or 0 for a padded tap, which the XNOR-popcount matmul
counts as invalid (docs/conventions.md, binary conv padding)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.ir.ops.base import Op, register, require, require_int, window_output_size, window_view
from compiler.ir.types import Bounds


@dataclass(frozen=True)
class WindowAttrs:
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, left, bottom, right
    pad_value: int = 0


def window_shape(a: WindowAttrs, shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(N, OH, OW) of a window over an NHWC shape."""
    n, h, w, _ = shape
    oh = window_output_size(h, a.kernel[0], a.stride[0], a.pads[0], a.pads[2])
    ow = window_output_size(w, a.kernel[1], a.stride[1], a.pads[1], a.pads[3])
    return n, oh, ow


def window_bounds(a: WindowAttrs, b: Bounds, channels: int) -> Bounds:
    """Bounds of each of the kh*kw*C window entries (padded taps included)."""
    b = b.channels(channels)
    lo, hi = b.lo, b.hi
    if any(a.pads):
        lo = np.array([min(int(v), a.pad_value) for v in lo], dtype=object)
        hi = np.array([max(int(v), a.pad_value) for v in hi], dtype=object)
    taps = a.kernel[0] * a.kernel[1]
    return Bounds.of(np.tile(lo, taps), np.tile(hi, taps))


def check_window(a: WindowAttrs, ins, what: str) -> None:
    require_int(ins[0], f"{what}'s input")
    require(len(ins[0].shape) == 4, f"{what} takes NHWC tensors, got shape {ins[0].shape}")
    require(min(a.kernel) >= 1 and min(a.stride) >= 1 and min(a.pads) >= 0, f"{what}: bad window")


def im2col(a: WindowAttrs, x: np.ndarray) -> np.ndarray:
    v = window_view(x, a.kernel, a.stride, a.pads, a.pad_value)
    n, oh, ow = v.shape[:3]
    return v.reshape(n, oh, ow, -1)


@register
class SlidingWindow(Op):
    name = "sliding_window"
    Attrs = WindowAttrs

    def check(self, a, ins, consts):
        check_window(a, ins, self.name)

    def shapes(self, a, ins):
        n, oh, ow = window_shape(a, ins[0].shape)
        return [(n, oh, ow, a.kernel[0] * a.kernel[1] * ins[0].shape[3])]

    def bounds(self, a, ins, consts, infos):
        return [window_bounds(a, ins[0], infos[0].shape[3])]

    def reference(self, a, xs):
        return [im2col(a, xs[0])]
