"""Yosys synthesis of the generated RTL for Xilinx UltraScale+ (`synth_xilinx -family xcup`):
real cell counts per kernel and per FIFO, and the logic depth of each, beside the cost model.

One Yosys run per design: every instance of the top level keeps its hierarchy (the `keep_hierarchy`
attribute, set by the script on the top's cells only), everything below it is flattened into it,
so each kernel is synthesized with its own ROM contents and parameters, and the design's total is
the sum of its instances (plus the top's few glue cells). Counted as the cost model counts:

    LUT     LUT1..LUT6, the LUTs of distributed RAM (RAM64M8 = 8, RAM64M = 4, ...) and SRLs
            (INV cells are left out: Vivado folds them into the LUT they drive)
    FF      FDRE, FDSE, FDCE, FDPE
    BRAM36  RAMB36E2 = 1, RAMB18E2 = 0.5
    URAM    URAM288
    DSP     DSP48E2

The logic depth of a kernel is the largest number of LUTs (LUT1..6 and distributed RAM reads) on
any path from a register, a block RAM or an input port to a register or an output port; carry and
wide-mux cells on that path are counted apart (docs/hardware.md: the bound used for 200 MHz).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from bireal_hw.errors import CheckFailed, UserError

RESOURCES = ("LUT", "FF", "BRAM36", "URAM", "DSP")
LUTRAM_LUTS = {
    "RAM16X1S": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
    "RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
    "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8,
    "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}  # fmt: skip
LOGIC_LUTS = {f"LUT{i}" for i in range(1, 7)}
FFS = {"FDRE", "FDSE", "FDCE", "FDPE"}
BLOCKS = {
    "RAMB36E2": ("BRAM36", 1.0),
    "RAMB18E2": ("BRAM36", 0.5),
    "URAM288": ("URAM", 1.0),
    "DSP48E2": ("DSP", 1.0),
}
CHAIN = {"CARRY4", "CARRY8", "MUXF7", "MUXF8", "MUXF9"}
# cells whose outputs are registered: a path starts and ends there
SEQUENTIAL = FFS | {"RAMB36E2", "RAMB18E2", "URAM288"}
# a distributed RAM's or SRL's read-address ports (ADDRA.., A0.., DPRA..): its data, write enable
# and write clock end a path (the write happens at the clock edge)
READ_ADDRESS = ("A", "DPRA")
# after synthesis: the ROMs in LUTs (hdl bireal_rom_logic, synthesized as modules of their own so
# that ABC does not merge them into the logic they feed) flattened into their kernels
FLATTEN_ROMS = "setattr -mod -unset keep_hierarchy; flatten; "
DEPTH_BOUND = 8  # LUT levels between registers for 200 MHz on UltraScale+ (-1 speed grade), docs/hardware.md


@dataclass
class Cells:
    """The cells of one synthesized module, in the cost model's resources."""

    LUT: int = 0  # logic LUTs + distributed RAM / SRL LUTs
    FF: int = 0
    BRAM36: float = 0.0
    URAM: int = 0
    DSP: int = 0
    lutram: int = 0  # of LUT: distributed RAM and shift registers
    depth: int = 0  # LUT levels of its longest register-to-register path
    chain: int = 0  # carry / wide-mux cells on that path
    by_type: dict[str, int] = field(default_factory=dict)

    def resources(self) -> dict[str, float]:
        return {r: getattr(self, r) for r in RESOURCES}


def count(by_type: dict[str, int]) -> Cells:
    c = Cells(by_type=dict(by_type))
    for cell, n in by_type.items():
        if cell in LOGIC_LUTS:
            c.LUT += n
        elif cell in LUTRAM_LUTS:
            c.LUT += n * LUTRAM_LUTS[cell]
            c.lutram += n * LUTRAM_LUTS[cell]
        elif cell in FFS:
            c.FF += n
        elif cell in BLOCKS:
            resource, units = BLOCKS[cell]
            setattr(c, resource, getattr(c, resource) + n * units)
    return c


