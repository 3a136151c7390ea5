"""CPU-target kernels against the IR ops' references with ==: the fused XOR-popcount binary conv
(odd channel counts, K not a multiple of 64, strides, zero and +-1 padding at the borders, each
epilogue), the integer conv with its padded copy, the pool-then-threshold kernel, the standalone
threshold unit, and the proven affine form of thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.ir.ops import OPS
from compiler.ir.ops.multi_threshold import MultiThresholdAttrs
from compiler.ir.ops.sliding_window import WindowAttrs

tvm = pytest.importorskip("tvm")
pytestmark = pytest.mark.tvm

from compiler.backends.tvm_cpu import fused, isa  # noqa: E402
from compiler.backends.tvm_cpu.fused import Epilogue, words  # noqa: E402
from compiler.backends.tvm_cpu.kernels import (  # noqa: E402
    build,
    pack_signs,
    pack_weights,
    threshold_table,
    thresholds,
)
from compiler.backends.tvm_cpu.target import compile_funcs, host_target  # noqa: E402


def call(func, target=None, **arrays):
    """Compile `func` (for `target`, default this host) and run it on the arrays named like its
    parameters; returns them after."""
    lib = compile_funcs({func.attrs["global_symbol"]: func}, target)
    names = [p.name for p in func.params]
    args = {k: tvm.runtime.tensor(np.ascontiguousarray(arrays[k]), tvm.cpu()) for k in names}
    lib[func.attrs["global_symbol"]](*[args[k] for k in names])
    return {k: v.numpy() for k, v in args.items()}


def reference_thresholds(acc, t, d, qmin):
    (y,) = OPS["multi_threshold"].reference(MultiThresholdAttrs(qmin), [acc, t, d])
    return y


# (n, h, w, c, o, stride, pad value, thresholds, add, pack); thresholds > 0 are random integers,
# < 0 the steps of a line (a BatchNorm folded onto a uniform grid: the affine kernels)
BINARY = [
    (2, 7, 7, 5, 3, 1, 0, 15, True, True),
    (1, 9, 8, 70, 9, 2, 0, 15, True, True),
    (1, 6, 5, 13, 16, 1, -1, 255, False, True),
    (1, 8, 8, 130, 32, 2, 1, 15, True, True),
    (1, 7, 7, 64, 32, 1, 1, 3, False, False),
    (1, 7, 7, 64, 48, 1, 0, 0, False, False),
    (1, 5, 7, 128, 64, 1, 0, 255, True, True),
    (1, 6, 6, 64, 32, 1, 0, -255, True, True),
    (1, 6, 6, 200, 16, 2, 0, -15, True, False),
    (1, 5, 6, 300, 24, 1, 1, 15, True, True),  # 45 terms: 16-term loop twice, 8, then 5 alone
    (1, 3, 4, 3712, 16, 1, 0, 15, True, True),  # 522 terms: 32 loop rounds (byte counts would wrap)
    (1, 2, 70, 64, 256, 1, 0, 15, True, True),  # a row of 70 x 256 accumulators: over ROW_BYTES, in `out`
    # 1x1 binary convs (Bi-Real-50's reduce and expand): one term per word of channels
    (1, 5, 6, 2, 3, 1, 0, 7, True, True, 1),  # a single term
    (1, 6, 5, 70, 16, 2, 0, 15, True, True, 1),  # two terms, strided
    (1, 4, 4, 64, 8, 1, 0, 0, False, False, 1),
    (1, 3, 5, 1100, 24, 1, 0, 15, True, True, 1),  # 18 terms: the 16-term loop once, then 2
]


def line_thresholds(rng, o: int, steps: int, reach: int) -> np.ndarray:
    """(o, steps) thresholds ceil((k - 1/2 - shift) / scale): a folded BatchNorm on a uniform grid."""
    scale = rng.uniform(0.5, 2.0, size=o) * steps / reach
    shift = rng.uniform(-steps / 4, steps / 4, size=o) + steps / 2
    k = np.arange(1, steps + 1)
    return np.ceil((k[None, :] - 0.5 - shift[:, None]) / scale[:, None]).astype(np.int64)


# every popcount path this CPU runs, each built for its own target (isa.cpu_target); the vpopcntdq
# path also without the carry-saves (one vpopcntq per term)
RUNNABLE = [(p, True) for p in isa.ORDER if isa.has_features(host_target(), isa.PATHS[p].needs)]
RUNNABLE += [("vpopcntdq", False)] if ("vpopcntdq", True) in RUNNABLE else []


@pytest.mark.parametrize("path", RUNNABLE, ids=lambda p: p[0] + ("" if p[1] else "-direct"))
@pytest.mark.parametrize(
    "case", BINARY, ids=lambda c: f"k{(c + (3,))[10]}-c{c[3]}-o{c[4]}-s{c[5]}-pad{c[6]}-t{c[7]}"
)
def test_fused_binary_conv_equals_the_ir_ops(case, path):
    n, h, w, c, o, stride, pad_value, steps, add, pack, k = case if len(case) == 11 else (*case, 3)
    rng = np.random.default_rng(c * 100 + o)
    x = rng.integers(-128, 128, size=(n, h, w, c))
    wt = rng.choice([-1, 1], size=(o, k, k, c))
    pads = (k // 2,) * 4
    (acc,) = OPS["conv"].reference(
        WindowAttrs((k, k), (stride, stride), pads, pad_value), [np.where(x >= 0, 1, -1), wt]
    )
    oh, ow = acc.shape[1:3]
    halo = 2  # wider than the conv's padding: the kernel reads from its own origin
    xp = np.zeros((n, h + 2 * halo, w + 2 * halo, words(c)), np.uint64)
    xp[:, halo:-halo, halo:-halo] = pack_signs(x)
    corr, rows, cols = fused.correction_table(wt, (k, k), (stride, stride), pads, pad_value, (h, w))
    spec = fused.BinaryConv(
        n,
        h + 2 * halo,
        w + 2 * halo,
        c,
        o,
        (oh, ow),
        (k, k),
        (stride, stride),
        (halo - k // 2, halo - k // 2),
        corr.shape[:2],
        *path,
    )
    tiled, pairs = fused.binary_weights(pack_weights(wt), spec.tile)
    arrays = dict(xp=xp, wp=tiled, wq=pairs, corr=corr, rows=rows, cols=cols)
    fields: dict = {}
    want = acc
    if steps:
        reach = k * k * c
        if steps > 0:
            t = np.sort(rng.integers(-reach, reach, size=(o, steps)), axis=1)
        else:
            steps = -steps
            t = line_thresholds(rng, o, steps, reach)
        d = rng.choice([1, -1, 0], size=o)
        arrays["t"], fields = fused.threshold_operand(t, d, np.full(o, -reach), np.full(o, reach))
        if case[7] < 0 or reach >= 64:  # (a few random thresholds over a tiny range can be affine)
            assert bool(fields.get("affine")) == (case[7] < 0)
        arrays["d"] = d.astype(np.int32)
        fields["qmin"] = -8
        want = reference_thresholds(acc, t, d, -8)
    if add:
        res = rng.integers(-8, 8, size=acc.shape)
        arrays["res"] = res.astype(np.int32)
        fields["add"] = (-8, 7)
        want = np.clip(want + res, -8, 7)
    if pack:
        arrays["packed"] = np.zeros((n, oh + 3, ow + 3, words(o)), np.uint64)
        fields.update(pack=(1, 2), packed_hw=(oh + 3, ow + 3))
    arrays["out"] = np.zeros(acc.shape, np.int32)
    got = call(fused.binary_conv_kernel(spec, Epilogue(**fields), "f"), host_target(isa=path[0]), **arrays)
    assert np.array_equal(got["out"], want)
    if pack:
        expect = np.zeros_like(arrays["packed"])
        expect[:, 1 : 1 + oh, 2 : 2 + ow] = pack_signs(want)
        assert np.array_equal(got["packed"], expect)  # the halo stays zero


# the integer convs' register tiles for 512-bit vectors on this host, and for AVX2 built for it
INT_ISAS = ["auto"] + (["avx2"] if "avx2" in [p for p, _ in RUNNABLE] else [])


@pytest.mark.parametrize("isa_name", INT_ISAS)
@pytest.mark.parametrize("w_dtype", ["", "int8"], ids=["w-acc", "w-int8"])
@pytest.mark.parametrize("exact", [True, False], ids=["float32", "int32"])
@pytest.mark.parametrize(
    "pads,pad_value,stride", [((3, 3, 3, 3), 0, 2), ((0, 0, 0, 0), 0, 1), ((1, 1, 1, 1), 5, 1)]
)
def test_int_conv_equals_the_ir_conv(exact, pads, pad_value, stride, w_dtype, isa_name):
    rng = np.random.default_rng(sum(pads) + stride)
    k = 1 + 2 * pads[0] if pads[0] else 1
    n, h, w, c, o = 1, 11, 9, 3, 48  # three blocks of 16 output channels
    x = rng.integers(0, 256, size=(n, h, w, c))
    wt = rng.integers(-127, 128, size=(o, k, k, c))
    (acc,) = OPS["conv"].reference(WindowAttrs((k, k), (stride, stride), pads, pad_value), [x, wt])
    assert fused.exact_in_float(wt, 255, pad_value)
    xin = x
    if any(pads):
        dtype = "float32" if exact else "int32"
        prep = fused.pad_input_kernel((n, h, w, c), pads, pad_value, dtype, "pad")
        hp, wp = h + pads[0] + pads[2], w + pads[1] + pads[3]
        xin = call(prep, x=x.astype(np.int32), padded=np.zeros((n, hp, wp, c), dtype))["padded"]
    lanes = fused.ACC_LANES_256 if isa_name == "avx2" else fused.ACC_LANES_512
    spec = fused.IntConv(
        n,
        *xin.shape[1:3],
        c,
        o,
        acc.shape[1:3],
        (k, k),
        (stride, stride),
        exact,
        any(pads),
        w_dtype,
        acc_lanes=lanes,
    )
    got = call(
        fused.int_conv_kernel(spec, Epilogue(), "f"),
        host_target(isa=isa_name),
        x=xin if any(pads) else x.astype(np.int32),
        w=fused.int_conv_weights(spec, wt),
        out=np.zeros(acc.shape, np.int32),
    )
    assert np.array_equal(got["out"], acc)


@pytest.mark.skipif(
    not fused.pairs16_applies(host_target(), np.ones((16, 1, 1, 2), np.int64), 1), reason="needs AVX512-VNNI"
)
@pytest.mark.parametrize("pads,pad_value,stride", [((0, 0, 0, 0), 0, 1), ((1, 1, 1, 1), 5, 2)])
def test_int16_pair_conv_equals_the_ir_conv(pads, pad_value, stride):
    """vpdpwssd on an int16 copy of x and int16 weight pairs (the 10-bit downsample inputs)."""
    rng = np.random.default_rng(7 + stride)
    k = 3 if pads[0] else 1
    n, h, w, c, o = 1, 9, 8, 6, 48  # three blocks of 16 output channels
    x = rng.integers(-600, 600, size=(n, h, w, c))
    wt = rng.integers(-127, 128, size=(o, k, k, c))
    assert fused.pairs16_applies(host_target(), wt, 600)
    (acc,) = OPS["conv"].reference(WindowAttrs((k, k), (stride, stride), pads, pad_value), [x, wt])
    prep = fused.pad_input_kernel((n, h, w, c), pads, pad_value, "int16", "pad")
    hp, wp = h + pads[0] + pads[2], w + pads[1] + pads[3]
    xin = call(prep, x=x.astype(np.int32), padded=np.zeros((n, hp, wp, c), np.int16))["padded"]
    spec = fused.IntConv(n, hp, wp, c, o, acc.shape[1:3], (k, k), (stride, stride), False, True, "", True)
    got = call(
        fused.int_conv_kernel(spec, Epilogue(), "f"),
        x=xin,
        w=fused.int_conv_weights(spec, wt),
        out=np.zeros(acc.shape, np.int32),
    )
    assert np.array_equal(got["out"], acc)


def test_float_accumulation_is_refused_when_partial_sums_could_round():
    w = np.full((2, 7, 7, 3), 127)
    assert fused.exact_in_float(w, 255, 0)
    assert not fused.exact_in_float(np.full((2, 7, 7, 64), 127), 255, 0)


@pytest.mark.parametrize("steps", [15, 255])
def test_pool_threshold_equals_threshold_then_max_pool(steps):
    rng = np.random.default_rng(steps)
    n, h, w, c = 1, 9, 10, 32
    acc = rng.integers(-500, 500, size=(n, h, w, c))
    t = np.sort(rng.integers(-500, 500, size=(c, steps)), axis=1)
    d = rng.choice([1, -1, 0], size=c)
    (want,) = OPS["max_pool"].reference(
        WindowAttrs((3, 3), (2, 2), (1, 1, 1, 1)), [reference_thresholds(acc, t, d, -8)]
    )
    table, fields = fused.threshold_operand(t, d, np.full(c, -500), np.full(c, 500), fold_d=False)
    oh, ow = want.shape[1:3]
    spec = fused.PoolThreshold(n, h, w, c, (oh, ow), (3, 3), (2, 2), (1, 1))
    got = call(
        fused.pool_threshold_kernel(spec, Epilogue(qmin=-8, **fields), "f"),
        acc=acc.astype(np.int32),
        t=table,
        d=d.astype(np.int32),
        out=np.zeros(want.shape, np.int32),
    )
    assert np.array_equal(got["out"], want)


@pytest.mark.parametrize("kind", ["vnni", "float32", "int32"])
def test_stem_conv_pooling_its_columns_then_rows_equals_conv_thresholds_max_pool(kind):
    """fused.HPOOL: the conv (thresholds' signs folded into its weights) writes the max of each
    pooled column's 3 columns, the pool kernel pools the rows with the max alone; together they
    equal conv -> multi_threshold -> 3x3 / 2 max pool of the IR."""
    rng = np.random.default_rng(len(kind))
    n, h, w, c, o, k = 1, 12, 12, 3, 32, 7
    x = rng.integers(0, 256, size=(n, h, w, c))
    wt = rng.integers(-127, 128, size=(o, k, k, c))
    conv_attrs = WindowAttrs((k, k), (2, 2), (3, 3, 3, 3), 0)
    (acc,) = OPS["conv"].reference(conv_attrs, [x, wt])
    lim = int(np.abs(acc).max()) + 1
    t = np.sort(rng.integers(-lim, lim, size=(o, 15)), axis=1)
    d = rng.choice([1, -1, 0, 2], size=o)
    (want,) = OPS["max_pool"].reference(
        WindowAttrs((3, 3), (2, 2), (1, 1, 1, 1)), [reference_thresholds(acc, t, d, -8)]
    )
    sign = np.where(d < 0, -1, 1)
    ws = wt * sign[:, None, None, None]
    oh, ow = acc.shape[1:3]
    assert fused.hpool_applies(3, 2, 1, ow, want.shape[2])
    if kind == "vnni":
        if not fused.vnni_applies(host_target(), ws, 0, 255):
            pytest.skip("this CPU has no AVX512-VNNI")
        groups = fused.VnniConv(n, 0, 0, c, o, (oh, ow), (k, k), (2, 2)).groups
        extra = max(0, -(-groups * 4 // c) - k)
        hp, wp = h + 6, w + 6 + extra
        prep = fused.pad_input_kernel((n, h, w, c), (3, 3, 3, 3 + extra), 0, "uint8", "pad", flat_rows=True)
        xin = call(prep, x=x.astype(np.int32), padded=np.zeros((n, hp, wp * c), np.uint8))["padded"]
        spec = fused.VnniConv(n, hp, wp * c, c, o, (oh, ow), (k, k), (2, 2), (3, 2, 1))
    else:
        prep = fused.pad_input_kernel((n, h, w, c), (3, 3, 3, 3), 0, kind, "pad")
        xin = call(prep, x=x.astype(np.int32), padded=np.zeros((n, h + 6, w + 6, c), kind))["padded"]
        spec = fused.IntConv(
            n, h + 6, w + 6, c, o, (oh, ow), (k, k), (2, 2), kind == "float32", True, hpool=(3, 2, 1)
        )
    columns = call(
        fused.int_conv_kernel(spec, Epilogue(), "f"),
        x=xin,
        w=fused.int_conv_weights(spec, ws),
        out=np.zeros((n, oh, ow // 2, o), np.int32),
    )["out"]
    signed = acc * sign[None, None, None, :]
    edge = np.concatenate([np.full((n, oh, 1, o), -(1 << 40)), signed], axis=2)  # column -1: padding
    assert np.array_equal(
        columns, np.maximum(np.maximum(edge[:, :, 0:ow:2], edge[:, :, 1::2]), edge[:, :, 2::2])
    )
    d_abs = np.abs(d)
    lo, hi = np.minimum(-lim * sign, lim * sign), np.maximum(-lim * sign, lim * sign)
    table, fields = fused.threshold_operand(t, d_abs, lo, hi, fold_d=False)
    pool = fused.PoolThreshold(n, oh, ow // 2, o, want.shape[1:3], (3, 1), (2, 1), (1, 0), max_only=True)
    got = call(
        fused.pool_threshold_kernel(pool, Epilogue(qmin=-8, **fields), "f"),
        acc=columns,
        t=table,
        d=d_abs.astype(np.int32),
        out=np.zeros(want.shape, np.int32),
    )
    assert np.array_equal(got["out"], want)


@pytest.mark.parametrize(
    "scale,qmin,qmax", [(1 / 255, 0, 255), (0.0078125, -128, 127), (0.37, -7, 7), (1e-7, -(2**24), 2**24)]
)
def test_quantizer_equals_the_ir_quantizer_at_half_integers(scale, qmin, qmax):
    """The quantizer multiplies by 1 / scale where that provably rounds like x / scale and divides
    elsewhere: images full of values on, and a few ulps around, the half-integer boundaries
    (where the two can differ), large, negative and infinite values, in every lane position."""
    from compiler.ir.ops.quantize_input import QuantizeInputAttrs

    rng = np.random.default_rng(int(scale * 1000))
    n, c, h, w = 2, 3, 5, 21  # 21 columns: two vectors of 8 and a tail of 5
    x = rng.uniform(-0.2, 1.2, size=(n, c, h, w))
    k = rng.integers(qmin - 2, qmax + 2, size=x.shape)
    halves = (k + 0.5) * scale  # x / scale within an ulp or two of a half-integer
    for ulps in [0, 1, -1, 2, -2, 5, -5]:
        pick = rng.random(x.shape) < 0.1
        x = np.where(pick, halves + ulps * np.spacing(np.abs(halves)), x)
    x.flat[rng.choice(x.size, 12, replace=False)] = [
        1e30,
        -1e30,
        np.inf,
        -np.inf,
        2e6,
        -2e6,
        0.0,
        -0.0,
        1.0,
        0.5,
        1e-300,
        -1e-300,
    ]
    (want,) = OPS["quantize_input"].reference(QuantizeInputAttrs(scale, qmin, qmax), [x])
    got = call(
        fused.quantize_kernel((n, c, h, w), scale, qmin, qmax, "f"),
        images=x,
        pixels=np.zeros((n, h, w, c), np.int32),
    )
    assert np.array_equal(got["pixels"], want.transpose(0, 2, 3, 1))
    if scale != 0.0078125:  # the multiply alone would not be exact here: the check is exercised
        assert not np.array_equal(np.clip(np.round(x * (1 / scale)), qmin, qmax), want)


@pytest.mark.parametrize(
    "dtype,pads,flat",
    [("int16", (0, 0, 0, 0), False), ("float32", (1, 1, 1, 2), False), ("uint8", (1, 1, 1, 3), True)],
)
def test_input_copy_summing_a_pool_equals_sum_pool_then_pad(dtype, pads, flat):
    """The downsample shortcut's 2x2 sum pool, summed by its conv's input copy."""
    rng = np.random.default_rng(len(dtype))
    n, h, w, c = 1, 10, 12, 6
    lo = 0 if dtype == "uint8" else -60
    x = rng.integers(lo, 60, size=(n, h, w, c))
    (pooled,) = OPS["sum_pool"].reference(WindowAttrs((2, 2), (2, 2), (0, 0, 0, 0)), [x])
    top, left, bottom, right = pads
    want = np.full((n, pooled.shape[1] + top + bottom, pooled.shape[2] + left + right, c), 7 + 3)
    want[:, top : top + pooled.shape[1], left : left + pooled.shape[2]] = pooled + 3
    prep = fused.pad_input_kernel(
        pooled.shape, pads, 7, dtype, "f", flat_rows=flat, offset=3, pool=((2, 2), (2, 2), x.shape)
    )
    out = np.zeros(want.reshape(n, want.shape[1], -1).shape if flat else want.shape, dtype)
    got = call(prep, x=x.astype(np.int32), padded=out)["padded"]
    assert np.array_equal(got.reshape(want.shape), want)


def test_affine_thresholds_are_exact_on_every_value_or_refused():
    rng = np.random.default_rng(3)
    c, steps = 16, 255
    scale = rng.uniform(0.2, 3.0, size=c)  # < 1: repeated thresholds; > 1: gaps
    shift = rng.uniform(-50, 50, size=c)
    k = np.arange(1, steps + 1)
    t = np.ceil((k[None, :] - 0.5 - shift[:, None]) / scale[:, None]).astype(np.int64)
    d = rng.choice([1, -1, 0], size=c)
    lo, hi = np.full(c, -400), np.full(c, 400)
    v = np.arange(-400, 401)
    for dtype in (np.float64, np.float32):  # evaluated in the kernel's own arithmetic
        a, b = fused.affine_thresholds(t, d, lo, hi, np.dtype(dtype).name)
        for ch in range(c):
            signed = (d[ch] * v).astype(dtype)
            count = (t[ch][None, :] <= signed[:, None]).sum(axis=1)
            assert np.array_equal(np.clip(np.floor(a[ch] * signed + b[ch]), 0, steps), count)
    t[0, 100] -= 7  # no longer the steps of one line
    assert fused.affine_thresholds(t, np.ones(c, int), lo, hi) is None
    table, found = fused.threshold_operand(t, np.ones(c, int), lo, hi)
    assert found == {"steps": steps, "levels": 8} and table.shape == (c, 255)


@pytest.mark.parametrize("steps", [255, 15, 1])
def test_thresholds_equal_the_ir_multi_threshold(steps):
    rng = np.random.default_rng(steps)
    c = 7
    t = np.sort(rng.integers(-300, 300, size=(c, steps)), axis=1)
    d = np.array([1, -1, 0, 1, 1, -1, 1])
    acc = rng.integers(-400, 400, size=(2, 5, 5, c))
    want = reference_thresholds(acc, t, d, -128)
    full, levels = threshold_table(t, 400)
    assert (levels == 0) == (steps <= 32)
    a, tt, dd, out = thresholds(acc.shape, c, steps, levels, -128)
    lib = build([a, tt, dd, out], host_target())
    args = [tvm.runtime.tensor(v, tvm.cpu()) for v in (acc.astype(np.int32), full, d.astype(np.int64))]
    args.append(tvm.runtime.tensor(np.zeros(acc.shape, np.int32), tvm.cpu()))
    lib["main"](*args)
    assert np.array_equal(args[-1].numpy(), want)


@pytest.mark.parametrize("c,k,stride,o", [(3, 7, 2, 32), (1, 3, 1, 16), (5, 3, 2, 48)])
def test_vnni_conv_equals_the_ir_conv(c, k, stride, o):
    target = host_target()
    n, h, w = 1, 13, 11
    rng = np.random.default_rng(c * k)
    x = rng.integers(0, 256, size=(n, h, w, c))
    wt = rng.integers(-128, 128, size=(o, k, k, c))
    if not fused.vnni_applies(target, wt, 0, 255):
        pytest.skip("this CPU has no AVX512-VNNI")
    pad = k // 2
    (acc,) = OPS["conv"].reference(WindowAttrs((k, k), (stride, stride), (pad,) * 4, 0), [x, wt])
    spec0 = fused.VnniConv(n, 0, 0, c, o, acc.shape[1:3], (k, k), (stride, stride))
    extra = max(0, -(-spec0.groups * 4 // c) - k)
    pads = (pad, pad, pad, pad + extra)
    hp, wp = h + 2 * pad, w + 2 * pad + extra
    prep = fused.pad_input_kernel((n, h, w, c), pads, 0, "uint8", "pad", flat_rows=True)
    xb = call(prep, x=x.astype(np.int32), padded=np.zeros((n, hp, wp * c), np.uint8))["padded"]
    spec = fused.VnniConv(n, hp, wp * c, c, o, acc.shape[1:3], (k, k), (stride, stride))
    got = call(
        fused.int_conv_kernel(spec, Epilogue(), "f"),
        x=xb,
        w=fused.int_conv_weights(spec, wt),
        out=np.zeros(acc.shape, np.int32),
    )
    assert np.array_equal(got["out"], acc)


@pytest.mark.parametrize("o,bias", [(10, True), (300, True), (128, False)])
def test_fc_equals_the_ir_matmul(o, bias):
    from compiler.backends.tvm_cpu.network import narrowest_int

    rng = np.random.default_rng(o)
    n, k = 2, 70
    x = rng.integers(-5000, 5000, size=(n, k))
    w = rng.integers(-128, 128, size=(o, k))
    b = rng.integers(-1000, 1000, size=o)
    want = x @ w.T + (b if bias else 0)
    wk = fused.fc_weights(w, narrowest_int(w))
    arrays = dict(x=x.astype(np.int32), w=wk, b=b.astype(np.int32), out=np.zeros((n, o), np.int32))
    got = call(fused.fc_kernel(n, k, o, str(wk.dtype), bias, "f"), **arrays)
    assert wk.dtype == np.int8 and np.array_equal(got["out"], want)
