"""Exact requantization thresholds: BN and scales folded into integer comparisons.

A layer computes an integer accumulator `acc` per channel c; the trained model then applies
    y = gamma_c * (S_c * acc - mean_c) / sqrt(var_c + eps) + beta_c
    q = clip(round_half_even(y / s_out), qmin, qmax)
which is a monotone step function of acc. We store it as
    q = qmin + #{k : direction_c * acc >= T[c, k]},   k = 1 .. qmax - qmin
with direction +1 (gamma_c * S_c > 0), -1 (< 0) or 0 (constant output), thresholds as Python
ints computed exactly from the float parameters' rational values (sqrt(var + eps) in float64),
and clipped to the accumulator's reachable range [acc_min, acc_max + 1].

This is pure Python/numpy so that the compiler can use it without torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

HALF = Fraction(1, 2)


@dataclass(frozen=True)
class Requantization:
    """Per-channel integer requantization: q = qmin + count(direction * acc >= thresholds)."""

    direction: np.ndarray  # (C,) int64 in {-1, 0, +1}
    thresholds: np.ndarray  # (C, qmax - qmin) int64, ascending along axis 1
    qmin: int
    qmax: int

    def apply(self, acc: np.ndarray, channel_axis: int = 1) -> np.ndarray:
        """Reference application on an integer array (numpy, int64)."""
        acc = np.moveaxis(np.asarray(acc, dtype=np.int64), channel_axis, -1)
        if acc.shape[-1] != len(self.direction):
            raise ValueError(f"expected {len(self.direction)} channels, got {acc.shape[-1]}")
        v = acc * self.direction
        out = np.empty(v.shape, dtype=np.int64)
        for c in range(len(self.direction)):
            out[..., c] = np.searchsorted(self.thresholds[c], v[..., c], side="right")
        return np.moveaxis(out + self.qmin, -1, channel_axis)


def round_half_even_at_least(value: Fraction, k: int) -> bool:
    """round_half_even(value) >= k, exactly."""
    target = k - HALF
    return value > target or (value == target and k % 2 == 0)


def _min_acc_reaching(a: Fraction, b: Fraction, k: int, guess: int) -> int:
    """Smallest integer n with round_half_even(a*n + b) >= k, for a > 0, searching from `guess`."""
    n = guess
    while round_half_even_at_least(a * (n - 1) + b, k):
        n -= 1
    while not round_half_even_at_least(a * n + b, k):
        n += 1
    return n


def channel_thresholds(
    a: Fraction, b: Fraction, qmin: int, qmax: int, acc_lo: int, acc_hi: int
) -> tuple[int, list[int]]:
    """(direction, thresholds) for q = clip(round_half_even(a*acc + b), qmin, qmax) with acc in
    [acc_lo, acc_hi]. Thresholds are clipped to [lo, hi + 1] of the (possibly negated) acc."""
    levels = range(qmin + 1, qmax + 1)
    if a == 0:
        const = min(max(_round_half_even(b), qmin), qmax)
        return 0, [0 if k <= const else 1 for k in levels]
    direction = 1 if a > 0 else -1
    a_pos = abs(a)
    lo, hi = (acc_lo, acc_hi) if direction > 0 else (-acc_hi, -acc_lo)
    af, bf = float(a_pos), float(b)
    out = []
    for k in levels:
        t = (k - 0.5 - bf) / af
        if not math.isfinite(t) or t > hi + 1:
            out.append(hi + 1)
            continue
        if t < lo:
            out.append(lo)
            continue
        guess = math.ceil(t)
        margin = 1e-9 * (1.0 + abs(t) + (abs(k) + abs(bf)) / af)
        if abs(t - round(t)) <= margin or abs(guess - t) <= margin:
            guess = _min_acc_reaching(a_pos, b, k, guess)
        out.append(min(max(guess, lo), hi + 1))
    return direction, out


def _round_half_even(x: Fraction) -> int:
    return round(x)  # Fraction.__round__ rounds half to even


def affine_coefficients(
    acc_scale: np.ndarray,
    gamma: np.ndarray | None,
    beta: np.ndarray | None,
    mean: np.ndarray | None,
    var: np.ndarray | None,
    eps: float,
    out_scale: float,
) -> list[tuple[Fraction, Fraction]]:
    """Per channel, the exact (a, b) with y / s_out = a * acc + b for `acc * acc_scale ->
    BatchNorm -> / out_scale` (no BatchNorm when gamma is None). Floats are taken at their exact
    binary values; sqrt(var + eps) is evaluated in float64."""
    s_out = Fraction(float(out_scale))
    if s_out <= 0:
        raise ValueError("output scale must be positive")
    out = []
    for c in range(len(acc_scale)):
        s = Fraction(float(acc_scale[c]))
        if gamma is None:
            out.append((s / s_out, Fraction(0)))
            continue
        sigma = Fraction(float(np.sqrt(np.float64(var[c]) + np.float64(eps))))
        g = Fraction(float(gamma[c]))
        a = g * s / (sigma * s_out)
        b = (Fraction(float(beta[c])) - g * Fraction(float(mean[c])) / sigma) / s_out
        out.append((a, b))
    return out


def fold_requantization(
    acc_scale: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    eps: float,
    out_scale: float,
    bits: int,
    acc_min: np.ndarray,
    acc_max: np.ndarray,
) -> Requantization:
    """Fold `acc * acc_scale -> BatchNorm -> signed `bits`-bit quantizer(out_scale)` into
    thresholds. Arrays are per channel; floats are taken at their exact binary values."""
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    coefficients = affine_coefficients(acc_scale, gamma, beta, mean, var, eps, out_scale)
    return requantization_from_affine(coefficients, qmin, qmax, acc_min, acc_max)


def sign_from_affine(coefficients: list[tuple[Fraction, Fraction]], acc_min, acc_max) -> Requantization:
    """Thresholds for q = +1 if a_c * acc + b_c >= 0 else -1, acc in [acc_min[c], acc_max[c]]:
    qmin -1 and the one threshold twice (q = -1 + 2 * [d * acc >= T]), so that it is an
    ordinary multi_threshold whose outputs are exactly {-1, +1}."""
    directions, rows = [], []
    for c, (a, b) in enumerate(coefficients):
        lo, hi = int(acc_min[c]), int(acc_max[c])
        if a == 0:
            directions.append(0)
            rows.append([0, 0] if b >= 0 else [1, 1])
            continue
        d = 1 if a > 0 else -1
        if d < 0:
            lo, hi = -hi, -lo
        # d * acc = m >= -b / |a|: the least integer m there, clipped to [lo, hi + 1]
        t = math.ceil(-b / abs(a))
        t = min(max(t, lo), hi + 1)
        directions.append(d)
        rows.append([t, t])
    return Requantization(
        direction=np.array(directions, dtype=np.int64),
        thresholds=np.array(rows, dtype=np.int64).reshape(len(coefficients), 2),
        qmin=-1,
        qmax=1,
    )


def requantization_from_affine(
    coefficients: list[tuple[Fraction, Fraction]], qmin: int, qmax: int, acc_min, acc_max
) -> Requantization:
    """Thresholds for q = clip(round_half_even(a_c * acc + b_c), qmin, qmax), acc in
    [acc_min[c], acc_max[c]]."""
    directions, rows = [], []
    for c, (a, b) in enumerate(coefficients):
        d, t = channel_thresholds(a, b, qmin, qmax, int(acc_min[c]), int(acc_max[c]))
        directions.append(d)
        rows.append(t)
    return Requantization(
        direction=np.array(directions, dtype=np.int64),
        thresholds=np.array(rows, dtype=np.int64).reshape(len(coefficients), qmax - qmin),
        qmin=qmin,
        qmax=qmax,
    )
