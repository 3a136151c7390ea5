"""`python -m compiler.build --target rtl` on the embedded default model: 1,000 check images through
the Verilated design (0 mismatches), its cycles equal to the simulator's, the report's fields, the
generated names, a corrupted ROM caught, and a missing Verilator as one line."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from compiler.backends.rtl import verilator as vl
from compiler.backends.rtl.codegen import RtlProject
from compiler.build import DEFAULT_MODEL, BuildConfig, Target, build, main
from tests.conftest import run_cli

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(shutil.which("verilator") is None, reason="needs verilator"),
]
IMAGES = 1000


@pytest.fixture(scope="module")
def rtl(tmp_path_factory):
    out = tmp_path_factory.mktemp("rtl") / "out"
    cfg = BuildConfig(model=DEFAULT_MODEL, out=out, target=Target.RTL, verify_images=IMAGES)
    report = build(cfg, progress=lambda msg: None)
    return out, report


def test_the_verilated_design_equals_the_golden_and_the_simulator(rtl):
    out, report = rtl
    r = report["rtl_sim"]
    assert r["images"] == IMAGES and r["mismatches"] == 0 and r["distinct_outputs"] > 100
    assert r["cycles_per_frame"] == report["cycles_per_frame"] == r["vs_sim"]["cycles_per_frame"]
    assert r["latency_cycles"] == report["latency_cycles"] == r["vs_sim"]["latency_cycles"]
    assert r["vs_sim"]["interval_error"] == 0 and r["vs_sim"]["latency_error"] == 0
    assert r["vs_sim"]["every_stream_equal"] and r["vs_sim"]["streams_differing"] == {}
    assert r["vs_sim"]["streams_compared"] == len(
        json.loads((out / "rtl" / "rtl.json").read_text())["streams"]
    )
    assert r["fifo_occupancy"]["equal_to_sim"] and r["fifo_occupancy"]["differing"] == {}
    assert r["stress"]["mismatches"] == 0 and r["stress"]["backpressure_cycles"] > 0
    assert (
        r["verilator"]["cycles_per_second"] > 0 and r["verilator"]["cycles"] >= IMAGES * r["cycles_per_frame"]
    )
    for k in r["vs_sim"]["kernels"].values():
        assert k["last_beat_per_frame_rtl"] == k["last_beat_per_frame_sim"]
    assert [s["name"] for s in report["steps"]][-2:] == ["rtlgen", "rtlsim"]


def test_generated_names_are_the_dataflow_s_own(rtl):
    out, _ = rtl
    info = json.loads((out / "rtl" / "rtl.json").read_text())
    names = json.loads((out / "names.json").read_text())
    text = (out / "rtl" / "bireal_top.v").read_text()
    for k in info["kernels"]:
        assert re.fullmatch(r"[a-z_]+_\d+", k["name"]), k["name"]
    for onnx_name in set(names.values()):
        if len(onnx_name) > 3:
            assert onnx_name not in text, onnx_name
    for rom in (out / "rtl" / "mem").iterdir():
        assert re.fullmatch(r"[a-z_]+_\d+_[a-z]+(_\d{3})?(_l\d{2})?\.mem", rom.name), rom.name
    assert (out / "rtl" / "vivado" / "bitstream.tcl").is_file()


def test_a_corrupted_weight_rom_is_caught(rtl, tmp_path):
    """The check can fail: one flipped weight bit in a ROM file changes the Verilated outputs."""
    out, _ = rtl
    root = tmp_path / "rtl"
    shutil.copytree(out / "rtl", root)
    info = json.loads((root / "rtl.json").read_text())
    sources = sorted((root / "hdl").glob("*.v")) + [root / "bireal_top.v"]
    project = RtlProject(root, root / "bireal_top.v", sources, [], info["in_words"], info["out_words"])
    exe, compiled = vl.build(project)
    assert not compiled  # the build folder's own Verilator build, reused
    words = (
        np.random.default_rng(0).integers(0, 256, size=(20, info["in_words"] * 8), dtype=np.uint8).view("<u8")
    )
    before = vl.run(exe, project, words).outputs
    rom = sorted((root / "mem").glob("mvu_*_weights_000.mem"))[1]  # a binary conv's first lane
    lines = rom.read_text().splitlines()
    lines[0] = f"{int(lines[0], 16) ^ 1:0{len(lines[0])}x}"
    rom.write_text("\n".join(lines) + "\n")
    after = vl.run(exe, project, words).outputs
    assert not np.array_equal(before, after)


def test_no_verilator_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    code, _, err = run_cli(main, capsys, "--target", "rtl", "--out", str(tmp_path / "o"))
    assert code == 2 and "needs Verilator" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
