"""`python -m compiler.build --target fpga` on the embedded default model: the generated project,
its C-simulation against the golden and against the simulator's FIFO traffic, the deploy package
and its driver run end to end on the simulated board, resuming, and bad flags as one line."""

from __future__ import annotations

import json
import re
import zipfile

import numpy as np
import pytest

from compiler.build import DEFAULT_MODEL, BuildConfig, Target, build, main
from compiler.fpga_steps import load_driver
from compiler.verification import golden_reference, verification_images
from tests.conftest import run_cli

pytestmark = pytest.mark.hls
IMAGES = 100


@pytest.fixture(scope="module")
def fpga(tmp_path_factory):
    out = tmp_path_factory.mktemp("fpga") / "out"
    cfg = BuildConfig(model=DEFAULT_MODEL, out=out, target=Target.FPGA, verify_images=IMAGES, fps=20_000.0)
    report = build(cfg, progress=lambda msg: None)
    return out, report


def test_report_csim_equals_golden_and_simulator(fpga):
    out, report = fpga
    assert report["target"] == "fpga"
    assert report["csim"]["images"] == IMAGES and report["csim"]["mismatches"] == 0
    assert report["csim"]["traffic_equal_to_sim"] is True and report["csim"]["traffic_differences"] == {}
    assert report["csim"]["items_left_unread"] == {}
    assert report["bit_exact"]["mismatches"] == 0 and report["cycles_per_frame"] > 0
    assert report["deploy"]["driver_check"]["mismatches"] == 0
    for path in report["artifacts"]:
        assert (out / path).exists(), path
    assert [s["name"] for s in report["steps"]][-3:] == ["codegen", "csim", "package"]


def test_project_layout_names_and_pragmas(fpga):
    out, report = fpga
    kernels = json.loads((out / "hls" / "kernels.json").read_text())
    folding = json.loads((out / "folding.json").read_text())
    src = out / "hls" / "src"
    assert {p.stem for p in src.glob("*.cpp")} == set(kernels) | {"top"}
    assert {p.stem for p in (src / "params").glob("*.h")} == {
        k for k, v in kernels.items() if v["kind"] == "mvu"
    }
    names = json.loads((out / "names.json").read_text())
    text = "\n".join(p.read_text() for p in src.rglob("*") if p.is_file())
    for name in kernels:
        assert re.fullmatch(r"[a-z_]+_\d+", name), name
    for onnx_name in set(names.values()):  # user-supplied names never reach the generated code
        if len(onnx_name) > 3:
            assert onnx_name not in text, onnx_name
    assert any(v["onnx_tensors"] for v in kernels.values() if v["kind"] == "mvu")
    for name, f in folding.items():
        assert kernels[name]["pe"] == f["pe"] and kernels[name]["simd"] == f["simd"]
        if kernels[name]["kind"] == "mvu":
            assert f"PE {f['pe']} x SIMD {f['simd']}" in (src / f"{name}.cpp").read_text()
    top = (src / "top.cpp").read_text()
    assert "#pragma HLS DATAFLOW" in top
    depths = dict(re.findall(r"#pragma HLS STREAM variable=(\w+) depth=(\d+)", top))
    assert len(depths) == report["csim"]["fifos"]
    for stream, depth in report["shortcut_fifo_depths"].items():
        assert int(depths[stream]) == depth
    for name, k in kernels.items():
        if k["kind"] not in ("fork",):
            assert "PIPELINE II=1" in (src / f"{name}.cpp").read_text(), name


def test_deploy_package_driver_end_to_end_on_the_simulated_board(fpga, tmp_path):
    out, _ = fpga
    with zipfile.ZipFile(out / "deploy.zip") as z:
        members = set(z.namelist())
        z.extractall(tmp_path)
    assert {"deploy/driver.py", "deploy/design.json", "deploy/bitfile/README.md"} <= members
    assert any(m.startswith("deploy/sim/libbireal_csim") for m in members)
    deploy = tmp_path / "deploy"
    accel = load_driver(deploy).BirealAccelerator(deploy)  # no pynq here: the simulated board
    assert accel.simulated
    images, _ = verification_images("fashion-mnist", (1, 28, 28), 40, seed=5)
    golden = golden_reference(DEFAULT_MODEL).run(images)
    assert np.array_equal(accel.execute_integer(images, batch_size=16), golden)
    design = json.loads((deploy / "design.json").read_text())
    assert np.array_equal(accel.execute(images[:4]), golden[:4] * design["out_scale"])
    stats = accel.throughput_test(frames=20, batch_size=10)
    assert stats["frames"] == 20 and stats["fps"] > 0 and stats["simulated"]


