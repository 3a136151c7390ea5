"""What a build was made from, so that a build reads no file it did not write.

Every build writes `fingerprint.json` into its output folder: the SHA-256 of the model file (and
of the reference checkpoint and folding file, when given), the flags that shape the IR and the
design, and (`step_files`) the SHA-256 of every step file (`steps/NN_<step>.ir` and its .npz) the
build wrote, recorded by `record_step_file` right after each is saved. A resumed build
(`--start-step`) reads the earlier steps' files only when the folder's fingerprint equals its own
(`check_resumable`, which also checks that the folder's report.json is one of this tool and
carries the recorded digests over into the fingerprint the resumed run writes) and every step
file it may read still has the digest recorded when it was written (`check_step_files`): a file
edited, truncated or replaced since is refused in one line, before it is parsed.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from bireal_hw.atomic import atomic_write
from bireal_hw.errors import UserError

FILE = "fingerprint.json"
STEP_FILES = "step_files"  # fingerprint.json: step file (relative) -> {"ir": sha256, "npz": sha256}
REPORT = "report.json"
MAX_JSON_BYTES = 64 << 20  # a fingerprint.json or report.json of this tool is far smaller
_RERUN = "run the build from its first step"


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
    """The inputs a build's step files depend on (not the target: the IR steps are shared). A
    folding file is checked (`read_folding_file`) as it is digested: before any work."""
    if cfg.folding is not None and Path(cfg.folding).is_file():
        from compiler.hw.folding import read_folding_file

        read_folding_file(cfg.folding)
    out = {
        "model_sha256": cfg.source.digest,
        "reference_sha256": file_digest(cfg.reference),
        "folding_sha256": file_digest(cfg.folding),
        "board": cfg.board,
        "fps": cfg.fps,
        "clock_mhz": cfg.clock_mhz,
        "sim_frames": cfg.sim_frames,
        "external_weights": cfg.external_weights,
    }
    if cfg.board_file is not None:
        out["board_file_sha256"] = file_digest(cfg.board_file)
    return out


def _read_json(path: Path, what: str):
    """The JSON in `path`, or a one-line UserError (missing, too large, damaged, too deep)."""
    try:
        if not path.is_file():  # a folder, a FIFO or a device would block or fail the read
            raise FileNotFoundError(f"{path} is not a regular file")
        if path.stat().st_size > MAX_JSON_BYTES:
            raise UserError(f"cannot resume in {path.parent}: its {path.name} is over {MAX_JSON_BYTES} bytes, "
                            f"not {what}; {_RERUN}")  # fmt: skip
        return json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except (OSError, ValueError, RecursionError) as exc:
        raise UserError(
            f"cannot resume in {path.parent}: it has no readable {path.name} ({type(exc).__name__}; not "
            f"{what}, or one an older version or a crash left); {_RERUN}"
        ) from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _is_digest(value) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _step_digests(theirs: dict, path: Path) -> dict:
    steps = theirs.get(STEP_FILES, {})
    if not isinstance(steps, dict) or not all(
        isinstance(v, dict) and set(v) == {"ir", "npz"} and all(map(_is_digest, v.values()))
        for v in steps.values()
    ):
        raise UserError(f"cannot resume in {path.parent}: its {FILE} has damaged step digests; {_RERUN}")
    return steps


def check_resumable(cfg, own: dict) -> None:
    """Refuse to resume from a folder whose files came from another model or configuration, or
    whose fingerprint.json or report.json is damaged; on success the folder's recorded step-file
    digests are carried into `own` (the fingerprint the resumed run writes)."""
    path = cfg.out / FILE
    theirs = _read_json(path, "a build of this tool")
    if not isinstance(theirs, dict):
        raise UserError(f"cannot resume in {cfg.out}: its {FILE} is not a fingerprint of this tool; {_RERUN}")
    differ = sorted(k for k in own if theirs.get(k) != own[k])
    if differ:
        raise UserError(
            f"cannot resume in {cfg.out}: it holds a build of another model or configuration "
            f"({', '.join(differ)} differ); use another --out or run from the first step"
        )
    steps = _step_digests(theirs, path)
    check_report(cfg.out / REPORT)
    own[STEP_FILES] = dict(steps)


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_report(path: Path) -> None:
    """The report.json a resumed run extends (when there is one) has the shape this tool writes:
    an object whose `steps` are {name, seconds, nodes} records, whose `passes` map a step to its
    pass records, and whose per-check sections hold integer images and mismatches."""
    if not path.is_file():
        return
    report = _read_json(path, "a report of this tool")
    bad = None
    if not isinstance(report, dict):
        bad = "it is not an object"
    elif not isinstance(report.get("steps", []), list) or not all(
        isinstance(s, dict)
        and isinstance(s.get("name"), str)
        and _number(s.get("seconds"))
        and isinstance(s.get("nodes"), int)
        for s in report.get("steps", [])
    ):
        bad = "its steps are not step records"
    elif not isinstance(report.get("passes", {}), dict) or not all(
        isinstance(records, list) and all(isinstance(r, dict) for r in records)
        for records in report.get("passes", {}).values()
    ):
        bad = "its passes are not pass records"
    else:
        from compiler.targets import TARGETS

        for key in {k for t in TARGETS.values() for k in t.summary} | {"bit_exact"}:
            section = report.get(key)
            if section is not None and not (
                isinstance(section, dict)
                and all(isinstance(section.get(n, 0), int) for n in ("images", "mismatches"))
                and (key == "bit_exact" or {"images", "mismatches"} <= set(section))
            ):
                bad = f"its {key!r} section is damaged"
                break
    if bad:
        raise UserError(
            f"cannot resume in {path.parent}: its {path.name} is not a report of this tool ({bad}); {_RERUN}"
        )


def _digests(folder: Path, relative: str) -> dict:
    return {"ir": file_digest(folder / relative), "npz": file_digest(folder / (relative + ".npz"))}


def record_step_file(stage: Path, relative: str) -> None:
    """Record the SHA-256 of the step file `relative` (and its .npz), just written under the
    staging folder `stage`, in stage/fingerprint.json."""
    path = stage / FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    data.setdefault(STEP_FILES, {})[relative] = _digests(stage, relative)
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=1)))


def check_step_files(out: Path, relatives) -> None:
    """Every step file in `relatives` that `out` holds (its .ir or its .npz) has the digests the
    build that wrote it recorded in out/fingerprint.json; else one line (UserError)."""
    present = [r for r in relatives if (out / r).exists() or (out / (r + ".npz")).exists()]
    if not present:
        return
    theirs = _read_json(out / FILE, "a build of this tool")
    if not isinstance(theirs, dict):
        raise UserError(f"cannot resume in {out}: its {FILE} is not a fingerprint of this tool; {_RERUN}")
    recorded = _step_digests(theirs, out / FILE)
    for relative in present:
        for key, name in (("ir", relative), ("npz", relative + ".npz")):
            path = out / name
            if relative not in recorded:
                raise UserError(
                    f"cannot resume: {path} has no digest in {out / FILE} (written by another or an older "
                    f"build); {_RERUN}"
                )
            if not path.is_file():
                raise UserError(f"cannot resume: {path} is missing; {_RERUN}")
            if file_digest(path) != recorded[relative][key]:
                raise UserError(f"cannot resume: {path} was changed after the build wrote it; {_RERUN}")
