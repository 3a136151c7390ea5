"""Analytical models of the dataflow design (docs/hardware.md lists every formula):

- cycles per frame of each kernel when never stalled (II = 1), the frame interval (the slowest
  kernel), frames per second at a clock;
- resources per kernel (LUT, FF, BRAM36, URAM, DSP), a FINN-R-style cost model: compute logic
  per lane, memories (weights, thresholds, line buffers, FIFOs) mapped to LUTRAM, BRAM36 or URAM
  by their width and depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from compiler.hw.dataflow import Dataflow, Kernel, Stream

RESOURCES = ("LUT", "FF", "BRAM36", "URAM", "DSP")
BRAM_SHAPES = [(512, 72), (1024, 36), (2048, 18), (4096, 9), (8192, 4), (16384, 2), (32768, 1)]
URAM_SHAPE = (4096, 72)
SRL_MAX_DEPTH = 32  # FIFOs up to this depth are shift registers (32 x 1 bit per LUT)


@dataclass
class Memory:
    """A memory of `width` bits x `depth` words and where the model places it."""

    what: str
    width: int
    depth: int
    kind: str = ""  # "LUTRAM" | "BRAM36" | "URAM" | "SRL"
    count: int = 0  # LUTs, BRAM36s or URAMs

    @property
    def bits(self) -> int:
        return self.width * self.depth


def bram36_count(width: int, depth: int) -> int:
    return min(math.ceil(width / w) * math.ceil(depth / d) for d, w in BRAM_SHAPES)


def uram_count(width: int, depth: int) -> int:
    return math.ceil(width / URAM_SHAPE[1]) * math.ceil(depth / URAM_SHAPE[0])


def packed(count, width: int, depth: int) -> tuple[int, int]:
    """(units, packing r): a narrow, deep memory may store r consecutive words per row (r * width
    bits wide, depth / r deep) and shift them out, one word per cycle; r up to 64."""
    best = (count(width, depth), 1)
    r = 2
    while r <= 64 and r <= depth:
        best = min(best, (count(width * r, math.ceil(depth / r)), r))
        r *= 2
    return best


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
            key = "LUT" if m.kind in ("LUTRAM", "SRL") else m.kind
            out[key] += m.count
        return out


def clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(max(n, 2))))


# ---- cycles --------------------------------------------------------------------------------------


def mvu_folds(k: Kernel) -> tuple[int, int]:
    """(synapse folds MW/SIMD, neuron folds MH/PE)."""
    g = k.geometry
    return math.ceil(g["mw"] / k.simd), math.ceil(g["mh"] / k.pe)


def kernel_cycles(k: Kernel, df: Dataflow) -> int:
    """Cycles per frame with II = 1 and no stalls (docs/hardware.md, "cycles")."""
    g = k.geometry
    ins, outs = df.input_streams(k), df.output_streams(k)
    if k.kind == "mvu":
        sf, nf = mvu_folds(k)
        return g["pixels"] * sf * nf
    if k.kind in ("swu", "max_pool", "sum_pool", "dwc"):
        return max(ins[0].beats, outs[0].beats)
    if k.kind in ("input_dma", "fork", "global_sum_pool", "add"):
        return (outs or ins)[0].beats if k.kind == "input_dma" else ins[0].beats
    if k.kind == "output_dma":
        return ins[0].beats
    raise ValueError(f"no cycle model for {k.kind}")


# ---- resources -----------------------------------------------------------------------------------


def _logic(k: Kernel, df: Dataflow) -> dict[str, int]:
    g = k.geometry
    ins = df.input_streams(k)
    bits = ins[0].bits if ins else 8
    if k.kind == "mvu":
        acc = g["acc_bits"]
        levels = clog2(len(k.consts["thresholds"][0]) + 1) if "thresholds" in k.consts else 0
        t_bits = g.get("threshold_bits", acc)
        threshold_lut = k.pe * levels * (t_bits + 2)
        if g["binary"]:
            # XNOR + popcount ~ 2 LUT per lane; an accumulator and adder per PE.
            lut = k.pe * (2 * k.simd + 3 * acc) + threshold_lut + 200
            ff = k.pe * (k.simd + acc * (levels + 2)) + 200
            return {"LUT": lut, "FF": ff, "DSP": 0}
        # 8-bit: two MACs per DSP48E2 (INT8 packing), the adder tree in the DSP cascade.
        dsp = math.ceil(k.pe * k.simd / 2)
        lut = k.pe * 3 * acc + threshold_lut + 200
        ff = k.pe * acc * (levels + 3) + k.simd * 8 + 200
        return {"LUT": lut, "FF": ff, "DSP": dsp}
    if k.kind == "swu":
        stored = 1 if g["sign_input"] else bits
        window_regs = max(0, k.simd - g["ifm"][2]) * stored
        return {"LUT": 150 + 2 * k.simd * stored, "FF": 150 + k.simd * stored + window_regs, "DSP": 0}
    width = (ins[0].width if ins else k.pe) * bits
    per_kind = {
        "add": (2 * width + 60, 2 * width + 60),
        "fork": (width + 30, 2 * width + 30),
        "max_pool": (3 * width + 100, 3 * width + 100),
        "sum_pool": (3 * width + 100, 3 * width + 100),
        "global_sum_pool": (3 * width + 100, 2 * width + 100),
        "dwc": (2 * width + 50, 2 * width + 50),
        "input_dma": (600, 900),
        "output_dma": (600, 900),
    }
    lut, ff = per_kind[k.kind]
    return {"LUT": lut, "FF": ff, "DSP": 0}


def _memories(k: Kernel, df: Dataflow) -> list[Memory]:
    g = k.geometry
    mems: list[Memory] = []
    if k.kind == "mvu":
        w_bits = 1 if g["binary"] else 8
        sf, nf = mvu_folds(k)
        mems.append(Memory("weights", k.pe * k.simd * w_bits, sf * nf))
        if "thresholds" in k.consts:
            steps = len(k.consts["thresholds"][0])
            t_bits = g["threshold_bits"]
            # pipelined binary search: stage L holds 2**L thresholds per channel
            for level in range(clog2(steps + 1)):
                mems.append(Memory(f"thresholds[{level}]", k.pe * t_bits, nf * 2**level))
        if "bias" in k.consts:
            mems.append(Memory("bias", k.pe * 32, nf))
    elif k.kind in ("swu", "max_pool", "sum_pool"):
        ih, iw, ic = g["ifm"]
        kh, kw = g["kernel"]
        stored = 1 if g.get("sign_input") else df.input_streams(k)[0].bits
        lanes = min(k.simd if k.kind == "swu" else k.pe, ic)
        # kh rows in use plus the next stride of rows loading (sim/schedule.py, window kernels)
        depth = (kh + g["stride"][0]) * iw * ic // lanes
        mems.append(Memory("line buffer", lanes * stored, depth))
    return mems


def fifo_memory(s: Stream) -> Memory:
    return Memory(f"fifo {s.name}", s.width * s.bits, s.depth)


def _options(m: Memory, board: dict[str, int]) -> dict[str, int]:
    """Where a memory can live and how many units it takes there."""
    if m.what.startswith("fifo") and m.depth <= SRL_MAX_DEPTH:
        return {"SRL": m.width * math.ceil(m.depth / 32)}
    options = {"LUTRAM": lutram_count(m.width, m.depth), "BRAM36": packed(bram36_count, m.width, m.depth)[0]}
    if board.get("URAM", 0):
        options["URAM"] = packed(uram_count, m.width, m.depth)[0]
    return options


def _unit(kind: str) -> str:
    return "LUT" if kind in ("LUTRAM", "SRL") else kind


PLACEMENT_HEADROOM = 0.85  # memory placement aims to keep each resource under 85% (routable designs)


def place_memories(memories: list[Memory], board: dict[str, int], logic_lut: int) -> None:
    """Board-aware placement: each memory goes where it takes the smallest fraction of the board's
    resource (LUTRAM, BRAM36 or URAM); then, while a memory resource is above 85% of the board,
    the move that relieves it at the smallest fractional cost elsewhere (staying under 85% there)
    is made."""
    capacity = {k: max(1, v) for k, v in board.items()}
    choices = [_options(m, board) for m in memories]
    for m, opts in zip(memories, choices, strict=True):
        m.kind = min(opts, key=lambda k: opts[k] / capacity[_unit(k)])
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
            if _unit(m.kind) != over[0]:
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
            out["LUT" if m.kind in ("LUTRAM", "SRL") else m.kind] += m.count
        out["FF"] += sum(m.width for m in self.fifos) * 2  # read/write pointers and output regs
        return out


def design_cost(df: Dataflow, board: dict[str, int]) -> DesignCost:
    """Cycles and resources of every kernel and FIFO, memories placed for `board` (its resource
    counts: LUT, FF, BRAM36, URAM, DSP)."""
    kernels = [
        KernelCost(k.name, k.kind, kernel_cycles(k, df), _logic(k, df), _memories(k, df)) for k in df.order()
    ]
    fifos = [fifo_memory(s) for s in df.streams.values()]
    logic_lut = sum(kc.logic["LUT"] for kc in kernels)
    place_memories([m for kc in kernels for m in kc.memories] + fifos, board, logic_lut)
    slowest = max(kernels, key=lambda kc: kc.cycles)
    return DesignCost(kernels, fifos, slowest.cycles, slowest.name)
