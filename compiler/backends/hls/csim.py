"""C-simulation: compile generated HLS C++ with g++ against hls4ml's open-source `ap_int.h` and
`hls_stream.h` into a shared library, and drive it from Python with ctypes.

The compiler runs with an argument list (no shell), a timeout, and on failure the error's tail in
one `CompileError` line. The kernels are compiled as one translation unit per core's share of the
files (the ap_int headers dominate the time of small units).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bireal_hw.errors import CheckFailed
from compiler.backends.hls.codegen import STATIC, Project

CXX_FLAGS = ["-O2", "-std=c++14", "-fPIC", "-w", "-DBIREAL_CSIM=1"]
if platform.machine().lower() in ("x86_64", "amd64"):
    CXX_FLAGS.append("-mpopcnt")  # one instruction instead of a libgcc call (every x86-64 since 2008)
TIMEOUT_S = 600


class CompileError(RuntimeError):
    pass


def hls_include_dir() -> Path:
    """hls4ml's copy of the Xilinx open-source ap_types headers (ap_int.h, hls_stream.h)."""
    try:
        import hls4ml
    except ImportError:
        raise CompileError(
            'hls4ml is not installed: pip install -e ".[hls4ml]" torch==2.13.0 (its ap_types headers are needed)'
        ) from None
    path = Path(hls4ml.__file__).resolve().parent / "templates" / "vivado" / "ap_types"
    if not (path / "ap_int.h").is_file() or not (path / "hls_stream.h").is_file():
        raise CompileError(f"{path} lacks ap_int.h / hls_stream.h; reinstall hls4ml")
    return path


def compiler() -> str:
    cxx = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("g++")
    if cxx is None:
        raise CompileError("g++ not found: apt-get install -y g++")
    return cxx


def max_width(files: list[Path]) -> int:
    """The widest ap_int/ap_uint the sources use, rounded up to 1024 (AP_INT_MAX_W)."""
    widest = 64
    for f in files:
        for m in re.finditer(r"ap_u?int<(\d+)>", f.read_text()):
            widest = max(widest, int(m.group(1)))
    return max(1024, -(-widest // 1024) * 1024)


_RUNNING: set[subprocess.Popen] = set()  # the compilers running now (killed on an interrupt)
_RUNNING_LOCK = threading.Lock()


def _run(cmd: list[str], timeout: float) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise CompileError(f"{Path(cmd[0]).name} timed out after {timeout:.0f} s") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
    proc = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln]
        tail = " | ".join((errors or lines)[-3:])[-600:]
        raise CompileError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}): {tail}")


def compile_library(
    units: list[Path], include: list[Path], out: Path, jobs: int | None = None, timeout: float = TIMEOUT_S
) -> Path:
    """Compile `units` (C++ files) into the shared library `out`: the files are split into one
    unity translation unit per job, compiled in parallel, then linked."""
    cxx = compiler()
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(units)))
    width = max_width(units + [p for d in include for p in d.rglob("*.h")])
    flags = CXX_FLAGS + [f"-DAP_INT_MAX_W={width}", f"-I{hls_include_dir()}", f"-I{STATIC}"]
    flags += [f"-I{d}" for d in include]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bireal-csim-", dir=out.parent) as tmp:
        groups = [units[i::jobs] for i in range(jobs)]
        objects = []
        cmds = []
        for i, group in enumerate(groups):
            unity = Path(tmp) / f"unit{i}.cpp"
            unity.write_text("".join(f'#include "{p.resolve()}"\n' for p in group))
            obj = Path(tmp) / f"unit{i}.o"
            objects.append(obj)
            cmds.append([cxx, *flags, "-c", str(unity), "-o", str(obj)])
        with ThreadPoolExecutor(jobs) as pool:
            try:
                for f in [pool.submit(_run, c, timeout) for c in cmds]:
                    f.result()
            except BaseException:  # an interrupt (SIGINT/SIGTERM) or a failed unit: stop every g++
                with _RUNNING_LOCK:
                    for proc in _RUNNING:
                        proc.kill()
                raise
        partial = Path(tmp) / out.name
        _run([cxx, "-shared", "-o", str(partial), *map(str, objects)], timeout)
        os.replace(partial, out)
    return out


def library_name(units: list[Path]) -> str:
    """A file name unique to the sources and flags (ctypes caches loaded libraries by path)."""
    h = hashlib.sha256(" ".join(CXX_FLAGS).encode())
    for p in units:
        h.update(p.read_bytes())
    return f"libbireal_csim_{h.hexdigest()[:12]}.so"


_u64p = ctypes.POINTER(ctypes.c_uint64)


def _ptr(a: np.ndarray):
    return a.ctypes.data_as(_u64p)


class CSim:
    """The compiled accelerator: `run(in_words)` -> (out_words, traffic per FIFO, leftover)."""

    STATUS = {
        -1: "a kernel read an empty stream (it reads more than its producer writes)",
        -2: "the accelerator wrote the wrong number of output words",
        -3: "TLAST was not on the batch's last output word only",
        -4: "a value fell outside its declared bit width (an accumulator or stream element would wrap in hardware)",
        -6: "a weight DMA's DRAM image was not loaded",
    }

    def __init__(
        self, library: Path, stream_names: list[str] | None = None, drams: list[np.ndarray] | None = None
    ) -> None:
        self.lib = ctypes.CDLL(str(Path(library).resolve()))
        self.lib.bireal_run.restype = ctypes.c_int
        self.lib.bireal_run.argtypes = [_u64p, _u64p, ctypes.c_uint, _u64p, _u64p]
        self.lib.bireal_set_dram.restype = ctypes.c_int
        self.lib.bireal_set_dram.argtypes = [ctypes.c_int, _u64p, ctypes.c_ulonglong]
        self.streams = self.lib.bireal_streams()
        self.in_words = self.lib.bireal_in_words()
        self.out_words = self.lib.bireal_out_words()
        self.stream_names = stream_names or [f"s{i}" for i in range(self.streams)]
        drams = drams or []
        if len(drams) != self.lib.bireal_drams():
            raise ValueError(f"the accelerator has {self.lib.bireal_drams()} DRAM images, {len(drams)} given")
        self._drams = [np.ascontiguousarray(d, dtype=np.uint64) for d in drams]  # the library copies them
        for i, image in enumerate(self._drams):
            if self.lib.bireal_set_dram(i, _ptr(image), len(image)) != 0:
                raise ValueError(f"DRAM image {i}: {len(image)} words is not its size")

    def run(self, words: np.ndarray, frames: int) -> tuple[np.ndarray, dict[str, int], dict[str, int]]:
        words = np.ascontiguousarray(words, dtype=np.uint64).ravel()
        if len(words) != frames * self.in_words:
            raise ValueError(f"expected {frames * self.in_words} input words, got {len(words)}")
        out = np.zeros(frames * self.out_words, dtype=np.uint64)
        traffic = np.zeros(self.streams, dtype=np.uint64)
        leftover = np.zeros(self.streams, dtype=np.uint64)
        status = self.lib.bireal_run(_ptr(words), _ptr(out), frames, _ptr(traffic), _ptr(leftover))
        if status != 0:
            raise CheckFailed(f"csim: the C-simulation failed: {self.STATUS.get(status, status)}")
        names = self.stream_names
        return (
            out.reshape(frames, self.out_words),
            {n: int(t) for n, t in zip(names, traffic, strict=True)},
            {n: int(t) for n, t in zip(names, leftover, strict=True)},
        )


def dram_images(project: Project) -> list[np.ndarray]:
    """The weight DMAs' DRAM images the code generator wrote (project.drams, in order)."""
    return [np.fromfile(project.root / d["file"], dtype="<u8") for d in project.drams]


def build_csim(project: Project, jobs: int | None = None, timeout: float = TIMEOUT_S) -> Path:
    """Compile the project's kernels, top level and C-simulation entry points."""
    units = project.sources + [project.csim]
    return compile_library(
        units, [project.include], project.root / "csim" / library_name(units), jobs, timeout
    )
