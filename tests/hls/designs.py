"""Seeded random Bi-Real-like designs for the HLS tests: odd channel counts, SIMD widths that do
not divide into 64, zero and +-1 padding, strides 1 and 2, padded max pools, image borders."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from compiler.hw.dataflow import Dataflow, build_dataflow
from compiler.hw.folding import connect_widths, follow_neighbours
from compiler.hw.kernels import MatrixVector, divisors
from compiler.ir import BIPOLAR, Graph, IntType
from compiler.ir.builder import GraphBuilder
from compiler.ir.ops.dequantize_output import DequantizeOutputAttrs
from compiler.ir.ops.max_pool import PoolAttrs
from compiler.ir.ops.multi_threshold import MultiThresholdAttrs
from compiler.ir.ops.quantize_input import QuantizeInputAttrs
from compiler.ir.ops.requantize import RequantizeAttrs
from compiler.ir.ops.scaled_add import ScaledAddAttrs
from compiler.ir.ops.sliding_window import WindowAttrs
from compiler.passes import PassManager, lowering_passes, streamline_passes
from tests.compiler.tiny_graphs import bn_consts

ACC = IntType(32, True)


@dataclass(frozen=True)
class Shape:
    size: int  # input height and width
    cin: int
    c1: int  # stem channels
    c2: int  # block channels (== c1 when stride 1)
    stride: int  # the binary conv's stride (2: downsampling block with a pooled 1x1 shortcut)
    pad_value: int  # binary conv padding: 0 (zero, ternary taps) or +-1
    maxpool: bool  # a 3x3/2 max pool with padding 1 after the stem
    threshold_input: bool = False  # the input thresholded to 2 bits first (a thresholding unit)


SHAPES = [
    Shape(7, 1, 5, 5, 1, 0, False),  # odd size, odd channels: 45-bit windows
    Shape(8, 3, 13, 7, 2, 0, False),  # downsampling block, 117-bit windows, 3-channel input
    Shape(9, 2, 7, 7, 1, -1, True),  # padded max pool over an odd map, -1 padding
    Shape(12, 1, 9, 11, 2, 1, True),  # max pool then a downsampling block, +1 padding
    Shape(6, 3, 5, 5, 1, 0, False, True),  # thresholded 3-channel input (directions +1, -1, 0)
    Shape(5, 11, 5, 5, 1, 0, False),  # 11-byte pixels: wider than a bus word, gathered by the DMA
]


def bireal_like(shape: Shape, seed: int, lower: bool = True) -> Graph:
    """The design's streamlined IR, lowered for the dataflow unless `lower` is False."""
    rng = np.random.default_rng(seed)
    s = shape
    b = GraphBuilder("hls_test")
    x = b.input((1, s.size, s.size, s.cin))
    q = b.node("quantize_input", [x], QuantizeInputAttrs(1 / 255, 0, 255))
    if s.threshold_input:  # three ascending thresholds per channel: outputs -1 .. 2
        t = np.sort(rng.integers(-260, 260, size=(s.cin, 3)), axis=1)
        d = np.array([1, -1, 0] * s.cin)[: s.cin]
        tc, dc = b.const(t, IntType(10, True), "t"), b.const(d.astype(np.int8), IntType(2, True), "d")
        q = b.node("multi_threshold", [q, tc, dc], MultiThresholdAttrs(-1), IntType(2, True))
    w = b.const(rng.integers(-127, 128, size=(s.c1, 3, 3, s.cin)).astype(np.int8), IntType(8, True), "w")
    acc = b.node("conv", [q, w], WindowAttrs((3, 3), (1, 1), (1, 1, 1, 1), 0), ACC)
    r = b.node("requantize", [acc, *bn_consts(b, rng, s.c1, 0.002)], RequantizeAttrs(0.25, -8, 7, 1e-5))
    if s.maxpool:
        r = b.node("max_pool", [r], PoolAttrs((3, 3), (2, 2), (1, 1, 1, 1)), IntType(4, True))
    sign = b.node("sign", [r])
    wb = b.const(rng.choice([-1, 1], size=(s.c2, 3, 3, s.c1)).astype(np.int8), BIPOLAR, "w")
    acc2 = b.node("conv", [sign, wb], WindowAttrs((3, 3), (s.stride,) * 2, (1, 1, 1, 1), s.pad_value), ACC)
    r2 = b.node("requantize", [acc2, *bn_consts(b, rng, s.c2, 0.3)], RequantizeAttrs(0.25, -8, 7, 1e-5))
    if s.stride == 2:
        pooled = b.node("sum_pool", [r], PoolAttrs((2, 2), (2, 2)), ACC)
        wd = b.const(rng.integers(-127, 128, size=(s.c2, 1, 1, s.c1)).astype(np.int8), IntType(8, True), "w")
        acc3 = b.node("conv", [pooled, wd], WindowAttrs((1, 1), (1, 1), (0, 0, 0, 0), 0), ACC)
        shortcut = b.node(
            "requantize", [acc3, *bn_consts(b, rng, s.c2, 0.01)], RequantizeAttrs(0.25, -8, 7, 1e-5)
        )
    else:
        shortcut = r
    y = b.node("scaled_add", [r2, shortcut], ScaledAddAttrs(Fraction(1), Fraction(1), -8, 7))
    g = b.node("global_sum_pool", [y], None, ACC)
    f = b.node("flatten", [g], None, ACC)
    wf = b.const(rng.integers(-127, 128, size=(3, s.c2)).astype(np.int8), IntType(8, True), "w")
    bias = b.const(np.array([5, -7, 0]), IntType(4, True), "b")
    logits = b.node("matmul", [f, wf, bias], None, ACC)
    out = b.node("dequantize_output", [logits], DequantizeOutputAttrs(Fraction(1, 1000)))
    graph = b.finish([out])
    return PassManager(streamline_passes() + (lowering_passes() if lower else [])).run(graph)


