"""The values the dataflow design computes, kernel by kernel, on its streams.

Each kernel is modelled the way the hardware computes: the sliding-window units generate
addresses into their input (padding and the Bi-Real sign applied on the way), the matrix-vector
units accumulate SIMD-wide partial products fold by fold (bit-packed XNOR-popcount for binary
layers) and compare against their thresholds (or requantize with their multiply-add), adds saturate, pools reduce their windows. Streams
hold every frame's elements in stream order: `values[stream]` is (frames, elements) int64.
"""

from __future__ import annotations

import numpy as np

from compiler.hw.dataflow import Dataflow
from compiler.hw.kernels import (
    Add,
    Fork,
    GlobalSumPool,
    InputDMA,
    Kernel,
    MatrixVector,
    MaxPool,
    OutputDMA,
    SlidingWindow,
    SumPool,
    Thresholding,
    WeightDMA,
    WidthConverter,
    lookup,
)
from compiler.ir.ops.base import EXACT_FLOAT
from compiler.ir.ops.xnor_popcount_matmul import pack_bits, popcount_dot


def _swu(k: SlidingWindow, ins: list[np.ndarray]) -> np.ndarray:
    (x,) = ins
    g = k.geometry
    if g.sign_input:
        x = np.where(x >= 0, 1, -1).astype(np.int8)
    addr = k.window_addresses().ravel()
    pad = 0 if g.ternary else g.pad_value
    taken = np.take(x, np.maximum(addr, 0), axis=1)  # C order (fancy indexing gives Fortran order)
    return np.ascontiguousarray(np.where(addr >= 0, taken, pad))


def _thresholds(k: Kernel, acc: np.ndarray) -> np.ndarray:
    """The threshold unit: a binary search of each channel's ascending thresholds (through a
    per-channel table of the accumulator values that occur when that table is small)."""
    t = k.consts["thresholds"].astype(np.int64)
    d = k.consts["direction"].astype(np.int64)
    lo, hi = int(acc.min(initial=0)), int(acc.max(initial=0))
    if (hi - lo + 1) * acc.shape[1] <= 1 << 24:
        values = np.arange(lo, hi + 1, dtype=np.int64)
        table = np.stack([np.searchsorted(t[c], values * d[c], side="right") for c in range(acc.shape[1])])
        return table[np.arange(acc.shape[1]), acc - lo] * k.geometry.step + k.geometry.qmin
    out = np.empty(acc.shape, dtype=np.int64)
    for c in range(acc.shape[1]):
        out[:, c] = np.searchsorted(t[c], acc[:, c] * d[c], side="right")
    return out * k.geometry.step + k.geometry.qmin


def _weight_words(k: WeightDMA, frames: int) -> np.ndarray:
    """A weight DMA's stream, each word as the index of the tile it holds (frames, pixels x
    tiles): the unit computes with its own weights, which the DMA only moves (the backends'
    C-simulation moves the words themselves)."""
    g = k.geometry
    return np.tile(np.arange(g.tiles), (frames, g.pixels))


def _mvu(k: MatrixVector, ins: list[np.ndarray]) -> np.ndarray:
    """Accumulators over all MW inputs (the sum of the synapse folds' partial sums: the fold order
    changes the timing, which sim/schedule.py models, not the integers), then thresholds or bias.
    Its weights from DRAM (a second input) are its own: the values do not change."""
    x = ins[0]
    g = k.geometry
    frames = len(x)
    rows = x.reshape(frames * g.pixels, g.mw)
    w = k.consts["weights"]
    if g.binary:
        zeros = rows == 0
        valid = pack_bits(~zeros) if zeros.any() else None
        acc = popcount_dot(pack_bits(rows > 0), valid, pack_bits(w > 0), g.mw)
    else:
        bound = int(np.abs(rows).max(initial=0)) * int(np.abs(w).max(initial=0)) * g.mw
        if bound < EXACT_FLOAT:
            acc = (rows.astype(np.float64) @ w.T.astype(np.float64)).astype(np.int64)
        else:
            acc = rows.astype(np.int64) @ w.T.astype(np.int64)
    fit = k.requant()
    if fit is not None:  # the multiply-add as the units compute it: (d M acc + B) >> S, clamped
        m, b = (c.reshape(-1) for c in k.requant_words())
        count = np.clip((m * acc + b) >> fit.shift, 0, fit.steps)
        out = count * g.step + g.qmin
    elif "thresholds" in k.consts:
        out = _thresholds(k, acc)
    else:
        out = acc + k.consts.get("bias", np.zeros(g.mh, dtype=np.int64)).astype(np.int64)
    return out.reshape(frames, -1)


def _pool_window(k: MaxPool | SumPool, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = k.geometry.ifm[2]
    kh, kw = k.geometry.kernel
    addr = k.window_addresses().reshape(-1, kh * kw, c)
    return addr, np.take(x, np.maximum(addr, 0), axis=1)  # (frames, pixels, taps, C)


def _max_pool(k: MaxPool, ins: list[np.ndarray]) -> np.ndarray:
    addr, window = _pool_window(k, ins[0])
    window = np.where(addr >= 0, window, np.iinfo(np.int64).min)
    return window.max(axis=2).reshape(len(ins[0]), -1)


def _sum_pool(k: SumPool, ins: list[np.ndarray]) -> np.ndarray:
    addr, window = _pool_window(k, ins[0])
    return np.where(addr >= 0, window, 0).sum(axis=2).reshape(len(ins[0]), -1)


def _add(k: Add, ins: list[np.ndarray]) -> np.ndarray:
    total = ins[0].astype(np.int64) + ins[1]
    return np.clip(total, k.geometry.qmin, k.geometry.qmax).astype(np.int16)


def _global_sum_pool(k: GlobalSumPool, ins: list[np.ndarray]) -> np.ndarray:
    return ins[0].reshape(len(ins[0]), -1, k.geometry.ifm[2]).sum(axis=1)


def _thresholding(k: Thresholding, ins: list[np.ndarray]) -> np.ndarray:
    c = k.channels()
    x = ins[0].reshape(-1, c)
    return _thresholds(k, x).reshape(len(ins[0]), -1)


def _same(k: Kernel, ins: list[np.ndarray]) -> np.ndarray:
    return ins[0]


# kernel class -> its values: f(kernel, input values) -> the value of every output stream
VALUES = {
    SlidingWindow: _swu,
    MatrixVector: _mvu,
    Add: _add,
    Fork: _same,
    WidthConverter: _same,
    MaxPool: _max_pool,
    SumPool: _sum_pool,
    GlobalSumPool: _global_sum_pool,
    Thresholding: _thresholding,
    OutputDMA: _same,
}


def run_functional(df: Dataflow, pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Every stream's values for `pixels` (frames, H, W, C) integers on the input grid; the
    output DMA's under "output"."""
    values: dict[str, np.ndarray] = {}
    for k in df.order():
        if isinstance(k, InputDMA):
            out = pixels.reshape(len(pixels), -1).astype(np.int64)
        elif isinstance(k, WeightDMA):
            out = _weight_words(k, len(pixels))
        else:
            out = lookup(VALUES, k, "functional model")(k, [values[s] for s in k.inputs])
        if isinstance(k, OutputDMA):
            values["output"] = out
        for s in k.outputs:
            values[s] = out
    return values
