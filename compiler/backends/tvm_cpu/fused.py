"""Scheduled, fused kernels of the CPU target, written directly in TIR (TVMScript): a binary conv
with its epilogue, an integer conv with its epilogue (VNNI bytes, VNNI int16 pairs, float32 or
int32), a max pool in front of thresholds, the input quantizer, the FC and the sign packer. TE plus
schedule primitives cannot vectorize a reduction block on this TVM ("not compact dataflow"), so
the loop nests are written out: one row of outputs per parallel task, register tiles of XB pixels
x OB output channels, reductions inside. The binary conv's core loop (Harley-Seal carry-save
adders over 16 terms, pre-XORed pairs, weighted nibble counts) calls AVX-512F/BW intrinsics where
the target has them and is plain TIR otherwise (see binary_conv_kernel and docs/cpu.md).

Epilogue (after the accumulator of a tile is complete, per pixel, OB channels at a time):
  value = acc                                      the integer accumulator
  value = qmin + #{s : t[s, o] <= d[o] * value}    folded thresholds (a linear count for up to
                                                   32 steps, else a binary search in `levels`)
  value = clamp(value + res, lo, hi)               the residual add on the shared grid
  out   = value;  packed bit = value >= 0          sign and re-packing for the next binary conv

Packed maps carry a halo of zero words (bit 0 = -1) around the image, written once when the
runtime allocates the buffer and never touched by a kernel. A binary conv reads its padded taps
from it and corrects their contribution with a per-border-class table, so its inner loop has no
border test: over all taps, sum (C - 2 popcount(x ^ w)) counts a halo tap as -(sum of the tap's
weights); the declared pad value p contributes p * (that sum), so
    acc = corr[row_class, col_class, o] - 2 * mismatches,
    corr = KH*KW*C + (1 + p) * (sum over the taps outside the map of the tap's weight sum),
exactly the IR conv on bipolar inputs with its padding policy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.backends.tvm_cpu.kernels import WORD, schedule, words
from compiler.ir.affine import checkpoints, widest_slope

VALUE_LIMIT = 1 << 30  # |every int32 value| stays below this, so clipped thresholds stay exact


@dataclass(frozen=True)
class Epilogue:
    """What follows an accumulator inside the same kernel (see the module docstring)."""

    steps: int = 0  # thresholds per channel; 0: none
    levels: int = 0  # 0: linear count of the steps; else binary-search stages
    affine: str = ""  # "float32"/"float64": the count is floor(a * acc + b), a proven fit with d
    # folded into a (see affine_thresholds and threshold_operand)
    qmin: int = 0
    add: tuple[int, int] | None = None  # (lo, hi) of a saturating residual add
    pack: tuple[int, int] | None = None  # (top, left) halo offset of the packed output
    packed_hw: tuple[int, int] = (0, 0)  # packed output's padded height and width


MARGIN64 = 1e-9  # a float64 a*v + b stays this far inside its integer band at every checkpoint


def affine_thresholds(t: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray, dtype: str = "float64"):
    """Per channel (a, b) in `dtype` with clamp(floor(a * v + b), 0, steps) == #{k : t[c, k] <= v}
    for every integer v = d * acc that the accumulator's bounds [lo, hi] allow, evaluated in
    `dtype` arithmetic (fused or not), or None when some channel has no such fit.

    Checked at compiler/ir/affine.py's checkpoints, with a margin above the rounding of a*v + b
    in `dtype`: 1e-9 for float64 (values below 1e5); for float32, 2**-20 of the channel's
    magnitude |a| max|v| + |b|, eight times the worst float32 error of a product and a sum. The
    check runs on a and b as rounded to `dtype`; the slope is the one with the widest interval of
    feasible b (`widest_slope`)."""
    c, steps = t.shape
    points, counts = checkpoints(t, d, lo, hi)
    vmax = np.abs(points).max(axis=1)

    def fit(margin):
        a, b, _ = widest_slope(points, counts, steps, margin)
        return a, b

    a, b = fit(np.full(c, MARGIN64))
    magnitude = np.abs(a) * vmax + np.abs(b) + 1
    if magnitude.max(initial=0) > 1e5:
        return None
    margin = np.full(c, MARGIN64) if dtype == "float64" else 2.0**-20 * magnitude
    if dtype != "float64":
        a, b = fit(margin)
    a, b = a.astype(dtype), b.astype(dtype)  # the values the kernel will use, checked exactly
    values = a.astype(np.float64)[:, None] * points + b.astype(np.float64)[:, None]
    half = margin[:, None] / 2
    low_ok = (counts == 0) | (values >= counts + half)  # count 0 and `steps`: the clamp bounds
    high_ok = (counts == steps) | (values <= counts + 1 - half)
    if not (low_ok & high_ok).all():
        return None
    return a, b


def threshold_operand(t: np.ndarray, d: np.ndarray, lo, hi, fold_d: bool = True) -> tuple[np.ndarray, dict]:
    """The threshold table a kernel takes and the Epilogue fields that read it: (2, C) rows a and b
    (float32, else float64) when every channel has a proven affine fit, a already multiplied by
    d when `fold_d` (the kernel then takes the accumulator as it is); else (steps, C) for a linear
    count of up to 32 steps; else each channel's thresholds padded to 2**levels - 1 with a
    never-reached value, (C, 2**levels - 1), for a binary search. Integer thresholds are clipped to
    +-VALUE_LIMIT (exact: every compared value lies strictly inside)."""
    steps = t.shape[1]
    for dtype in ("float32", "float64"):
        found = affine_thresholds(t, d, lo, hi, dtype)
        if found is not None:
            a, b = found
            return np.stack([a * d.astype(dtype) if fold_d else a, b]), {"steps": steps, "affine": dtype}
    t = np.clip(t.astype(np.int64), -VALUE_LIMIT, VALUE_LIMIT).astype(np.int32)
    if steps <= 32:
        return np.ascontiguousarray(t.T), {"steps": steps}
    levels = max(1, int(np.ceil(np.log2(steps + 1))))
    full = np.full((t.shape[0], 2**levels - 1), VALUE_LIMIT, dtype=np.int32)
    full[:, :steps] = t
    return full, {"steps": steps, "levels": levels}


def threshold_shape(epi: Epilogue, channels: int) -> tuple[int, int]:
    if epi.affine:
        return (2, channels)
    if epi.levels:
        return (channels, 2**epi.levels - 1)
    return (max(epi.steps, 1), channels)


def drop_unused(func, keep: list[str], name: str):
    """`func` with only the parameters named in `keep` (the others are never read when their
    feature is off), under the global symbol `name`."""
    import tvm

    params = [p for p in func.params if p.name in keep]
    return tvm.tirx.PrimFunc(params, func.body, func.ret_type, func.attrs).with_attr("global_symbol", name)


def tile(extent: int, limit: int) -> int:
    """The largest divisor of `extent` not above `limit`."""
    return max(d for d in range(1, min(extent, limit) + 1) if extent % d == 0)


ACC_LANES_512 = 24 * 16  # accumulator lanes of an integer conv's tile: 24 of the 32 zmm registers
ACC_LANES_256 = 12 * 8  # on AVX2: 12 of the 16 ymm registers (24 spilled: the stem 3.0 ms on a Zen 4)


def int_tiles(o: int, ow: int, even: bool = False, acc_lanes: int = ACC_LANES_512) -> tuple[int, int]:
    """(OB, XB) of an integer conv: the register tile of XB pixels x OB channels with the most
    accumulators up to `acc_lanes` 32-bit lanes (24 zmm registers of 16, or 12 ymm of 8 on AVX2),
    so that FMA chains hide their latency even on 7-wide maps; XB even if `even` (ow even)."""
    best = (channel_tile(o, 64), 2 if even else 1)
    for ob in (64, 32, 16):
        if o % ob == 0:
            xb = (
                2 * tile(ow // 2, max(1, acc_lanes // 2 // ob)) if even else tile(ow, max(1, acc_lanes // ob))
            )
            if xb * ob > best[0] * best[1]:
                best = (ob, xb)
    return best


def channel_tile(o: int, lanes: int) -> int:
    """Output channels per register tile: `lanes` when it divides o, else o itself when small."""
    if o % lanes == 0:
        return lanes
    return o if o <= 2 * lanes else tile(o, lanes)


def count_macro(epi: Epilogue, ob: int):
    """The TVMScript macro turning signed values value[0:ob] (d * acc) of channels o0.. into
    qmin + the count of their thresholds <= value: all steps compared (levels == 0), or a binary
    search over the padded table, one stage per level."""
    from tvm.script import tirx as T

    steps, levels, qmin = epi.steps, epi.levels, epi.qmin
    top = (1 << levels) >> 1

    affine, AD = bool(epi.affine), epi.affine or "float64"

    @T.macro
    def count_(value, count, t, o0):
        if affine:
            for oi in T.vectorized(ob):
                count[oi] = qmin + T.max(
                    T.min(
                        T.Cast("int32", T.floor(T.Cast(AD, value[oi]) * t[0, o0 + oi] + t[1, o0 + oi])),
                        steps,
                    ),
                    0,
                )
        elif levels == 0:
            for oi in T.vectorized(ob):
                count[oi] = qmin
            for s in T.unroll(steps):
                for oi in T.vectorized(ob):
                    count[oi] = count[oi] + T.Select(t[s, o0 + oi] <= value[oi], 1, 0)
        else:
            for oi in T.vectorized(ob):
                count[oi] = 0
            for level in T.unroll(levels):
                for oi in T.vectorized(ob):
                    count[oi] = count[oi] + T.Select(
                        t[o0 + oi, count[oi] + T.shift_right(top, level) - 1] <= value[oi],
                        T.shift_right(top, level),
                        0,
                    )
            for oi in T.vectorized(ob):
                count[oi] = count[oi] + qmin
        for oi in T.vectorized(ob):
            value[oi] = count[oi]

    return count_


XB_BINARY = 1  # output pixels per register tile of a binary conv (measured best: 2 and 4 spill)
ROW_BYTES = 64 * 1024  # the largest row of binary-conv accumulators kept on a task's stack
STACK = {"disable_lower_builtin": True}  # per-task scratch on the stack: LLVM keeps it in registers
TASKS = 16  # parallel tasks wanted per kernel call (rows x channel groups), for load balance


def channel_groups(rows: int, blocks: int, chunked: bool, per_word: int) -> int:
    """Channel blocks are split into this many groups, each a task of its own beside the rows, so
    small maps (7x7) still give every core work. Only when packing goes chunk by chunk, and a
    group always holds whole 64-bit words (`per_word` blocks each): two tasks never share one."""
    if not chunked:
        return 1
    want = -(-TASKS // rows)
    return max(
        g
        for g in range(1, blocks + 1)
        if g == 1 or (blocks % g == 0 and g <= want and (blocks // g) % per_word == 0)
    )


def epilogue_macro(epi: Epilogue, ob: int, signed: bool = False):
    """The TVMScript macro applying `epi` to value[0:ob] for pixel (n, oy, ox), channels
    o0..o0+ob, writing `out` (and reading `t`, `d`, `res` as enabled); `signed`: the values are
    d * acc already (a pool's)."""
    from tvm.script import tirx as T

    lo, hi = epi.add if epi.add else (0, 0)
    count_ = count_macro(epi, ob)
    has_add, thresholded, affine = epi.add is not None, epi.steps > 0, bool(epi.affine)
    chunk_pack = epi.pack is not None and WORD % ob == 0
    LANE = "uint32" if ob <= 32 else "uint64"  # the narrowest lanes that hold ob bits
    pt, pl = epi.pack if epi.pack else (0, 0)

    def chunk_bits(value):
        """The sign bits of value[0:ob] (bit i: value[i] >= 0) as one uint64."""
        if ob == 1:  # a one-channel map: no vector to reduce
            return T.Select(value[0] >= 0, T.uint64(1), T.uint64(0))
        return T.Cast(
            "uint64",
            T.call_llvm_pure_intrin(
                LANE,
                "llvm.vector.reduce.or",
                T.Select(
                    value[T.ramp(0, 1, ob)] >= T.broadcast(0, ob),
                    T.shift_left(
                        T.broadcast(T.Cast(LANE, 1), ob), T.ramp(T.Cast(LANE, 0), T.Cast(LANE, 1), ob)
                    ),
                    T.broadcast(T.Cast(LANE, 0), ob),
                ),
            ),
        )

    @T.macro
    def apply(value, count, t, d, res, out, packed, n, oy, ox, o0):
        if thresholded:
            if not affine and not signed:  # an affine table has d folded in
                for oi in T.vectorized(ob):
                    value[oi] = value[oi] * d[o0 + oi]
            count_(value, count, t, o0)
        if has_add:
            for oi in T.vectorized(ob):
                value[oi] = T.max(T.min(value[oi] + res[n, oy, ox, o0 + oi], hi), lo)
        for oi in T.vectorized(ob):
            out[n, oy, ox, o0 + oi] = value[oi]
        if chunk_pack:  # these ob sign bits, OR-reduced into their place in the 64-bit word
            packed[n, oy + pt, ox + pl, o0 // WORD] = T.Select(
                o0 % WORD == 0, T.uint64(0), packed[n, oy + pt, ox + pl, o0 // WORD]
            ) | T.shift_left(chunk_bits(value), T.Cast("uint64", o0 % WORD))

    return apply


def pack_macro(epi: Epilogue, o_total: int):
    """The TVMScript macro packing out[n, oy, ox, :] (value >= 0 -> bit 1) into the halo'd packed
    map at the pixel's position."""
    from tvm.script import tirx as T

    pt, pl = epi.pack if epi.pack else (0, 0)
    pk = words(o_total)

    @T.macro
    def pack(word, out, packed, n, oy, ox):
        for j in range(pk):
            word[0] = T.uint64(0)
            for b in T.serial(T.min(WORD, o_total - j * WORD)):  # the last word may be partial
                word[0] = word[0] | T.Select(
                    out[n, oy, ox, j * WORD + b] >= 0,
                    T.shift_left(T.uint64(1), T.Cast("uint64", b)),
                    T.uint64(0),
                )
            packed[n, oy + pt, ox + pl, j] = word[0]

    return pack


@dataclass(frozen=True)
class EpiloguePlan:
    """What every conv kernel derives from its epilogue (conv_epilogue_plan)."""

    threshold_shape: tuple[int, int]  # the threshold table's shape
    threshold_dtype: str  # its type: int32, or the affine form's float type
    packed_h: int  # the packed output map's height and width (with its halo) and words per pixel
    packed_w: int
    packed_words: int
    apply: object  # the epilogue macro
    pack: object  # the per-pixel pack macro
    packs_per_pixel: bool  # the pack runs per pixel (ob does not divide 64), else chunk by chunk
    groups: int  # channel groups G (see channel_groups)
    blocks_per_group: int  # GB blocks of ob channels each


def conv_epilogue_plan(epi: Epilogue, o: int, ob: int, rows: int) -> EpiloguePlan:
    """The epilogue's plan for a conv kernel of `o` output channels in blocks of `ob` over `rows`
    output rows."""
    packs = epi.pack is not None and WORD % ob != 0
    g = channel_groups(rows, o // ob, not packs, WORD // ob if epi.pack else 1)
    ph, pw = epi.packed_hw
    return EpiloguePlan(
        threshold_shape(epi, o),
        epi.affine or "int32",
        ph,
        pw,
        words(o),
        epilogue_macro(epi, ob),
        pack_macro(epi, o),
        packs,
        g,
        o // ob // g,
    )


def epilogue_params(epi: Epilogue) -> list[str]:
    names = []
    if epi.steps:
        names += ["t", "d"]
    if epi.add:
        names.append("res")
    names.append("out")
    if epi.pack:
        names.append("packed")
    return names


@dataclass(frozen=True)
class BinaryConv:
    """A binary conv on a halo'd packed map (N, HP, WP, words(C)) reading from offset (y0, x0)."""

    n: int
    hp: int
    wp: int
    c: int
    o: int
    out_hw: tuple[int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    origin: tuple[int, int]  # halo offset minus the conv's own top/left padding
    classes: tuple[int, int]  # border classes of rows and columns (see correction_table)
    path: str = "portable"  # the XOR-popcount code (isa.PATHS): vpopcntdq, avx512bw, avx2, portable
    harley_seal: bool = True  # carry-save adders before the counts (else one count per term)

    @property
    def isa(self):
        from compiler.backends.tvm_cpu.isa import PATHS

        return PATHS[self.path]

    @property
    def tile(self) -> int:
        """Output channels per register tile (the path's tile_vectors vectors)."""
        return channel_tile(self.o, self.isa.tile_vectors * self.isa.lanes)


LANES = 8  # 64-bit words per vector of the binary conv's core loop (one 512-bit register)
XOR3 = 0x96  # vpternlog truth table of a ^ b ^ c
CARRY = 0xD4  # of maj(a, b, c) from a, b and s = a ^ b ^ c: a where a == b, else ~s


def carry_save(ternlog: bool):
    """(sum3, carry) on 8-lane uint64 vectors: sum3(a, b, c) = a ^ b ^ c and carry(a, b, s), the
    majority of a, b, c taken from a, b and their sum s = a ^ b ^ c (a where a == b, else ~s).
    With vpternlogq each is one instruction, and each result can overwrite an input that dies
    there (c, then b), so no register copy is needed (a majority of a, b, c kept all three
    alive, and LLVM split it written with & and | into two instructions). The sum form also
    lets a carry-save of two fresh terms take their sum from a pre-XORed pair (see
    binary_conv_kernel)."""
    from tvm.script import tirx as T

    def ternary(table, a, b, c):
        return T.call_llvm_pure_intrin("uint64x8", "llvm.x86.avx512.pternlog.q.512", a, b, c, T.int32(table))

    def sum3(a, b, c):
        return ternary(XOR3, a, b, c) if ternlog else a ^ b ^ c

    def carry(a, b, s):
        return ternary(CARRY, a, b, s) if ternlog else (a & b) | ((a ^ b) & ~s)

    return sum3, carry


def nibble_lut(weight: int):
    """The 64-byte vpshufb table weight * popcount(nibble), the same 16 bytes in each lane."""
    from tvm.script import tirx as T

    table = [weight * bin(i).count("1") for i in range(16)]
    lo, hi = (sum(b << (8 * i) for i, b in enumerate(table[h : h + 8])) for h in (0, 8))
    parity = T.ramp(0, 1, LANES) % 2 == T.broadcast(0, LANES)
    words = T.Select(parity, T.broadcast(T.uint64(lo), LANES), T.broadcast(T.uint64(hi), LANES))
    return T.reinterpret("int8x64", words)


def byte_counts(word, weight: int = 1):
    """weight * popcount of each byte of an 8-lane uint64 vector, as int8x64 (AVX-512BW vpshufb
    nibble lookups)."""
    from tvm.script import tirx as T

    nibbles = T.broadcast(T.uint64(0x0F0F0F0F0F0F0F0F), LANES)
    lut = nibble_lut(weight)
    counts = [
        T.call_llvm_pure_intrin("int8x64", "llvm.x86.avx512.pshuf.b.512", lut, T.reinterpret("int8x64", part))
        for part in (word & nibbles, T.shift_right(word, T.broadcast(T.uint64(4), LANES)) & nibbles)
    ]
    return counts[0] + counts[1]


def lane_sums(counts):
    """The 8 bytes of each 64-bit lane of int8x64 byte counts added (vpsadbw), as uint64x8."""
    from tvm.script import tirx as T

    sad = T.call_llvm_pure_intrin(
        "int64x8", "llvm.x86.avx512.psad.bw.512", counts, T.broadcast(T.int8(0), 64)
    )
    return T.reinterpret("uint64x8", sad)


def weighted_popcount(terms: list) -> object:
    """sum of weight * popcount(word) over (8-lane uint64 word vector, weight) terms, per lane, on
    AVX-512BW: nibble lookups scaled by the weight (vpshufb), added byte by byte, then one vpsadbw
    per lane, where a popcount each would end in its own vpsadbw, shift and add. Every byte's
    weighted count stays below 256 (8 bits times a weight sum of at most 31)."""
    assert sum(w for _, w in terms) <= 31, terms
    counts = [byte_counts(word, weight) for word, weight in terms]
    return lane_sums(sum(counts[1:], counts[0]))


def binary_weights(wp: np.ndarray, ob: int) -> tuple[np.ndarray, np.ndarray]:
    """Packed weights (KH, KW, K, O) as the binary conv kernel reads them, tile by tile so that
    each register tile's words are one contiguous run (the hardware prefetcher streams it in,
    where rows of O words put each term of a tile on its own page): (O / OB, TERMS, OB) words
    and (O / OB, TERMS // 2, OB) pair words w[2p] ^ w[2p + 1] (terms flattened (ky, kx, k)),
    which with the pixel's x[2p] ^ x[2p + 1] give a pair's XOR sum in one step. `ob`: the
    kernel's channel tile (`BinaryConv.tile`)."""
    o = wp.shape[-1]
    flat = wp.reshape(-1, o // ob, ob).transpose(1, 0, 2)  # (tiles, TERMS, OB)
    pairs = flat.shape[1] // 2
    if pairs == 0:
        pair = np.zeros((o // ob, 1, ob), dtype=np.uint64)
    else:
        pair = flat[:, 0 : 2 * pairs : 2] ^ flat[:, 1 : 2 * pairs : 2]
    return np.ascontiguousarray(flat), np.ascontiguousarray(pair)


def binary_conv_kernel(s: BinaryConv, epi: Epilogue, name: str):
    """PrimFunc (xp, wp, wq, corr, rows, cols, [t, d], [res], out, [packed]); wp, wq from
    binary_weights.

    The terms' carry-save adders (see csa) each take a pair of fresh terms b = x[j] ^ w[j] and
    c = x[j+1] ^ w[j+1] into `ones`. Their sum ones ^ b ^ c = ones ^ (x[j] ^ x[j+1]) ^ (w[j] ^
    w[j+1]) comes from the pixel's pre-XORed pair (xq, once per pixel for all its output
    channels) and the pair's weight word (wq), so c is never formed: 3 instructions per pair
    instead of 4."""
    from tvm.script import tirx as T

    N, K, O = s.n, words(s.c), s.o  # noqa: E741
    OH, OW = s.out_hw
    KH, KW = s.kernel
    SY, SX = s.stride
    Y0, X0 = s.origin
    R, CC = s.classes
    OB = s.tile
    XB = tile(OW, max(1, XB_BINARY * 16 // OB))
    plan = conv_epilogue_plan(epi, O, OB, N * OH)
    TS, TD, PH, PW, PK = (
        plan.threshold_shape,
        plan.threshold_dtype,
        plan.packed_h,
        plan.packed_w,
        plan.packed_words,
    )
    pack, packs, G, GB = (
        plan.pack,
        plan.packs_per_pixel,
        plan.groups,
        plan.blocks_per_group,
    )  # the binary conv widens its own epilogue
    EB = WORD if (GB * OB) % WORD == 0 else OB  # epilogue lanes
    apply_wide = epilogue_macro(epi, EB)
    TERMS = KH * KW * K  # XOR words summed per output: (ky, kx, k) flattened
    HS = s.harley_seal
    GROUPS16, HALF = (TERMS // 16, TERMS % 16 // 8) if HS else (0, 0)  # 16-term groups, then 8 or none
    V = s.isa.lanes if OB % s.isa.lanes == 0 else OB  # lanes per vector
    NV = OB // V  # vectors per register tile
    PAIRS = max(1, TERMS // 2)
    # the rolled 16-term loop reads its x words from a per-row table xt[ox, term] (filled once per
    # task for all its channel blocks): linear addresses, where the map's (ky, kx, k) of a
    # running term index cost divisions in the loop
    XT = GROUPS16 >= 2 or (not HS and TERMS >= 32)
    # the task's row of accumulators on its stack (L1) where it fits, not in `out`: the epilogue
    # reads it back right after, and `out` is then written once (bireal18: 14 KiB per row)
    ROW = OW * GB * OB * 4 <= ROW_BYTES
    LUT = s.isa.nibbles and V == LANES  # AVX-512BW: weighted vpshufb nibble lookups
    assert HS or not LUT, "weighted nibble counts need the carry-saves (at most 31 weights per count)"
    sum3, carry = carry_save(s.isa.ternlog and V == LANES)  # AVX-512F: vpternlogq
    BYTES16 = LUT and GROUPS16 <= 31  # the loop's weight-16 counts kept per byte (<= 8 each time)

    def lanes(v):
        return T.ramp(v * V, 1, V) if V > 1 else v  # a one-channel conv has scalar "vectors"

    def bcast(value):
        return T.broadcast(value, V) if V > 1 else value

    def xterm(xp, j, n, oy, ox):
        """x[j] of flattened term j (ky, kx, k) for output pixel (oy, ox)."""
        ky, kx, k = j // (KW * K), j // K % KW, j % K
        return xp[n, oy * SY + Y0 + ky, ox * SX + X0 + kx, k]

    def xword(xp, xt, j, n, oy, ox):
        """x[j] for output pixel ox of row oy, from the task's row table xt when it has one (XT)."""
        return xt[ox, j] if XT else xterm(xp, j, n, oy, ox)

    def tw(xp, xt, wf, j, xi, v, n, oy, xo, oo):
        """x ^ w of flattened term j for vector v of the tile (wf: the tiled weights)."""
        return bcast(xword(xp, xt, j, n, oy, xo * XB + xi)) ^ wf[oo, j, lanes(v)]

    @T.macro
    def csa(hi, lo, xi, v, b, c):
        """Carry-save add of b and c into lo: hi gets the carries (majority), lo the sum bits."""
        hi[xi, lanes(v)] = carry(lo[xi, lanes(v)], b, sum3(lo[xi, lanes(v)], b, c))
        lo[xi, lanes(v)] = sum3(lo[xi, lanes(v)], b, c)

    @T.macro
    def csa_pair(xp, xt, wp, wq, xq, hi, lo, j, xi, v, n, oy, xo, oo):
        """csa of the terms j, j + 1 (j even) into lo, the sum from the pre-XORed pair."""
        sp = T.meta_var(
            sum3(
                lo[xi, lanes(v)],
                bcast(xq[xo * XB + xi, j // 2]),
                wq[oo, j // 2, lanes(v)],
            )
        )
        hi[xi, lanes(v)] = carry(lo[xi, lanes(v)], tw(xp, xt, wp, j, xi, v, n, oy, xo, oo), sp)
        lo[xi, lanes(v)] = sp

    def tail_count(xp, xt, wp, words, xi, v, n, oy, xo, oo):
        """The weighted count of the words left after the 16-term loop: eights, fours, twos,
        ones, the last octet's weight-8 word, and the terms after it."""
        ones, twos, fours, eights, ea = words
        terms = [(fours[xi, lanes(v)], 4), (twos[xi, lanes(v)], 2), (ones[xi, lanes(v)], 1)]
        if GROUPS16 > 0:  # else eights stayed 0
            terms.append((eights[xi, lanes(v)], 8))
        if HALF == 1:
            terms.append((ea[xi, lanes(v)], 8))
        for j in range(GROUPS16 * 16 + HALF * 8, TERMS):
            terms.append((tw(xp, xt, wp, j, xi, v, n, oy, xo, oo), 1))
        return weighted_popcount(terms)

    @T.macro
    def octet(xp, xt, wp, wq, xq, words8, dst, j0, xi, n, oy, xo, oo):
        """Terms j0..j0+7 carry-save added into ones/twos/fours; dst gets their weight-8 word.
        Both vectors of the tile at each step: they share the term's broadcast x word.
        words8 = the scratch words (ones, twos, fours, ta, tb, fa, fb)."""
        ones, twos, fours, ta, tb, fa, fb = words8
        for p in T.unroll(2):
            for v in T.unroll(NV):
                csa_pair(xp, xt, wp, wq, xq, ta, ones, j0 + 4 * p, xi, v, n, oy, xo, oo)
            for v in T.unroll(NV):
                csa_pair(xp, xt, wp, wq, xq, tb, ones, j0 + 4 * p + 2, xi, v, n, oy, xo, oo)
            for v in T.unroll(NV):
                if p == 0:
                    csa(fa, twos, xi, v, ta[xi, lanes(v)], tb[xi, lanes(v)])
                else:
                    csa(fb, twos, xi, v, ta[xi, lanes(v)], tb[xi, lanes(v)])
        for v in T.unroll(NV):
            csa(dst, fours, xi, v, fa[xi, lanes(v)], fb[xi, lanes(v)])

    @T.prim_func
    def f(
        xp: T.Buffer((N, s.hp, s.wp, K), "uint64"),
        wp: T.Buffer((O // OB, TERMS, OB), "uint64"),
        wq: T.Buffer((O // OB, PAIRS, OB), "uint64"),
        corr: T.Buffer((R, CC, O), "int32"),
        rows: T.Buffer((OH,), "int32"),
        cols: T.Buffer((OW,), "int32"),
        t: T.Buffer(TS, TD),
        d: T.Buffer((O,), "int32"),
        res: T.Buffer((N, OH, OW, O), "int32"),
        out: T.Buffer((N, OH, OW, O), "int32"),
        packed: T.Buffer((N, PH, PW, PK), "uint64"),
    ):
        for task in T.parallel(N * OH * G):
            ones = T.alloc_buffer((XB, OB), "uint64", scope="local", annotations=STACK)
            twos = T.alloc_buffer((XB, OB), "uint64", scope="local", annotations=STACK)
            fours = T.alloc_buffer((XB, OB), "uint64", scope="local", annotations=STACK)
            total = T.alloc_buffer((XB, OB), "uint64", scope="local", annotations=STACK)
            ta = T.alloc_buffer((XB, OB), "uint64", scope="local", annotations=STACK)
            tb = T.alloc_buffer((XB, OB), "uint64", scope="local", annotations=STACK)
            fa = T.alloc_buffer((XB, OB), "uint64", scope="local", annotations=STACK)
            fb = T.alloc_buffer((XB, OB), "uint64", scope="local", annotations=STACK)
            eights = T.alloc_buffer((XB, OB), "uint64", scope="local", annotations=STACK)
            ea = T.alloc_buffer((XB, OB), "uint64", scope="local", annotations=STACK)
            eb = T.alloc_buffer((XB, OB), "uint64", scope="local", annotations=STACK)
            sixteens = T.alloc_buffer((XB, OB), "uint64", scope="local", annotations=STACK)
            xq = T.alloc_buffer((OW, PAIRS), "uint64", scope="local", annotations=STACK)
            xt = T.alloc_buffer((OW, TERMS) if XT else (1, 1), "uint64", scope="local", annotations=STACK)
            words8 = T.meta_var((ones, twos, fours, ta, tb, fa, fb))
            tail_words = T.meta_var((ones, twos, fours, eights, ea))
            row = T.alloc_buffer((OW, GB * OB) if ROW else (1, 1), "int32", scope="local", annotations=STACK)
            wide = T.alloc_buffer((EB,), "int32", scope="local", annotations=STACK)
            wide_count = T.alloc_buffer((EB,), "int32", scope="local", annotations=STACK)
            word = T.alloc_buffer((1,), "uint64", scope="local", annotations=STACK)
            n = T.meta_var(task // G // OH)
            oy = T.meta_var(task // G % OH)
            # the row's pre-XORed term pairs x[2p] ^ x[2p + 1], shared by all its channel blocks
            if XT:
                for ox, ky, kx, k in T.grid(OW, KH, KW, K):
                    xt[ox, (ky * KW + kx) * K + k] = xp[n, oy * SY + Y0 + ky, ox * SX + X0 + kx, k]
            if TERMS >= 2:
                for ox, p in T.grid(OW, PAIRS):
                    xq[ox, p] = xword(xp, xt, 2 * p, n, oy, ox) ^ xword(xp, xt, 2 * p + 1, n, oy, ox)
            else:  # one term (a 1x1 conv over <= 64 channels): no pairs; written so that the
                # buffer keeps a region (one only read in a zero-trip loop is compacted to size 0)
                for ox in T.serial(OW):
                    xq[ox, 0] = xword(xp, xt, 0, n, oy, ox)
            # channel blocks outside, pixels inside: a block's weights stay in L1 along the row
            for ob in range(GB):
                for xo in range(OW // XB):
                    oo = T.meta_var(task % G * GB + ob)
                    for xi in T.unroll(XB):
                        for oi in T.vectorized(OB):
                            ones[xi, oi] = T.uint64(0)
                            twos[xi, oi] = T.uint64(0)
                            fours[xi, oi] = T.uint64(0)
                            eights[xi, oi] = T.uint64(0)
                            total[xi, oi] = T.uint64(0)
                    # Harley-Seal: carry-save adders fold 16 XOR words into the ones/twos/fours/
                    # eights words and one word of weight 16, so one popcount serves 16 terms.
                    # A rolled loop: its ~1 KB body stays in the decoded-uop cache, where fully
                    # unrolled terms (6 KB at 512 channels) were bound by instruction decode
                    for g in T.serial(GROUPS16):
                        for xi in T.unroll(XB):
                            octet(xp, xt, wp, wq, xq, words8, ea, 16 * g, xi, n, oy, xo, oo)
                            octet(xp, xt, wp, wq, xq, words8, eb, 16 * g + 8, xi, n, oy, xo, oo)
                            for v in T.unroll(NV):
                                csa(sixteens, eights, xi, v, ea[xi, lanes(v)], eb[xi, lanes(v)])
                                if BYTES16:  # byte counts, summed per lane after the loop
                                    total[xi, lanes(v)] = T.reinterpret(
                                        "uint64x8",
                                        T.reinterpret("int8x64", total[xi, lanes(v)])
                                        + byte_counts(sixteens[xi, lanes(v)]),
                                    )
                                else:
                                    total[xi, lanes(v)] = total[xi, lanes(v)] + T.shift_left(
                                        T.popcount(sixteens[xi, lanes(v)]), T.uint64(4)
                                    )
                    if BYTES16:
                        for xi in T.unroll(XB):
                            for v in T.unroll(NV):
                                total[xi, lanes(v)] = T.shift_left(
                                    lane_sums(T.reinterpret("int8x64", total[xi, lanes(v)])),
                                    bcast(T.uint64(4)),
                                )
                    if HALF == 1:  # 8 remaining terms fold the same way into a word of weight 8
                        for xi in T.unroll(XB):
                            octet(xp, xt, wp, wq, xq, words8, ea, GROUPS16 * 16, xi, n, oy, xo, oo)
                    if LUT:  # all remaining words in one weighted count per vector
                        for xi in T.unroll(XB):
                            for v in T.unroll(NV):
                                total[xi, lanes(v)] = total[xi, lanes(v)] + tail_count(
                                    xp, xt, wp, tail_words, xi, v, n, oy, xo, oo
                                )
                    elif HS:  # the carry-saves' words, then the terms after the last octet (at most 7)
                        for xi in T.unroll(XB):
                            for oi in T.vectorized(OB):
                                total[xi, oi] = (
                                    total[xi, oi]
                                    + T.shift_left(T.popcount(eights[xi, oi]), T.uint64(3))
                                    + T.shift_left(T.popcount(fours[xi, oi]), T.uint64(2))
                                    + T.shift_left(T.popcount(twos[xi, oi]), T.uint64(1))
                                    + T.popcount(ones[xi, oi])
                                )
                                if HALF == 1:
                                    total[xi, oi] = total[xi, oi] + T.shift_left(
                                        T.popcount(ea[xi, oi]), T.uint64(3)
                                    )
                        for j in T.unroll(GROUPS16 * 16 + HALF * 8, TERMS):
                            for xi in T.unroll(XB):
                                for v in T.unroll(NV):
                                    total[xi, lanes(v)] = total[xi, lanes(v)] + T.popcount(
                                        tw(xp, xt, wp, j, xi, v, n, oy, xo, oo)
                                    )
                    else:  # one count per term, a rolled loop
                        for j in T.serial(TERMS):
                            for xi in T.unroll(XB):
                                for v in T.unroll(NV):
                                    total[xi, lanes(v)] = total[xi, lanes(v)] + T.popcount(
                                        tw(xp, xt, wp, j, xi, v, n, oy, xo, oo)
                                    )
                    for xi in T.unroll(XB):
                        for oi in T.vectorized(OB):
                            acc = T.meta_var(
                                corr[rows[oy], cols[xo * XB + xi], oo * OB + oi]
                                - 2 * T.Cast("int32", total[xi, oi])
                            )
                            if ROW:
                                row[xo * XB + xi, ob * OB + oi] = acc
                            else:
                                out[n, oy, xo * XB + xi, oo * OB + oi] = acc
            # the epilogue over the task's whole row afterwards: its dependency chains overlap
            # each other here, where between two register tiles they would stall the core loop
            # (EB channels at a time: a whole packed word when the group holds whole words)
            for ox in range(OW):
                for eb in range(GB * OB // EB):
                    e0 = T.meta_var(task % G * GB * OB + eb * EB)
                    for oi in T.vectorized(EB):
                        if ROW:
                            wide[oi] = row[ox, eb * EB + oi]
                        else:
                            wide[oi] = out[n, oy, ox, e0 + oi]
                    apply_wide(wide, wide_count, t, d, res, out, packed, n, oy, ox, e0)
                if packs:
                    pack(word, out, packed, n, oy, ox)

    keep = ["xp", "wp", "wq", "corr", "rows", "cols", *epilogue_params(epi)]
    return drop_unused(f, keep, name)


def border_classes(out: int, kernel: int, stride: int, pad: int, size: int) -> tuple[np.ndarray, list]:
    """Per output row (or column): the index of its border class, and each class's tuple of
    kernel offsets that fall outside the map."""
    keys, index = [], []
    for i in range(out):
        outside = tuple(k for k in range(kernel) if not 0 <= i * stride - pad + k < size)
        if outside not in keys:
            keys.append(outside)
        index.append(keys.index(outside))
    return np.array(index, dtype=np.int32), keys


def correction_table(w: np.ndarray, kernel, stride, pads, pad_value: int, hw) -> tuple:
    """(corr (R, CC, O) int32, rows (OH,), cols (OW,)) for +-1 weights w (O, KH, KW, C)."""
    o, kh, kw, c = w.shape
    oh = (hw[0] + pads[0] + pads[2] - kh) // stride[0] + 1
    ow = (hw[1] + pads[1] + pads[3] - kw) // stride[1] + 1
    rows, row_keys = border_classes(oh, kh, stride[0], pads[0], hw[0])
    cols, col_keys = border_classes(ow, kw, stride[1], pads[1], hw[1])
    tap_sum = w.sum(axis=3).astype(np.int64)  # (O, KH, KW)
    corr = np.zeros((len(row_keys), len(col_keys), o), dtype=np.int64)
    for r, out_rows in enumerate(row_keys):
        for q, out_cols in enumerate(col_keys):
            mask = np.zeros((kh, kw), dtype=bool)
            mask[list(out_rows), :] = True
            mask[:, list(out_cols)] = True
            corr[r, q] = kh * kw * c + (1 + pad_value) * (tap_sum * mask).sum(axis=(1, 2))
    return corr.astype(np.int32), rows, cols


HPOOL = """A conv whose accumulators only feed thresholds and then a 3x3 / 2 max pool with
padding 1 (the ResNet stem) takes the pool's horizontal window, `hpool` = (3, 2, 1): from each
register tile's columns, still in registers, it writes the max of columns 2p - 1, 2p, 2p + 1 for
each pooled column p (column -1 is the padding, skipped), (N, OH, OW / 2, O): half the bytes the
pool then reads, which pools the rows (a (3, 1) window). Taking only maxima is exact because the
network folds each channel's threshold sign into the conv: t <= d * acc is t <= |d| *
(sign(d) * acc), so the conv computes sign(d) * acc with negated weights and the window's
largest d * acc is |d| * its max. (Kept on the stack per row and pooled afterwards instead, the
columns cost the stem as much as they saved the pool: 0.28 -> 0.37 ms against 0.16 -> 0.10.)"""


def hpool_applies(kernel_w: int, stride_w: int, pad_left: int, ow: int, pooled_w: int) -> bool:
    """A conv of output width `ow` can pool its columns for this max pool (HPOOL): a 3-wide
    window, stride 2, left padding 1, and pooled_w = ow / 2."""
    return (kernel_w, stride_w, pad_left) == (3, 2, 1) and ow % 2 == 0 and pooled_w == ow // 2


@dataclass(frozen=True)
class IntConv:
    """An integer conv (stem, downsample shortcut). With padding or float32 accumulation its input
    is first copied into a (padded) map in the accumulator's type (`pad_input_kernel`), so the
    inner loop has no border test and no conversion."""

    n: int
    h: int  # the map the kernel reads: padded when the conv pads
    w: int
    c: int
    o: int
    out_hw: tuple[int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    exact_in_float: bool  # every partial sum stays below 2**24: accumulate in float32 (FMA)
    padded: bool  # reads the (padded) copy in the accumulator's type rather than the int32 map
    w_dtype: str = ""  # the weights' stored type when narrower than the accumulator's (int8):
    # converted in registers, they cost a quarter of the bytes that stream in from memory
    pairs16: bool = False  # AVX512-VNNI vpdpwssd: x an int16 copy, w int16 pairs (pair_weights16)
    hpool: tuple[int, int, int] | None = None  # see HPOOL
    acc_lanes: int = ACC_LANES_512  # the register tile's accumulator lanes (int_tiles)

    @property
    def acc(self) -> str:
        return "float32" if self.exact_in_float and not self.pairs16 else "int32"

    @property
    def weights(self) -> str:
        return "int32" if self.pairs16 else self.w_dtype or self.acc

    @property
    def x_dtype(self) -> str:
        return "int16" if self.pairs16 else self.acc if self.padded else "int32"


def pad_input_kernel(
    shape, pads, pad_value: int, dtype: str, name: str, flat_rows: bool = False, offset: int = 0, pool=None
):
    """PrimFunc (x, padded): x + offset, x (N, H, W, C) int32, into (N, H+top+bottom,
    W+left+right, C) of `dtype`, the border filled with pad_value + offset; with flat_rows, each
    row's (W, C) as one axis. With `pool` = (kernel, stride, source shape), x is the unpadded sum
    pool of the kernel's input map `x` (source shape), summed here: its windows' taps added."""
    from tvm import te, tirx

    n, h, w, c = shape
    top, left, bottom, right = pads
    (kh, kw), (sy, sx), source = pool if pool else ((1, 1), (1, 1), shape)
    x = te.placeholder(source, "int32", name="x")

    def value(b, y, i, k):
        inside = tirx.all(y >= top, y < h + top, i >= left, i < w + left)
        yy, ii = tirx.max(tirx.min(y - top, h - 1), 0), tirx.max(tirx.min(i - left, w - 1), 0)
        v = sum(x[b, yy * sy + ky, ii * sx + kx, k] for ky in range(kh) for kx in range(kw))
        return (tirx.if_then_else(inside, v, pad_value) + offset).astype(dtype)

    hp, wp = h + top + bottom, w + left + right
    if flat_rows:
        xp = te.compute((n, hp, wp * c), lambda b, y, j: value(b, y, j // c, j % c), name="padded")
    else:
        xp = te.compute((n, hp, wp, c), value, name="padded")
    return schedule(te.create_prim_func([x, xp])).with_attr("global_symbol", name)


@dataclass(frozen=True)
class VnniConv:
    """An integer conv with uint8 inputs and int8 weights on AVX-512 VNNI: vpdpbusd multiplies 4
    input bytes by 4 weight bytes and adds the sum into each int32 lane (16 output channels).
    The reduction runs over each kernel row's KW*C input bytes, contiguous in the padded NHWC
    row, in words of 4 (`groups` per row; the weights past KW*C are 0, so the bytes read past
    the window, from the next column, count nothing)."""

    n: int
    hp: int
    row_bytes: int  # padded row: (W + left + right + extra columns) * C bytes
    c: int
    o: int
    out_hw: tuple[int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    hpool: tuple[int, int, int] | None = None  # see HPOOL

    @property
    def groups(self) -> int:
        return -(-self.kernel[1] * self.c // 4)


def vnni_weights(w: np.ndarray, groups: int) -> np.ndarray:
    """(O, KH, KW, C) int8-range weights -> (KH, groups, O) int32 words of 4 int8 (byte q of word
    g = the weight of row byte 4g + q, 0 past KW*C)."""
    o, kh, kw, c = w.shape
    rows = np.zeros((o, kh, groups * 4), dtype=np.int8)
    rows[:, :, : kw * c] = w.reshape(o, kh, kw * c)
    return np.ascontiguousarray(rows.reshape(o, kh, groups, 4).transpose(1, 2, 0, 3)).view("<i4")[..., 0]


def pair_weights16(w: np.ndarray) -> np.ndarray:
    """(O, KH, KW, C) int16-range weights, C even -> (KH, KW, C / 2, O) int32 words of the int16
    pair (w[..., 2i], w[..., 2i + 1]) (low half first, as vpdpwssd reads them)."""
    o, kh, kw, c = w.shape
    pairs = np.ascontiguousarray(w.transpose(1, 2, 3, 0).astype(np.int16))  # (KH, KW, C, O)
    pairs = pairs.reshape(kh, kw, c // 2, 2, o).transpose(0, 1, 2, 4, 3)  # (.., C/2, O, 2)
    return np.ascontiguousarray(pairs).view(np.int32)[..., 0]


def pairs16_applies(target, w: np.ndarray, x_bound: int) -> bool:
    """vpdpwssd fits: AVX512-VNNI, int16 inputs and weights, even C, 16 | O, and every partial
    sum (a pair's included) below 2^31 in magnitude."""
    from tvm.target import codegen

    o, _, _, c = w.shape
    return (
        bool(codegen.target_has_features("avx512vnni", target))
        and c % 2 == 0
        and o % 16 == 0
        and x_bound <= 32767
        and int(np.abs(w).max(initial=0)) <= 32767
        and int(np.abs(w).reshape(o, -1).sum(axis=1).max(initial=0)) * x_bound < 2**31
    )


def has_avx512(target) -> bool:
    """The target has AVX-512F and BW (vpternlogq, 512-bit vpshufb and vpsadbw)."""
    from tvm.target import codegen

    return bool(codegen.target_has_features("avx512f", target)) and bool(
        codegen.target_has_features("avx512bw", target)
    )


def vnni_applies(target, w: np.ndarray, x_lo: int, x_hi: int) -> bool:
    """The VNNI kernel fits: the target has AVX512-VNNI, inputs are bytes 0..255, weights int8 and
    the output channels a multiple of 16."""
    from tvm.target import codegen

    return (
        bool(codegen.target_has_features("avx512vnni", target))
        and x_lo >= 0
        and x_hi <= 255
        and int(w.min(initial=0)) >= -128
        and int(w.max(initial=0)) <= 127
        and w.shape[0] % 16 == 0
    )


def int_conv_tiles(s: IntConv | VnniConv) -> tuple[int, int]:
    """(OB, XB): the integer conv's register tile of XB pixels x OB output channels (XB even when
    the conv pools its columns, HPOOL)."""
    if isinstance(s, VnniConv):
        ow = s.out_hw[1]
        return (64 if s.o % 64 == 0 else 16), (2 * tile(ow // 2, 2) if s.hpool else tile(ow, 4))
    return int_tiles(s.o, s.out_hw[1], even=s.hpool is not None, acc_lanes=s.acc_lanes)


def int_conv_weights(s: IntConv | VnniConv, w: np.ndarray) -> np.ndarray:
    """(O, KH, KW, C) integer weights as int_conv_kernel reads them: VNNI byte words
    (vnni_weights), int16 pair words (pair_weights16) or (KH, KW, C, O) in s.weights, with O split
    into blocks of the register tile, (O / OB, ..., OB): a tile's weights are one contiguous run
    (stored (..., O), a tile read OB of every O; bireal18's 256 -> 512 shortcut, same process:
    0.085 -> 0.055 ms)."""
    if isinstance(s, VnniConv):
        wt = vnni_weights(w, s.groups)
    elif s.pairs16:
        wt = pair_weights16(w)
    else:
        wt = w.transpose(1, 2, 3, 0).astype(s.weights)
    ob = int_conv_tiles(s)[0]
    return np.ascontiguousarray(np.moveaxis(wt.reshape(*wt.shape[:-1], wt.shape[-1] // ob, ob), -2, 0))


def int_conv_kernel(s: IntConv | VnniConv, epi: Epilogue, name: str):
    """PrimFunc (x, w, [t, d], [res], out, [packed]), w from int_conv_weights. For an IntConv,
    x is the map (or its padded copy in the accumulator's type): FMAs over (ky, kx, c) (or
    vpdpwssd over channel pairs). For a VnniConv, x is the padded uint8 copy with flat rows:
    vpdpbusd over (ky, 4-byte word)."""
    from tvm.script import tirx as T

    vnni = isinstance(s, VnniConv)
    N, C, O = s.n, s.c, s.o  # noqa: E741
    OH, OW = s.out_hw
    KH, KW = s.kernel
    SY, SX = s.stride
    OB, XB = int_conv_tiles(s)
    if vnni:
        GR = s.groups
        ACC, XS, XD, WS, WD = "int32", (N, s.hp, s.row_bytes), "uint8", (O // OB, KH, GR, OB), "int32"
    else:
        GR = 0
        ACC, XS, XD, WD = s.acc, (N, s.h, s.w, C), s.x_dtype, s.weights
        WS = (O // OB, KH, KW, C // 2, OB) if s.pairs16 else (O // OB, KH, KW, C, OB)
    pairs = not vnni and s.pairs16
    plan = conv_epilogue_plan(epi, O, OB, N * OH)
    TS, TD, PH, PW, PK = (
        plan.threshold_shape,
        plan.threshold_dtype,
        plan.packed_h,
        plan.packed_w,
        plan.packed_words,
    )
    apply, pack, packs, G, GB = (
        plan.apply,
        plan.pack,
        plan.packs_per_pixel,
        plan.groups,
        plan.blocks_per_group,
    )
    HP = s.hpool is not None  # see HPOOL
    OWP = OW // 2 if HP else OW  # out's width (pooled, or not)
    assert not HP or (XB % 2 == 0 and not epilogue_params(epi)[:-1]), s

    def ival(v):
        return T.Cast("int32", v)

    def dot(op, acc, x_word, w_words):
        """acc + the AVX512-VNNI dot products (vpdpbusd: 4 bytes, vpdpwssd: 2 int16) of one
        broadcast int32 word of x with 16 int32 words of weights."""
        parts = "int8x64" if op == "vpdpbusd" else "int16x32"
        return T.call_llvm_pure_intrin(
            "int32x16",
            f"llvm.x86.avx512.{op}.512",
            acc,
            T.reinterpret(parts, T.broadcast(x_word, 16)),
            T.reinterpret(parts, w_words),
        )

    def word(x, n, y, byte):
        """4 input bytes from `byte` on as one int32 (little-endian, as vpdpbusd reads them)."""
        return T.reinterpret(
            "int32",
            T.Cast("uint32", x[n, y, byte])
            | T.shift_left(T.Cast("uint32", x[n, y, byte + 1]), T.uint32(8))
            | T.shift_left(T.Cast("uint32", x[n, y, byte + 2]), T.uint32(16))
            | T.shift_left(T.Cast("uint32", x[n, y, byte + 3]), T.uint32(24)),
        )

    @T.prim_func
    def f(
        x: T.Buffer(XS, XD),
        w: T.Buffer(WS, WD),
        t: T.Buffer(TS, TD),
        d: T.Buffer((O,), "int32"),
        res: T.Buffer((N, OH, OW, O), "int32"),
        out: T.Buffer((N, OH, OWP, O), "int32"),
        packed: T.Buffer((N, PH, PW, PK), "uint64"),
    ):
        for task in T.parallel(N * OH * G):
            acc = T.alloc_buffer((XB, OB), ACC, scope="local", annotations=STACK)
            value = T.alloc_buffer((OB,), "int32", scope="local", annotations=STACK)
            count = T.alloc_buffer((OB,), "int32", scope="local", annotations=STACK)
            bits = T.alloc_buffer((1,), "uint64", scope="local", annotations=STACK)
            carry = T.alloc_buffer((OB,), "int32", scope="local", annotations=STACK)  # HPOOL
            n = T.meta_var(task // G // OH)
            oy = T.meta_var(task // G % OH)
            for ob in range(GB):
                for oi in T.vectorized(OB):
                    carry[oi] = -VALUE_LIMIT  # column -1: the pool's padding
                for xo in range(OW // XB):
                    oo = T.meta_var(task % G * GB + ob)
                    for xi in T.unroll(XB):
                        for oi in T.vectorized(OB):
                            acc[xi, oi] = T.Cast(ACC, 0)
                    if vnni:
                        for ky, g in T.grid(KH, GR):
                            for xi in T.unroll(XB):
                                for lane in T.unroll(OB // 16):
                                    acc[xi, T.ramp(lane * 16, 1, 16)] = dot(
                                        "vpdpbusd",
                                        acc[xi, T.ramp(lane * 16, 1, 16)],
                                        word(x, n, oy * SY + ky, (xo * XB + xi) * SX * C + 4 * g),
                                        w[oo, ky, g, T.ramp(lane * 16, 1, 16)],
                                    )
                    elif pairs:  # vpdpwssd: two channels' int16 products per int32 lane
                        x32 = T.decl_buffer((N, s.h, s.w, C // 2), "int32", data=x.data)
                        for ky, kx, c2 in T.grid(KH, KW, C // 2):
                            for xi in T.unroll(XB):
                                for lane in T.unroll(OB // 16):
                                    acc[xi, T.ramp(lane * 16, 1, 16)] = dot(
                                        "vpdpwssd",
                                        acc[xi, T.ramp(lane * 16, 1, 16)],
                                        x32[n, oy * SY + ky, (xo * XB + xi) * SX + kx, c2],
                                        w[oo, ky, kx, c2, T.ramp(lane * 16, 1, 16)],
                                    )
                    else:
                        for ky, kx, c in T.grid(KH, KW, C):
                            for xi in T.unroll(XB):
                                for oi in T.vectorized(OB):
                                    acc[xi, oi] = acc[xi, oi] + T.Cast(
                                        ACC, x[n, oy * SY + ky, (xo * XB + xi) * SX + kx, c]
                                    ) * T.Cast(ACC, w[oo, ky, kx, c, oi])
                    if HP:  # pooled columns xo * XB / 2 + q: columns 2q - 1, 2q, 2q + 1 of the tile
                        for oi in T.vectorized(OB):
                            value[oi] = T.max(T.max(carry[oi], ival(acc[0, oi])), ival(acc[1, oi]))
                            out[n, oy, xo * (XB // 2), oo * OB + oi] = value[oi]
                        for q in T.unroll(1, XB // 2):
                            for oi in T.vectorized(OB):
                                value[oi] = T.max(
                                    T.max(ival(acc[2 * q - 1, oi]), ival(acc[2 * q, oi])),
                                    ival(acc[2 * q + 1, oi]),
                                )
                                out[n, oy, xo * (XB // 2) + q, oo * OB + oi] = value[oi]
                        for oi in T.vectorized(OB):
                            carry[oi] = ival(acc[XB - 1, oi])
                    else:
                        for xi in range(XB):
                            for oi in T.vectorized(OB):
                                value[oi] = ival(acc[xi, oi])
                            apply(value, count, t, d, res, out, packed, n, oy, xo * XB + xi, oo * OB)
                if packs:  # after every channel block of the row: pack each pixel's channels
                    for ox in range(OW):
                        pack(bits, out, packed, n, oy, ox)

    keep = ["x", "w", *epilogue_params(epi)]
    return drop_unused(f, keep, name)


def exact_in_float(w: np.ndarray, x_bound: int, pad_value: int) -> bool:
    """True when every partial sum of the conv (w (O, ..., C) integers, |x| <= x_bound) has
    magnitude below 2**24, so float32 accumulation is exact in any order."""
    per_output = np.abs(w.astype(np.int64)).reshape(w.shape[0], -1).sum(axis=1)
    return int(per_output.max(initial=0)) * max(x_bound, abs(pad_value)) < (1 << 24)


@dataclass(frozen=True)
class PoolThreshold:
    """max_pool(multi_threshold(acc)) computed as multi_threshold on max_pool(d * acc): the
    threshold count is non-decreasing in d * acc, so both give the same integers, and the pool
    first thresholds a quarter of the values."""

    n: int
    h: int
    w: int
    c: int
    out_hw: tuple[int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int]
    max_only: bool = False  # d >= 0 (its sign folded into the conv before, see HPOOL): the
    # window's max alone, d * max


def pool_threshold_kernel(s: PoolThreshold, epi: Epilogue, name: str):
    """PrimFunc (acc, t, d, out, [packed]); epi.steps > 0 and no add/bias."""
    from tvm.script import tirx as T

    N, H, W, C = s.n, s.h, s.w, s.c
    OH, OW = s.out_hw
    KH, KW = s.kernel
    SY, SX = s.stride
    PT, PL = s.pads
    OB = channel_tile(C, 16)
    TS = threshold_shape(epi, C)
    TD = epi.affine or "int32"
    PH, PW = epi.packed_hw
    PK = words(C)
    apply = epilogue_macro(epi, OB, signed=True)
    pack = pack_macro(epi, C)
    packs = epi.pack is not None
    lowest, highest = -VALUE_LIMIT, VALUE_LIMIT
    max_only = s.max_only

    @T.macro
    def tap(acc, high, low, n, oy, ox, oo, ky, kx):
        """The window's running max (and min) accumulators take tap (ky, kx)."""
        for oi in T.vectorized(OB):
            high[oi] = T.max(high[oi], acc[n, oy * SY - PT + ky, ox * SX - PL + kx, oo * OB + oi])
            if not max_only:
                low[oi] = T.min(low[oi], acc[n, oy * SY - PT + ky, ox * SX - PL + kx, oo * OB + oi])

    @T.prim_func
    def f(
        acc: T.Buffer((N, H, W, C), "int32"),
        t: T.Buffer(TS, TD),
        d: T.Buffer((C,), "int32"),
        out: T.Buffer((N, OH, OW, C), "int32"),
        packed: T.Buffer((N, PH, PW, PK), "uint64"),
    ):
        for row in T.parallel(N * OH):
            value = T.alloc_buffer((OB,), "int32", scope="local", annotations=STACK)
            high = T.alloc_buffer((OB,), "int32", scope="local", annotations=STACK)
            low = T.alloc_buffer((OB,), "int32", scope="local", annotations=STACK)
            count = T.alloc_buffer((OB,), "int32", scope="local", annotations=STACK)
            word = T.alloc_buffer((1,), "uint64", scope="local", annotations=STACK)
            n = T.meta_var(row // OH)
            oy = T.meta_var(row % OH)
            for ox in range(OW):
                for oo in range(C // OB):
                    # the window's largest and smallest accumulators: max(d * acc) is d * the one or
                    # the other (two multiplies per output, not one per tap)
                    for oi in T.vectorized(OB):
                        high[oi] = lowest
                        low[oi] = highest
                    if oy * SY >= PT and oy * SY - PT + KH <= H and ox * SX >= PL and ox * SX - PL + KW <= W:
                        for ky in T.unroll(KH):  # inside the map: a fixed window
                            for kx in T.unroll(KW):
                                tap(acc, high, low, n, oy, ox, oo, ky, kx)
                    else:
                        # only the taps inside the map (loop bounds, not a select: a select loads
                        # its unused operand too, and TVM drops the clamp of a selected index)
                        for ky in T.serial(T.max(PT - oy * SY, 0), T.min(H + PT - oy * SY, KH)):
                            for kx in T.serial(T.max(PL - ox * SX, 0), T.min(W + PL - ox * SX, KW)):
                                tap(acc, high, low, n, oy, ox, oo, ky, kx)
                    for oi in T.vectorized(OB):
                        if max_only:
                            value[oi] = high[oi] * d[oo * OB + oi]
                        else:
                            value[oi] = T.max(high[oi] * d[oo * OB + oi], low[oi] * d[oo * OB + oi])
                    apply(value, count, t, d, out, out, packed, n, oy, ox, oo * OB)
                if packs and WORD % OB != 0:  # else packed chunk by chunk in apply
                    pack(word, out, packed, n, oy, ox)

    keep = ["acc", "t", "d", "out", *(["packed"] if epi.pack else [])]
    return drop_unused(f, keep, name)


def packer_kernel(shape: tuple[int, int, int, int], halo: tuple[int, int], packed_hw, name: str):
    """PrimFunc (x, packed): the sign bits of x (N, H, W, C) into the halo'd packed map."""
    from tvm.script import tirx as T

    N, H, W, C = shape
    PH, PW = packed_hw
    epi = Epilogue(pack=halo, packed_hw=packed_hw)
    pack = pack_macro(epi, C)

    @T.prim_func
    def f(x: T.Buffer((N, H, W, C), "int32"), packed: T.Buffer((N, PH, PW, words(C)), "uint64")):
        for row in T.parallel(N * H):
            word = T.alloc_buffer((1,), "uint64", scope="local", annotations=STACK)
            for ox in range(W):
                pack(word, x, packed, row // H, row % H, ox)

    return f.with_attr("global_symbol", name)


QUANT_LANES = 8  # float64 lanes per vector of the quantizer (one 512-bit register)
QUANT_DELTA = 2.0**-30  # see quantize_kernel
QUANT_LIMIT = 2.0**20


def quantize_kernel(
    shape_nchw: tuple[int, int, int, int],
    scale: float,
    qmin: int,
    qmax: int,
    name: str,
    offset: int = 0,
    cut: float | None = None,
):
    """PrimFunc (images, pixels): float64 NCHW images -> int32 NHWC pixels
    clip(round-half-even(x / scale + offset), qmin, qmax), the golden's float64 arithmetic (or,
    with `cut`, bipolar pixels: 1 where x >= cut, else -1). An integer offset moves y and the
    half-integers alike, so the fast path's argument below holds for y + offset. The images
    buffer assumes only 8-byte alignment, so the runtime can hand it the caller's numpy array
    (64-byte alignment, TVM's default assumption, numpy does not give).

    The divides dominate (vdivpd: 16 cycles per 8 values), so 8 values at a time are first
    multiplied by fl(1 / scale): y = fl(x * fl(1 / scale)) and fl(x / scale) both lie within
    3.0001 * 2^-53 * |x / scale| of x / scale, under 2^-31.4 when |y| < 2^20. Two values that
    close round to different integers only if a half-integer lies between them, so where every
    y of the 8 is farther than 2^-30 from a half-integer, |y - round(y)| < 1/2 - 2^-30 (the
    difference is exact), round(y) is round(fl(x / scale)); from 2^20 on both clip alike (the
    grid stays inside +-(2^20 - 2)). Any other vector (a value near a half, infinite or NaN) is
    divided as before. Measured alone, one thread: 0.146 -> 0.096 ms (multiplying alone, not
    exact: 0.098 ms)."""
    from tvm.script import tirx as T

    N, C, H, W = shape_nchw  # noqa: N806
    if cut is not None:
        return _sign_input_kernel(shape_nchw, cut, name)
    L = QUANT_LANES
    recip = 1.0 / scale
    off = float(offset)
    fast = max(-qmin, qmax) <= QUANT_LIMIT - 2  # else every vector is divided

    def near_half(y, r):
        """1 in each lane where y may round unlike x / scale (see above), else 0."""
        if not fast:
            return T.broadcast(1, L)
        return T.Select(
            T.abs(y - r) < T.broadcast(T.float64(0.5 - QUANT_DELTA), L), T.broadcast(0, L), T.broadcast(1, L)
        )

    def clip(v, lanes: int = 1):
        bound = T.float64 if lanes == 1 else lambda b: T.broadcast(T.float64(b), lanes)
        return T.Cast("int32" if lanes == 1 else f"int32x{lanes}", T.max(T.min(v, bound(qmax)), bound(qmin)))

    @T.prim_func
    def f(images: T.Buffer((N, C, H, W), "float64", align=8), pixels: T.Buffer((N, H, W, C), "int32")):
        for row in T.parallel(N * H):
            # a channel's row at a time (contiguous, vectorized: the divides dominate), then
            # interleaved into the NHWC row
            plane = T.alloc_buffer((C, W), "int32", scope="local", annotations=STACK)
            for c in range(C):
                for xo in range(W // L):
                    x = T.meta_var(images[row // H, c, row % H, T.ramp(xo * L, 1, L)])
                    y = T.meta_var(x * T.broadcast(T.float64(recip), L) + T.broadcast(T.float64(off), L))
                    r = T.meta_var(T.nearbyint(y))
                    if T.call_llvm_pure_intrin("int32", "llvm.vector.reduce.or", near_half(y, r)) == 0:
                        plane[c, T.ramp(xo * L, 1, L)] = clip(r, L)
                    else:
                        plane[c, T.ramp(xo * L, 1, L)] = clip(
                            T.nearbyint(
                                x / T.broadcast(T.float64(scale), L) + T.broadcast(T.float64(off), L)
                            ),
                            L,
                        )
                if W % L > 0:  # the row's last W % L values
                    for xt in T.vectorized(W % L):
                        plane[c, W // L * L + xt] = clip(
                            T.nearbyint(
                                images[row // H, c, row % H, W // L * L + xt] / T.float64(scale)
                                + T.float64(off)
                            )
                        )
            for x, c in T.grid(W, C):
                pixels[row // H, row % H, x, c] = plane[c, x]

    return f.with_attr("global_symbol", name)


def _sign_input_kernel(shape_nchw: tuple[int, int, int, int], cut: float, name: str):
    """PrimFunc (images, pixels): bipolar NHWC pixels, 1 where the image value >= cut, else -1."""
    from tvm.script import tirx as T

    N, C, H, W = shape_nchw  # noqa: N806

    @T.prim_func
    def f(images: T.Buffer((N, C, H, W), "float64", align=8), pixels: T.Buffer((N, H, W, C), "int32")):
        for row in T.parallel(N * H):
            for x, c in T.grid(W, C):
                pixels[row // H, row % H, x, c] = T.Select(
                    images[row // H, c, row % H, x] >= T.float64(cut), T.int32(1), T.int32(-1)
                )

    return f.with_attr("global_symbol", name)


FC_CHUNK = 128  # outputs per task of the FC (8 int32 vectors of accumulators)


def fc_weights(w: np.ndarray, dtype) -> np.ndarray:
    """The FC's (O, K) weights as the kernel reads them: (tasks, K, FC_CHUNK) in `dtype`, one
    contiguous block per task (zero columns past O). Stored (K, O), a task read 2 cache lines
    of every 1 KiB row: a stride the prefetchers do not follow (bireal18's 512 -> 1000 FC,
    same process: 0.10 -> 0.04 ms)."""
    o, k = w.shape
    ch = min(FC_CHUNK, o)
    tasks = -(-o // ch)
    wt = np.zeros((k, tasks * ch), dtype=dtype)
    wt[:, :o] = w.T
    return np.ascontiguousarray(wt.reshape(k, tasks, ch).transpose(1, 0, 2))


def fc_kernel(n: int, k: int, o: int, w_dtype: str, bias: bool, name: str):
    """PrimFunc (x, w, [bias], out): out[i, j] = sum_k x[i, k] * w[k, j] (+ bias[j]) in int32,
    w laid out by fc_weights in its narrowest integer type; tasks of FC_CHUNK outputs, each
    accumulating in registers over the whole K."""
    from tvm.script import tirx as T

    CH = min(FC_CHUNK, o)
    TASKS_ = -(-o // CH)
    has_bias = bias

    @T.prim_func
    def f(
        x: T.Buffer((n, k), "int32"),
        w: T.Buffer((TASKS_, k, CH), w_dtype),
        b: T.Buffer((o,), "int32"),
        out: T.Buffer((n, o), "int32"),
    ):
        for task in T.parallel(n * TASKS_):
            acc = T.alloc_buffer((CH,), "int32", scope="local", annotations=STACK)
            i = T.meta_var(task // TASKS_)
            j = T.meta_var(task % TASKS_)
            for jj in T.vectorized(CH):
                acc[jj] = 0
            for kk in range(k):
                for jj in T.vectorized(CH):
                    acc[jj] = acc[jj] + x[i, kk] * T.Cast("int32", w[j, kk, jj])
            for jj in range(CH):
                if j * CH + jj < o:
                    if has_bias:
                        out[i, j * CH + jj] = acc[jj] + b[j * CH + jj]
                    else:
                        out[i, j * CH + jj] = acc[jj]

    return drop_unused(f, ["x", "w", *(["b"] if bias else []), "out"], name)
