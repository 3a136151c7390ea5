"""Checks of a build's flags that need no model, run before any work (compiler/targets.py names
which targets run which); each raises UserError with one line."""

from __future__ import annotations

from bireal_hw.errors import UserError


def hardware_flags(cfg) -> None:
    """The board (table row or --board-file), the clock and fps, the folding file."""
    cfg.chosen_board()  # the numbers were checked by BuildConfig.validate
    if cfg.folding is not None and not cfg.folding.is_file():
        raise UserError(f"--folding {cfg.folding} not found")


def zynq_block_design(cfg) -> None:
    from compiler.backends.hls.vendor import processing_system

    processing_system(cfg.chosen_board())


def hls_toolchain(cfg) -> None:
    from compiler.backends.hls.csim import compiler, hls_include_dir

    try:
        compiler(), hls_include_dir()
    except RuntimeError as exc:
        raise UserError(f"--target {cfg.target.value}: {exc}") from None


def rtl_toolchain(cfg) -> None:
    """Verilator and a C++ compiler for the RTL simulation."""
    from compiler.backends.hls.csim import compiler
    from compiler.backends.rtl.verilator import verilator

    try:
        verilator(), compiler()
    except RuntimeError as exc:
        raise UserError(f"--target {cfg.target.value}: {exc}") from None


def synth_toolchain(cfg) -> None:
    """Yosys, when the build synthesizes (--synth, --target bitstream)."""
    if cfg.synth or cfg.target.value == "bitstream":
        from compiler.backends.rtl.synth import yosys

        yosys()


def bitstream_toolchain(cfg) -> None:
    """nextpnr-ecp5 and ecppack (YoWASP), and a board that is the ECP5 the flow targets."""
    from compiler.backends.rtl.bitstream import tools

    tools()
    if cfg.board_file is None and cfg.board != "ecp5-85f":
        raise UserError(
            f"--target bitstream places and routes for the Lattice ECP5 with nextpnr; --board {cfg.board} is a "
            "Xilinx board (Vivado's flow: --target rtl or fpga); use --board ecp5-85f"
        )


def _extra(module: str, target: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise UserError(
            f"--target {target} needs {module}, an optional part of bireal-hw: "
            f'pip install -e ".[{extra}]" torch==2.13.0'
        )


def hls4ml_installed(cfg) -> None:
    _extra("hls4ml", cfg.target.value, "hls4ml")


def tvm_installed(cfg) -> None:
    _extra("tvm", cfg.target.value, "cpu")
