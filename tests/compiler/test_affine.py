"""compiler/ir/affine.py: threshold sets as the floor of an affine map of the input, in integers
(M v + B) >> S for the FPGA units. Every fit is compared with the threshold count at every value
the input's range allows, over random grids, ranges, directions and threshold counts."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.ir.affine import integer_affine, reachable


def count(t: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.searchsorted(t, v, side="right")


def exhaustive(t, d, lo, hi, fit) -> None:
    """The fit's count == the thresholds' count for every reachable input of every channel."""
    for c in range(len(t)):
        v = d[c] * np.arange(lo[c], hi[c] + 1)
        got = np.clip((fit.mult[c] * v + fit.offset[c]) >> fit.shift, 0, fit.steps)
        assert np.array_equal(got, count(t[c], v)), c
        column = np.zeros((len(v), len(t)), dtype=np.int64)
        column[:, c] = v
        assert np.array_equal(fit.counts(column)[:, c], got)  # the vectorized form the simulator uses
    assert fit.mult.min(initial=0) >= 0 and fit.sum_bits <= 62


def bn_thresholds(rng, channels: int, steps: int) -> np.ndarray:
    """What a folded BatchNorm gives: count = round(scale * x + shift) clamped to the grid, as
    thresholds ceil((k - 1/2 - shift) / scale), some channels with repeated thresholds (a
    scale above 1 skips grid values)."""
    scale = np.exp(rng.uniform(np.log(0.005), np.log(4.0), channels))
    shift = rng.uniform(-3 * steps, 3 * steps, channels)
    k = np.arange(1, steps + 1)
    return np.ceil((k[None, :] - 0.5 - shift[:, None]) / scale[:, None]).astype(np.int64)


@pytest.mark.parametrize("seed", range(12))
def test_batchnorm_grids_fit_and_are_exact_over_the_whole_range(seed):
    rng = np.random.default_rng(seed)
    channels = int(rng.integers(1, 40))
    steps = int(rng.choice([1, 2, 3, 7, 15, 31, 63, 255]))
    t = bn_thresholds(rng, channels, steps)
    d = rng.choice([-1, 0, 1], channels)
    lo = -rng.integers(0, 3000, channels)
    hi = rng.integers(0, 3000, channels)  # asymmetric ranges, some of one value (0)
    fit = integer_affine(t, d, lo, hi)
    assert fit is not None
    exhaustive(t, d, lo, hi, fit)
    vlo, vhi = reachable(d, lo, hi)
    assert fit.v_bits >= int(max(abs(vlo).max(), abs(vhi).max())).bit_length() + 1


@pytest.mark.parametrize("seed", range(8))
def test_other_threshold_sets_fit_only_where_exact(seed):
    """Random ascending thresholds (no affine map behind them) over a range: either no fit or an
    exact one (a few sets with one or two thresholds inside the range always fit)."""
    rng = np.random.default_rng(100 + seed)
    channels, steps = 6, int(rng.choice([1, 2, 3, 15]))
    t = np.sort(rng.integers(-60, 60, (channels, steps)), axis=1)
    d = rng.choice([-1, 1], channels)
    lo, hi = np.full(channels, -50), np.full(channels, 50)
    fit = integer_affine(t, d, lo, hi)
    if steps == 1:
        assert fit is not None  # one threshold: a step, always a floor of a steep line
    if fit is not None:
        exhaustive(t, d, lo, hi, fit)


def test_uneven_gaps_have_no_fit():
    t = np.array([[0, 1, 100]])  # gaps 1 and 99 inside [-200, 200]: no line has both
    assert integer_affine(t, np.array([1]), np.array([-200]), np.array([200])) is None
    # the same thresholds where only the first is reachable: a fit
    fit = integer_affine(t, np.array([1]), np.array([-200]), np.array([0]))
    assert fit is not None
    exhaustive(t, np.array([1]), np.array([-200]), np.array([0]), fit)


def test_a_wide_accumulator_fits_within_int64():
    """A stem's range (8-bit inputs times 8-bit weights over 147 taps: about +-4.8 million) and a
    BatchNorm scale down to 1e-5: a fit with a shift above 40, equal to the count on both sides of
    every threshold and at random points, and its arithmetic inside int64."""
    rng = np.random.default_rng(1)
    channels, steps = 64, 255
    scale = np.exp(rng.uniform(np.log(1e-5), np.log(1e-3), channels))
    shift = rng.uniform(-300, 300, channels)
    t = np.ceil((np.arange(1, steps + 1)[None, :] - 0.5 - shift[:, None]) / scale[:, None]).astype(np.int64)
    lo, hi = np.full(channels, -4_800_000), np.full(channels, 4_800_000)
    fit = integer_affine(t, np.ones(channels, dtype=np.int64), lo, hi)
    assert fit is not None and fit.sum_bits <= 62 and fit.v_bits == 24
    v = np.concatenate([rng.integers(-4_800_000, 4_800_001, (4000, channels)), t.T, t.T - 1])
    v = np.clip(v, lo, hi)
    want = np.stack([count(t[c], v[:, c]) for c in range(channels)], axis=1)
    assert np.array_equal(fit.counts(v), want)


@pytest.mark.parametrize("seed", range(6))
def test_thresholds_clipped_to_the_irs_range_fit_over_that_range(seed):
    """FoldRequantizeIntoThresholds clips thresholds to the accumulator's exact reachable range
    (the value-range analysis), which can be narrower than the range a matrix unit derives from its
    input's type: below it the clipped thresholds look like a jump of several steps, which no
    affine floor has. The unit proves the fit over the IR's range (MatrixVector
    .accumulator_bounds), where it is exact, and over the type's range no fit exists."""
    from compiler.hw.kernels import MatrixVector

    rng = np.random.default_rng(200 + seed)
    channels, steps = int(rng.integers(2, 12)), 255
    scale = rng.uniform(0.003, 0.008, channels)  # the grid's 255 steps span more than the IR's range
    shift = steps / 2 + rng.uniform(-20, 20, channels)
    k = np.arange(1, steps + 1)
    t = np.ceil((k[None, :] - 0.5 - shift[:, None]) / scale[:, None]).astype(np.int64)
    d = rng.choice([-1, 1], channels)
    wide_lo, wide_hi = -rng.integers(20_000, 40_000, channels), rng.integers(20_000, 40_000, channels)
    ir_lo, ir_hi = wide_lo // 2, wide_hi // 2  # the IR knows the input is narrower than its type
    vlo, vhi = reachable(d, ir_lo, ir_hi)
    t = np.clip(t, vlo[:, None], vhi[:, None] + 1)  # what the fold pass stores
    jump = ((t == vlo[:, None]).sum(axis=1) >= 2) & (np.diff(t, axis=1).max(axis=1) > 2)
    assert jump.any()  # a channel whose count jumps by 2 or more at the IR's lowest value
    fit = integer_affine(t, d, ir_lo, ir_hi)
    assert fit is not None
    exhaustive(t, d, ir_lo, ir_hi, fit)
    assert integer_affine(t, d, wide_lo, wide_hi) is None
    g = MatrixVector.Geometry(mw=1, mh=channels, pixels=1, binary=False, in_lo=-(2**40), in_hi=2**40)
    unit = MatrixVector("mvu_0", [], [], g, {"weights": np.ones((channels, 1), dtype=np.int64),
                                             "thresholds": t, "direction": d,
                                             "acc_lo": ir_lo, "acc_hi": ir_hi})  # fmt: skip
    lo, hi = unit.accumulator_bounds()
    assert np.array_equal(lo, ir_lo) and np.array_equal(hi, ir_hi) and unit.requant() is not None
