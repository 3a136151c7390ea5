"""TVM TE kernels of the CPU target (issue 6, first part): bit-packing, the binary convolution as
XOR-popcount on channel-packed 64-bit words with exact borders, and the threshold unit.

Layouts (NHWC like the IR):
  packed activations  (N, H, W, ceil(C/64)) uint64, bit c % 64 of word c // 64 = 1 for x >= 0
                      (the Bi-Real sign); unused bits 0
  packed weights      (KH, KW, ceil(C/64), O) uint64, bit = 1 for +1; unused bits 0 (output
                      channels innermost: the inner loop runs over them, contiguous)
A binary conv's accumulator at an output pixel is, over the taps inside the map,
    sum (C - 2 * popcount(x ^ w))
plus, for padding with +-1, pad * (sum of the weights of the taps outside the map); zero padding
adds nothing (a padded tap is 0), exactly as the IR's `conv` on bipolar inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WORD = 64


def words(c: int) -> int:
    return -(-c // WORD)


def pack_signs(x: np.ndarray) -> np.ndarray:
    """(..., C) integers -> (..., ceil(C/64)) uint64 sign bits (x >= 0 -> 1)."""
    c = x.shape[-1]
    bits = np.zeros((*x.shape[:-1], words(c) * WORD), dtype=bool)
    bits[..., :c] = x >= 0
    return np.ascontiguousarray(np.packbits(bits, axis=-1, bitorder="little")).view("<u8")


@dataclass(frozen=True)
class ConvShape:
    n: int
    h: int
    w: int
    c: int
    o: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, left, bottom, right
    pad_value: int = 0

    @property
    def out_hw(self) -> tuple[int, int]:
        kh, kw = self.kernel
        t, left, b, r = self.pads
        return (self.h + t + b - kh) // self.stride[0] + 1, (self.w + left + r - kw) // self.stride[1] + 1


def binary_conv(s: ConvShape):
    """TE tensors (xp, wp, wsum, acc): acc (N, OH, OW, O) int32 from packed inputs and weights;
    wsum (O, KH, KW) int32 holds each tap's weight sum (used only with +-1 padding)."""
    from tvm import te, tirx

    kh, kw = s.kernel
    oh, ow = s.out_hw
    wd = words(s.c)
    xp = te.placeholder((s.n, s.h, s.w, wd), "uint64", name="xp")
    wp = te.placeholder((kh, kw, wd, s.o), "uint64", name="wp")
    wsum = te.placeholder((s.o, kh, kw), "int32", name="wsum")
    ry, rx, rk = te.reduce_axis((0, kh), "ky"), te.reduce_axis((0, kw), "kx"), te.reduce_axis((0, wd), "k")

    def inside(y, x):
        return tirx.all(y >= 0, y < s.h, x >= 0, x < s.w)

    def clamp(v, hi):
        return tirx.max(tirx.min(v, hi - 1), 0)

    def iy(oy, ky):
        return oy * s.stride[0] - s.pads[0] + ky

    def ix(ox, kx):
        return ox * s.stride[1] - s.pads[1] + kx

    mism = te.compute(
        (s.n, oh, ow, s.o),
        lambda n, oy, ox, o: te.sum(
            tirx.if_then_else(
                inside(iy(oy, ry), ix(ox, rx)),
                tirx.popcount(
                    xp[n, clamp(iy(oy, ry), s.h), clamp(ix(ox, rx), s.w), rk] ^ wp[ry, rx, rk, o]
                ).astype("int32"),
                0,
            ),
            axis=[ry, rx, rk],
        ),
        name="mismatches",
    )
    ty, tx = te.reduce_axis((0, kh), "ty"), te.reduce_axis((0, kw), "tx")
    taps = te.compute(
        (oh, ow),
        lambda oy, ox: te.sum(tirx.if_then_else(inside(iy(oy, ty), ix(ox, tx)), 1, 0), axis=[ty, tx]),
        name="taps_inside",
    )
    if s.pad_value:
        py, px = te.reduce_axis((0, kh), "py"), te.reduce_axis((0, kw), "px")
        outside = te.compute(
            (oh, ow, s.o),
            lambda oy, ox, o: te.sum(
                tirx.if_then_else(inside(iy(oy, py), ix(ox, px)), 0, wsum[o, py, px]), axis=[py, px]
            ),
            name="outside",
        )
        acc = te.compute(
            (s.n, oh, ow, s.o),
            lambda n, oy, ox, o: (
                taps[oy, ox] * s.c - 2 * mism[n, oy, ox, o] + s.pad_value * outside[oy, ox, o]
            ),
            name="acc",
        )
    else:
        acc = te.compute(
            (s.n, oh, ow, s.o), lambda n, oy, ox, o: taps[oy, ox] * s.c - 2 * mism[n, oy, ox, o], name="acc"
        )
    return xp, wp, wsum, acc