def random_folding(graph: Graph, seed: int) -> Dataflow:
    """The graph's dataflow with random legal PE/SIMD on every folded kernel."""
    rng = np.random.default_rng(seed)
    df = build_dataflow(graph)
    for k in df.order():
        if isinstance(k, MatrixVector):
            k.simd = int(rng.choice(k.simd_options(df)))
            k.pe = int(rng.choice(divisors(k.geometry.mh)))
        elif k.folded:
            k.pe = int(rng.choice(divisors(k.channels())))
    follow_neighbours(df)
    connect_widths(df)
    return df


def packed_design() -> tuple[Graph, Dataflow]:
    """Even channel counts, every matrix unit at PE = MH: the integer units share DSPs by lane pairs."""
    graph = bireal_like(Shape(6, 3, 16, 16, 1, 0, True), seed=7)
    df = random_folding(graph, seed=7)
    for k in df.order():
        if isinstance(k, MatrixVector):
            k.pe = k.geometry.mh
    follow_neighbours(df)
    connect_widths(df)
    return graph, df


def images(graph: Graph, n: int, seed: int) -> np.ndarray:
    """(n, C, H, W) images on the 1/255 grid, the first all 0 and the second all 255."""
    _, h, w, c = graph.tensors[graph.inputs[0]].shape
    x = np.random.default_rng(seed).integers(0, 256, size=(n, c, h, w)).astype(np.float64)
    x[0] = 0
    x[1 % n] = 255
    return x / 255


def sign_pool_fc_graph(seed: int) -> Graph:
    """sign -> max_pool -> flatten -> binary FC over 6x6x11 8-bit pixels with the offset of a
    `2x - 1` pre-processing (11-byte pixels, wider than a bus word): the sign is a thresholding
    unit (no sliding window takes it), its bipolar map is pooled and read by a matrix unit."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder("sign_pool_fc")
    x = b.input((1, 6, 6, 11))
    q = b.node("quantize_input", [x], QuantizeInputAttrs(1 / 256, -128, 127, offset=-128), IntType(8, True))
    s = b.node("sign", [q], None, BIPOLAR)
    p = b.node("max_pool", [s], PoolAttrs((2, 2), (2, 2)), BIPOLAR)
    f = b.node("flatten", [p], None, BIPOLAR)
    w = b.const(rng.choice([-1, 1], size=(5, 99)).astype(np.int8), BIPOLAR, "w")
    m = b.node("matmul", [f, w], None, IntType(32, True))
    out = b.node("dequantize_output", [m], DequantizeOutputAttrs(Fraction(1, 7), Fraction(3, 2)))
    return PassManager(streamline_passes() + lowering_passes()).run(b.finish([out]))


def pixel_classifier_graph(seed: int, channels: int = 5) -> Graph:
    """A 1x1 integer conv over a 4x4x3 map, its 32-bit accumulators the outputs: output beats of
    up to `channels` x 4 bytes every cycle, wider than the output bus word."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder("pixel_classifier")
    x = b.input((1, 4, 4, 3))
    q = b.node("quantize_input", [x], QuantizeInputAttrs(1 / 255, 0, 255))
    w = b.const(rng.integers(-127, 128, size=(channels, 1, 1, 3)).astype(np.int8), IntType(8, True), "w")
    acc = b.node("conv", [q, w], WindowAttrs((1, 1), (1, 1), (0, 0, 0, 0), 0), IntType(32, True))
    out = b.node("dequantize_output", [acc], DequantizeOutputAttrs(Fraction(1, 1000)))
    return PassManager(streamline_passes() + lowering_passes()).run(b.finish([out]))
