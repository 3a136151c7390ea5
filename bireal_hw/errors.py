"""User-facing errors, one line each and no traceback: bad input (`UserError`, exit status 2)
and a check that found a mismatch or a backend that failed on valid input (`CheckFailed`, exit
status 1)."""

from __future__ import annotations

import functools
import sys
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


def cli_main(main: Callable[..., T]) -> Callable[..., T]:
    """Wrap a CLI entry point: a `UserError` prints `error: <message>` on stderr and exits 2, a
    `CheckFailed` prints `FAILED: <message>` and exits 1."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        except CheckFailed as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper
