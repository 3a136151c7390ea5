"""The op protocol and the registry. An op is a small class: a typed `Attrs` dataclass, shape and
exact value-range inference, precondition checks that raise, and a numpy reference on integers.

To add an op: write one file in this folder with a class decorated `@register`, and import it in
`compiler/ir/ops/__init__.py`. The text form, the interpreter and `verify` pick it up from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from compiler.ir.graph import TensorInfo
from compiler.ir.types import Bounds, IntType, IRError

OPS: dict[str, Op] = {}


@dataclass(frozen=True)
class NoAttrs:
    pass


class Op:
    """Base class. Subclasses set `name`, `Attrs`, `n_inputs` and the indices of inputs that must
    be constants, and implement `shapes`, `bounds` and `reference`."""

    name: ClassVar[str]
    Attrs: ClassVar[type] = NoAttrs
    n_inputs: ClassVar[int] = 1
    const_inputs: ClassVar[tuple[int, ...]] = ()
    real_output: ClassVar[bool] = False
    fixed_type: ClassVar[IntType | None] = None  # the output type when the op defines it (sign: bipolar)

    def shapes(self, a: Any, ins: list[TensorInfo]) -> list[tuple[int, ...]]:
        raise NotImplementedError

    def bounds(
        self, a: Any, ins: list[Bounds | None], consts: list[np.ndarray | None], infos: list[TensorInfo]
    ) -> list[Bounds | None]:
        """Exact per-channel value ranges of the outputs (Python ints) from the inputs' ranges,
        constants and tensor infos; None for real outputs."""
        raise NotImplementedError

    def check(self, a: Any, ins: list[TensorInfo], consts: list[np.ndarray | None]) -> None:
        """Op-specific preconditions on attributes, input types and constants; raise IRError."""

    def reference(self, a: Any, xs: list[np.ndarray]) -> list[np.ndarray]:
        """Outputs for inputs `xs` (int64 or float64 arrays; any batch size)."""
        raise NotImplementedError


def register(cls: type[Op]) -> type[Op]:
    if cls.name in OPS:
        raise RuntimeError(f"op {cls.name} registered twice")
    OPS[cls.name] = cls()
    return cls


def require(condition: bool, message: str) -> None:
    if not condition:
        raise IRError(message)


def require_int(info: TensorInfo, what: str) -> IntType:
    require(isinstance(info.dtype, IntType), f"{what} must be an integer tensor, not {info.dtype}")
    return info.dtype  # type: ignore[return-value]


# ---- helpers shared by several ops -------------------------------------------------------------

EXACT_FLOAT = 2**53


def window_output_size(size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int) -> int:
    out = (size + pad_lo + pad_hi - kernel) // stride + 1
    if out < 1:
        raise IRError(
            f"window {kernel}/{stride} does not fit a size-{size} input with pads {pad_lo},{pad_hi}"
        )
    return out


def window_view(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pads: tuple[int, int, int, int],
    pad_value,
) -> np.ndarray:
    """(N, H, W, C) -> (N, OH, OW, kh, kw, C) windows (a view where possible); pads are
    (top, left, bottom, right), filled with `pad_value`."""
    top, left, bottom, right = pads
    if any(pads):
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=pad_value)
    kh, kw = kernel
    v = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # N, H', W', C, kh, kw
    v = v[:, :: stride[0], :: stride[1]]
    return v.transpose(0, 1, 2, 4, 5, 3)


def linear_bounds(w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Bounds:
    """Per-output range of w @ x for integer weights w (O, K) and x[k] in [lo[k], hi[k]]."""
    wi = w.astype(np.int64)
    big = max(abs(int(v)) for v in list(lo) + list(hi)) if len(lo) else 0
    if int(np.abs(wi).max(initial=0)) * big * max(1, w.shape[1]) < 2**62:
        lo_i, hi_i = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
        low = np.minimum(wi * lo_i, wi * hi_i).sum(axis=1)
        high = np.maximum(wi * lo_i, wi * hi_i).sum(axis=1)
        return Bounds.of([int(v) for v in low], [int(v) for v in high])
    wo = wi.astype(object)
    low = np.minimum(wo * lo, wo * hi).sum(axis=1)
    high = np.maximum(wo * lo, wo * hi).sum(axis=1)
    return Bounds.of(low, high)


def exact_matmul(x: np.ndarray, w: np.ndarray, bound: int) -> np.ndarray:
    """x (..., K) @ w.T for integer arrays, exact: float64 BLAS when every partial sum stays below
    2**53 (`bound` is a proven bound on |x| * |w| * K), int64 otherwise (bound < 2**63)."""
    if bound < EXACT_FLOAT:
        return (x.astype(np.float64) @ w.astype(np.float64).T).astype(np.int64)
    if bound < 2**63:
        return np.einsum("...k,ok->...o", x.astype(np.int64), w.astype(np.int64))
    raise IRError("matrix product may exceed 64 bits")


def magnitude_bound(x: np.ndarray, w: np.ndarray) -> int:
    """max|x| * max|w| * K with Python ints."""
    mx = int(np.abs(x).max(initial=0))
    mw = int(np.abs(w).max(initial=0))
    return mx * mw * int(w.shape[-1])
