"""What a build was made from, so that a build reads no file it did not write.

Every build writes `fingerprint.json` into its output folder: the SHA-256 of the model file (and
of the reference checkpoint and folding file, when given) and the flags that shape the IR and
the design. A resumed build (`--start-step`) reads the earlier steps' files only when the
folder's fingerprint equals its own; anything else is refused in one line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from bireal_hw.errors import UserError

FILE = "fingerprint.json"


def file_digest(path: Path | None) -> str | None:
    if path is None:
        return None
    if not Path(path).is_file():
        raise UserError(f"{path} not found; give an existing file")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(cfg) -> dict:
    """The inputs a build's step files depend on (not the target: the IR steps are shared)."""
    out = {
        "model_sha256": cfg.source.digest,
        "reference_sha256": file_digest(cfg.reference),
        "folding_sha256": file_digest(cfg.folding),
        "board": cfg.board,
        "fps": cfg.fps,
        "clock_mhz": cfg.clock_mhz,
        "sim_frames": cfg.sim_frames,
    }
    if cfg.board_file is not None:
        out["board_file_sha256"] = file_digest(cfg.board_file)
    return out


def check_resumable(cfg, own: dict) -> None:
    """Refuse to resume from a folder whose files came from another model or configuration."""
    path = cfg.out / FILE
    try:
        theirs = json.loads(path.read_text())
    except (OSError, ValueError):
        raise UserError(
            f"cannot resume in {cfg.out}: it has no readable {FILE} (not a build of this tool, or an "
            "older one); run the build from its first step"
        ) from None
    differ = sorted(k for k in own if theirs.get(k) != own[k])
    if differ:
        raise UserError(
            f"cannot resume in {cfg.out}: it holds a build of another model or configuration "
            f"({', '.join(differ)} differ); use another --out or run from the first step"
        )
