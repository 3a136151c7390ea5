"""The hardware kernel classes, one module per family (docs/extending.md: adding a kernel).

base         the protocol, MemoryRole/Memory, the registries and `lookup`
dma          InputDMA, OutputDMA, WeightDMA (a matrix unit's weights from DRAM)
window       SlidingWindow, MaxPool, SumPool (line buffers, window dependencies)
matrix       MatrixVector (XNOR-popcount or 8-bit MACs, thresholds or bias)
elementwise  Add, Fork, GlobalSumPool
width        WidthConverter
"""

from compiler.hw.kernels.base import (
    IR_OP_KERNELS,
    KERNEL_CLASSES,
    Kernel,
    Memory,
    MemoryRole,
    clog2,
    divisors,
    lookup,
    register,
)
from compiler.hw.kernels.dma import InputDMA, OutputDMA, WeightDMA
from compiler.hw.kernels.elementwise import Add, Fork, GlobalSumPool
from compiler.hw.kernels.matrix import MatrixVector
from compiler.hw.kernels.threshold import Thresholding
from compiler.hw.kernels.width import WidthConverter
from compiler.hw.kernels.window import MaxPool, SlidingWindow, SumPool, Window, WindowKernel

__all__ = [
    "IR_OP_KERNELS",
    "KERNEL_CLASSES",
    "Add",
    "Fork",
    "GlobalSumPool",
    "InputDMA",
    "Kernel",
    "MatrixVector",
    "MaxPool",
    "Memory",
    "MemoryRole",
    "OutputDMA",
    "SlidingWindow",
    "SumPool",
    "Thresholding",
    "Window",
    "WindowKernel",
    "WeightDMA",
    "WidthConverter",
    "clog2",
    "divisors",
    "lookup",
    "register",
]
