"""--target hls4ml: the streamlined IR as an hls4ml project whose own C-simulation equals the
golden, and one-line refusals for layers hls4ml cannot express exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bireal_hw.errors import UserError
from compiler.backends.hls4ml.convert import convert, hls4ml_model
from compiler.build import main
from compiler.verification import graph_runner
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
