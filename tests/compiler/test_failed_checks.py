"""A check that finds a mismatch fails the build: exit status 1, one line on stderr naming the
check, the count and the first mismatching image and element; report.json written with
`"ok": false`; no model, deploy package or library left looking valid. Each check is shown a
deliberately corrupted artifact."""

from __future__ import annotations

import json

import numpy as np
import pytest

import compiler.cpu_step
import compiler.fpga_steps
from bireal_hw.random_models import narrow_onnx
from compiler.build import main
from compiler.fingerprint import record_step_file
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("narrow") / "model.onnx"
    narrow_onnx(path, 2, True, 3, False, seed=1)
    return path


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    """Another model (3-bit unsigned input, 2-bit signed activations)."""
    path = tmp_path_factory.mktemp("other") / "other.onnx"
    narrow_onnx(path, 3, False, 2, True, seed=2)
    return path


def build(capsys, model, out, target, *args):
    return run_cli(
        main,
        capsys,
        "--model",
        str(model),
        "--out",
        str(out),
        "--target",
        target,
        "--verify-images",
        "12",
        *args,
    )


def assert_failed(code: int, err: str, out, check: str, gone: tuple[str, ...]) -> dict:
    lines = [line for line in err.splitlines() if line.startswith("FAILED")]
    assert code == 1 and len(lines) == 1 and check in lines[0], err[-2000:]
    assert "Traceback" not in err
    report = json.loads((out / "report.json").read_text())
    assert report["ok"] is False and check in report["failed_check"]
    for name in gone:
        assert not (out / name).exists(), name
    return report


def corrupt_weights(path) -> None:
    """Add 1 to every integer weight tensor of a saved IR (its .npz), as a bug of the step that
    wrote it would: the build's record of the file's digest is updated too, so the resume accepts
    the file and the verify check must find the difference."""
    npz = str(path) + ".npz"
    consts = dict(np.load(npz))
    for name, value in consts.items():
        if name.startswith("w"):
            consts[name] = value + 1 if value.min() > -2 else value - 1
    np.savez(npz, **consts)
    record_step_file(path.parent.parent, f"steps/{path.name}")


def test_ir_check_fails_on_a_corrupted_step(tmp_path, capsys, model):
    out = tmp_path / "out"
    assert build(capsys, model, out, "ir")[0] == 0
    corrupt_weights(out / "steps" / "02_lower.ir")
    code, _, err = build(capsys, model, out, "ir", "--start-step", "verify")
    assert "first: image" in err and "element" in err
    assert_failed(code, err, out, "verify", ("model.ir",))


def test_simulate_check_fails_on_a_corrupted_design(tmp_path, capsys, model):
    out = tmp_path / "out"
    assert build(capsys, model, out, "sim", "--stop-step", "dataflow")[0] == 0
    corrupt_weights(out / "steps" / "04_dataflow.ir")
    code, _, err = build(capsys, model, out, "sim", "--start-step", "simulate")
    assert_failed(code, err, out, "simulate", ("model.ir",))


def test_csim_check_fails_on_corrupted_cpp_and_leaves_no_package(tmp_path, capsys, model, monkeypatch):
    out = tmp_path / "out"
    assert build(capsys, model, out, "fpga")[0] == 0 and (out / "deploy.zip").is_file()
    generate = compiler.fpga_steps.generate

    def corrupted(*args, **kwargs):  # the classifier's bias array off by one in the generated C++
        project = generate(*args, **kwargs)
        for src in project.sources:
            text = src.read_text()
            if "_bias[" in text:
                head, _, tail = text.partition("_bias[")
                open_brace = tail.index("{")
                tail = tail[: open_brace + 1] + "1 + " + tail[open_brace + 1 :]
                src.write_text(head + "_bias[" + tail)
                return project
        raise AssertionError("no bias array in the generated sources")

    monkeypatch.setattr(compiler.fpga_steps, "generate", corrupted)
    code, _, err = build(capsys, model, out, "fpga")
    assert_failed(code, err, out, "csim", ("deploy", "deploy.zip", "hls", "Makefile", "model.ir"))


def test_fifo_traffic_check_fails(tmp_path, capsys, model, monkeypatch):
    predicted = compiler.fpga_steps.predicted_traffic

    def off_by_one(df):
        t = predicted(df)
        first = next(iter(t))
        return {**t, first: t[first] + 1}

    monkeypatch.setattr(compiler.fpga_steps, "predicted_traffic", off_by_one)
    out = tmp_path / "out"
    code, _, err = build(capsys, model, out, "fpga", "--stop-step", "csim")
    assert_failed(code, err, out, "FIFO traffic", ("hls",))


def test_driver_check_fails_on_a_corrupted_driver(tmp_path, capsys, model, monkeypatch):
    load = compiler.fpga_steps.load_driver

    def corrupted(folder):
        module = load(folder)
        run = module.BirealAccelerator.execute_integer
        module.BirealAccelerator.execute_integer = lambda self, x, batch_size=8: run(self, x, batch_size) + 1
        return module

    monkeypatch.setattr(compiler.fpga_steps, "load_driver", corrupted)
    out = tmp_path / "out"
    code, _, err = build(capsys, model, out, "fpga")
    assert_failed(code, err, out, "package", ("deploy", "deploy.zip"))


