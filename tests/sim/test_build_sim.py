"""`python -m compiler.build --target sim`: the report, its files, resuming, a folding file, and
impossible targets as one line with exit status 2 and nothing written."""

from __future__ import annotations

import json

import pytest

from compiler.build import main
from tests.conftest import run_cli


def build(capsys, *args: str) -> tuple[int, str, str]:
    return run_cli(main, capsys, "--target", "sim", *args)


def test_sim_target_report_resume_and_folding_file(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--out", str(out), "--fps", "20000", "--verify-images", "20"]
    code, _, err = build(capsys, *args)
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    for key in ("cycles_per_frame", "latency_cycles", "fps", "clock_mhz", "board", "fits", "sim_seconds"):
        assert key in report, key
    assert set(report["resources"]) == {"LUT", "FF", "BRAM36", "URAM", "DSP"}
    assert report["bit_exact"]["mismatches"] == 0 and report["bit_exact"]["images"] == 20
    assert report["fps"] >= 20_000 and report["fits"] and report["board"] == "zcu104"
    assert abs(report["pipeline_cycle_error"]) <= 0.02
    assert abs(report["worst_kernel_cycle_error"]["error"]) <= 0.02
    assert report["shortcut_fifo_depths"] and report["next_step"]["possible"]
    for name in ("folding.json", "layers.md", "layers.png", "steps/04_dataflow.ir"):
        assert (out / name).is_file(), name
    assert (out / "layers.png").read_bytes()[:4] == b"\x89PNG"

    code, _, err = build(capsys, *args, "--start-step", "simulate", "--verify-images", "0")
    assert code == 0, err
    assert json.loads((out / "report.json").read_text())["cycles_per_frame"] == report["cycles_per_frame"]

    again = tmp_path / "again"
    code, _, err = build(
        capsys, "--out", str(again), "--folding", str(out / "folding.json"), "--verify-images", "0"
    )
    assert code == 0, err
    assert json.loads((again / "report.json").read_text())["cycles_per_frame"] == report["cycles_per_frame"]


@pytest.mark.parametrize(
    "args, expect",
    [
        (["--fps", "1e9"], "even fully parallel"),
        (["--board", "pynq-z2", "--fps", "100000"], "does not fit pynq-z2"),
        (["--board", "vc707"], "unknown board 'vc707'"),
        (["--folding", "/nonexistent.json"], "not found"),
        (["--sim-frames", "1"], "--sim-frames must be at least 2"),
        (["--fps", "-5"], "must be positive"),
    ],
)
def test_impossible_targets(args, expect, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = build(capsys, "--out", str(out), "--verify-images", "0", *args)
    lines = err.splitlines()
    assert code == 2 and lines[-1].startswith("error: ") and expect in lines[-1]
    assert all(line.startswith("[") for line in lines[:-1])  # only progress lines of steps that ran
    assert stdout == "" and not out.exists()
