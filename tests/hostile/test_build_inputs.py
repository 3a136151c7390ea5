"""Hostile input to `python -m compiler.build`: flags, output folders, model paths, the disk, and
signals. Every case: exit status 2 (signals: 130/143), one line on stderr, no traceback, nothing
left behind (no --out folder, no staging folder)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compiler.build import DEFAULT_MODEL, main
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]

# (case id, argv after --out OUT, words the one line must hold)
FLAG_CASES = [
    ("fps-nan", ["--target", "sim", "--fps", "nan"], "finite"),
    ("fps-inf", ["--target", "sim", "--fps", "inf"], "finite"),
    ("fps-negative", ["--target", "sim", "--fps", "-5"], "> 0"),
    ("fps-zero", ["--target", "sim", "--fps", "0"], "> 0"),
    ("fps-text", ["--target", "sim", "--fps", "fast"], "not a number"),
    ("fps-above-clock", ["--target", "sim", "--fps", "1e12"], "less than one clock cycle"),
    ("clock-nan", ["--target", "sim", "--clock-mhz", "nan"], "finite"),
    ("clock-inf", ["--target", "sim", "--clock-mhz", "inf"], "finite"),
    ("clock-tiny", ["--target", "sim", "--clock-mhz", "1e-9"], ">= 1"),
    ("clock-huge", ["--target", "sim", "--clock-mhz", "5e6"], "<= 1000"),
    ("verify-negative", ["--verify-images", "-1"], "[0, 1000000]"),
    ("verify-huge", ["--verify-images", "1000000000"], "[0, 1000000]"),
    ("verify-float", ["--verify-images", "2.5"], "not a number"),
    ("sim-frames-one", ["--target", "sim", "--sim-frames", "1"], "[2, 1000]"),
    ("sim-frames-huge", ["--target", "sim", "--sim-frames", "100000000"], "[2, 1000]"),
    ("seed-negative", ["--seed", "-1"], "integer"),
    ("unknown-flag", ["--bogus"], "unrecognized"),
    ("unknown-target", ["--target", "asic"], "invalid choice"),
    ("unknown-board", ["--target", "sim", "--board", "zcu9999"], "zcu9999"),
    ("quiet-and-verbose", ["--quiet", "--verbose"], "not allowed"),
    (
        "fps-and-folding",
        ["--target", "sim", "--fps", "100", "--folding", "{folding}"],
        "either --fps or --folding",
    ),
    ("residual-bits-file", ["--residual-bits", "4"], "named model"),
    ("residual-bits-range", ["--model", "bireal_small", "--residual-bits", "1"], "[2, 16]"),
    ("model-unknown", ["--model", "bireal99"], "not found"),
    ("model-empty", ["--model", ""], "empty"),
    ("model-folder", ["--model", "{folder}"], "is a folder"),
    ("model-fifo", ["--model", "{fifo}"], "not a regular file"),
    ("start-step-foreign", ["--start-step", "csim"], "not a step of --target ir"),
]


def _one_line_refusal(code: int, err: str, words: str, progress: bool = False) -> None:
    """Exit 2 and one `error:` line (the last; with `progress`, step lines may come before it)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 or progress, err
    assert lines[-1].startswith("error: "), err
    assert sum(line.startswith("error") for line in lines) == 1, err
    assert words in lines[-1], err
    assert "Traceback" not in err


def _nothing_left(parent: Path, out: Path) -> None:
    assert not out.exists()
    assert not [p for p in parent.iterdir() if ".staging-" in p.name]


@pytest.mark.parametrize("case,argv,words", FLAG_CASES, ids=[c[0] for c in FLAG_CASES])
def test_bad_flags_one_line(case, argv, words, tmp_path, capsys):
    folding = tmp_path / "folding.json"
    folding.write_text("{}")
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    subs = {"{folding}": str(folding), "{folder}": str(tmp_path / "folder"), "{fifo}": str(tmp_path / "fifo")}
    argv = [subs.get(a, a) for a in argv]
    out = tmp_path / "out"
    code, _, err = run_cli(main, capsys, "--out", str(out), *argv)
    _one_line_refusal(code, err, words)
    _nothing_left(tmp_path, out)


def test_empty_out_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(main, capsys, "--out", "", "--verify-images", "2")
    _one_line_refusal(code, err, "--out is empty")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["under-a-file", "is-a-file", "proc", "sys"])
