"""FPGA boards: the device resources a design must fit (vendor datasheet counts) and the parts the
vendor flows target. One table; `--board` names a row."""

from __future__ import annotations

from dataclasses import dataclass

from bireal_hw.errors import UserError


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

    def resources(self) -> dict[str, int]:
        return {"LUT": self.lut, "FF": self.ff, "BRAM36": self.bram36, "URAM": self.uram, "DSP": self.dsp}


BOARDS: dict[str, Board] = {
    b.name: b
    for b in [
        Board("pynq-z2", "xc7z020clg400-1", 53_200, 106_400, 140, 0, 220, 100.0),
        Board("ultra96", "xczu3eg-sbva484-1-i", 70_560, 141_120, 216, 0, 360, 200.0),
        Board("kv260", "xck26-sfvc784-2LV-c", 117_120, 234_240, 144, 64, 1_248, 200.0),
        Board("zcu104", "xczu7ev-ffvc1156-2-e", 230_400, 460_800, 312, 96, 1_728, 200.0),
        Board("u250", "xcu250-figd2104-2L-e", 1_728_000, 3_456_000, 2_688, 1_280, 12_288, 250.0),
    ]
}


def board(name: str) -> Board:
    if name not in BOARDS:
        raise UserError(f"unknown board {name!r}; known boards: {', '.join(BOARDS)}")
    return BOARDS[name]
