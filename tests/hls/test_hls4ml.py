"""--target hls4ml: the streamlined IR as an hls4ml project whose own C-simulation equals the
golden, and one-line refusals for layers hls4ml cannot express exactly."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from bireal_hw import bnn_pynq
from bireal_hw.errors import UserError
from compiler.backends.hls4ml.convert import convert, hls4ml_model
from compiler.build import main
from compiler.hls4ml_step import model_runner
from compiler.ir import BIPOLAR, IntType
from compiler.ir.builder import GraphBuilder
from compiler.ir.ops.dequantize_output import DequantizeOutputAttrs
from compiler.ir.ops.max_pool import PoolAttrs
from compiler.ir.ops.multi_threshold import MultiThresholdAttrs
from compiler.ir.ops.quantize_input import QuantizeInputAttrs
from compiler.verification import graph_runner
from compiler.verify_build import images_for
from tests.conftest import run_cli
from tests.hls.designs import SHAPES, Shape, bireal_like, images

pytestmark = pytest.mark.hls


def test_default_model_hls4ml_project_equals_the_golden(tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = run_cli(main, capsys, "--target", "hls4ml", "--out", str(out), "--verify-images", "6")
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    assert report["hls4ml"]["images"] == 6 and report["hls4ml"]["mismatches"] == 0
    assert json.loads(stdout)["hls4ml"] == {"images": 6, "mismatches": 0}
    project = out / "hls4ml"
    for name in (
        "build_prj.tcl",
        "firmware/bireal_hls4ml.cpp",
        "firmware/nnet_utils/nnet_bireal_threshold.h",
    ):
        assert (project / name).is_file(), name
    source = (project / "firmware" / "bireal_hls4ml.cpp").read_text()
    assert "nnet::bireal_threshold<" in source and "io_stream" in (project / "hls4ml_config.yml").read_text()
    # the project left behind works where it is: linked by hls4ml, compiled in place, C-simulated
    assert ".staging-" not in (project / "hls4ml_config.yml").read_text()
    from compiler.build import DEFAULT_MODEL
    from compiler.hls4ml_step import project_runner
    from compiler.ir import load_graph
    from compiler.verification import golden_reference

    x = np.random.default_rng(5).integers(0, 256, size=(3, 1, 28, 28)).astype(np.float32) / 255
    got = project_runner(load_graph(out / "model.ir"), project)(x)
    assert np.array_equal(got, golden_reference(DEFAULT_MODEL).run(x))


def test_odd_channel_design_through_hls4ml(tmp_path):
    graph = bireal_like(SHAPES[0], seed=0, lower=False)
    model = hls4ml_model(graph, tmp_path / "prj", "xczu7ev-ffvc1156-2-e", 200.0)
    model.compile()
    x = images(graph, 4, seed=0)
    pixels = np.round(x * 255).transpose(0, 2, 3, 1)
    got = np.asarray(model.predict(np.ascontiguousarray(pixels)), dtype=np.float64).reshape(4, -1)
    assert np.array_equal(got, graph_runner(graph)(x))


@pytest.mark.parametrize(
    "shape, expect",
    [
        (Shape(7, 1, 5, 5, 1, -1, False), "padding with -1 (hls4ml pads convolutions with zeros)"),
        (SHAPES[3], "max_pool_3 (max_pool) cannot be expressed exactly in hls4ml: a padded max pool"),
    ],
)
def test_inexpressible_layers_are_one_line(shape, expect):
    graph = bireal_like(shape, seed=0, lower=False)
    with pytest.raises(UserError) as err:
        convert(graph)
    message = str(err.value)
    assert message.startswith("--target hls4ml: ") and expect in message and "\n" not in message


def pool_flatten_dense_graph(seed: int = 0, pool=((2, 2), (2, 2)), dense: bool = True):
    """input (offset grid) -> 2-bit thresholds (-2 .. 1) -> 2x2 max pool over an odd 7x7 map ->
    flatten of a 3x3x3 map -> dense with bias -> bipolar thresholds -> bipolar dense (or, without
    `dense`, thresholds straight after the flatten)."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder("pool_flatten_dense")
    x = b.input((1, 7, 7, 3))
    q = b.node("quantize_input", [x], QuantizeInputAttrs(1 / 255, -128, 127, offset=-128))
    t = b.const(np.sort(rng.integers(0, 128, size=(3, 3)), axis=1), IntType(8, True), "t")
    d = b.const(np.array([1, -1, 0], dtype=np.int8), IntType(2, True), "d")
    r = b.node("multi_threshold", [q, t, d], MultiThresholdAttrs(-2), IntType(2, True))
    p = b.node("max_pool", [r], PoolAttrs(*pool))
    f = b.node("flatten", [p])
    if not dense:
        t1 = b.const(np.zeros((27, 1), dtype=np.int64), IntType(2, True), "t")
        d1 = b.const(np.ones(27, dtype=np.int8), IntType(2, True), "d")
        return b.finish([b.node("multi_threshold", [f, t1, d1], MultiThresholdAttrs(0))])
    # weights in {-1, 0, 1}: hls4ml multiplies ap_int<2> weights by its weight_ternary product
    w = b.const(rng.integers(-1, 2, size=(12, 27)).astype(np.int8), IntType(2, True), "w")
    bias = b.const(rng.integers(-9, 10, size=12), IntType(5, True), "b")
    acc = b.node("matmul", [f, w, bias])
    once = rng.integers(-5, 6, size=(12, 1))
    t2 = b.const(np.repeat(once, 2, axis=1), IntType(8, True), "t")
    d2 = b.const(np.array([1, -1, 1] * 4, dtype=np.int8), IntType(2, True), "d")
    s = b.node("multi_threshold", [acc, t2, d2], MultiThresholdAttrs(-1), BIPOLAR)
    w2 = b.const(rng.choice([-1, 1], size=(5, 12)).astype(np.int8), BIPOLAR, "w")
    logits = b.node("matmul", [s, w2])
    out = b.node("dequantize_output", [logits], DequantizeOutputAttrs(Fraction(1, 8), Fraction(-3, 2)))
    return b.finish([out])


