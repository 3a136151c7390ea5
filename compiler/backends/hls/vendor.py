"""The vendor side of the FPGA target, generated here and run where Vitis HLS and Vivado are
installed: the Vitis HLS tcl (csim, csynth, IP export), its C-simulation test bench and data, the
Vivado tcl (Zynq PS + AXI DMA + accelerator block design, bitstream) and the Makefile that runs
them (`make hls`, `make bitstream`; `make csim-gcc` needs only g++)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bireal_hw.errors import UserError
from compiler.backends.hls.codegen import TOP, Project, environment
from compiler.hw.boards import BOARDS, Board


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
    weight_slaves: tuple[str, ...] = ()  # PS slave ports the weight DMAs' m_axi masters read through
    weight_config: str = ""  # the PS settings that enable them


# the block design of each Zynq family; the board table (compiler/hw/boards.py) names its family
FAMILY_PS = {
    "zynq7": dict(
        vlnv="xilinx.com:ip:processing_system7:5.5",
        rule="xilinx.com:bd_rule:processing_system7",
        automation='make_external "FIXED_IO, DDR" apply_board_preset "1" Master "Disable" Slave "Disable"',
        config="CONFIG.PCW_USE_S_AXI_HP0 {{1}} CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ {{{clock}}}",
        master="M_AXI_GP0",
        slave="S_AXI_HP0",
        clock="FCLK_CLK0",
        weight_slaves=("S_AXI_HP1", "S_AXI_HP2", "S_AXI_HP3"),
        weight_config="CONFIG.PCW_USE_S_AXI_HP1 {1} CONFIG.PCW_USE_S_AXI_HP2 {1} CONFIG.PCW_USE_S_AXI_HP3 {1}",
    ),
    "zynqmp": dict(
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
        weight_slaves=("S_AXI_HP1_FPD", "S_AXI_HP2_FPD", "S_AXI_HP3_FPD"),
        weight_config="CONFIG.PSU__USE__S_AXI_GP3 {1} CONFIG.PSU__USE__S_AXI_GP4 {1} CONFIG.PSU__USE__S_AXI_GP5 {1}",
    ),
}


def zynq_boards() -> list[str]:
    return [b.name for b in BOARDS.values() if b.family in FAMILY_PS and b.board_part]


def processing_system(board: Board) -> ProcessingSystem:
    if board.family not in FAMILY_PS or not board.board_part:
        raise UserError(
            f"--target fpga --board {board.name}: no Zynq block design for this board (an Alveo card needs the "
            f"Vitis XRT flow, which is not generated; a --board-file needs family and board_part); "
            f"choose {', '.join(zynq_boards())}"
        )
    return ProcessingSystem(family=board.family, board_part=board.board_part, **FAMILY_PS[board.family])


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
        "drams": project.drams,
    }
    tb, data = project.root / "tb", project.root / "tb_data"
    tb.mkdir(parents=True, exist_ok=True)
    data.mkdir(exist_ok=True)
    np.ascontiguousarray(tb_input, dtype="<u8").tofile(data / "input.bin")
    np.ascontiguousarray(tb_expected, dtype="<u8").tofile(data / "expected.bin")
    images = []
    for i, d in enumerate(project.drams):  # the weight DMAs' DRAM images, beside the frames
        images.append(data / f"dram_{i}.bin")
        shutil.copy(project.root / d["file"], images[-1])
    files = {
        tb / "testbench.cpp": "vendor/testbench.cpp.j2",
        project.root / "vitis_hls.tcl": "vendor/vitis_hls.tcl.j2",
        out / "vivado" / "bitstream.tcl": "vendor/bitstream.tcl.j2",
        out / "Makefile": "vendor/Makefile.j2",
    }
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(template).render(**common))
    # g++ compiles the kernels as one unit (the ap_int headers dominate per-file compile time)
    unity = tb / "gcc_unity.cpp"
    unity.write_text(
        "// Generated by bireal-hw: every kernel, the top level and the test bench as one g++ unit.\n"
        + "".join(f'#include "../src/{p.name}"\n' for p in project.sources)
        + '#include "testbench.cpp"\n'
    )
    return [*files, unity, data / "input.bin", data / "expected.bin", *images]
