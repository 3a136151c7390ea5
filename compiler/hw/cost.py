"""Analytical models of the dataflow design (docs/hardware.md lists every formula):

- cycles per frame of each kernel when never stalled (II = 1), the frame interval (the slowest
  kernel), frames per second at a clock;
- resources per kernel (LUT, FF, BRAM36, URAM, DSP), a FINN-R-style cost model: compute logic
  per lane, memories (weights, thresholds, line buffers, FIFOs) mapped to LUTRAM, BRAM36 or URAM
  by their width and depth.

Each kernel class gives its own cycles, logic and memories (compiler/hw/kernels); this module
places the memories on a board and adds them up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from compiler.hw.calibrated import fifo_logic, ram_luts
from compiler.hw.dataflow import Dataflow, Stream
from compiler.hw.kernels import Memory, MemoryRole

RESOURCES = ("LUT", "FF", "BRAM36", "URAM", "DSP")
BRAM_SHAPES = [(512, 72), (1024, 36), (2048, 18), (4096, 9), (8192, 4), (16384, 2), (32768, 1)]
BRAM18_SHAPES = [(512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)]  # half a BRAM36 each
URAM_SHAPE = (4096, 72)
SRL_MAX_DEPTH = 32  # FIFOs up to this depth are shift registers (counted by compiler/hw/calibrated.py)


# Block RAM mapping, as Yosys 0.23's memory_libmap decides it for UltraScale+ (synth_xilinx
# -family xcup; passes/memory/memory_libmap.cc, techlibs/xilinx/brams_xc4v.txt): no cascading, so
# a memory deeper than one cell is `blocks` address blocks behind a read multiplexer in LUTs; the
# blocks' W-bit slices are packed side by side across the cells' data bits (a cell may hold parts
# of two blocks); the cheapest geometry by its cost (257 a RAMB36E2, 129 a RAMB18E2, 0.5 per
# multiplexer input bit) wins. docs/decisions.md ("Block RAM counts follow Yosys' mapper").
_RAMB36, _RAMB18 = 257, 129
_BRAM_GEOMETRIES = (  # (depth, width, cost, BRAM36 units per cell), in memory_libmap's order
    [(1 << (15 - i), w, _RAMB36, 1.0) for i, w in enumerate([1, 2, 4, 9, 18, 36])]
    + [(1 << (14 - i), w, _RAMB18, 0.5) for i, w in enumerate([1, 2, 4, 9, 18])]
    + [(1 << (15 - i), w, _RAMB36, 1.0) for i, w in enumerate([1, 2, 4, 9, 18, 36, 72])]
    + [(1 << (14 - i), w, _RAMB18, 0.5) for i, w in enumerate([1, 2, 4, 9, 18, 36])]
)


def bram_mapping(width: int, depth: int) -> tuple[float, int]:
    """(BRAM36 units, address blocks) of a width x depth memory in block RAM: RAMB18s count half."""
    best = None
    for d, w, cost, unit in _BRAM_GEOMETRIES:
        blocks = math.ceil(depth / d)
        cells = math.ceil(blocks * width / w)
        score = cost * cells + 0.5 * (blocks - 1) * width
        if best is None or score < best[0]:
            best = (score, cells * unit, blocks)
    return best[1], best[2]


def bram36_count(width: int, depth: int) -> float:
    """Block RAMs of a width x depth memory in BRAM36 units (RAMB18s count half)."""
    return bram_mapping(width, depth)[0]


def bram_mux_luts(width: int, depth: int) -> int:
    """LUTs of the read multiplexer over a block-RAM memory's address blocks: none for one block,
    a LUT per output bit for 2-4, about 0.45 per block and bit beyond (Yosys + ABC, measured on
    ROMs of 1-512 bits x 600-256,000 words: 9 blocks 3.2, 16 blocks 5.8, 63 blocks 27.1 per bit)."""
    blocks = bram_mapping(width, depth)[1]
    if blocks == 1:
        return 0
    return width if blocks <= 4 else round(width * (0.45 * blocks - 0.5))


def uram_count(width: int, depth: int) -> int:
    return math.ceil(width / URAM_SHAPE[1]) * math.ceil(depth / URAM_SHAPE[0])


def lutram_count(width: int, depth: int) -> int:
    return width * math.ceil(depth / 64)


@dataclass
class KernelCost:
    name: str
    kind: str
    cycles: int
    logic: dict[str, int]  # LUT, FF, DSP of the compute logic
    memories: list[Memory] = field(default_factory=list)

    def resources(self) -> dict[str, int]:
        out = {r: 0 for r in RESOURCES}
        out.update({k: v for k, v in self.logic.items()})
        for m in self.memories:
            for key, n in memory_resources(m).items():
                out[key] += n
        return out


def memory_resources(m: Memory) -> dict[str, float]:
    """What a placed memory takes: its units, and a deep block RAM's read multiplexer in LUTs."""
    key = "LUT" if m.kind in ("LUTRAM", "SRL", "CONST") else m.kind
    out = {key: m.count}
    if m.kind == "BRAM36" and m.count:
        copies = 1 if m.role is MemoryRole.FIFO else m.lanes * m.read_ports
        lane = m.width if m.role is MemoryRole.FIFO else math.ceil(m.width / m.lanes)
        out["LUT"] = out.get("LUT", 0) + copies * bram_mux_luts(lane, m.depth)
    return out


def fifo_memory(s: Stream) -> Memory:
    return Memory(MemoryRole.FIFO, s.width * s.bits, s.depth, stream=s.name)


