"""The RTL target at scale (`slow`): all 10,000 Fashion-MNIST test images through the Verilated
default design, and bireal18 at 224x224 at its zcu104 folding (2 frames)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from bireal_hw.data import FASHION_MNIST_DIR
from bireal_hw.data.idx import read_idx
from compiler.backends.rtl import verilator as vl
from compiler.backends.rtl.codegen import RtlProject
from compiler.build import DEFAULT_MODEL, BuildConfig, Target, build
from compiler.hw.boards import board
from compiler.hw.design import dataflow_from_graph
from compiler.ir import load_graph
from compiler.rtl_steps import bus_words, logits
from compiler.verification import golden_reference

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("verilator") is None, reason="needs verilator"),
]


def test_all_10000_test_images_through_the_verilated_default_design(tmp_path):
    out = tmp_path / "out"
    report = build(
        BuildConfig(model=DEFAULT_MODEL, out=out, target=Target.RTL, verify_images=20),
        progress=lambda m: None,
    )
    graph = load_graph(out / "model.ir")
    design = dataflow_from_graph(graph, board(report["board"]), report["clock_mhz"])
    root = out / "rtl"
    info = json.loads((root / "rtl.json").read_text())
    sources = sorted((root / "hdl").glob("*.v")) + [root / "bireal_top.v"]
    project = RtlProject(root, root / "bireal_top.v", sources, [], info["in_words"], info["out_words"])
    exe, compiled = vl.build(project)
    assert not compiled
    images = read_idx(FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").astype(np.float64)[:, None] / 255
    assert images.shape == (10_000, 1, 28, 28)
    run = vl.run(exe, project, bus_words(graph, design.dataflow, project, images))
    got = logits(design.dataflow, run.outputs)
    golden = golden_reference(DEFAULT_MODEL)
    want = np.concatenate([golden.run(images[i : i + 500]) for i in range(0, len(images), 500)])
    assert got.shape == want.shape and int((got != want).any(axis=1).sum()) == 0
    assert run.frame_done[-1] - run.frame_done[-2] == report["cycles_per_frame"]


def test_bireal18_at_the_zcu104_folding(tmp_path):
    out = tmp_path / "out"
    cfg = BuildConfig(model="bireal18", seed=1, out=out, target=Target.RTL, board="zcu104", verify_images=2)
    report = build(cfg, progress=lambda m: None)
    r = report["rtl_sim"]
    assert r["images"] == 2 and r["mismatches"] == 0
    assert r["cycles_per_frame"] == report["cycles_per_frame"] and r["vs_sim"]["every_stream_equal"]
    assert abs(r["vs_sim"]["interval_error"]) <= 0.01