def test_resume_at_codegen(fpga, tmp_path, capsys):
    out, report = fpga
    code, _, err = run_cli(
        main,
        capsys,
        "--target",
        "fpga",
        "--out",
        str(out),
        "--fps",
        "20000",
        "--start-step",
        "codegen",
        "--verify-images",
        "10",
    )
    assert code == 0, err
    again = json.loads((out / "report.json").read_text())
    assert again["csim"]["images"] == 10 and again["csim"]["mismatches"] == 0
    assert again["cycles_per_frame"] == report["cycles_per_frame"]


def test_a_new_build_replaces_the_generated_project(tmp_path):
    from compiler.build import _move_into

    out, stage = tmp_path / "out", tmp_path / "stage"
    (out / "hls" / "src").mkdir(parents=True)
    (out / "hls" / "src" / "mvu_99.cpp").write_text("stale")
    (out / "notes.txt").write_text("kept")
    (stage / "hls" / "src").mkdir(parents=True)
    (stage / "hls" / "src" / "mvu_2.cpp").write_text("new")
    (out / "steps").mkdir()
    (out / "steps" / "04_dataflow.ir").write_text("another build's step")
    _move_into(stage, out, fresh=True)
    assert sorted(p.name for p in (out / "hls" / "src").iterdir()) == ["mvu_2.cpp"]
    assert (out / "notes.txt").read_text() == "kept" and not (out / "steps").exists()


@pytest.mark.parametrize(
    "args, expect",
    [
        (["--board", "u250"], "no Zynq block design"),
        (["--board", "vc707"], "unknown board 'vc707'"),
        (["--fps", "1e7"], "even fully parallel"),
    ],
)
def test_bad_flags_are_one_line_and_leave_nothing(args, expect, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = run_cli(
        main, capsys, "--target", "fpga", "--out", str(out), "--verify-images", "0", *args
    )
    lines = err.splitlines()
    assert code == 2 and lines[-1].startswith("error: ") and expect in lines[-1], err
    assert all(line.startswith("[") for line in lines[:-1])  # only progress lines of steps that ran
    assert stdout == "" and not out.exists()
    assert not list(tmp_path.glob(".out.staging-*"))


@pytest.mark.slow
def test_default_model_csim_on_all_test_images(tmp_path):
    """The C-simulated design equals the golden on all 10,000 Fashion-MNIST test images."""
    cfg = BuildConfig(model=DEFAULT_MODEL, out=tmp_path / "out", target=Target.FPGA, verify_images=10_000)
    report = build(cfg, progress=lambda msg: None)
    assert report["csim"]["images"] == 10_000 and report["csim"]["mismatches"] == 0
    assert report["csim"]["traffic_equal_to_sim"]


@pytest.mark.slow
def test_bireal18_at_224_csim_equals_the_golden(tmp_path):
    """bireal18 at 224x224 (4-bit residual grid, randomized BatchNorm) folded for 2,000 fps on the
    zcu104: its generated C++ equals the golden on seeded images, FIFO traffic equals sim/."""
    import torch

    from bireal_hw.checkpoint import save_checkpoint
    from bireal_hw.models import build_model, model_config
    from tests.conftest import randomize_batchnorm

    torch.manual_seed(0)
    model = build_model(model_config("bireal18").replace(residual_bits=4)).eval()
    randomize_batchnorm(model, torch.Generator().manual_seed(1))
    ckpt = tmp_path / "bireal18.pt"
    save_checkpoint(ckpt, model)
    cfg = BuildConfig(model=ckpt, out=tmp_path / "out", target=Target.FPGA, verify_images=3, fps=2000.0)
    report = build(cfg, progress=lambda msg: None)
    assert report["csim"]["images"] == 3 and report["csim"]["mismatches"] == 0
    assert report["csim"]["traffic_equal_to_sim"] and report["deploy"]["driver_check"]["mismatches"] == 0
    assert report["fps"] >= 2000
