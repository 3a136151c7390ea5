"""Threshold sets that are the floor of an affine map: where a multi_threshold's count
#{k : t[c, k] <= v} (v = d[c] * x, x in the reachable range [lo[c], hi[c]] of its input) equals
clamp(floor(a * v + b), 0, steps) for every reachable v, a unit can compute it with a multiply-add
instead of storing and searching `steps` thresholds per channel.

The count and a clamped floor of a * v + b (a >= 0) are both non-decreasing step functions of v,
so they agree on [vlo, vhi] when they agree at vlo, vhi and on both sides of every jump (u - 1 and
u for each threshold u inside): between two such checkpoints the count is constant and the affine
floor, monotone, equals it at both ends. Every fit here is checked at every checkpoint.

Two forms use this:
- the CPU target's float epilogue (compiler/backends/tvm_cpu/fused.py, `affine_thresholds`): a and
  b in float32/float64, checked with a margin above the rounding of the float arithmetic;
- the FPGA units' integer requantization (`integer_affine`): count = clamp((M v + B) >> S, 0, steps)
  with integers M >= 0, B and one shift S per layer, checked exactly in integers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

MAX_SHIFT = 56  # the integer form's largest shift (M * v + B must also stay inside int64)


def reachable(d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[vlo, vhi] of v = d * x for x in [lo, hi] (d in -1, 0, +1), per channel."""
    d = np.asarray(d, dtype=np.int64)
    lo, hi = (
        np.broadcast_to(np.asarray(lo, dtype=np.int64), d.shape),
        np.broadcast_to(np.asarray(hi, dtype=np.int64), d.shape),
    )
    return np.where(d > 0, lo, np.where(d < 0, -hi, 0)), np.where(d > 0, hi, np.where(d < 0, -lo, 0))


