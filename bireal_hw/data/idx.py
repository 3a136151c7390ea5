"""Reader for the IDX files of MNIST / Fashion-MNIST (optionally gzip-compressed).

The header (magic number and dimensions) is read first, so the file's size is known before
anything else is read: the payload is checked against the size budget, and a `.gz` file is
decompressed with a bound of exactly that size (a gzip bomb stops after the declared bytes).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from bireal_hw.errors import UserError
from bireal_hw.validate import check_allocation, read_gzip

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_MAX_ELEMENTS = 1 << 31
_SLACK = 64  # decompressed bytes allowed past the declared size (refused below, with the sizes)


def _read_prefix(path: Path, n: int) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read(n)
        with path.open("rb") as f:
            return f.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        if path.suffix == ".gz" and not isinstance(
            exc, FileNotFoundError | IsADirectoryError | PermissionError
        ):
            raise UserError(
                f"{path}: not a readable gzip file ({exc}); reinstall or re-download it"
            ) from None
        raise UserError(f"cannot read IDX file {path}: {exc.strerror or exc}") from None


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file; sizes are checked against the file before anything is allocated."""
    path = Path(path)
    magic = _read_prefix(path, 4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES:
        raise UserError(f"{path} is not an IDX file (bad magic number)")
    dtype = np.dtype(_IDX_DTYPES[magic[2]])
    ndim = magic[3]
    header = 4 + 4 * ndim
    head = _read_prefix(path, header)
    if ndim == 0 or len(head) < header:
        raise UserError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", head[4:header])
    count = int(np.prod(shape, dtype=object))
    if count > _MAX_ELEMENTS:
        raise UserError(f"{path}: IDX header declares shape {shape}, more than {_MAX_ELEMENTS} elements")
    expected = header + count * dtype.itemsize
    check_allocation(f"IDX file {path} (shape {shape})", 2 * expected, "use a smaller dataset file")
    if path.suffix == ".gz":
        raw = read_gzip(path, limit=expected + _SLACK)
    else:
        size = path.stat().st_size
        if size != expected:
            raise UserError(
                f"{path}: IDX header declares shape {shape} but the file holds {size - header} data bytes "
                f"(want {expected - header}); the file is truncated or damaged"
            )
        raw = _read_prefix(path, expected + 1)
    if len(raw) != expected:
        raise UserError(
            f"{path}: IDX header declares shape {shape} but the file holds {len(raw) - header} data bytes "
            f"(want {expected - header}); the file is truncated or damaged"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))
