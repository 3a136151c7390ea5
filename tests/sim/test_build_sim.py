"""`python -m compiler.build --target sim`: the report, its files, resuming, a folding file, and
impossible targets as one line with exit status 2 and nothing written."""

from __future__ import annotations

import json

import pytest

from compiler.build import main
from compiler.hw.boards import board, board_from_file
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
        (["--fps", "1e9"], "less than one clock cycle per frame"),
        (["--fps", "1e7"], "even fully parallel"),
        (["--board", "pynq-z2", "--fps", "100000"], "does not fit pynq-z2"),
        (["--board", "vc707"], "unknown board 'vc707'"),
        (["--folding", "/nonexistent.json"], "not found"),
        (["--sim-frames", "1"], "--sim-frames: must be an integer in [2, 1000]"),
        (["--fps", "-5"], "must be > 0"),
    ],
)
def test_impossible_targets(args, expect, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = build(capsys, "--out", str(out), "--verify-images", "0", *args)
    lines = err.splitlines()
    assert code == 2 and lines[-1].startswith("error: ") and expect in lines[-1]
    assert all(line.startswith("[") for line in lines[:-1])  # only progress lines of steps that ran
    assert stdout == "" and not out.exists()


MY_BOARD = {
    "name": "my-ultra96",
    "part": "xczu3eg-sbva484-1-i",
    "lut": 70_560,
    "ff": 141_120,
    "bram36": 216,
    "uram": 0,
    "dsp": 360,
    "default_clock_mhz": 200,
    "family": "zynqmp",
    "board_part": "avnet.com:ultra96v2:part0:1.2",
}


def test_a_board_file_is_a_board(tmp_path, capsys):
    """A user's board file gives the same design as the table's row with the same numbers."""
    path = tmp_path / "board.json"
    path.write_text(json.dumps(MY_BOARD))
    reports = {}
    for name, args in (("file", ["--board-file", str(path)]), ("table", ["--board", "ultra96"])):
        out = tmp_path / name
        code, _, err = build(
            capsys, "--out", str(out), "--verify-images", "0", "--stop-step", "dataflow", *args
        )
        assert code == 0, err
        reports[name] = out
    assert board_from_file(path).resources() == board("ultra96").resources()
    steps = [sorted((reports[n] / "steps").glob("*dataflow.ir"))[0].read_text() for n in reports]
    assert steps[0] == steps[1]  # the same folding on every node


@pytest.mark.parametrize(
    "change, expect",
    [
        ({"lut": -1}, "lut must be a whole number"),
        ({"dsp": "many"}, "dsp must be a whole number"),
        ({"default_clock_mhz": 0}, "default_clock_mhz must be a clock"),
        ({"family": "virtex"}, "family must be one of"),
        ({"speed": 3}, "unknown key 'speed'"),
        ({"part": ""}, "name and part must not be empty"),
        ({"lut": None}, "lut must be a whole number"),
        ("[1, 2]", "expected an object"),
        ("{not json", "not a readable JSON file"),
    ],
)
def test_bad_board_files_are_one_line(change, expect, tmp_path, capsys):
    path = tmp_path / "board.json"
    path.write_text(change if isinstance(change, str) else json.dumps({**MY_BOARD, **change}))
    out = tmp_path / "out"
    code, stdout, err = build(capsys, "--out", str(out), "--verify-images", "0", "--board-file", str(path))
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], err
    assert stdout == "" and not out.exists()


def test_a_board_file_without_a_block_design_is_refused_for_fpga(tmp_path, capsys):
    path = tmp_path / "board.json"
    path.write_text(json.dumps({k: v for k, v in MY_BOARD.items() if k not in ("family", "board_part")}))
    out = tmp_path / "out"
    code, _, err = run_cli(main, capsys, "--target", "fpga", "--out", str(out), "--board-file", str(path))
    assert code == 2 and "no Zynq block design" in err and "needs family and board_part" in err
    assert not out.exists()
