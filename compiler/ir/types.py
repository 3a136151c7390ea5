"""Value types of the IR: integers of a given width (two's complement or unsigned), bipolar
{-1, +1} values stored as bits, and real values (only at the graph's edges).

Per-channel value ranges (`Bounds`, Python ints) are what width analysis and threshold
clipping reason with; an `IntType` is the smallest storage that holds a range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


class IRError(ValueError):
    """The IR is malformed or an op's preconditions do not hold."""


@dataclass(frozen=True)
class IntType:
    """An integer type. `bipolar` means values in {-1, +1} stored as one bit (1 = +1);
    `ternary` means {-1, 0, +1} where 0 marks a padded tap of a zero-padding window over a
    bipolar map (a sign plane and a valid plane, 2 storage bits). Both are kinds of their own:
    neither equals any plain integer type (a signed 2-bit map holds -2..1 in two's complement
    and is never read as planes)."""

    bits: int
    signed: bool
    bipolar: bool = False
    ternary: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.bits <= 64:
            raise IRError(f"integer width {self.bits} outside 1..64")
        if self.bipolar and (self.bits != 1 or self.signed or self.ternary):
            raise IRError("a bipolar type is one unsigned storage bit")
        if self.ternary and (self.bits != 2 or not self.signed):
            raise IRError("a ternary type is two signed storage bits (sign and valid planes)")

    @property
    def special(self) -> bool:
        """Bipolar or ternary: values whose storage is not a plain integer."""
        return self.bipolar or self.ternary

    @property
    def lo(self) -> int:
        if self.special:
            return -1
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        if self.special:
            return 1
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def holds(self, lo: int, hi: int) -> bool:
        """True if every integer in [lo, hi] is representable."""
        return self.lo <= lo and hi <= self.hi

    @staticmethod
    def covering(lo: int, hi: int) -> IntType:
        """The narrowest integer type holding [lo, hi] (Python ints, exact)."""
        lo, hi = int(lo), int(hi)
        if lo > hi:
            raise IRError(f"empty range [{lo}, {hi}]")
        if lo >= 0:
            return IntType(max(1, hi.bit_length()), False)
        bits = max((-lo - 1).bit_length(), hi.bit_length() if hi > 0 else 0) + 1
        return IntType(bits, True)

    def __str__(self) -> str:
        if self.bipolar:
            return "bipolar"
        if self.ternary:
            return "ternary"
        return f"{'i' if self.signed else 'u'}{self.bits}"


@dataclass(frozen=True)
class RealType:
    """A real value (float64 in the interpreter); appears only at the graph's edges."""

    def __str__(self) -> str:
        return "real"


DType = IntType | RealType
BIPOLAR = IntType(1, False, True)
REAL = RealType()
# A bipolar value after a zero-padding sliding window: -1, +1, or 0 for a padded tap.
TERNARY = IntType(2, True, ternary=True)

_TYPE_RE = re.compile(r"^(i|u)(\d+)$")


def parse_dtype(text: str) -> DType:
    if text == "bipolar":
        return BIPOLAR
    if text == "ternary":
        return TERNARY
    if text == "real":
        return REAL
    m = _TYPE_RE.match(text)
    if not m:
        raise IRError(f"unknown type {text!r}")
    return IntType(int(m.group(2)), m.group(1) == "i")


def numpy_dtype(t: DType) -> np.dtype:
    """Storage dtype the interpreter uses for a type."""
    if isinstance(t, RealType):
        return np.dtype(np.float64)
    return np.dtype(np.int64)


@dataclass(frozen=True)
class Bounds:
    """Exact value range per channel (the last axis): lo[c] <= x[..., c] <= hi[c], as object
    arrays of Python ints. A length-1 array applies to every channel."""

    lo: np.ndarray
    hi: np.ndarray

    @staticmethod
    def of(lo, hi) -> Bounds:
        lo_a = np.array([int(v) for v in np.atleast_1d(np.asarray(lo, dtype=object))], dtype=object)
        hi_a = np.array([int(v) for v in np.atleast_1d(np.asarray(hi, dtype=object))], dtype=object)
        lo_a, hi_a = np.broadcast_arrays(lo_a, hi_a)
        return Bounds(lo_a.copy(), hi_a.copy())

    @staticmethod
    def of_type(t: IntType) -> Bounds:
        return Bounds.of(t.lo, t.hi)

    def channels(self, n: int) -> Bounds:
        """These bounds for exactly n channels (broadcasting a single range)."""
        if len(self.lo) == n:
            return self
        if len(self.lo) != 1:
            raise IRError(f"bounds for {len(self.lo)} channels used for {n}")
        return Bounds.of(np.repeat(self.lo, n), np.repeat(self.hi, n))

    @property
    def min(self) -> int:
        return int(min(self.lo))

    @property
    def max(self) -> int:
        return int(max(self.hi))

    def dtype(self) -> IntType:
        return IntType.covering(self.min, self.max)
