"""The Vivado flow of the RTL target (run where Vivado is installed): a block design with the
board's Zynq PS, an AXI DMA and the RTL top level as a module reference (no HLS, no IP packaging),
synthesized, implemented and written as a bitstream: rtl/vivado/bitstream.tcl."""

from __future__ import annotations

from pathlib import Path

from compiler.backends.hls.vendor import ProcessingSystem, processing_system
from compiler.backends.rtl.codegen import TOP, RtlProject, environment
from compiler.hw.boards import Board


def write_vivado_flow(project: RtlProject, folder: Path, board: Board, clock_mhz: float) -> Path:
    ps = processing_system(board)
    env = environment()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bitstream.tcl"
    path.write_text(
        env.get_template("bitstream.tcl.j2").render(
            top=TOP,
            board=board,
            clock_mhz=f"{clock_mhz:g}",
            period_ns=f"{1000.0 / clock_mhz:.4g}",
            ps=ProcessingSystem(**{**ps.__dict__, "config": ps.config.format(clock=f"{clock_mhz:g}")}),
            sources=[p.relative_to(project.root).as_posix() for p in project.sources],
            roms=sorted(name for rk in project.kernels for name in rk.roms),
        )
    )
    return path