def test_max_pool_flatten_and_dense_equal_the_ir(tmp_path):
    graph = pool_flatten_dense_graph()
    classes = [layer["class_name"] for layer in convert(graph).layers]
    assert classes == [
        "InputLayer",
        "BirealThreshold",
        "MaxPooling2D",
        "Reshape",
        "Dense",
        "BirealThreshold",
        "Dense",
    ]
    model = hls4ml_model(graph, tmp_path / "prj", "xczu7ev-ffvc1156-2-e", 200.0)
    model.compile()
    x, _ = images_for(graph, 40, seed=3)
    want = graph_runner(graph)(x)
    assert len({tuple(row) for row in want}) > 10  # the check can see a wrong layer
    assert np.array_equal(model_runner(graph, model)(x), want)


def test_more_inexpressible_layers_are_one_line():
    for graph, expect in [
        (
            pool_flatten_dense_graph(pool=((3, 3), (2, 2))),
            "(max_pool) cannot be expressed exactly in hls4ml: a 3x3",
        ),
        (
            pool_flatten_dense_graph(dense=False),
            "(flatten) cannot be expressed exactly in hls4ml: hls4ml io_stream",
        ),
    ]:
        with pytest.raises(UserError) as err:
            convert(graph)
        message = str(err.value)
        assert message.startswith("--target hls4ml: ") and expect in message and "\n" not in message


ZOO_FAST = ("tfc_w1a1", "cnv_w1a1")  # bipolar input, input flatten, dense; bipolar max pools, convs


@pytest.mark.parametrize(
    "name",
    [pytest.param(m, marks=() if m in ZOO_FAST else pytest.mark.slow) for m in bnn_pynq.MODELS],
)
def test_bnn_pynq_zoo_builds_on_hls4ml(name, tmp_path, capsys):
    """The Brevitas bnn_pynq zoo (narrow versions) through --target hls4ml, checked with the
    build's own == against the imported IR."""
    model = bnn_pynq.export_model(name, tmp_path / f"{name}.onnx", small=True)
    out = tmp_path / "out"
    code, stdout, err = run_cli(
        main, capsys, "--model", str(model), "--target", "hls4ml", "--out", str(out), "--verify-images", "12"
    )
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())["hls4ml"]
    assert report["images"] == 12 and report["mismatches"] == 0 and report["distinct_outputs"] > 1
    assert (out / "hls4ml" / "firmware" / "bireal_hls4ml.cpp").is_file()
