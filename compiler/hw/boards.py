"""FPGA boards: the device resources a design must fit (vendor datasheet counts), the part the
vendor flows target, and the block design family and board part of its Vivado flow. One table
used by the cost model, the folding search, the vendor scripts and the CLI; `--board` names a
row, `--board-file F.json` gives one of the user's own:

    {"name": "my-board", "part": "xczu3eg-sbva484-1-i", "lut": 70560, "ff": 141120,
     "bram36": 216, "uram": 0, "dsp": 360, "default_clock_mhz": 200,
     "family": "zynqmp", "board_part": "avnet.com:ultra96v2:part0:1.2"}

`family` ("zynq7", "zynqmp", or "" for a card without a Zynq PS) and `board_part` are needed only
by `--target fpga`'s Vivado block design.

External memory (matrix units whose weights stream from DRAM, compiler/hw/external.py):
`dram_gbs`, the peak rate of the DRAM the fabric reads (bus bytes x transfers per second, from
the board's documentation), `dram_ports` x `port_bits`, the fabric's ports into it (the Zynq's
high-performance AXI ports, or a card's memory controllers), and `dram_latency_ns`, a read's
round trip. Optional in a board file (0: no external memory, every weight stays on chip).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from bireal_hw.errors import UserError

FAMILIES = ("zynq7", "zynqmp", "")


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    lut: int
    ff: int
    bram36: int
    uram: int
    dsp: int
    default_clock_mhz: float
    family: str = ""  # the Zynq processing system of its block design ("" : none)
    board_part: str = ""  # Vivado's board part (the PS preset)
    dram_gbs: float = 0.0  # peak DRAM read rate, GB/s (0: no external memory)
    dram_ports: int = 0  # the fabric's AXI ports into the DRAM
    port_bits: int = 0  # each port's data width
    dram_latency_ns: float = 0.0  # a read's round trip from the fabric

    def resources(self) -> dict[str, int]:
        return {"LUT": self.lut, "FF": self.ff, "BRAM36": self.bram36, "URAM": self.uram, "DSP": self.dsp}


BOARDS: dict[str, Board] = {
    b.name: b
    for b in [
        # DRAM: the PS's DDR (zynq7: DDR3-1066 x 16 bits on these boards; the ultra96: LPDDR4-2133 x
        # 32; kv260, zcu104: DDR4-2400 / 2666 x 64) through the 4 high-performance AXI ports (64 /
        # 128 bits); the u250: 4 DDR4-2400 x 64 channels, one memory controller port each
        Board("pynq-z1", "xc7z020clg400-1", 53_200, 106_400, 140, 0, 220, 100.0, "zynq7", "www.digilentinc.com:pynq-z1:part0:1.0", 2.1, 4, 64, 250.0),
        Board("pynq-z2", "xc7z020clg400-1", 53_200, 106_400, 140, 0, 220, 100.0, "zynq7", "tul.com.tw:pynq-z2:part0:1.0", 2.1, 4, 64, 250.0),
        Board("ultra96", "xczu3eg-sbva484-1-i", 70_560, 141_120, 216, 0, 360, 200.0, "zynqmp", "avnet.com:ultra96v2:part0:1.2", 8.5, 4, 128, 250.0),
        Board("kv260", "xck26-sfvc784-2LV-c", 117_120, 234_240, 144, 64, 1_248, 200.0, "zynqmp", "xilinx.com:kv260_som:part0:1.3", 19.2, 4, 128, 250.0),
        Board("zcu104", "xczu7ev-ffvc1156-2-e", 230_400, 460_800, 312, 96, 1_728, 200.0, "zynqmp", "xilinx.com:zcu104:part0:1.1", 21.3, 4, 128, 250.0),
        Board("u250", "xcu250-figd2104-2L-e", 1_728_000, 3_456_000, 2_688, 1_280, 12_288, 250.0, "", "", 76.8, 4, 512, 300.0),
        # Lattice ECP5 (--target bitstream, nextpnr): in the cost model's units, 2 LUT4 per LUT6,
        # 208 DP16KD (18 kbit) = 104 BRAM36, 156 MULT18X18D; nextpnr's utilisation is the truth
        Board("ecp5-85f", "LFE5UM5G-85F-8BG381", 41_820, 83_640, 104, 0, 156, 100.0),
    ]
}  # fmt: skip


def board(name: str) -> Board:
    if name not in BOARDS:
        raise UserError(
            f"unknown board {name!r}; known boards: {', '.join(BOARDS)}; or give --board-file F.json"
        )
    return BOARDS[name]


def board_from_file(path: Path) -> Board:
    """A board described by the user (see the module docstring); UserError, one line, if the file
    is not such a description."""
    where = f"--board-file {path}"
    try:
        spec = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{where}: not a readable JSON file ({str(exc)[:120]})") from None
    if not isinstance(spec, dict):
        raise UserError(f"{where}: expected an object with the keys of the example in docs/hardware.md")
    known = {f.name: f for f in fields(Board)}
    unknown = sorted(set(spec) - set(known))
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0][:40]!r}; keys: {', '.join(known)}")
    optional = ("family", "board_part", "dram_gbs", "dram_ports", "port_bits", "dram_latency_ns")
    required = [f.name for f in fields(Board) if f.name not in optional]
    missing = [k for k in required if k not in spec]
    if missing:
        raise UserError(f"{where}: missing {', '.join(missing)}")
    for key in ("name", "part", "family", "board_part"):
        if key in spec and not (
            isinstance(spec[key], str) and len(spec[key]) <= 100 and spec[key].isprintable()
        ):
            raise UserError(f"{where}: {key} must be a short string")
    if not spec["name"] or not spec["part"]:
        raise UserError(f"{where}: name and part must not be empty")
    for key in ("lut", "ff", "bram36", "uram", "dsp"):
        v = spec[key]
        if not (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10**9):
            raise UserError(f"{where}: {key} must be a whole number of resources, got {str(v)[:40]!r}")
    if spec["lut"] == 0 or spec["ff"] == 0:
        raise UserError(f"{where}: a board needs LUTs and FFs")
    clock = spec["default_clock_mhz"]
    if not (isinstance(clock, int | float) and not isinstance(clock, bool) and 0 < clock <= 2000):
        raise UserError(f"{where}: default_clock_mhz must be a clock in MHz, got {str(clock)[:40]!r}")
    for key, top in (
        ("dram_gbs", 10_000),
        ("dram_ports", 64),
        ("port_bits", 4096),
        ("dram_latency_ns", 100_000),
    ):
        v = spec.get(key, 0)
        if not (isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= top) or v != v:
            raise UserError(f"{where}: {key} must be a number in [0, {top}], got {str(v)[:40]!r}")
    if spec.get("dram_gbs", 0) and not (
        isinstance(spec.get("dram_ports"), int)
        and spec.get("dram_ports", 0) >= 1
        and isinstance(spec.get("port_bits"), int)
        and spec.get("port_bits", 0) >= 8
    ):
        raise UserError(
            f"{where}: a board with dram_gbs needs whole numbers dram_ports >= 1 and port_bits >= 8"
        )
    if spec.get("family", "") not in FAMILIES:
        raise UserError(f"{where}: family must be one of zynq7, zynqmp or empty, got {spec['family'][:40]!r}")
    return Board(**spec)


def choose_board(name: str, file: Path | None) -> Board:
    """The board of `--board-file` when given, else the table's `--board`."""
    return board_from_file(file) if file is not None else board(name)
