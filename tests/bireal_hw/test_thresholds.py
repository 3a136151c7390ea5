"""Exact threshold folding: ties, signs of gamma, clipping, against brute force with Fractions."""

import random
from fractions import Fraction

import numpy as np
import pytest

from bireal_hw.thresholds import Requantization, channel_thresholds, fold_requantization


def brute_force(a: Fraction, b: Fraction, qmin: int, qmax: int, lo: int, hi: int) -> list[int]:
    return [min(max(round(a * n + b), qmin), qmax) for n in range(lo, hi + 1)]


def apply(direction: int, thresholds: list[int], qmin: int, lo: int, hi: int) -> list[int]:
    r = Requantization(
        np.array([direction]), np.array([thresholds], dtype=np.int64), qmin, qmin + len(thresholds)
    )
    return r.apply(np.arange(lo, hi + 1)[None, :], channel_axis=0)[0].tolist()


def test_half_to_even_at_exact_ties():
    # q = round(acc / 2): acc = 1 -> 0.5 -> 0, acc = 3 -> 1.5 -> 2, acc = -1 -> -0.5 -> 0
    d, t = channel_thresholds(Fraction(1, 2), Fraction(0), -4, 3, -10, 10)
    assert d == 1
    assert apply(d, t, -4, -10, 10) == [
        -4,
        -4,
        -4,
        -4,
        -3,
        -2,
        -2,
        -2,
        -1,
        0,
        0,
        0,
        1,
        2,
        2,
        2,
        3,
        3,
        3,
        3,
        3,
    ]


@pytest.mark.parametrize("seed", range(40))
def test_matches_brute_force_for_random_rationals(seed):
    rng = random.Random(seed)
    bits = rng.choice([2, 3, 4, 8])
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    den = rng.choice([1, 2, 3, 4, 8, 7])
    a = Fraction(rng.randint(-20, 20), den * rng.randint(1, 5))  # includes 0 and exact ties
    b = Fraction(rng.randint(-40, 40), 2 * den)
    lo, hi = -rng.randint(1, 60), rng.randint(1, 60)
    d, t = channel_thresholds(a, b, qmin, qmax, lo, hi)
    assert apply(d, t, qmin, lo, hi) == brute_force(a, b, qmin, qmax, lo, hi), f"seed {seed}"
    assert t == sorted(t)
    assert all(min(lo, -hi) <= x <= max(hi, -lo) + 1 for x in t)


def test_gamma_signs_and_zero_gamma():
    kw = dict(
        beta=np.array([0.25, 0.25, 3.0]),
        mean=np.array([0.0, 0.0, 0.0]),
        var=np.array([1.0, 1.0, 1.0]),
        eps=0.0,
        out_scale=0.5,
        bits=4,
        acc_min=np.array([-9, -9, -9]),
        acc_max=np.array([9, 9, 9]),
    )
    r = fold_requantization(acc_scale=np.array([0.5, 0.5, 0.5]), gamma=np.array([1.0, -1.0, 0.0]), **kw)
    assert r.direction.tolist() == [1, -1, 0]
    acc = np.arange(-9, 10)
    out = r.apply(np.stack([acc, acc, acc])[None], channel_axis=1)[0]

    def exact(g):
        return [
            min(max(round((Fraction(g) * Fraction(1, 2) * int(n) + Fraction(1, 4)) / Fraction(1, 2)), -8), 7)
            for n in acc
        ]

    assert out[0].tolist() == exact(1)
    assert out[1].tolist() == exact(-1)
    assert out[2].tolist() == [6] * len(acc)  # constant: round(3.0 / 0.5) = 6


def test_tiny_gamma_gives_clipped_thresholds():
    r = fold_requantization(
        acc_scale=np.array([1.0]),
        gamma=np.array([1e-30]),
        beta=np.array([0.0]),
        mean=np.array([0.0]),
        var=np.array([1.0]),
        eps=1e-5,
        out_scale=1.0,
        bits=8,
        acc_min=np.array([-100]),
        acc_max=np.array([100]),
    )
    assert r.thresholds.min() >= -100 and r.thresholds.max() <= 101
    assert r.apply(np.array([[-100], [0], [100]]), channel_axis=1).tolist() == [[0], [0], [0]]
