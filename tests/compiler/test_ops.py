"""Every IR op's reference against an independent computation (brute force or torch), on seeded
shapes that include the edge cases: K = 1, 63, 64, 65, odd channel counts, border pixels, exact
ties, all three threshold directions."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from compiler.ir import BIPOLAR, OPS, TERNARY, Bounds, IntType
from compiler.ir.ops.add import AddAttrs
from compiler.ir.ops.max_pool import PoolAttrs
from compiler.ir.ops.multi_threshold import MultiThresholdAttrs
from compiler.ir.ops.quantize_input import QuantizeInputAttrs
from compiler.ir.ops.requantize import RequantizeAttrs
from compiler.ir.ops.scaled_add import ScaledAddAttrs
from compiler.ir.ops.sliding_window import WindowAttrs


def ref(op: str, attrs, *xs):
    spec = OPS[op]
    return spec.reference(spec.Attrs() if attrs is None else attrs, list(xs))[0]


def nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).double()


def test_int_type_covering_is_minimal():
    assert IntType.covering(0, 255) == IntType(8, False)
    assert IntType.covering(-128, 127) == IntType(8, True)
    assert IntType.covering(-129, 0) == IntType(9, True)
    assert IntType.covering(-1, 128) == IntType(9, True)
    assert IntType.covering(0, 0) == IntType(1, False)
    assert IntType.covering(-(2**32), 2**32 - 1) == IntType(33, True)  # never float-rounded
    assert (BIPOLAR.lo, BIPOLAR.hi, str(BIPOLAR)) == (-1, 1, "bipolar")


@pytest.mark.parametrize("k", [1, 7, 63, 64, 65, 127, 128, 129, 300])
@pytest.mark.parametrize("ternary", [False, True])
def test_xnor_popcount_equals_integer_dot(k, ternary):
    rng = np.random.default_rng(k * 2 + ternary)
    x = rng.choice([-1, 1], size=(5, 3, k)).astype(np.int8)
    if ternary:
        x[rng.random(x.shape) < 0.3] = 0
    w = rng.choice([-1, 1], size=(6, k)).astype(np.int8)
    want = np.einsum("abk,ok->abo", x.astype(np.int64), w.astype(np.int64))
    got = ref("xnor_popcount_matmul", None, x, w)
    assert np.array_equal(got, want)


def test_xnor_popcount_extremes_all_agree_and_all_disagree():
    for k in (1, 63, 64, 65, 4608):
        w = np.ones((2, k), dtype=np.int8)
        w[1] = -1
        x = np.ones((1, k), dtype=np.int8)
        assert ref("xnor_popcount_matmul", None, x, w).tolist() == [[k, -k]]


@pytest.mark.parametrize("seed", range(4))
def test_multi_threshold_counts_with_every_direction(seed):
    rng = np.random.default_rng(seed)
    c, steps = 7, [1, 3, 15, 255][seed]
    t = np.sort(rng.integers(-40, 40, size=(c, steps)), axis=1)
    d = np.array([1, -1, 0, 1, -1, 1, 0])
    x = rng.integers(-50, 50, size=(4, 3, c))
    x[0, 0] = t[:, 0]  # exactly on a threshold
    want = -3 + ((x[..., None] * d[:, None]) >= t).sum(-1)
    assert np.array_equal(ref("multi_threshold", MultiThresholdAttrs(-3), x, t, d), want)


def test_multi_threshold_large_span_path():
    rng = np.random.default_rng(9)
    t = np.sort(rng.integers(-(10**7), 10**7, size=(40, 255)), axis=1)  # 40 * span > table limit
    d = rng.choice([-1, 0, 1], size=40)
    x = rng.integers(-(10**7), 10**7, size=(3, 40))
    want = 5 + ((x[..., None] * d[:, None]) >= t).sum(-1)
    assert np.array_equal(ref("multi_threshold", MultiThresholdAttrs(5), x, t, d), want)


@pytest.mark.parametrize("pad_value", [0, 1, -1])
@pytest.mark.parametrize("stride", [1, 2])
def test_binary_conv_padding_is_exact_at_borders(pad_value, stride):
    rng = np.random.default_rng(stride * 3 + pad_value)
    x = rng.choice([-1, 1], size=(2, 5, 6, 3)).astype(np.int8)  # odd sizes: every border case
    w = rng.choice([-1, 1], size=(4, 3, 3, 3)).astype(np.int8)
    a = WindowAttrs((3, 3), (stride, stride), (1, 1, 1, 1), pad_value)
    xt = F.pad(nchw(x), (1, 1, 1, 1), value=float(pad_value))
    want = F.conv2d(xt, torch.from_numpy(w.transpose(0, 3, 1, 2)).double(), stride=stride)
    got = ref("conv", a, x, w)
    assert np.array_equal(got, want.permute(0, 2, 3, 1).numpy().astype(np.int64))
    cols = ref("sliding_window", a, x)
    assert cols.shape == (*got.shape[:3], 27)
    lowered = ref("xnor_popcount_matmul", None, cols, w.reshape(4, -1))
    assert np.array_equal(lowered, got)


def test_eight_bit_conv_and_matmul_are_exact():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(2, 9, 7, 3))
    w = rng.integers(-127, 128, size=(5, 7, 7, 3))
    a = WindowAttrs((7, 7), (2, 2), (3, 3, 3, 3), 0)
    want = F.conv2d(nchw(x), torch.from_numpy(w.transpose(0, 3, 1, 2)).double(), stride=2, padding=3)
    assert np.array_equal(ref("conv", a, x, w), want.permute(0, 2, 3, 1).numpy().astype(np.int64))
    v, m, b = rng.integers(-1000, 1000, size=(3, 11)), rng.integers(-127, 128, size=(4, 11)), np.arange(4)
    assert np.array_equal(ref("matmul", None, v, m, b), v @ m.T + b)


def test_pools():
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, size=(2, 7, 9, 3))
    got = ref("max_pool", PoolAttrs((3, 3), (2, 2), (1, 1, 1, 1)), x)
    want = F.max_pool2d(nchw(x), 3, 2, 1).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(got, want)
    x = x[:, :6, :8]
    got = ref("sum_pool", PoolAttrs((2, 2), (2, 2)), x)
    assert np.array_equal(got, x.reshape(2, 3, 2, 4, 2, 3).sum(axis=(2, 4)))
    assert np.array_equal(ref("global_sum_pool", None, x), x.sum(axis=(1, 2), keepdims=True))
    assert ref("flatten", None, ref("global_sum_pool", None, x)).shape == (2, 3)


def test_sign_of_zero_is_plus_one_and_add_saturates():
    assert ref("sign", None, np.array([-2, -1, 0, 1])).tolist() == [-1, -1, 1, 1]
    got = ref("add", AddAttrs(-128, 127), np.array([100, -100, 5]), np.array([100, -100, -5]))
    assert got.tolist() == [127, -128, 0]


def test_rounding_is_half_to_even():
    a = QuantizeInputAttrs(scale=0.5, qmin=0, qmax=255)
    assert ref("quantize_input", a, np.array([0.25, 0.75, 1.25, 200.0])).tolist() == [0, 2, 2, 255]
    half = ScaledAddAttrs(Fraction(1, 2), Fraction(1, 2), -8, 7)
    got = ref("scaled_add", half, np.array([1, 3, -1, -3, 20]), np.array([0, 0, 0, 0, 0]))
    assert got.tolist() == [0, 2, 0, -2, 7]


@pytest.mark.parametrize("seed", range(3))
def test_requantize_is_exact_against_fractions(seed):
    rng = np.random.default_rng(seed)
    c = 5
    params = [
        rng.random(c) * 0.1,  # acc_scale
        np.array([1.5, -0.7, 0.0, 1e-9, 2.0]),  # gamma: positive, negative, zero, tiny
        rng.standard_normal(c),
        rng.standard_normal(c),
        rng.random(c) + 0.1,
    ]
    a = RequantizeAttrs(out_scale=0.03, qmin=-128, qmax=127, eps=1e-5)
    x = rng.integers(-300, 300, size=(3, 4, c))
    got = ref("requantize", a, x, *params)
    for idx in np.ndindex(x.shape):
        ch = idx[-1]
        sigma = Fraction(float(np.sqrt(params[4][ch] + 1e-5)))
        g = Fraction(float(params[1][ch]))
        y = g * (Fraction(float(params[0][ch])) * int(x[idx]) - Fraction(float(params[3][ch]))) / sigma
        y = (y + Fraction(float(params[2][ch]))) / Fraction(0.03)
        assert got[idx] == min(max(round(y), -128), 127)


def test_bounds_follow_weights_exactly():
    w = np.array([[1, -2, 3], [-1, -1, -1]])
    spec = OPS["matmul"]
    (b,) = spec.bounds(None, [Bounds.of(-1, 1)], [None, w], [])
    assert (list(b.lo), list(b.hi)) == ([-6, -3], [6, 3])


@pytest.mark.parametrize("bits", range(1, 9))
@pytest.mark.parametrize("signed", [False, True])
def test_special_kinds_never_alias_plain_integers(bits, signed):
    """A signed 2-bit map (-2..1) once equalled the ternary type of zero-padded bipolar windows,
    and the HLS backend read it as sign and valid planes."""
    from compiler.ir.types import parse_dtype

    if bits == 1 and signed:
        return  # a signed 1-bit integer is {-1, 0}: IntType allows it, covered by unsigned 1
    t = IntType(bits, signed)
    assert t != TERNARY and t != BIPOLAR and not t.special
    assert parse_dtype(str(t)) == t and parse_dtype(str(TERNARY)) == TERNARY
    assert (TERNARY.lo, TERNARY.hi, BIPOLAR.lo, BIPOLAR.hi) == (-1, 1, -1, 1)
