"""Differential testing: seeded random models through every target, compared with `==`.

    python -m compiler.differential --seed 7                  # one case, every target
    python -m compiler.differential --seeds 0-49 --targets ir,sim,fpga,cpu --json table.json
    python -m compiler.differential --seeds 0-9 --block bottleneck   # Bi-Real-50's blocks

For each seed, `bireal_hw.random_models` draws a model over the space the compiler claims. Its
integer golden is compared with the independent exact reference (`bireal_hw.exact_reference`,
Python Fractions) on the build's own check images (the input grid's extremes, checkerboards
and random integers over the whole grid); then every target is built by `compiler.build` as a
user would, and its own checks compare it with the golden on the same images. So every target
equals the golden, and the golden equals the exact reference, on every image. A case is
`ok`, `refused` (the build said in one line, exit status 2, that it cannot take the model),
`MISMATCH` (a check found a difference: exit 1) or `CRASH` (anything else: a bug). A failing
case prints the command that rebuilds it.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bireal_hw import validate as v
from bireal_hw.errors import CheckFailed, UserError, cli_main

TARGETS = ("ir", "sim", "fpga", "rtl", "cpu", "hls4ml")
GOLDEN = "golden=exact"  # the row comparing the golden with the exact reference


@dataclass
class Outcome:
    case: str  # "7" (the random Bi-Real model of seed 7), "b7" (its bottleneck form) or "i2,u3" (narrow)
    target: str
    result: str  # ok | refused | MISMATCH | CRASH
    detail: str = ""
    images: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.result in ("MISMATCH", "CRASH")

    def rebuild(self) -> str:
        targets = "" if self.target == GOLDEN else f" --targets {self.target}"
        if self.case.isdigit():
            which = f"--seed {self.case}"
        elif self.case[:1] == "b" and self.case[1:].isdigit():
            which = f"--seed {self.case[1:]} --block bottleneck"
        else:
            which = f"--narrow {self.case}"
        return f"python -m compiler.differential {which}{targets}"


def _check_pixels(model, images: int, seed: int) -> np.ndarray:
    """The integer pixels of the check images every build of this model uses."""
    from compiler.verification import InputGrid, check_images

    c = model.cfg
    scale = float(model.input_quant.act_quant.scale())
    dataset = "fashion-mnist" if (c.in_channels, c.image_size) == (1, 28) else None
    x, _ = check_images(
        InputGrid(scale, 0, 255), (c.in_channels, c.image_size, c.image_size), images, seed, dataset
    )
    return np.clip(np.round(x.astype(np.float64) / scale), 0, 255).astype(np.int64)


def golden_against_exact(model, case: str, seed: int, images: int) -> Outcome:
    from bireal_hw.exact_reference import ExactBiReal
    from bireal_hw.integer import integer_model

    start = time.perf_counter()
    pixels = _check_pixels(model, images, 0)
    with torch.no_grad():
        golden = integer_model(model)(torch.from_numpy(pixels)).numpy()
    exact = ExactBiReal(model)(pixels)
    bad = np.flatnonzero((golden != exact).any(axis=1))
    seconds = round(time.perf_counter() - start, 2)
    if len(bad):
        i = int(bad[0])
        j = int(np.flatnonzero(golden[i] != exact[i])[0])
        detail = f"{len(bad)} of {images} differ (first: image {i}, logit {j}: golden {golden[i, j]}, exact {exact[i, j]})"
        return Outcome(case, GOLDEN, "MISMATCH", detail, images, seconds)
    distinct = len({row.tobytes() for row in golden})
    return Outcome(case, GOLDEN, "ok", f"{distinct} distinct outputs", images, seconds)


def build_target(checkpoint: Path, target: str, out: Path, case: str, images: int) -> Outcome:
    from compiler.build import BuildConfig, Target, build

    cfg = BuildConfig(model=checkpoint, out=out, target=Target(target), verify_images=images)
    start = time.perf_counter()
    log = io.StringIO()
    try:
        with contextlib.redirect_stderr(log):
            report = build(cfg, progress=lambda msg: print(msg, file=log))
    except UserError as exc:
        message = str(exc)
        result = "refused" if "\n" not in message else "CRASH"  # a refusal is one line
        return Outcome(case, target, result, message, 0, round(time.perf_counter() - start, 2))
    except CheckFailed as exc:
        return Outcome(case, target, "MISMATCH", str(exc), images, round(time.perf_counter() - start, 2))
    except Exception as exc:  # noqa: BLE001 - any other exception is a bug to report, with its place
        where = traceback.extract_tb(exc.__traceback__)[-1]
        detail = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else ''} at {Path(where.filename).name}:{where.lineno}"
        return Outcome(case, target, "CRASH", detail, 0, round(time.perf_counter() - start, 2))
    seconds = round(time.perf_counter() - start, 2)
    checked = _checked_images(report)
    if not report.get("ok"):
        return Outcome(case, target, "CRASH", "report.json lacks ok: true", checked, seconds)
    return Outcome(case, target, "ok", "", checked, seconds)


def _checked_images(report: dict) -> int:
    """Images of the build's final check (the target's own form)."""
    for key in ("hls4ml", "csim", "rtl_sim"):
        if key in report:
            return report[key]["images"]
    return report.get("bit_exact", {}).get("images", 0)


def case_spec(case: str):
    """The random model of a case: "7" (seed 7) or "b7" (seed 7 with bottleneck blocks)."""
    from bireal_hw.random_models import bottleneck_spec, draw_spec

    return bottleneck_spec(int(case[1:])) if case.startswith("b") else draw_spec(int(case))


def run_case(
    case: str, targets: tuple[str, ...], work: Path, images: int, hls4ml_images: int
) -> list[Outcome]:
    """The golden against the exact reference, then every target, for the model of `case`."""
    from bireal_hw.checkpoint import save_checkpoint
    from bireal_hw.random_models import make_model

    spec = case_spec(case)
    seed = spec.seed
    model = make_model(spec)
    folder = work / f"seed_{case}"
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = folder / "model.pt"
    save_checkpoint(checkpoint, model, random_model=spec.to_dict())
    outcomes = [golden_against_exact(model, case, seed, images)]
    for target in targets:
        n = hls4ml_images if target == "hls4ml" else images
        outcomes.append(build_target(checkpoint, target, folder / target, case, n))
    return outcomes


NARROW = [(b, s) for b in (2, 3) for s in (True, False)]  # 2- and 3-bit maps, signed and unsigned


def type_name(t: tuple[int, bool]) -> str:
    return f"{'i' if t[1] else 'u'}{t[0]}"


def parse_narrow(text: str) -> tuple[tuple[int, bool], tuple[int, bool]]:
    """'i2,u3' -> ((2, True), (3, False))."""
    try:
        a, b = (t.strip() for t in text.split(","))
        types = tuple((int(t[1:]), t[0] == "i") for t in (a, b) if t[0] in "iu")
    except ValueError:
        types = ()
    if len(types) != 2 or any(t not in NARROW for t in types):
        raise UserError(
            f"--narrow {text!r}: give the input and activation types, e.g. i2,u3 (i/u and 2 or 3 bits)"
        )
    return types


def run_narrow_case(
    in_type: tuple[int, bool],
    act_type: tuple[int, bool],
    targets: tuple[str, ...],
    work: Path,
    images: int,
    hls4ml_images: int,
) -> list[Outcome]:
    """A Brevitas CNN with `in_type` input and `act_type` activations (bireal_hw.random_models.
    NarrowQuantNet), exported to QONNX, through every target (the reference: its imported IR)."""
    from bireal_hw.random_models import narrow_onnx

    index = NARROW.index(in_type) * len(NARROW) + NARROW.index(act_type)
    folder = work / f"narrow_{index}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    narrow_onnx(path, *in_type, *act_type, seed=index)
    case = f"{type_name(in_type)},{type_name(act_type)}"
    return [
        build_target(path, t, folder / t, case, hls4ml_images if t == "hls4ml" else images) for t in targets
    ]


def table(outcomes: list[Outcome]) -> str:
    """A markdown table: model x target -> result (ok with the images checked)."""
    columns = [GOLDEN] + [t for t in TARGETS if any(o.target == t for o in outcomes)]
    cases = list(dict.fromkeys(o.case for o in outcomes))
    rows = ["| case | model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]
    for case in cases:
        cells = []
        for col in columns:
            o = next((o for o in outcomes if o.case == case and o.target == col), None)
            cells.append("" if o is None else (f"ok ({o.images})" if o.result == "ok" else o.result))
        model = (
            case_spec(case).describe().split(": ", 1)[1]
            if case.lstrip("b").isdigit()
            else f"narrow CNN: input, activations {case}"
        )
        rows.append(f"| {case} | {model} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        first, last = int(lo), int(hi) if hi else int(lo)
        if first < 0 or last - first + len(out) >= 100_000:
            raise ValueError(text)
        out += list(range(first, last + 1))
    return out


@cli_main
def main(argv: list[str] | None = None) -> None:
    p = v.Parser(prog="python -m compiler.differential", description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=v.integer(0, 2**32 - 1), help="one case")
    p.add_argument("--seeds", help="cases, e.g. 0-49 or 3,7,11")
    p.add_argument("--narrow", help="a narrow CNN: input and activation types, e.g. i2,u3; 'all' for the 16")
    p.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated, of {', '.join(TARGETS)}")
    p.add_argument("--images", type=v.integer(1, 100_000), default=40, help="check images per target")
    p.add_argument(
        "--hls4ml-images", type=v.integer(0, 100_000), default=6, help="hls4ml's (about one image per second)"
    )
    p.add_argument(
        "--block",
        choices=("basic", "bottleneck", "both"),
        default="basic",
        help="the random models' blocks: Bi-Real-18's, Bi-Real-50's bottlenecks, or both per seed",
    )
    p.add_argument("--work", help="folder for the models and builds (default: a temporary one)")
    p.add_argument("--json", help="write every outcome to this JSON file")
    args = p.parse_args(argv)
    if args.seed is None and args.seeds is None and args.narrow is None:
        raise UserError("give --seed N, --seeds A-B or --narrow TYPES")
    try:
        seeds = ([args.seed] if args.seed is not None else []) + (_seeds(args.seeds) if args.seeds else [])
    except ValueError:
        raise UserError(
            f"--seeds {args.seeds!r}: give ranges and numbers >= 0 such as 0-49 or 3,7,11 (at most 100,000 cases)"
        ) from None
    narrow = [(a, b) for a in NARROW for b in NARROW] if args.narrow == "all" else []
    if args.narrow and args.narrow != "all":
        narrow = [parse_narrow(args.narrow)]
    if not seeds and not narrow:
        raise UserError(f"--seeds {args.seeds!r} selects no case; give a range such as 0-49")
    targets = tuple(t for t in args.targets.split(",") if t)
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise UserError(f"unknown target {unknown[0]!r}; the targets are {', '.join(TARGETS)}")
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="differential-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        prefixes = {"basic": [""], "bottleneck": ["b"], "both": ["", "b"]}[args.block]
        names = [f"{prefix}{s}" for s in seeds for prefix in prefixes]
        cases = [lambda c=c: run_case(c, targets, work, args.images, args.hls4ml_images) for c in names]
        cases += [
            lambda n=n: run_narrow_case(*n, targets, work, args.images, args.hls4ml_images) for n in narrow
        ]
        for case in cases:
            for o in case():
                outcomes.append(o)
                line = f"case {o.case:>6s} {o.target:13s} {o.result:8s} {o.seconds:7.2f} s  {o.detail}"
                print(
                    line + (f"\n    rebuild: {o.rebuild()}" if o.failed else ""), file=sys.stderr, flush=True
                )
    print(table(outcomes))
    if args.json:
        Path(args.json).write_text(json.dumps([o.__dict__ for o in outcomes], indent=1))
    failed = [o for o in outcomes if o.failed]
    if failed:
        print(
            f"FAILED: {len(failed)} of {len(outcomes)} outcomes; first: {failed[0].rebuild()}",
            file=sys.stderr,
        )
        raise SystemExit(1)


if __name__ == "__main__":
    main()
