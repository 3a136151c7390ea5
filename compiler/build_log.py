"""The build's log: `build.log` in the output folder holds every message of the build, one plain
line each with the seconds since the start: the steps and their timings, each pass's time, and
everything the steps print on stderr (progress bars are left out: they are drawn only on a
terminal). What reaches the terminal depends on the verbosity: 0 (--quiet) nothing but the final
error, 1 the step lines and the steps' messages, 2 (--verbose) also the per-pass lines.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

QUIET, NORMAL, VERBOSE = 0, 1, 2


class BuildLog:
    def __init__(self, path: Path, echo: Callable[[str], None] | None, verbosity: int = NORMAL) -> None:
        self.path = path
        self.echo = echo
        self.verbosity = verbosity
        self.start = time.perf_counter()
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115  (closed by close())
        self._partial = ""
        self.echoing = False  # the echo prints on stderr: the tee must not log it twice

    def _write(self, line: str) -> None:
        if not self._file.closed:
            self._file.write(f"[{time.perf_counter() - self.start:8.2f} s] {line.rstrip()}\n")
            self._file.flush()

    def step(self, message: str) -> None:
        """A step's line: logged, and shown unless quiet."""
        self._write(message)
        if self.echo is not None and self.verbosity >= NORMAL:
            self._echo(message)

    def _echo(self, message: str) -> None:
        self.echoing = True
        try:
            self.echo(message)
        finally:
            self.echoing = False

    def note(self, message: str) -> None:
        """Logged only (the final error, which the command prints itself)."""
        self._write(message)

    def detail(self, message: str) -> None:
        """A detail (a pass's timing): logged, shown only with --verbose."""
        self._write(message)
        if self.echo is not None and self.verbosity >= VERBOSE:
            self._echo(message)

    def close(self) -> None:
        if self._partial.strip():
            self._write(self._partial)
        self._partial = ""
        self._file.close()

    @contextlib.contextmanager
    def capturing_stderr(self) -> Iterator[None]:
        """Copy what the steps print on sys.stderr into the log (shown on the terminal unless
        quiet)."""
        with contextlib.redirect_stderr(_Tee(self, sys.stderr)):
            yield


class _Tee:
    """sys.stderr for the build: lines go to the log, and to the real stderr unless quiet;
    carriage-return updates (progress bars) reach only the terminal."""

    def __init__(self, log: BuildLog, real) -> None:
        self.log, self.real = log, real

    def write(self, text: str) -> int:
        if self.log.verbosity >= NORMAL or self.log.echoing:
            self.real.write(text)
        if self.log.echoing:
            return len(text)
        lines = (self.log._partial + text).split("\n")
        self.log._partial = lines.pop()
        for line in lines:
            if "\r" not in line and "\x1b" not in line and line.strip():
                self.log._write(line)
        if "\r" in self.log._partial:
            self.log._partial = ""
        return len(text)

    def flush(self) -> None:
        self.real.flush()

    def isatty(self) -> bool:
        return self.real.isatty()

    def fileno(self) -> int:
        return self.real.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.real, "encoding", "utf-8")