def checkpoints(t: np.ndarray, d: np.ndarray, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """Per channel the values of v where the count must be checked (vlo, vhi, and u - 1, u for
    each threshold u in (vlo, vhi]; out-of-range slots repeat vlo) and the count at each: two
    (C, 2 + 2 * steps) arrays of integers (as float64: thresholds may exceed int64 nowhere)."""
    t = np.asarray(t, dtype=np.float64)
    vlo, vhi = (v.astype(np.float64) for v in reachable(d, lo, hi))
    inside = (t > vlo[:, None]) & (t <= vhi[:, None])
    points = np.concatenate(
        [
            vlo[:, None],
            vhi[:, None],
            np.where(inside, t, vlo[:, None]),
            np.where(inside, t - 1, vlo[:, None]),
        ],
        axis=1,
    )
    counts = np.stack([np.searchsorted(t[k], points[k], side="right") for k in range(len(t))]).astype(
        np.float64
    )
    return points, counts.reshape(points.shape)


def widest_slope(
    points: np.ndarray, counts: np.ndarray, steps: int, margin: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per channel the slope a >= 0 whose interval of feasible offsets b (a * v + b inside
    [count + margin, count + 1 - margin] at every checkpoint; no lower bound where the count is 0,
    no upper one where it is `steps`: the clamp) is widest, that interval's centre and its width
    (negative: no real fit). The width is concave in a; a ternary search finds its maximum."""
    floor_free = np.where(counts == 0, -np.inf, counts + margin[:, None])
    ceil_free = np.where(counts == steps, np.inf, counts + 1 - margin[:, None])

    def width(a):
        offsets = points * a[:, None]
        low = (floor_free - offsets).max(axis=1)
        high = (ceil_free - offsets).min(axis=1)
        low, high = np.where(np.isinf(low), high - 1, low), np.where(np.isinf(high), low + 1, high)
        return high - low, (low + high) / 2

    c = len(points)
    left, right = np.zeros(c), np.full(c, float(steps + 1))  # a > 1: repeated thresholds
    for _ in range(200):
        m1, m2 = left + (right - left) / 3, right - (right - left) / 3
        better = width(m1)[0] < width(m2)[0]
        left, right = np.where(better, m1, left), np.where(better, right, m2)
    a = (left + right) / 2
    w, b = width(a)
    return a, b, w


@dataclass(frozen=True)
class IntegerAffine:
    """count = clamp((mult * v + offset) >> shift, 0, steps), v = d * x: proven equal to the
    threshold count for every v the input's range allows (`integer_affine`)."""

    mult: np.ndarray  # (C,) int64 >= 0
    offset: np.ndarray  # (C,) int64
    shift: int
    steps: int
    v_bits: int  # signed bits of every reachable v

    def counts(self, v: np.ndarray) -> np.ndarray:
        """`v` (..., C) int64 -> the counts (..., C)."""
        q = self.mult * np.asarray(v, dtype=np.int64) + self.offset
        return np.clip(q >> self.shift, 0, self.steps)

    @property
    def mult_bits(self) -> int:
        """Unsigned bits of the largest multiplier."""
        return max(1, int(self.mult.max(initial=0)).bit_length())

    @property
    def offset_bits(self) -> int:
        """Signed bits of every offset."""
        lo, hi = int(self.offset.min(initial=0)), int(self.offset.max(initial=0))
        return max(1, max(hi.bit_length(), (-lo - 1).bit_length() if lo < 0 else 0) + 1)

    @property
    def sum_bits(self) -> int:
        """Signed bits of every mult * v + offset (the product plus one for the offset)."""
        return max(self.mult_bits + self.v_bits, self.offset_bits) + 1


def _offset_interval(m: np.ndarray, v: np.ndarray, n: np.ndarray, steps: int, shift: int):
    """The integer offsets B with floor((m v + B) / 2**shift) inside each checkpoint's band:
    (low, high) per channel (low > high: none)."""
    one = np.int64(1) << np.int64(shift)
    mv = m[:, None] * v
    big = np.iinfo(np.int64).max // 4
    low = np.where(n > 0, n * one - mv, -big).max(axis=1)
    high = np.where(n < steps, (n + 1) * one - 1 - mv, big).min(axis=1)
    # unbounded on one side (the count is 0, or `steps`, everywhere): the bound of the other side,
    # so that offsets stay as small as the fit allows
    return np.where(low == -big, np.minimum(high, 0), low), np.where(high == big, np.maximum(low, 0), high)


_FITS: dict[bytes, IntegerAffine | None] = {}  # content digest -> fit (a design search asks again and again)


def integer_affine(t: np.ndarray, d: np.ndarray, lo, hi) -> IntegerAffine | None:
    """`fit_integer_affine`, remembered by the content of its arguments."""
    arrays = [
        np.ascontiguousarray(np.asarray(a, dtype=np.int64))
        for a in (t, d, np.atleast_1d(lo), np.atleast_1d(hi))
    ]
    h = hashlib.blake2b(digest_size=20)
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    key = h.digest()
    if key not in _FITS:
        if len(_FITS) > 4096:
            _FITS.clear()
        _FITS[key] = fit_integer_affine(*arrays)
    return _FITS[key]


def fit_integer_affine(t: np.ndarray, d: np.ndarray, lo, hi) -> IntegerAffine | None:
    """The integer form of the thresholds `t` (C, steps), ascending per channel, with directions
    `d` over inputs in [lo, hi] per channel, or None when some channel has none (within
    MAX_SHIFT). Each channel's real slope range is found first (`widest_slope`); the shift is
    the smallest at which the rounded slope leaves room for an integer offset, then checked
    exactly; all channels are brought to the largest channel's shift (M and B scale by 2**k)."""
    t = np.asarray(t, dtype=np.int64)
    c, steps = t.shape
    if c == 0 or steps == 0:
        return None
    vlo, vhi = reachable(d, lo, hi)
    vmax = int(np.maximum(np.abs(vlo), np.abs(vhi)).max(initial=0))
    v_bits = max(1, vmax.bit_length() + 1)
    if vmax >= 1 << 50:
        return None
    points, counts = checkpoints(t, d, lo, hi)
    a, _, width = widest_slope(points, counts, steps, np.zeros(c))
    if (width <= 0).any():
        return None
    v, n = points.astype(np.int64), counts.astype(np.int64)
    mult = np.zeros(c, dtype=np.int64)
    offset = np.zeros(c, dtype=np.int64)
    shifts = np.full(c, -1)
    # a rounded to a multiple of 2**-S moves a * v by at most vmax * 2**-S: below the width for
    # 2**S > vmax / width; try from a little below that bound upwards
    start = np.clip(np.floor(np.log2(np.maximum(vmax, 1) / width)).astype(np.int64) - 2, 0, MAX_SHIFT)
    for s in range(int(start.min()), MAX_SHIFT + 1):
        todo = (shifts < 0) & (start <= s)
        if not todo.any():
            if (shifts >= 0).all():
                break
            continue
        idx = np.flatnonzero(todo)
        scaled = a[idx] * float(1 << s)
        if (scaled.max(initial=0) + 1) * (vmax + 1) + (steps + 2) * float(1 << s) >= 2.0**62:
            break  # M v + B would leave int64
        for m in (np.floor(scaled), np.ceil(scaled)):
            m = m.astype(np.int64)
            low, high = _offset_interval(m, v[idx], n[idx], steps, s)
            ok = (low <= high) & (shifts[idx] < 0)
            hit = idx[ok]
            mult[hit], offset[hit], shifts[hit] = m[ok], low[ok], s
    if (shifts < 0).any():
        return None
    shift = int(shifts.max())
    scale = np.int64(1) << (shift - shifts).astype(np.int64)
    fit = IntegerAffine(mult * scale, offset * scale, shift, steps, v_bits)
    # the proof: every checkpoint's count, in integers
    if not np.array_equal(fit.counts(v.T).T, n):
        return None
    return fit if fit.sum_bits <= 62 else None  # int64 arithmetic in every model of it