@pytest.mark.tvm
def test_cpu_check_fails_on_corrupted_parameters(tmp_path, capsys, model, monkeypatch):
    compile_program = compiler.cpu_step.compile_program

    def corrupted(graph, batch):
        program = compile_program(graph, batch)
        name = max(program.params, key=lambda k: program.params[k].size)  # the largest table
        value = program.params[name]
        program.params[name] = (value ^ 1) if value.dtype.kind in "iu" else value + 1
        return program

    monkeypatch.setattr(compiler.cpu_step, "compile_program", corrupted)
    out = tmp_path / "out"
    code, _, err = build(capsys, model, out, "cpu")
    assert_failed(code, err, out, "cpu", ("cpu",))


@pytest.mark.tvm
def test_cpu_codegen_error_is_one_line_exit_1(tmp_path, capsys, model, monkeypatch):
    def broken(funcs, target):
        raise RuntimeError("Check failed: lanes > 1\n  a long TVM trace")

    monkeypatch.setattr(compiler.cpu_step, "compile_funcs", broken)
    out = tmp_path / "out"
    code, _, err = build(capsys, model, out, "cpu")
    assert_failed(code, err, out, "TVM code generation failed", ("cpu",))


@pytest.mark.hls
def test_hls4ml_check_fails_on_corrupted_predictions(tmp_path, capsys, model, monkeypatch):
    import compiler.hls4ml_step

    make = compiler.hls4ml_step.hls4ml_model

    def corrupted(*args, **kwargs):
        m = make(*args, **kwargs)
        predict = m.predict
        m.predict = lambda x: np.asarray(predict(x)) + 1
        return m

    monkeypatch.setattr(compiler.hls4ml_step, "hls4ml_model", corrupted)
    out = tmp_path / "out"
    code, _, err = run_cli(
        main, capsys, "--model", str(model), "--out", str(out), "--target", "hls4ml", "--verify-images", "3"
    )
    assert_failed(code, err, out, "hls4ml", ("hls4ml",))


def test_resume_refuses_another_models_folder(tmp_path, capsys, model, other):
    out = tmp_path / "out"
    assert build(capsys, model, out, "ir")[0] == 0
    before = sorted(p.name for p in out.rglob("*"))
    code, _, err = build(capsys, other, out, "ir", "--start-step", "verify")
    assert code == 2 and "another model" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in out.rglob("*")) == before


def test_a_fresh_build_never_reads_step_files_of_another(tmp_path, capsys, model, other):
    """A second build into the same folder checks only its own steps, and replaces the old ones."""
    out = tmp_path / "out"
    assert build(capsys, model, out, "sim", "--stop-step", "dataflow")[0] == 0
    corrupt_weights(out / "steps" / "04_dataflow.ir")  # would fail a check that read it
    assert build(capsys, other, out, "ir")[0] == 0
    report = json.loads((out / "report.json").read_text())
    assert report["ok"] and sorted(report["bit_exact"]["steps"]) == ["import", "lower", "streamline"]
    assert not (out / "steps" / "04_dataflow.ir").exists()


def test_check_images_cover_the_input_grid(tmp_path, capsys, model):
    """The model's input grid is [-2, 1]: the check images hold its extremes and random integers
    over all of it, and the report counts the distinct outputs."""
    from compiler.ir import load_graph
    from compiler.verification import InputGrid
    from compiler.verify_build import images_for

    out = tmp_path / "out"
    assert build(capsys, model, out, "ir")[0] == 0
    graph = load_graph(out / "model.ir")
    grid = InputGrid.of(graph)
    images, source = images_for(graph, 40, 0)
    pixels = np.round(images / grid.scale)
    assert (grid.qmin, grid.qmax) == (-2, 1) and set(np.unique(pixels)) == {-2, -1, 0, 1}
    assert (pixels[0] == -2).all() and (pixels[1] == 1).all() and "random integers in [-2, 1]" in source
    report = json.loads((out / "report.json").read_text())
    assert report["bit_exact"]["distinct_outputs"] > 1


def test_compare_names_the_first_difference_and_constant_outputs(capsys):
    from bireal_hw.errors import CheckFailed
    from compiler.verification import Reference
    from compiler.verify_build import compare, require

    images = np.zeros((6, 1, 2, 2), dtype=np.float32)
    ref = Reference("test", lambda x: np.tile(np.arange(3), (len(x), 1)))
    same = compare("same", lambda x: np.tile(np.arange(3), (len(x), 1)), ref, images, 4, "zeros")
    entry = require(same)
    assert entry["mismatches"] == 0 and entry["distinct_outputs"] == 1 and "cannot see" in entry["warning"]
    assert "all 6 outputs are equal" in capsys.readouterr().err

    def wrong(x):
        y = np.tile(np.arange(3), (len(x), 1))
        y[-1, 2] = 9  # the last image of each batch: images 3 and 5
        return y

    check = compare("wrong", wrong, ref, images, 4, "zeros")
    assert check.mismatches == 2 and check.first == {"image": 3, "element": 2, "got": 9, "want": 2}
    with pytest.raises(CheckFailed, match=r"wrong: 2 of 6 images differ .*image 3, element 2: got 9, want 2"):
        require(check)
