"""CPU-target kernels against the IR ops' references with ==: the XOR-popcount binary conv over
seeded shapes (odd channel counts, K not a multiple of 64, strides, zero and +-1 padding at the
borders) and the threshold unit."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.ir.ops import OPS
from compiler.ir.ops.sliding_window import WindowAttrs

tvm = pytest.importorskip("tvm")
pytestmark = pytest.mark.tvm

from compiler.backends.tvm_cpu.kernels import (  # noqa: E402
    ConvShape,
    binary_conv,
    build,
    pack_signs,
    pack_weights,
    schedule,
    threshold_table,
    thresholds,
)
from compiler.backends.tvm_cpu.target import host_target  # noqa: E402

SHAPES = [
    ConvShape(2, 7, 7, 5, 3, (3, 3), (1, 1), (1, 1, 1, 1), 0),
    ConvShape(1, 9, 8, 70, 9, (3, 3), (2, 2), (1, 1, 1, 1), 0),
    ConvShape(1, 6, 5, 13, 4, (3, 3), (1, 1), (1, 1, 1, 1), -1),
    ConvShape(1, 8, 8, 130, 6, (3, 3), (2, 2), (1, 1, 1, 1), 1),
    ConvShape(1, 5, 6, 64, 2, (1, 1), (1, 1), (0, 0, 0, 0), 0),
]


def run(module, *arrays):
    dev = tvm.cpu()
    args = [tvm.runtime.tensor(a, dev) for a in arrays]
    module["main"](*args)
    return args[-1].numpy()


@pytest.mark.parametrize("s", SHAPES, ids=lambda s: f"c{s.c}-s{s.stride[0]}-pad{s.pad_value}")
def test_binary_conv_equals_the_ir_conv(s):
    rng = np.random.default_rng(s.c)
    x = rng.integers(-128, 128, size=(s.n, s.h, s.w, s.c))
    w = rng.choice([-1, 1], size=(s.o, *s.kernel, s.c))
    attrs = WindowAttrs(s.kernel, s.stride, s.pads, s.pad_value)
    bipolar = np.where(x >= 0, 1, -1)
    (want,) = OPS["conv"].reference(attrs, [bipolar, w])
    xp, wp, wsum, acc = binary_conv(s)
    module = build([xp, wp, wsum, acc], host_target())
    scheduled = tvm.compile(
        tvm.IRModule({"main": schedule(tvm.te.create_prim_func([xp, wp, wsum, acc]))}), target=host_target()
    )
    oh, ow = s.out_hw
    got = run(
        module,
        pack_signs(x),
        pack_weights(w),
        w.sum(axis=3).astype(np.int32),
        np.zeros((s.n, oh, ow, s.o), dtype=np.int32),
    )
    assert np.array_equal(got, want)
    assert np.array_equal(
        run(scheduled, pack_signs(x), pack_weights(w), w.sum(axis=3).astype(np.int32), np.zeros_like(got)),
        want,
    )


@pytest.mark.parametrize("steps", [255, 15, 1])
def test_thresholds_equal_the_ir_multi_threshold(steps):
    rng = np.random.default_rng(steps)
    c = 7
    t = np.sort(rng.integers(-300, 300, size=(c, steps)), axis=1)
    d = np.array([1, -1, 0, 1, 1, -1, 1])
    acc = rng.integers(-400, 400, size=(2, 5, 5, c))
    from compiler.ir.ops.multi_threshold import MultiThresholdAttrs

    (want,) = OPS["multi_threshold"].reference(MultiThresholdAttrs(-128), [acc, t, d])
    full, levels = threshold_table(t, 400)
    assert (levels == 0) == (steps <= 32)
    a, tt, dd, out = thresholds(acc.shape, c, steps, levels, -128)
    got = run(
        build([a, tt, dd, out], host_target()),
        acc.astype(np.int32),
        full,
        d.astype(np.int64),
        np.zeros(acc.shape, np.int32),
    )
    assert np.array_equal(got, want)
