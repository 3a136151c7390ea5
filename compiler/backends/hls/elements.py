"""How stream elements are laid out in a beat, shared by the C++ generator and the Python side
(the kernel test bench and the C-simulation driver pack and unpack beats with the same rules).

A beat of a stream of `width` elements is one `ap_uint<width * bits>`:
  int       element i at bits [i*B, (i+1)*B), two's complement when signed
  bipolar   element i at bit i: 1 for +1, 0 for -1
  ternary   two planes: bit i is the sign (1: +1), bit width+i is valid (0: a padded tap, value 0)
On the host side a beat is ceil(width*bits / 64) little-endian uint64 words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.hw.dataflow import Stream
from compiler.ir import BIPOLAR, TERNARY, Graph, IntType


@dataclass(frozen=True)
class Element:
    kind: str  # "int" | "bipolar" | "ternary"
    bits: int  # bits per element in a beat
    signed: bool = True

    @property
    def ctype(self) -> str:
        """The C++ type of one decoded element."""
        if self.kind != "int":
            return "BIREAL_INT(2)"
        return f"BIREAL_{'' if self.signed else 'U'}INT({self.bits})"

    @property
    def s(self) -> str:
        """The signedness template argument."""
        return "true" if self.signed else "false"


def element_of(dtype) -> Element:
    if dtype == BIPOLAR:
        return Element("bipolar", 1, False)
    if dtype == TERNARY:
        return Element("ternary", 2, True)
    if not isinstance(dtype, IntType):
        raise ValueError(f"{dtype} tensors do not stream")
    return Element("int", dtype.bits, dtype.signed)


def stream_element(graph: Graph, s: Stream) -> Element:
    e = element_of(graph.tensors[s.tensor].dtype)
    if e.bits != s.bits:
        raise ValueError(f"stream {s.name}: {s.bits}-bit beats but tensor {s.tensor} is {e.bits}-bit")
    return e


def words_per_beat(width: int, bits: int) -> int:
    return -(-width * bits // 64)


def pack_beats(values: np.ndarray, e: Element, width: int) -> np.ndarray:
    """(frames, elements) integers -> (frames * beats, words) uint64 beats."""
    v = np.asarray(values, dtype=np.int64).reshape(-1, width)
    if e.kind == "ternary":
        bits = np.concatenate([v > 0, v != 0], axis=1)
    elif e.kind == "bipolar":
        bits = v > 0
    else:
        lo, hi = (-(1 << (e.bits - 1)), (1 << (e.bits - 1)) - 1) if e.signed else (0, (1 << e.bits) - 1)
        if v.size and (v.min() < lo or v.max() > hi):
            raise ValueError(f"values outside the {e.bits}-bit {'signed' if e.signed else 'unsigned'} range")
        u = (v & ((1 << e.bits) - 1)).astype(np.uint64)
        bits = ((u[..., None] >> np.arange(e.bits, dtype=np.uint64)) & np.uint64(1)).astype(bool)
        bits = bits.reshape(len(v), width * e.bits)
    words = words_per_beat(width, e.bits)
    padded = np.zeros((len(bits), words * 64), dtype=bool)
    padded[:, : bits.shape[1]] = bits
    packed = np.packbits(padded, axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").reshape(len(bits), words)


def unpack_beats(words: np.ndarray, e: Element, width: int, frames: int) -> np.ndarray:
    """(frames * beats, words) uint64 beats -> (frames, elements) int64."""
    raw = np.ascontiguousarray(words, dtype="<u8")
    bits = np.unpackbits(raw.view(np.uint8).reshape(len(raw), -1), axis=1, bitorder="little").astype(np.int64)
    if e.kind == "ternary":
        sign, valid = bits[:, :width], bits[:, width : 2 * width]
        v = np.where(valid == 1, 2 * sign - 1, 0)
    elif e.kind == "bipolar":
        v = 2 * bits[:, :width] - 1
    else:
        b = bits[:, : width * e.bits].reshape(len(raw), width, e.bits)
        v = (b << np.arange(e.bits)).sum(axis=2)
        if e.signed:
            v = np.where(v >= 1 << (e.bits - 1), v - (1 << e.bits), v)
    return v.reshape(frames, -1)
