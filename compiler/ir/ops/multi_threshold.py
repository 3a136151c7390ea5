"""multi_threshold: per-channel requantization by comparisons,
    y[..., c] = qmin + #{k : direction[c] * x[..., c] >= thresholds[c, k]}
with direction in {+1, -1, 0} (-1 flips the comparison for a negative BN gamma; 0 makes the
output the constant qmin + #{k : 0 >= thresholds[c, k]}) and thresholds ascending per channel.
Any number of steps; 2**bits - 1 steps for a bits-wide output grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.ir.ops.base import Op, register, require, require_int
from compiler.ir.types import Bounds


@dataclass(frozen=True)
class MultiThresholdAttrs:
    qmin: int


@register
class MultiThreshold(Op):
    name = "multi_threshold"
    Attrs = MultiThresholdAttrs
    n_inputs = 3
    const_inputs = (1, 2)

    def check(self, a, ins, consts):
        require_int(ins[0], "multi_threshold's input")
        require_int(ins[1], "multi_threshold's thresholds")
        c = ins[0].shape[-1]
        t, d = consts[1], consts[2]
        require(t is not None and d is not None, "multi_threshold's thresholds and directions are constants")
        require(t.ndim == 2 and t.shape[0] == c, f"thresholds {t.shape} for {c} channels")
        require(d.shape == (c,), f"directions {d.shape} for {c} channels")
        require(bool(np.isin(d, (-1, 0, 1)).all()), "directions must be -1, 0 or +1")
        require(bool((np.diff(t, axis=1) >= 0).all()), "thresholds must ascend along each channel")

    def shapes(self, a, ins):
        return [ins[0].shape]

    def bounds(self, a, ins, consts, infos):
        t, d = consts[1], consts[2]
        x = ins[0].channels(len(d))
        lo, hi = [], []
        for c in range(len(d)):
            ends = sorted({int(d[c]) * int(x.lo[c]), int(d[c]) * int(x.hi[c])})
            counts = [int(np.searchsorted(t[c], e, side="right")) for e in ends]
            lo.append(a.qmin + counts[0])
            hi.append(a.qmin + counts[-1])
        return [Bounds.of(lo, hi)]

    def reference(self, a, xs):
        x, t, d = xs
        v = x * d.astype(np.int64)
        out = np.empty(v.shape, dtype=np.int64)
        for c in range(v.shape[-1]):
            out[..., c] = np.searchsorted(t[c], v[..., c], side="right")
        return [out + a.qmin]
