"""The rules for every number, size and file a user gives, in one place.

- `Parser`: the argparse parser of every command: `--help` shows each flag's default, and a bad
  flag is one line (`error: ... (see --help)`) with exit status 2, not the whole usage block.
- `integer(lo, hi)`, `number(lo, hi)` and `integer_list(lo, hi)`: argument types that refuse
  what is out of range, non-finite (nan, inf) or not a number; `check_integer`/`check_number`
  apply the same rules to values given through the Python API or read from a file (`UserError`).
- `require_finite`: every float array read from a file (weights, scales, BatchNorm) is finite.
- The size budget: `check_allocation` refuses, before allocating, anything larger than half of
  this machine's available memory; `read_gzip` decompresses with a bound (no gzip bomb).
"""

from __future__ import annotations

import argparse
import gzip
import math
import os
import sys
import zlib
from pathlib import Path

from bireal_hw.errors import UserError


class _DefaultsFormatter(argparse.HelpFormatter):
    """Every flag's help ends with its default (when it has one)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "%(default)" in text
            or action.default in (None, False, argparse.SUPPRESS)
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


class Parser(argparse.ArgumentParser):
    """argparse with defaults in --help and one-line errors (exit status 2)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D401  (argparse's hook)
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _range_text(lo, hi) -> str:
    if lo is not None and hi is not None:
        return (
            f"in [{lo:g}, {hi:g}]" if isinstance(lo, float) or isinstance(hi, float) else f"in [{lo}, {hi}]"
        )
    if lo is not None:
        return f">= {lo}"
    return f"<= {hi}" if hi is not None else ""


def check_integer(name: str, value, lo: int | None = None, hi: int | None = None) -> int:
    """`value` as an int within [lo, hi]; UserError naming `name` otherwise (bools and floats
    that are not whole numbers are refused)."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok and isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value, ok = int(value), True
    if not ok or (lo is not None and value < lo) or (hi is not None and value > hi):
        raise UserError(f"{name} must be an integer {_range_text(lo, hi)}, got {value!r}".replace("  ", " "))
    return value


def check_number(
    name: str,
    value,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    *,
    hi_open: bool = False,
) -> float:
    """`value` as a finite float within [lo, hi] (or (lo, hi] with lo_open, [lo, hi) with hi_open)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    if isinstance(value, bool) or not math.isfinite(x):
        raise UserError(f"{name} must be a finite number, got {value!r}")
    below = lo is not None and (x <= lo if lo_open else x < lo)
    above = hi is not None and (x >= hi if hi_open else x > hi)
    if below or above:
        lower = f"> {lo:g}" if lo_open else (f">= {lo:g}" if lo is not None else "")
        upper = (f"< {hi:g}" if hi_open else f"<= {hi:g}") if hi is not None else ""
        raise UserError(f"{name} must be {' and '.join(t for t in (lower, upper) if t)}, got {value!r}")
    return x


def _as_type(check, parse):
    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        try:
            return check(value)
        except UserError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("value ")) from None

    return convert


def integer(lo: int | None = None, hi: int | None = None):
    """An argparse type: an integer within [lo, hi]."""
    f = _as_type(lambda v: check_integer("value", v, lo, hi), int)
    f.__name__ = "integer"
    return f


def number(lo: float | None = None, hi: float | None = None, lo_open: bool = False, *, hi_open: bool = False):
    """An argparse type: a finite number within [lo, hi] (or (lo, hi], [lo, hi))."""
    f = _as_type(lambda v: check_number("value", v, lo, hi, lo_open, hi_open=hi_open), float)
    f.__name__ = "number"
    return f


def integer_list(lo: int | None = None, hi: int | None = None, max_items: int | None = None):
    """An argparse type: comma-separated integers, each within [lo, hi], at most `max_items`."""

    def convert(text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(v) for v in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
        if max_items is not None and len(values) > max_items:
            raise argparse.ArgumentTypeError(f"at most {max_items} values, got {len(values)}")
        try:
            return tuple(check_integer("every value", v, lo, hi) for v in values)
        except UserError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = "integer list"
    return convert


def require_finite(what: str, values) -> None:
    """UserError when a float array (numpy or torch) read from a file holds NaN or inf."""
    import numpy as np

    arr = values.detach().cpu().numpy() if hasattr(values, "detach") else np.asarray(values)
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise UserError(f"{what} holds {bad} non-finite value(s) (NaN or inf); fix or retrain the model")


def check_output_path(flag: str, path: str | Path, folder: bool) -> Path:
    """UserError (before anything is written) unless `path` can be made: a folder (`folder`) or
    a file, not an existing entry of the other kind, under a writable folder."""
    if not str(path):
        raise UserError(f"{flag} is empty; give a path")
    path = Path(path)
    if path.exists() and path.is_dir() != folder:
        is_a, want = ("file", "folder") if folder else ("folder", "file path")
        raise UserError(f"{flag} {path} is a {is_a}; give a {want}")
    parent = next((q for q in path.absolute().parents if q.exists()), None)
    if parent is not None and not parent.is_dir():
        raise UserError(f"{flag} {path}: {parent} is a file, not a folder")
    if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: the folder {parent} is not writable")
    return path


# ---------------------------------------------------------------------------------- size budget


def available_memory() -> int:
    """Bytes this process may still allocate: MemAvailable (or the physical memory)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def memory_budget() -> int:
    """The most one allocation of user-sized data may take: half of the available memory."""
    return available_memory() // 2


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def check_allocation(what: str, nbytes: float, hint: str) -> None:
    """Refuse (UserError) before allocating `nbytes` for `what` when it exceeds the budget."""
    budget = memory_budget()
    if not math.isfinite(nbytes) or nbytes > budget:
        raise UserError(
            f"{what} needs {_size(nbytes)}, more than the {_size(budget)} this machine can give "
            f"(half its available memory); {hint}"
        )


def read_gzip(path: str | Path, limit: int | None = None) -> bytes:
    """The decompressed bytes of a gzip file, refused (UserError) once they pass `limit` (default:
    the memory budget) or when the file is not valid gzip."""
    limit = memory_budget() if limit is None else limit
    out, total = [], 0
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                total += len(chunk)
                if total > limit:
                    raise UserError(
                        f"{path}: decompresses to more than {_size(limit)}; not a dataset file of the "
                        "expected size (a corrupt or hostile file)"
                    )
                out.append(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(f"{path}: not a readable gzip file ({exc}); reinstall or re-download it") from None
    return b"".join(out)