LINEAR_STEPS = 32  # up to this many thresholds per channel: count them all (one vectorized pass)


def threshold_table(t: np.ndarray, bound: int) -> tuple[np.ndarray, int]:
    """The constant the threshold kernel takes and its `levels` (0: linear count): with few
    thresholds, (steps, channels) as they are; otherwise each channel's thresholds padded to
    2**levels - 1 with a value above `bound`, (channels, 2**levels - 1), for a binary search."""
    steps = t.shape[1]
    if steps <= LINEAR_STEPS:
        return np.ascontiguousarray(t.T.astype(np.int64)), 0
    levels = max(1, int(np.ceil(np.log2(steps + 1))))
    full = np.full((t.shape[0], 2**levels - 1), bound + 1, dtype=np.int64)
    full[:, :steps] = t
    return full, levels


def thresholds(
    shape: tuple[int, ...], channels: int, steps: int, levels: int, qmin: int, acc_dtype: str = "int32"
):
    """TE tensors (acc, t, d, out): out = qmin + count of thresholds <= d * acc. With levels == 0
    every threshold is compared (t is (steps, channels)); otherwise a binary search in `levels`
    stages over 2**levels - 1 padded thresholds per channel (t is (channels, 2**levels - 1); one
    stage per step, as one expression would grow exponentially with the steps)."""
    from tvm import te, tirx

    acc = te.placeholder(shape, acc_dtype, name="acc")
    d = te.placeholder((channels,), "int64", name="d")
    if levels == 0:
        t = te.placeholder((steps, channels), "int64", name="t")
        rs = te.reduce_axis((0, steps), "s")
        count = te.compute(
            shape,
            lambda *i: te.sum(
                tirx.if_then_else(t[rs, i[-1]] <= acc[i].astype("int64") * d[i[-1]], 1, 0), axis=rs
            ),
            name="count",
        )
        out = te.compute(shape, lambda *i: count[i] + qmin, name="thresholded")
        return acc, t, d, out
    t = te.placeholder((channels, 2**levels - 1), "int64", name="t")
    value = te.compute(shape, lambda *i: acc[i].astype("int64") * d[i[-1]], name="signed_acc")
    count = te.compute(shape, lambda *i: tirx.const(0, "int32"), name="count0")

    def stage(prev, step):
        def f(*i):
            probe = t[i[-1], prev[i] + step - 1]
            return prev[i] + tirx.if_then_else(probe <= value[i], step, 0)

        return f

    for level in reversed(range(levels)):
        count = te.compute(shape, stage(count, 1 << level), name=f"count{levels - level}")
    out = te.compute(shape, lambda *i: count[i] + qmin, name="thresholded")
    return acc, t, d, out


def pack_weights(w: np.ndarray) -> np.ndarray:
    """(O, KH, KW, C) +-1 weights -> (KH, KW, ceil(C/64), O) packed words."""
    return np.ascontiguousarray(pack_signs(w).transpose(1, 2, 3, 0))


def schedule(func):
    """Loop order for the host: in every reduction block the spatial output-channel loop moves
    innermost (contiguous weights and outputs, which LLVM vectorizes), reductions around it."""
    import tvm
    from tvm import s_tir

    sch = s_tir.Schedule(tvm.IRModule({"main": func}))
    for block in sch.get_child_blocks(sch.get_sblock("root")):
        kinds = [int(iv.iter_type) for iv in sch.get(block).iter_vars]
        loops = sch.get_loops(block)
        if len(loops) != len(kinds):
            continue
        spatial = [lp for lp, k in zip(loops, kinds, strict=True) if k == 0]
        reduce = [lp for lp, k in zip(loops, kinds, strict=True) if k != 0]
        if len(spatial) >= 2 and reduce:
            sch.reorder(*spatial[:-1], *reduce, spatial[-1])
    return sch.mod["main"]


def build(tensors, target, name: str = "main"):
    """Compile TE tensors (inputs..., output) into a callable TVM module."""
    import tvm
    from tvm import te

    func = te.create_prim_func(list(tensors)).with_attr("global_symbol", name)
    return tvm.compile(tvm.IRModule({name: func}), target=target)
