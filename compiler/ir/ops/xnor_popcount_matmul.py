"""xnor_popcount_matmul: binary matrix-vector product on bit-packed operands.

x (..., K) is bipolar {-1, +1}, or ternary {-1, 0, +1} where 0 marks a padded tap of a
zero-padding window; weights (O, K) are bipolar. Both pack into 64-bit words (bit 1 = +1, the
unused bits of the last word are invalid) and

    dot = 2 * popcount(xnor(x, w) & valid) - popcount(valid)
        = popcount(valid) - 2 * popcount(xor(x, w) & valid)

which equals the integer dot product with padded taps contributing 0 (docs/conventions.md)."""

from __future__ import annotations

import numpy as np

from compiler.ir.ops.base import Op, register, require
from compiler.ir.ops.matmul import check_weights
from compiler.ir.types import BIPOLAR, TERNARY, Bounds

WORD = 64
CHUNK_ELEMENTS = 1 << 20


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """(..., K) booleans -> (..., ceil(K / 64)) uint64 words, bit j of word i = entry 64*i + j."""
    k = bits.shape[-1]
    words = -(-k // WORD)
    padded = np.zeros((*bits.shape[:-1], words * WORD), dtype=bool)
    padded[..., :k] = bits
    packed = np.packbits(padded, axis=-1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8")


def popcount_dot(x_bits: np.ndarray, x_valid: np.ndarray | None, w_bits: np.ndarray, k: int) -> np.ndarray:
    """Rows of packed words (R, Wd) against packed weights (O, Wd) -> (R, O) dot products over
    K = k taps. `x_valid` marks the valid taps (None: all k are valid; the unused bits of the last
    word are 0 in both operands and so never mismatch)."""
    rows, words = x_bits.shape
    o = w_bits.shape[0]
    if x_valid is None:
        n_valid = np.full(rows, k, dtype=np.int64)
    else:
        n_valid = np.bitwise_count(x_valid).sum(axis=1, dtype=np.int64)
    out = np.empty((rows, o), dtype=np.int64)
    step = max(1, CHUNK_ELEMENTS // max(1, o))
    for s in range(0, rows, step):
        mismatches = np.zeros((min(step, rows - s), o), dtype=np.int32)
        for j in range(words):  # word by word: each pass is one (rows, O) array
            diff = x_bits[s : s + step, j, None] ^ w_bits[None, :, j]
            if x_valid is not None:
                diff &= x_valid[s : s + step, j, None]
            mismatches += np.bitwise_count(diff)
        out[s : s + step] = n_valid[s : s + step, None] - 2 * mismatches
    return out


@register
class XnorPopcountMatMul(Op):
    name = "xnor_popcount_matmul"
    n_inputs = 2
    const_inputs = (1,)

    def check(self, a, ins, consts):
        require(
            ins[0].dtype in (BIPOLAR, TERNARY),
            f"xnor_popcount_matmul's input is {ins[0].dtype}, "
            "not bipolar (or ternary from a zero-padding window)",
        )
        require(ins[1].dtype == BIPOLAR, "xnor_popcount_matmul's weights must be bipolar")
        check_weights(ins, consts, ins[0].shape[-1], self.name)

    def shapes(self, a, ins):
        return [(*ins[0].shape[:-1], ins[1].shape[0])]

    def bounds(self, a, ins, consts, infos):
        k = consts[1].shape[1]
        return [Bounds.of(-k, k)]

    def reference(self, a, xs):
        x, w = xs[0], xs[1]
        lead = x.shape[:-1]
        flat = x.reshape(-1, x.shape[-1])
        zeros = flat == 0
        valid = pack_bits(~zeros) if zeros.any() else None
        dot = popcount_dot(pack_bits(flat > 0), valid, pack_bits(w > 0), w.shape[1])
        return [dot.reshape(*lead, w.shape[0])]
