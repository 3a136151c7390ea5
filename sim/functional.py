"""The values the dataflow design computes, kernel by kernel, on its streams.

Each kernel is modelled the way the hardware computes: the sliding-window units generate
addresses into their input (padding and the Bi-Real sign applied on the way), the matrix-vector
units accumulate SIMD-wide partial products fold by fold (bit-packed XNOR-popcount for binary
layers) and compare against their thresholds, adds saturate, pools reduce their windows. Streams
hold every frame's elements in stream order: `values[stream]` is (frames, elements) int64.
"""

from __future__ import annotations

import numpy as np

from compiler.hw.dataflow import Dataflow, Kernel, window_of
from compiler.ir.ops.base import EXACT_FLOAT
from compiler.ir.ops.xnor_popcount_matmul import pack_bits, popcount_dot


def topological(df: Dataflow) -> list[Kernel]:
    done: set[str] = set()
    order: list[Kernel] = []
    pending = list(df.order())
    while pending:
        rest = []
        for k in pending:
            if all(df.streams[s].producer in done for s in k.inputs):
                order.append(k)
                done.add(k.name)
            else:
                rest.append(k)
        if len(rest) == len(pending):
            raise ValueError("the dataflow graph has a cycle")
        pending = rest
    return order


def window_addresses(k: Kernel) -> np.ndarray:
    """Input element index of every window element, -1 for a padded tap: shape (OH*OW, kh*kw*C)
    in (ky, kx, c) order."""
    ih, iw, c, oh, ow, kh, kw, sy, sx, top, left = window_of(k)
    iy = (np.arange(oh) * sy - top)[:, None, None, None] + np.arange(kh)[None, None, :, None]
    ix = (np.arange(ow) * sx - left)[None, :, None, None] + np.arange(kw)[None, None, None, :]
    iy, ix = np.broadcast_arrays(iy, ix)  # (oh, ow, kh, kw)
    inside = (iy >= 0) & (iy < ih) & (ix >= 0) & (ix < iw)
    pixel = np.where(inside, iy * iw + ix, -1)
    addr = np.where(pixel[..., None] >= 0, pixel[..., None] * c + np.arange(c), -1)
    return addr.reshape(oh * ow, kh * kw * c)


def _swu(k: Kernel, x: np.ndarray) -> np.ndarray:
    g = k.geometry
    if g["sign_input"]:
        x = np.where(x >= 0, 1, -1).astype(np.int8)
    addr = window_addresses(k).ravel()
    pad = 0 if g["ternary"] else g["pad_value"]
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
        return table[np.arange(acc.shape[1]), acc - lo] + k.geometry["qmin"]
    out = np.empty(acc.shape, dtype=np.int64)
    for c in range(acc.shape[1]):
        out[:, c] = np.searchsorted(t[c], acc[:, c] * d[c], side="right")
    return out + k.geometry["qmin"]


def _mvu(k: Kernel, x: np.ndarray) -> np.ndarray:
    """Accumulators over all MW inputs (the sum of the synapse folds' partial sums: the fold order
    changes the timing, which sim/schedule.py models, not the integers), then thresholds or bias."""
    g = k.geometry
    frames = len(x)
    rows = x.reshape(frames * g["pixels"], g["mw"])
    w = k.consts["weights"]
    if g["binary"]:
        zeros = rows == 0
        valid = pack_bits(~zeros) if zeros.any() else None
        acc = popcount_dot(pack_bits(rows > 0), valid, pack_bits(w > 0), g["mw"])
    else:
        bound = int(np.abs(rows).max(initial=0)) * int(np.abs(w).max(initial=0)) * g["mw"]
        if bound < EXACT_FLOAT:
            acc = (rows.astype(np.float64) @ w.T.astype(np.float64)).astype(np.int64)
        else:
            acc = rows.astype(np.int64) @ w.T.astype(np.int64)
    if "thresholds" in k.consts:
        out = _thresholds(k, acc)
    else:
        out = acc + k.consts.get("bias", np.zeros(g["mh"], dtype=np.int64)).astype(np.int64)
    return out.reshape(frames, -1)


def _pool(k: Kernel, x: np.ndarray) -> np.ndarray:
    g = k.geometry
    c = g["ifm"][2]
    kh, kw = g["kernel"]
    addr = window_addresses(k).reshape(-1, kh * kw, c)
    window = np.take(x, np.maximum(addr, 0), axis=1)  # (frames, pixels, taps, C)
    if k.kind == "max_pool":
        window = np.where(addr >= 0, window, np.iinfo(np.int64).min)
        return window.max(axis=2).reshape(len(x), -1)
    return np.where(addr >= 0, window, 0).sum(axis=2).reshape(len(x), -1)


def run_functional(df: Dataflow, pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Every stream's values for `pixels` (frames, H, W, C) integers on the input grid."""
    values: dict[str, np.ndarray] = {}
    for k in topological(df):
        ins = [values[s] for s in k.inputs]
        if k.kind == "input_dma":
            outs = [pixels.reshape(len(pixels), -1).astype(np.int64)]
        elif k.kind == "swu":
            outs = [_swu(k, ins[0])]
        elif k.kind == "mvu":
            outs = [_mvu(k, ins[0])]
        elif k.kind == "add":
            total = ins[0].astype(np.int64) + ins[1]
            outs = [np.clip(total, k.geometry["qmin"], k.geometry["qmax"]).astype(np.int16)]
        elif k.kind in ("fork", "dwc"):
            outs = [ins[0]] * len(k.outputs)
        elif k.kind in ("max_pool", "sum_pool"):
            outs = [_pool(k, ins[0])]
        elif k.kind == "global_sum_pool":
            c = k.geometry["ifm"][2]
            outs = [ins[0].reshape(len(ins[0]), -1, c).sum(axis=1)]
        elif k.kind == "output_dma":
            values["output"] = ins[0]
            outs = []
        else:
            raise ValueError(f"no functional model for {k.kind}")
        for s, v in zip(k.outputs, outs, strict=True):
            values[s] = v
    return values
