"""Passes over the IR and the pipelines the build uses (see `compiler.passes.base` for how to
write one)."""

from compiler.passes.base import Pass, RewritePass
from compiler.passes.cpu_fusion import GroupCPUKernels
from compiler.passes.fold_thresholds import FoldRequantizeIntoThresholds
from compiler.passes.lower_conv import LowerConvToSlidingWindowMatMul
from compiler.passes.manager import DumpIRAfterEachPass, Instrument, PassManager, PassTiming
from compiler.passes.residual_grid import PutResidualAddsOnOneGrid
from compiler.passes.widths import MinimizeIntegerWidths
from compiler.passes.xnor_popcount import LowerBipolarMatMulToXnorPopcount


def streamline_passes() -> list[Pass]:
    """BN and scales -> thresholds; residual adds -> integer adds."""
    return [FoldRequantizeIntoThresholds(), PutResidualAddsOnOneGrid()]


def lowering_passes() -> list[Pass]:
    """conv -> sliding window + matmul; bipolar matmul -> XNOR-popcount; minimal widths."""
    return [LowerConvToSlidingWindowMatMul(), LowerBipolarMatMulToXnorPopcount(), MinimizeIntegerWidths()]


__all__ = [
    "DumpIRAfterEachPass",
    "FoldRequantizeIntoThresholds",
    "GroupCPUKernels",
    "Instrument",
    "LowerBipolarMatMulToXnorPopcount",
    "LowerConvToSlidingWindowMatMul",
    "MinimizeIntegerWidths",
    "Pass",
    "PassManager",
    "PassTiming",
    "PutResidualAddsOnOneGrid",
    "RewritePass",
    "lowering_passes",
    "streamline_passes",
]