def logic_depth(module: dict) -> tuple[int, int]:
    """(LUT levels, carry/mux cells) of the longest combinational path of a netlist module
    (Yosys' JSON): LUTs and distributed RAM reads count 1, carry and wide-mux cells 0 (counted
    apart), registers and block RAMs end a path, and so do a distributed RAM's write ports."""
    drivers: dict[int, str] = {}
    cells = module["cells"]
    for name, cell in cells.items():
        for port, bits in cell["connections"].items():
            if cell.get("port_directions", {}).get(port) == "output":
                for b in bits:
                    if isinstance(b, int):
                        drivers[b] = name
    preds: dict[str, set[str]] = {}
    for name, cell in cells.items():
        dirs = cell.get("port_directions", {})
        memory = cell["type"] in LUTRAM_LUTS  # written at the clock: only its read address is combinational
        srcs = {
            drivers[b]
            for port, bits in cell["connections"].items()
            if dirs.get(port) == "input" and (not memory or port.startswith(READ_ADDRESS))
            for b in bits
            if isinstance(b, int) and b in drivers
        }
        preds[name] = {s for s in srcs if cells[s]["type"] not in SEQUENTIAL and s != name}

    def weight(kind: str) -> tuple[int, int]:
        if kind in LOGIC_LUTS or kind in LUTRAM_LUTS:
            return 1, 0
        return (0, 1) if kind in CHAIN else (0, 0)

    memo: dict[str, tuple[int, int]] = {}
    visiting: set[str] = set()  # expanded, waiting for its inputs (a loop through it is cut)
    for root in cells:  # post-order, iterative (carry chains are deep)
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                best = max((memo.get(s, (0, 0)) for s in preds[node]), default=(0, 0))
                w = weight(cells[node]["type"])
                memo[node] = (best[0] + w[0], best[1] + w[1])
                visiting.discard(node)
            elif node not in memo and node not in visiting:
                visiting.add(node)
                stack.append((node, True))
                stack.extend((s, False) for s in preds[node] if s not in memo and s not in visiting)
    return max((v for k, v in memo.items() if cells[k]["type"] not in SEQUENTIAL), default=(0, 0))


@cache
def yosys() -> str:
    exe = shutil.which("yosys")
    if exe is None:
        raise UserError("yosys is not installed: apt-get install -y yosys (the README's set-up installs it)")
    return exe


