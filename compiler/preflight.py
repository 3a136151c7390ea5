"""Checks of a build's flags that need no model, run before any work (compiler/targets.py names
which targets run which); each raises UserError with one line."""

from __future__ import annotations

from bireal_hw.errors import UserError


def hardware_flags(cfg) -> None:
    """The board (table row or --board-file), the clock and fps, the folding file."""
    cfg.chosen_board()
    if cfg.clock_mhz <= 0 or (cfg.fps is not None and cfg.fps <= 0):
        raise UserError("--fps and --clock-mhz must be positive")
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


def hls4ml_installed(cfg) -> None:
    try:
        import hls4ml  # noqa: F401
    except ImportError:
        raise UserError("--target hls4ml needs hls4ml: pip install hls4ml") from None
