"""The protocol every hardware kernel class follows, the memories it declares, and the registry
lookups that the simulator and the backends dispatch through.

A kernel class (one per hardware layer kind, one module per family in this package) owns:

  Geometry         a frozen dataclass of its shape parameters (a wrong field fails at construction)
  ir_ops           the IR ops it implements (the dataflow builder's registry, `from_ir`)
  cycles(df)       cycles per frame with II = 1 and no stalls (docs/hardware.md, "cycles")
  logic(df)        LUT, FF, DSP of its compute logic
  memories(df)     the memories it needs, by role (MemoryRole), placed later by the cost model
  folding          its own PE/SIMD choice (`folded`), the legal values, the choice for a target
  latency(...)     its first and last output beat of frame 0 from its inputs' (compiler/hw/latency.py)

The simulator (`sim/`) and the backends keep their own tables keyed by kernel class (values and
schedules in sim/, templates in the backends) and look kernels up with `lookup`, so this package
imports neither of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, ClassVar, Protocol

import numpy as np

from compiler.hw.calibrated import beat_features, evaluate


class Stream(Protocol):
    """What a kernel reads of a stream (compiler.hw.dataflow.Stream)."""

    name: str
    producer: str
    consumer: str
    elements: int
    bits: int
    width: int

    @property
    def beats(self) -> int: ...


class Dataflow(Protocol):
    """What a kernel reads of its design (compiler.hw.dataflow.Dataflow; kernels sit below it)."""

    kernels: dict[str, Kernel]
    streams: dict[str, Stream]

    def input_streams(self, kernel: Kernel) -> list[Stream]: ...

    def output_streams(self, kernel: Kernel) -> list[Stream]: ...


class Builder(Protocol):
    """What `from_ir` uses to enter a kernel and its streams (compiler.hw.dataflow.DataflowBuilder)."""

    graph: Any  # compiler.ir.Graph
    consumers: dict[str, list]
    done: set[str]
    sign_of: dict[str, str]

    def bounds(self) -> dict: ...

    def add(
        self,
        cls: type[Kernel],
        geometry: Any,
        ir_nodes: list[str],
        consts: dict | None = None,
        inputs: Sequence[str] = (),
        output: str | None = None,
    ) -> Kernel: ...


class MemoryRole(Enum):
    WEIGHTS = "weights"
    THRESHOLDS = "thresholds"
    BIAS = "bias"
    REQUANT = "requant"  # a multiply-add's constants (d*M, B) instead of thresholds
    LINE_BUFFER = "line buffer"
    FIFO = "fifo"


@dataclass
class Memory:
    """A memory of `width` bits x `depth` words, its role, and where the cost model places it
    (`kind`: "LUTRAM" | "BRAM36" | "URAM" | "SRL" | "CONST" (one word per lane: constants in
    the logic), `count` units of it)."""

    role: MemoryRole
    width: int
    depth: int
    level: int | None = None  # the binary-search stage of a threshold memory
    lanes: int = 1  # `lanes` memories of width / lanes bits side by side (one per PE: its own ROM)
    read_ports: int = 1  # reads at different addresses in one cycle (a window's taps)
    # a ROM's distinct bit columns that vary over its words (None: unknown, every bit): in logic
    # or distributed RAM a constant column costs nothing and equal columns are one function
    live_bits: int | None = None
    stream: str = ""  # the FIFO's stream
    kind: str = ""
    count: int = 0

    @property
    def bits(self) -> int:
        return self.width * self.depth

    @property
    def what(self) -> str:
        """Its name in reports: `weights`, `thresholds[2]`, `line buffer`, `fifo s7`."""
        if self.role is MemoryRole.THRESHOLDS:
            return f"thresholds[{self.level}]"
        if self.role is MemoryRole.FIFO:
            return f"fifo {self.stream}"
        return self.role.value


def live_columns(words: np.ndarray, bits: int) -> int:
    """The distinct non-constant bit columns of a ROM: `words` (depth, fields) of integers,
    each field `bits` wide in two's complement."""
    w = np.asarray(words, dtype=np.int64).reshape(len(words), -1)
    if w.shape[0] <= 1:
        return 0
    columns = (
        ((w[:, :, None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(w.shape[0], -1)
    )  # (depth, columns)
    varying = columns.min(axis=0) != columns.max(axis=0)
    if not varying.any():
        return 0
    packed = np.ascontiguousarray(np.packbits(columns[:, varying], axis=0).T)  # a column's bits as bytes
    return len(np.unique(packed.view(np.dtype((np.void, packed.shape[1]))).ravel()))


def used_columns(words: np.ndarray, bits: int) -> int:
    """The bit columns of a ROM (as `live_columns`) that are 1 in some word: a constant 0 column
    drives nothing (a shift-and-add MAC has no adder for it)."""
    w = np.asarray(words, dtype=np.int64).reshape(len(words), -1)
    columns = ((w[:, :, None] >> np.arange(bits)) & 1).reshape(w.shape[0], -1)
    return int(columns.any(axis=0).sum())


def threshold_stage_words(thresholds: np.ndarray, pe: int, pad: int) -> list[np.ndarray]:
    """The ROM words of each binary-search stage, as both backends store them: thresholds padded
    with `pad` (above every input) to 2**L - 1 per channel; stage s, word g * 2**s + j, lane p:
    threshold j * 2**(L-s) + 2**(L-1-s) - 1 of channel g*PE + p. Each (groups * 2**s, PE)."""
    t = np.asarray(thresholds)
    levels = clog2(t.shape[1] + 1)
    full = np.full((t.shape[0], 2**levels - 1), pad, dtype=object)
    full[:, : t.shape[1]] = t
    lanes = full.reshape(-1, pe, 2**levels - 1)  # [group][lane][threshold]
    out = []
    for s in range(levels):
        b = levels - 1 - s
        probes = np.arange(2**s) * 2 ** (b + 1) + 2**b - 1
        out.append(lanes[:, :, probes].transpose(0, 2, 1).reshape(-1, pe))
    return out


def threshold_stage_columns(thresholds: np.ndarray, pe: int, bits: int) -> list[int]:
    """`live_columns` of each stage's ROM (`threshold_stage_words`) at `bits` per threshold."""
    return [live_columns(w, bits) for w in threshold_stage_words(thresholds, pe, (1 << (bits - 1)) - 1)]


def signed_bits(lo: int, hi: int) -> int:
    """Bits of a two's complement integer holding every value in [lo, hi]."""
    return max(int(lo).bit_length() if lo < 0 else 0, int(hi).bit_length()) + 1


def clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(max(n, 2))))


# Pipelining of the RTL (hdl/bireal_tree.v): levels of a balanced tree between two registers
TREE_LEVELS_PER_STAGE = 4  # a matrix unit's adder tree: an adder is one LUT level (carries apart)
POOL_LEVELS_PER_STAGE = 2  # a pool's max/sum tree: a comparison and a select per level


def tree_levels(leaves: int) -> int:
    """Levels of a balanced pairwise tree over `leaves` values."""
    return math.ceil(math.log2(leaves)) if leaves > 1 else 0


def registered_levels(leaves: int, per: int, registered_sum: bool) -> list[int]:
    """The levels of hdl/bireal_tree.v followed by a register (besides the leaves'): every `per`
    levels, and its last level where `registered_sum`."""
    levels = tree_levels(leaves)
    return [
        level
        for level in range(1, levels + 1)
        if (level % per == 0 and level < levels) or (level == levels and registered_sum)
    ]


def tree_stages(leaves: int, per: int, registered_sum: bool) -> int:
    """Register stages of a balanced tree over `leaves` values: the leaves and `registered_levels`."""
    return 1 + len(registered_levels(leaves, per, registered_sum))


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass(eq=False)
class Kernel:
    """One hardware kernel of the dataflow design (subclasses: one per kind)."""

    name: str
    inputs: list[str]
    outputs: list[str]
    geometry: Any
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    pe: int = 1
    simd: int = 1
    ir_nodes: list[str] = field(default_factory=list)

    kind: ClassVar[str] = ""  # the name prefix and the report's "kind"
    Geometry: ClassVar[type]
    ir_ops: ClassVar[tuple[str, ...]] = ()
    folded: ClassVar[bool] = False  # has a folding of its own (in folding.json)
    fold_order: ClassVar[int] = 1  # folded in this round (0: matrix units, 1: what they feed)
    host_port: ClassVar[bool] = False  # a DMA: the host's side of the design

    def __post_init__(self) -> None:
        if not isinstance(self.geometry, self.Geometry):
            raise TypeError(
                f"{self.name}: a {type(self).__name__} takes a {type(self).__name__}.Geometry, "
                f"got {type(self.geometry).__name__}"
            )

    # ---- shape ----------------------------------------------------------------------------------
    def channels(self) -> int:
        """The channel count a PE folding divides."""
        return getattr(self.geometry, "channels", 1)

    def in_width(self) -> int:
        """Elements per beat it reads."""
        return self.pe

    def out_width(self) -> int:
        """Elements per beat it writes."""
        return self.pe

    # ---- analytical models ------------------------------------------------------------------------
    def cycles(self, df: Dataflow) -> int:
        return df.input_streams(self)[0].beats

    def logic(self, df: Dataflow) -> dict[str, int]:
        """LUT, FF and DSP of its compute logic: the formula fitted to Yosys for its class
        (compiler/hw/calibrated.py) over its beat widths and `logic_features`."""
        return {**evaluate(self.calibration_key(), self.calibration_features(df)), "DSP": 0}

    def calibration_features(self, df: Dataflow) -> dict[str, float]:
        """Every feature its class's formula may use: beat widths and `logic_features`."""
        inb = sum(s.width * s.bits for s in df.input_streams(self))
        outb = sum(s.width * s.bits for s in df.output_streams(self))
        return beat_features(inb, outb) | self.logic_features(df)

    def calibration_key(self) -> str:
        return self.kind

    def logic_features(self, df: Dataflow) -> dict[str, float]:
        return {}

    def memories(self, df: Dataflow) -> list[Memory]:
        return []

    def pipeline_stages(self) -> int:
        """Cycles from an op's firing to the write of the beat it produces: the register stages of
        its RTL datapath (hdl/). The op reserves its FIFO slot when it fires; sim/ makes the beat
        readable that many cycles later, as the RTL FIFO does (`LAT`)."""
        return 0

    def latency(
        self, f_in: float, l_in: float, rate: float, ins: list[Stream], outs: list[Stream], cycles: int
    ) -> tuple[float, float]:
        """(first, last) output beat of frame 0 given the first and last input beat (streaming)."""
        return f_in, max(l_in, f_in + cycles - 1)

    # ---- folding ----------------------------------------------------------------------------------
    def legal(self, df: Dataflow) -> bool:
        return self.channels() % self.pe == 0

    def fold(self, df: Dataflow, target: int) -> bool:
        """Choose the least parallelism meeting `target` cycles (kernels with `folded`); False
        when none does."""
        return True

    def fastest_cycles(self) -> int:
        """Its cycles per frame fully parallel (the message when a target is out of reach)."""
        return 1

    def describe(self) -> str:
        return self.kind

    def follow(self, df: Dataflow) -> None:
        """A kernel without a folding of its own takes its neighbour's (after folding)."""


def geometry_fields(cls: type) -> list[str]:
    return [f.name for f in fields(cls.Geometry)]


KERNEL_CLASSES: dict[str, type[Kernel]] = {}  # kind -> class
IR_OP_KERNELS: dict[str, type[Kernel]] = {}  # IR op -> the class that implements it


def register(cls: type[Kernel]) -> type[Kernel]:
    """Class decorator: enter a kernel class in the registries."""
    if cls.kind in KERNEL_CLASSES:
        raise ValueError(f"kernel kind {cls.kind} registered twice")
    KERNEL_CLASSES[cls.kind] = cls
    for op in cls.ir_ops:
        if op in IR_OP_KERNELS:
            raise ValueError(f"IR op {op} has two kernels: {IR_OP_KERNELS[op].__name__}, {cls.__name__}")
        IR_OP_KERNELS[op] = cls
    return cls


def lookup(table: dict, kernel: Kernel, what: str):
    """The entry of `table` (keyed by kernel class) for `kernel`'s class or its nearest base."""
    for cls in type(kernel).__mro__:
        if cls in table:
            return table[cls]
    raise ValueError(f"{kernel.name}: no {what} for kernel class {type(kernel).__name__}")