def test_unwritable_out(where, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = {
        "under-a-file": blocker / "out",
        "is-a-file": blocker,
        "proc": Path("/proc/bireal-out"),
        "sys": Path("/sys/bireal-out"),
    }[where]
    code, _, err = run_cli(main, capsys, "--out", str(out), "--verify-images", "2")
    _one_line_refusal(code, err, "--out")
    assert blocker.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_full_disk_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    """ENOSPC while a step writes its IR: one line naming the disk, exit 2, the staging removed."""
    import compiler.build as build_module

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(build_module, "save_graph", full)
    out = tmp_path / "out"
    code, _, err = run_cli(main, capsys, "--out", str(out), "--verify-images", "2")
    _one_line_refusal(code, err, "no space left on the device", progress=True)
    _nothing_left(tmp_path, out)


@pytest.mark.parametrize(
    "fps,words", [("1e7", "even fully parallel: at most 255102 fps"), ("2e5", "does not fit pynq-z2")]
)
def test_impossible_fps_is_refused_before_verification(fps, words, tmp_path, capsys):
    """The design is made before the verify step: an --fps no folding reaches, or one the board
    cannot hold, is refused right after the import, naming the fastest rate that is possible."""
    out = tmp_path / "out"
    argv = [
        "--out",
        str(out),
        "--target",
        "sim",
        "--board",
        "pynq-z2",
        "--fps",
        fps,
        "--verify-images",
        "1000",
    ]
    start = time.perf_counter()
    code, _, err = run_cli(main, capsys, *argv)
    _one_line_refusal(code, err, words, progress=True)
    assert "at most" in err
    assert "verify" not in err.split("error:")[0]  # no step line of the verify step was printed
    _nothing_left(tmp_path, out)
    assert time.perf_counter() - start < 600  # a guard, not a benchmark


def test_build_log_quiet_and_verbose(tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = run_cli(main, capsys, "--out", str(out), "--verify-images", "3", "--quiet")
    assert code == 0 and err == "" and json.loads(stdout)["ok"]
    log = (out / "build.log").read_text().splitlines()
    assert any("[1/4] import done" in line for line in log)
    assert any("pass minimize_integer_widths" in line for line in log)  # details always logged
    assert len([line for line in log if "[4/4] verify done" in line]) == 1
    code, _, err = run_cli(main, capsys, "--out", str(tmp_path / "v"), "--verify-images", "3", "--verbose")
    assert code == 0 and "pass minimize_integer_widths" in err and "[4/4] verify done" in err
    code, _, err = run_cli(main, capsys, "--out", str(tmp_path / "n"), "--verify-images", "3")
    assert code == 0 and "pass minimize_integer_widths" not in err and "[4/4] verify done" in err


def test_help_shows_defaults(capsys):
    code, stdout, _ = run_cli(main, capsys, "--help")
    assert code == 0
    text = " ".join(stdout.split())  # argparse wraps lines
    assert (
        "(default: 200; for --target bitstream" in text
        and "(default: ecp5-85f for --target bitstream, else zcu104)" in text
    )
    assert "bireal18" in text


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "compiler.build", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs,
    )  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_while_importing_is_one_line(signum):
    """A signal while torch and the compiler import: one line, 128 + signal, every time."""
    for delay in (0.05, 0.4, 1.0):
        proc = _cli("--help")
        time.sleep(delay)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=60)
        if proc.returncode == 0:  # --help finished before the signal: nothing to see
            continue
        ours = "compiler" in stderr or "bireal_hw" in stderr
        python_startup = ("<frozen site>" in stderr or "<frozen runpy>" in stderr) and not ours
        if proc.returncode == -signum:  # before Python reached our package: killed, silent
            assert stderr == "" or python_startup, stderr  # or Python's KeyboardInterrupt in runpy
            continue
        if proc.returncode == 1 and python_startup:
            continue  # inside Python's own start-up (site's .pth files, runpy finding the module): before our package

        assert proc.returncode == 128 + signum, stderr
        assert stderr.strip() == "interrupted", stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_build_cleans_up(tmp_path, signum):
    """SIGTERM/SIGINT mid-build: the staging folder is removed, --out is not made, exit 128+N."""
    out = tmp_path / "out"
    proc = _cli("--model", str(DEFAULT_MODEL), "--out", str(out), "--verify-images", "100000")
    deadline = time.time() + 120
    while time.time() < deadline and not [p for p in tmp_path.iterdir() if ".staging-" in p.name]:
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted"
    assert "Traceback" not in stderr
    _nothing_left(tmp_path, out)


def _compilers_under(folder: Path) -> list[int]:
    """PIDs of the processes whose command line names a path under `folder` (g++ of the build)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(folder) in cmdline and "compiler.build" not in cmdline:
                pids.append(int(proc.name))
    return pids


@pytest.mark.hls
def test_sigterm_stops_the_fpga_targets_compilers(tmp_path):
    """SIGTERM while g++ compiles the C-simulation: every g++ is killed with the build, and the
    staging folder is removed."""
    out = tmp_path / "out"
    proc = _cli("--target", "fpga", "--out", str(out), "--verify-images", "2", "--fps", "20000")
    deadline = time.time() + 300
    while time.time() < deadline and not _compilers_under(tmp_path) and proc.poll() is None:
        time.sleep(0.05)
    assert _compilers_under(tmp_path), "no compiler was seen running"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted" and "Traceback" not in stderr
    time.sleep(0.2)
    assert _compilers_under(tmp_path) == []
    _nothing_left(tmp_path, out)


def test_reference_of_another_model_is_refused(tmp_path, capsys):
    """--reference names a checkpoint of the same architecture and output shape but other weights:
    refused as bad input (its golden and the file differ on the probe images); the right one works."""
    from bireal_hw.checkpoint import load_model, save_checkpoint
    from bireal_hw.export import export_qonnx_model, write_onnx
    from bireal_hw.random_models import ModelSpec, make_model

    model, _ = load_model(DEFAULT_MODEL)
    onnx_path = tmp_path / "model.onnx"
    write_onnx(export_qonnx_model(model), onnx_path)
    other = tmp_path / "other.pt"
    save_checkpoint(other, make_model(ModelSpec(3, model.cfg, 0)))
    out = tmp_path / "out"
    argv = ["--model", str(onnx_path), "--out", str(out), "--verify-images", "4"]
    code, _, err = run_cli(main, capsys, *argv, "--reference", str(other))
    _one_line_refusal(code, err, "is not the model in", progress=True)
    assert not out.exists()
    code, _, err = run_cli(main, capsys, *argv, "--reference", str(DEFAULT_MODEL))
    assert code == 0, err
