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

TABLE_LIMIT = 1 << 22


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
        c, steps = t.shape
        if steps == 0:
            return [np.full(x.shape, a.qmin, dtype=np.int64)]
        # Values below every threshold count 0 and values at or above all of them count `steps`,
        # so clipping to [low, high] changes no count. Within that span, either a per-channel
        # table of counts (small spans) or one searchsorted over all channels' thresholds shifted
        # into disjoint ascending ranges.
        t = t.astype(np.int64)
        low, high = int(t.min()) - 1, int(t.max())
        span = high - low + 1
        v = np.clip(x.astype(np.int64) * d.astype(np.int64), low, high) - low
        offsets = np.arange(c, dtype=np.int64) * span
        if c * span <= TABLE_LIMIT:
            grid = np.arange(low, high + 1, dtype=np.int64)
            table = np.stack([np.searchsorted(t[k], grid, side="right") for k in range(c)]).ravel()
            return [table[v + offsets] + a.qmin]
        keys = (t - low + offsets[:, None]).ravel()
        counts = np.searchsorted(keys, v + offsets, side="right") - np.arange(c) * steps
        return [counts + a.qmin]