def run_yosys(script: str, cwd: Path, log: Path, what: str) -> float:
    """Run a Yosys script in `cwd`; its log in `log`; seconds. One line on failure."""
    start = time.perf_counter()
    done = subprocess.run(
        [yosys(), "-q", "-l", str(log), "-p", script], cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        first = next((ln for ln in done.stderr.splitlines() + done.stdout.splitlines() if "ERROR" in ln), "")
        raise CheckFailed(f"{what}: yosys failed ({first.strip()[:200] or 'see ' + str(log)})")
    return time.perf_counter() - start


@dataclass
class SynthResult:
    instances: dict[str, Cells]  # instance (kernel or fifo_<stream>) -> its cells
    glue: Cells  # the top level's own cells (I/O buffers left out)
    seconds: float
    log: Path

    def total(self) -> dict[str, float]:
        out = {r: 0.0 for r in RESOURCES}
        for c in [*self.instances.values(), self.glue]:
            for r, v in c.resources().items():
                out[r] += v
        return out


def synthesize_xilinx(
    root: Path, sources: list[Path], top: str, out: Path, only: set[str] | None = None
) -> SynthResult:
    """`synth_xilinx -family xcup` of the design under `root` (paths in its sources are relative to
    it, as its ROM files are); the stat and netlist JSON under `out`. With `only`, the top level's
    other instances are removed first: each kept instance is synthesized as in the whole design
    (its hierarchy is kept, so nothing outside it is folded into it, and it is marked `keep`)."""
    out.mkdir(parents=True, exist_ok=True)
    files = " ".join(str(p.resolve().relative_to(root.resolve())) for p in sources)
    stat, netlist = (out / "xcup_stat.json").resolve(), (out / "xcup_netlist.json").resolve()
    keep = ""
    if only is not None:
        kept = " ".join(f"{top}/{name}" for name in sorted(only))
        keep = (
            f"select -set keep {kept}; delete {top}/c:* @keep %d; hierarchy -top {top}; "
            "setattr -set keep 1 @keep; "  # their outputs now drive nothing: keep them all the same
        )
    script = (
        f"read_verilog -defer {files}; hierarchy -top {top}; {keep}"
        f"setattr -set keep_hierarchy 1 {top}/t:*; "
        f"synth_xilinx -family xcup -flatten; {FLATTEN_ROMS}"
        f"tee -q -o {stat} stat -json; write_json {netlist}"
    )
    seconds = run_yosys(script, root, (out / "yosys_xcup.log").resolve(), "synthesis for UltraScale+")
    modules = json.loads(stat.read_text())["modules"]
    design = json.loads(netlist.read_text())["modules"]
    top_cells = design[top]["cells"]
    depth = {}
    instances = {}
    for name, cell in top_cells.items():
        kind = cell["type"]
        if name.startswith("$") or kind not in design:  # a primitive or a Yosys-made cell
            continue
        if kind not in depth:
            depth[kind] = logic_depth(design[kind])
        key = modules.get(kind) or modules.get("\\" + kind) or {}
        c = count(key.get("num_cells_by_type", {}))
        c.depth, c.chain = depth[kind]
        instances[name] = c
    glue_types = (modules.get("\\" + top) or modules.get(top) or {}).get("num_cells_by_type", {})
    kinds = {c["type"] for n, c in top_cells.items() if n in instances}
    glue = count({k: v for k, v in glue_types.items() if k not in kinds and "BUF" not in k})
    return SynthResult(instances, glue, seconds, out / "yosys_xcup.log")


def balanced_groups(weights: dict[str, float], jobs: int) -> list[set[str]]:
    """The instances in `jobs` groups of about equal weight (an instance's estimated LUT + FF: the
    synthesizer's work), heaviest first onto the lightest group."""
    groups: list[tuple[float, set[str]]] = [(0.0, set()) for _ in range(max(1, jobs))]
    for name in sorted(weights, key=lambda n: (-weights[n], n)):
        i = min(range(len(groups)), key=lambda j: groups[j][0])
        groups[i] = (groups[i][0] + weights[name], groups[i][1] | {name})
    return [g for _, g in groups if g]


def synthesize_in_groups(
    root: Path, sources: list[Path], top: str, out: Path, weights: dict[str, float], jobs: int
) -> SynthResult:
    """`synthesize_xilinx` of the whole design, or with `jobs` > 1 of `jobs` groups of instances
    at once (`only`: each instance is synthesized as in the whole design, its hierarchy kept), on
    as many cores; the counts are the same, the top's glue (a few LUTs) is left out. Seconds: the
    longest group's."""
    groups = balanced_groups(weights, jobs)
    if len(groups) <= 1:
        return synthesize_xilinx(root, sources, top, out)
    with ThreadPoolExecutor(len(groups)) as pool:  # each thread waits on its own Yosys process
        parts = list(
            pool.map(
                lambda ig: synthesize_xilinx(root, sources, top, out / f"group{ig[0]}", only=ig[1]),
                enumerate(groups),
            )
        )
    instances = {name: c for part in parts for name, c in part.instances.items()}
    log = out / "yosys_xcup.log"
    log.write_text("".join(f"==> {part.log}\n{part.log.read_text()}" for part in parts))
    return SynthResult(instances, count({}), max(part.seconds for part in parts), log)
