"""Bit layouts of the CPU target and its plain TE kernels (ops that are not fused: standalone
thresholds, adds, pools), with the loop order they get for the host.

Layouts (NHWC like the IR):
  packed activations  (N, H, W, ceil(C/64)) uint64, bit c % 64 of word c // 64 = 1 for x >= 0
                      (the Bi-Real sign); unused bits 0. In the network they carry a zero halo
                      for the consumer convs' padding (fused.py).
  packed weights      (KH, KW, ceil(C/64), O) uint64, bit = 1 for +1; unused bits 0 (output
                      channels innermost: the inner loop runs over them, contiguous)
"""

from __future__ import annotations

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


PARALLEL_CHUNK = 128  # outputs per task of a kernel whose outer loops have nothing to split


def schedule(func):
    """Loops for the host: in every reduction block the spatial output-channel loop moves
    innermost (contiguous weights and outputs, which LLVM vectorizes), reductions around it; the
    outer spatial loops (all but the innermost, fused) run in parallel over the cores."""
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
        if len(spatial) < 2:
            continue
        outer, last = spatial[:-1], spatial[-1]
        extents = [int(sch.get(lp).extent) for lp in spatial]
        if int(np.prod(extents[:-1])) == 1 and extents[-1] >= 128:  # e.g. an FC at batch 1:
            chunk, last = sch.split(last, [None, PARALLEL_CHUNK])  # split its outputs instead
            outer = [*outer, chunk]
        if reduce:
            sch.reorder(*outer, *reduce, last)
        sch.parallel(sch.fuse(*outer) if len(outer) > 1 else outer[0])
    return sch.mod["main"]


def build(tensors, target, name: str = "main"):
    """Compile TE tensors (inputs..., output) into a callable TVM module."""
    import tvm
    from tvm import te

    func = te.create_prim_func(list(tensors)).with_attr("global_symbol", name)
    return tvm.compile(tvm.IRModule({name: func}), target=target)
