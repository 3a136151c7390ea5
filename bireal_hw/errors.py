"""User-facing errors: one line, what was wrong and what to do, exit status 2, no traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class UserError(Exception):
    """An error caused by the user's input (a file, a flag, a path). The message is one line
    saying what is wrong and what to do."""


def cli_main(main: Callable[..., T]) -> Callable[..., T]:
    """Wrap a CLI entry point: a `UserError` prints `error: <message>` on stderr and exits 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper
