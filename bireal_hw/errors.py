"""User-facing errors, one line each and no traceback: bad input (`UserError`, exit status 2)
and a check that found a mismatch or a backend that failed on valid input (`CheckFailed`, exit
status 1); and the signals of a command line run.

Signals: while a command's modules import (torch takes seconds), SIGINT and SIGTERM end the
process at once with one line (nothing has been written yet; see `exit_early_on_signals`). Once
`cli_main` runs the command, both raise `Interrupted` (a BaseException, so no `except Exception`
swallows it): every `finally` runs, staging folders are removed and `subprocess.run` kills its
children (a g++ of --target fpga does not keep compiling); exit status 130 (SIGINT) or 143
(SIGTERM).
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class UserError(Exception):
    """An error caused by the user's input (a file, a flag, a path). The message is one line
    saying what is wrong and what to do."""


class CheckFailed(Exception):
    """A verification found a mismatch (or a backend failed on a valid model): the build's output
    is wrong and must not be used. The message is one line naming the check, the count and the
    first difference."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived while a command ran."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _exit_now(signum, frame) -> None:
    os.write(2, b"interrupted\n")
    os._exit(128 + signum)


def exit_early_on_signals() -> None:
    """For `python -m <command>`: until the command starts, a signal ends the process in one
    line (called from the packages' __init__ only when Python is locating a `-m` module)."""
    if threading.current_thread() is threading.main_thread():
        for s in _SIGNALS:
            signal.signal(s, _exit_now)


def _raise(signum, frame) -> None:
    raise Interrupted(signum)


def cli_main(main: Callable[..., T]) -> Callable[..., T]:
    """Wrap a CLI entry point: a `UserError` prints `error: <message>` on stderr and exits 2, a
    `CheckFailed` prints `FAILED: <message>` and exits 1, SIGINT/SIGTERM exit 130/143 after the
    command's clean-up ran."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {s: signal.signal(s, _raise) for s in _SIGNALS}
        try:
            return main(*args, **kwargs)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        except CheckFailed as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
        except KeyboardInterrupt as exc:
            print("interrupted", file=sys.stderr)
            raise SystemExit(128 + getattr(exc, "signum", signal.SIGINT)) from None
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    return wrapper