def _options(m: Memory, board: dict[str, int]) -> dict[str, int]:
    """Where a memory can live and how many units it takes there."""
    if m.role is MemoryRole.FIFO:  # memory and pointers (compiler/hw/calibrated.py); deep: or block RAM
        fifo = fifo_logic(m.width, m.depth)["LUT"]
        if m.depth <= SRL_MAX_DEPTH:
            return {"SRL": fifo}
        return {"LUTRAM": fifo, "BRAM36": bram36_count(m.width, m.depth)}
    if m.role in PARAMETERS and m.depth <= 1:
        return {"CONST": 0}  # one word per lane: constants folded into the lanes' logic
    lane = math.ceil(m.width / m.lanes)  # each lane's own memory
    if m.role in PARAMETERS:  # a ROM in logic: its varying columns, a LUT6 per 64 words
        in_lut = lutram_count(m.width if m.live_bits is None else m.live_bits, m.depth)
    else:  # a RAM in distributed RAM cells, one copy per read port
        in_lut = ram_luts(m.width, m.depth, m.read_ports)
    copies = m.lanes * m.read_ports  # a block RAM's second port writes: a copy per read port
    options = {"LUTRAM": in_lut, "BRAM36": copies * bram36_count(lane, m.depth)}
    if (
        board.get("URAM", 0) and m.role not in PARAMETERS
    ):  # a URAM has no initial contents (a ROM cannot be one)
        options["URAM"] = copies * uram_count(lane, m.depth)
    return options


def _unit(kind: str) -> str:
    return "LUT" if kind in ("LUTRAM", "SRL", "CONST") else kind


PLACEMENT_HEADROOM = 0.85  # memory placement aims to keep each resource under 85% (routable designs)


LUTRAM_MAX_DEPTH = 128  # parameter memories up to this depth are distributed RAM (FINN's rule)
PARAMETERS = (MemoryRole.WEIGHTS, MemoryRole.THRESHOLDS, MemoryRole.BIAS, MemoryRole.REQUANT)


def first_choice(m: Memory, opts: dict[str, int], capacity: dict[str, int]) -> str:
    """Where a memory goes before balancing: weights, thresholds and biases deeper than 128 words
    in block RAM, shallower ones in LUTRAM, as FINN places them (a block RAM mostly empty is
    waste, a deep LUTRAM costs LUTs the logic needs); line buffers and FIFOs where they take the
    smallest fraction of the board."""
    if "CONST" in opts:
        return "CONST"
    if m.role in PARAMETERS:
        block = "BRAM36" if capacity.get("BRAM36", 0) > 1 or "URAM" not in opts else "URAM"
        if m.depth > LUTRAM_MAX_DEPTH and block in opts:
            return block
        return "LUTRAM"
    return min(opts, key=lambda k: opts[k] / capacity[_unit(k)])


def place_memories(memories: list[Memory], board: dict[str, int], logic_lut: int) -> None:
    """Board-aware placement: each memory goes to its `first_choice`; then, while a resource is
    above 85% of the board, the move that relieves it at the smallest fractional cost elsewhere
    (staying under 85% there) is made: LUTRAM or URAM only where block RAM is what runs out."""
    capacity = {k: max(1, v) for k, v in board.items()}
    choices = [_options(m, board) for m in memories]
    for m, opts in zip(memories, choices, strict=True):
        m.kind = first_choice(m, opts, {k: board.get(k, 0) for k in board} | {"LUT": capacity["LUT"]})
        m.count = opts[m.kind]
    for _ in range(4 * len(memories)):
        used = {"LUT": logic_lut, "BRAM36": 0, "URAM": 0}
        for m in memories:
            used[_unit(m.kind)] += m.count
        budget = {r: PLACEMENT_HEADROOM * board.get(r, 0) for r in used}
        over = [r for r in ("BRAM36", "URAM", "LUT") if used[r] > budget[r]]
        if not over:
            return
        best = None
        for m, opts in zip(memories, choices, strict=True):
            if _unit(m.kind) != over[0] or m.count == 0:
                continue
            for kind, n in opts.items():
                r = _unit(kind)
                if r == over[0] or used[r] + n > budget[r]:
                    continue
                price = (n / capacity[r]) / (m.count / capacity[over[0]])
                if best is None or price < best[0]:
                    best = (price, m, kind, n)
        if best is None:
            return  # cannot fit; the totals will say so
        _, m, kind, n = best
        m.kind, m.count = kind, n


@dataclass
class DesignCost:
    kernels: list[KernelCost]
    fifos: list[Memory]
    interval: int  # cycles per frame (the slowest kernel)
    bottleneck: str

    def totals(self) -> dict[str, int]:
        out = {r: 0 for r in RESOURCES}
        for kc in self.kernels:
            for r, v in kc.resources().items():
                out[r] += v
        for m in self.fifos:
            for key, n in memory_resources(m).items():
                out[key] += n
        out["FF"] += sum(
            fifo_logic(m.width, m.depth)["FF"] for m in self.fifos
        )  # pointers, count, small memories
        return out


def design_cost(df: Dataflow, board: dict[str, int]) -> DesignCost:
    """Cycles and resources of every kernel and FIFO, memories placed for `board` (its resource
    counts: LUT, FF, BRAM36, URAM, DSP)."""
    # in the order the kernels were made (the IR's layers, then forks, then width converters): the
    # report's rows, and the first of equally slow kernels is the bottleneck
    made = df.kernels.values()
    kernels = [KernelCost(k.name, k.kind, k.cycles(df), k.logic(df), k.memories(df)) for k in made]
    fifos = [fifo_memory(s) for s in df.streams.values()]
    logic_lut = sum(kc.logic["LUT"] for kc in kernels)
    place_memories([m for kc in kernels for m in kc.memories] + fifos, board, logic_lut)
    slowest = max(kernels, key=lambda kc: kc.cycles)
    return DesignCost(kernels, fifos, slowest.cycles, slowest.name)
