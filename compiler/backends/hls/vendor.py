"""The vendor side of the FPGA target, generated here and run where Vitis HLS and Vivado are
installed: the Vitis HLS tcl (csim, csynth, IP export), its C-simulation test bench and data, the
Vivado tcl (Zynq PS + AXI DMA + accelerator block design, bitstream) and the Makefile that runs
them (`make hls`, `make bitstream`; `make csim-gcc` needs only g++)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bireal_hw.errors import UserError
from compiler.backends.hls.codegen import TOP, Project, environment
from compiler.hw.boards import Board


@dataclass(frozen=True)
class ProcessingSystem:
    family: str
    vlnv: str
    rule: str
    automation: str
    config: str  # with {clock}
    master: str  # PS AXI master for the control ports
    slave: str  # PS AXI slave port the DMA masters write through
    clock: str
    board_part: str


_ZYNQ7 = dict(
    family="zynq7",
    vlnv="xilinx.com:ip:processing_system7:5.5",
    rule="xilinx.com:bd_rule:processing_system7",
    automation='make_external "FIXED_IO, DDR" apply_board_preset "1" Master "Disable" Slave "Disable"',
    config="CONFIG.PCW_USE_S_AXI_HP0 {{1}} CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ {{{clock}}}",
    master="M_AXI_GP0",
    slave="S_AXI_HP0",
    clock="FCLK_CLK0",
)
_ZYNQMP = dict(
    family="zynqmp",
    vlnv="xilinx.com:ip:zynq_ultra_ps_e:3.5",
    rule="xilinx.com:bd_rule:zynq_ultra_ps_e",
    automation='apply_board_preset "1"',
    config=(
        "CONFIG.PSU__USE__M_AXI_GP0 {{1}} CONFIG.PSU__USE__S_AXI_GP2 {{1}} "
        "CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ {{{clock}}}"
    ),
    master="M_AXI_HPM0_FPD",
    slave="S_AXI_HP0_FPD",
    clock="pl_clk0",
)
PROCESSING_SYSTEMS = {
    "pynq-z2": ProcessingSystem(**_ZYNQ7, board_part="tul.com.tw:pynq-z2:part0:1.0"),
    "ultra96": ProcessingSystem(**_ZYNQMP, board_part="avnet.com:ultra96v2:part0:1.2"),
    "kv260": ProcessingSystem(**_ZYNQMP, board_part="xilinx.com:kv260_som:part0:1.3"),
    "zcu104": ProcessingSystem(**_ZYNQMP, board_part="xilinx.com:zcu104:part0:1.1"),
}


def processing_system(board: Board) -> ProcessingSystem:
    if board.name not in PROCESSING_SYSTEMS:
        raise UserError(
            f"--target fpga --board {board.name}: no Zynq block design for this board (an Alveo card needs the "
            f"Vitis XRT flow, which is not generated); choose {', '.join(PROCESSING_SYSTEMS)}"
        )
    return PROCESSING_SYSTEMS[board.name]


def write_vendor_files(
    project: Project,
    out: Path,
    board: Board,
    clock_mhz: float,
    tb_input: np.ndarray,
    tb_expected: np.ndarray,
    ap_types: Path,
    ap_int_max_w: int,
) -> list[Path]:
    """Write hls/vitis_hls.tcl, hls/tb/*, vivado/bitstream.tcl and the Makefile under `out` (the
    project lives in out/hls). `tb_input`/`tb_expected`: (frames, words) uint64 bus words."""
    ps = processing_system(board)
    env = environment()
    frames = len(tb_input)
    common = {
        "top": TOP,
        "board": board,
        "clock_mhz": f"{clock_mhz:g}",
        "period_ns": f"{1000.0 / clock_mhz:.4g}",
        "frames": frames,
        "in_words": project.in_words,
        "out_words": project.out_words,
        "ap_types": ap_types,
        "ap_int_max_w": ap_int_max_w,
        "ps": ProcessingSystem(**{**ps.__dict__, "config": ps.config.format(clock=f"{clock_mhz:g}")}),
    }
    tb = project.root / "tb"
    tb.mkdir(parents=True, exist_ok=True)
    np.ascontiguousarray(tb_input, dtype="<u8").tofile(tb / "input.bin")
    np.ascontiguousarray(tb_expected, dtype="<u8").tofile(tb / "expected.bin")
    files = {
        tb / "testbench.cpp": "vendor/testbench.cpp.j2",
        project.root / "vitis_hls.tcl": "vendor/vitis_hls.tcl.j2",
        out / "vivado" / "bitstream.tcl": "vendor/bitstream.tcl.j2",
        out / "Makefile": "vendor/Makefile.j2",
    }
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(template).render(**common))
    return [*files, tb / "input.bin", tb / "expected.bin"]
