"""Tiny hand-built IR graphs for pass and IR tests: a stem, one downsampling Bi-Real block and
a classifier, with BatchNorm gammas of every sign."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from compiler.ir import BIPOLAR, REAL, Graph, IntType, execute
from compiler.ir.builder import GraphBuilder
from compiler.ir.ops.dequantize_output import DequantizeOutputAttrs
from compiler.ir.ops.max_pool import PoolAttrs
from compiler.ir.ops.quantize_input import QuantizeInputAttrs
from compiler.ir.ops.requantize import RequantizeAttrs
from compiler.ir.ops.scaled_add import ScaledAddAttrs
from compiler.ir.ops.sliding_window import WindowAttrs

ACC = IntType(32, True)


def bn_consts(b: GraphBuilder, rng: np.random.Generator, c: int, scale: float) -> list[str]:
    """A BatchNorm's constants (scale, gamma, beta, mean, var) with a negative and a zero gamma."""
    gamma = rng.random(c) + 0.2
    gamma[0], gamma[1] = -gamma[0], 0.0  # a negative and a zero gamma in every layer
    values = [
        np.full(c, scale),
        gamma,
        rng.standard_normal(c),
        rng.standard_normal(c) * 3,
        rng.random(c) + 0.5,
    ]
    return [b.const(v, REAL, "p") for v in values]


def tiny_bireal_graph(seed: int = 0, pad_value: int = 0, ratio: Fraction = Fraction(1)) -> Graph:
    """input (1, 6, 6, 2) -> stem conv -> block (binary 3x3 stride 2 + downsample shortcut) ->
    global pool -> classifier. `ratio` != 1 puts the shortcut on another grid than the output."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder("tiny")
    x = b.input((1, 6, 6, 2))
    q = b.node("quantize_input", [x], QuantizeInputAttrs(1 / 255, 0, 255))
    w = b.const(rng.integers(-127, 128, size=(4, 3, 3, 2)).astype(np.int8), IntType(8, True), "w")
    acc = b.node("conv", [q, w], WindowAttrs((3, 3), (1, 1), (1, 1, 1, 1), 0), ACC)
    r = b.node("requantize", [acc, *bn_consts(b, rng, 4, 0.002)], RequantizeAttrs(0.25, -8, 7, 1e-5))
    s = b.node("sign", [r])
    wb = b.const(rng.choice([-1, 1], size=(5, 3, 3, 4)).astype(np.int8), BIPOLAR, "w")
    acc2 = b.node("conv", [s, wb], WindowAttrs((3, 3), (2, 2), (1, 1, 1, 1), pad_value), ACC)
    r2 = b.node("requantize", [acc2, *bn_consts(b, rng, 5, 0.3)], RequantizeAttrs(0.25, -8, 7, 1e-5))
    pooled = b.node("sum_pool", [r], PoolAttrs((2, 2), (2, 2)), ACC)
    wd = b.const(rng.integers(-127, 128, size=(5, 1, 1, 4)).astype(np.int8), IntType(8, True), "w")
    acc3 = b.node("conv", [pooled, wd], WindowAttrs((1, 1), (1, 1), (0, 0, 0, 0), 0), ACC)
    r3 = b.node("requantize", [acc3, *bn_consts(b, rng, 5, 0.01)], RequantizeAttrs(0.25, -8, 7, 1e-5))
    y = b.node("scaled_add", [r2, r3], ScaledAddAttrs(Fraction(1), ratio, -8, 7))
    g = b.node("global_sum_pool", [y], None, ACC)
    f = b.node("flatten", [g], None, ACC)
    wf = b.const(rng.integers(-127, 128, size=(3, 5)).astype(np.int8), IntType(8, True), "w")
    bias = b.const(np.array([5, -7, 0]), IntType(4, True), "b")
    logits = b.node("matmul", [f, wf, bias], None, ACC)
    out = b.node("dequantize_output", [logits], DequantizeOutputAttrs(Fraction(1, 1000)))
    return b.finish([out])


def tiny_images(n: int = 6, seed: int = 0) -> np.ndarray:
    """NHWC images on the 1/255 grid, including all-0 and all-255 ones."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 6, 6, 2)).astype(np.float64)
    x[0], x[1] = 0, 255
    return x / 255


def logits(graph: Graph, images: np.ndarray) -> np.ndarray:
    producer = graph.producers()[graph.outputs[0]]
    return execute(graph, images, outputs=[producer.inputs[0]])[producer.inputs[0]]
