"""CIFAR-10 from the standard python batch files, loaded without executing pickled code."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from bireal_hw.errors import UserError
from bireal_hw.validate import check_allocation

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only; any other global is refused."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _load_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    check_allocation(f"CIFAR-10 batch {path}", 2 * path.stat().st_size, "use the standard batch files")
    try:
        with path.open("rb") as f:
            d = _RestrictedUnpickler(f, encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise UserError(f"{path} is not a CIFAR-10 python batch file: {exc}") from None
    except Exception as exc:  # a damaged pickle raises arbitrary types
        raise UserError(f"{path} is not a CIFAR-10 python batch file ({type(exc).__name__})") from None
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise UserError(f"{path} is not a CIFAR-10 python batch file (no b'data' and b'labels' entries)")
    data, labels = d[b"data"], d[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise UserError(f"{path}: expected data of shape (N, 3072) uint8")
    if not isinstance(labels, list | np.ndarray) or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in labels
    ):
        raise UserError(f"{path}: expected a list of N integer labels")
    try:
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    except (OverflowError, ValueError):
        raise UserError(f"{path}: a label is outside the 10 classes 0-9") from None
    if len(labels) != len(data):
        raise UserError(f"{path}: {len(data)} images but {len(labels)} labels; the counts must match")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(root: str | Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) from `root` (or `root/cifar-10-batches-py`)."""
    root = Path(root)
    if (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise UserError(f"CIFAR-10 folder {root} lacks {', '.join(missing)}; pass --data-dir")
    parts = [_load_batch(root / n) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
