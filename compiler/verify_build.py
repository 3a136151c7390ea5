"""The build's checks: every executable form against the reference with `==`.

`compare` runs one form on the check images and returns a `CheckResult`; `require` ends the
build (`CheckFailed`, exit status 1) when a check found any difference. The `verify` step checks
the final IR and the IR every step of this run saved (never a file this run did not write, see
compiler/fingerprint.py).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from bireal_hw.errors import CheckFailed, UserError
from bireal_hw.validate import check_allocation
from compiler.ir import Graph, load_graph
from compiler.steps import STEPS, step_file
from compiler.verification import (
    InputGrid,
    Reference,
    batches,
    check_images,
    golden_reference,
    graph_runner,
)


@dataclass
class CheckResult:
    """One check of one executable form: how many images differ from the reference in any
    element, the first difference, and how many distinct outputs the reference gave."""

    check: str
    images: int
    mismatches: int
    source: str
    reference: str
    distinct_outputs: int
    first: dict | None = None  # {"image": i, "element": j, "got": g, "want": w}

    def as_dict(self) -> dict:
        out = {
            "reference": self.reference,
            "images": self.images,
            "mismatches": self.mismatches,
            "source": self.source,
            "distinct_outputs": self.distinct_outputs,
        }
        if self.first is not None:
            out["first_mismatch"] = self.first
        if self.images > 1 and self.distinct_outputs <= 1:
            out["warning"] = "every image gave the same output: this check cannot see a wrong kernel"
        return out

    def describe(self) -> str:
        f = self.first
        where = (
            f" (first: image {f['image']}, element {f['element']}: got {f['got']}, want {f['want']})"
            if f
            else ""
        )
        return f"{self.check}: {self.mismatches} of {self.images} images differ from the {self.reference} reference{where}"


def reference_for(graph: Graph, state) -> Reference:
    """The build's reference: the checkpoint's integer golden, or the IR as this run (or the run
    it resumes) imported it (one per build, its outputs cached: the IR, the simulated design and
    the C-simulation check the same images)."""
    cfg = state.cfg
    if state.reference is not None:
        return state.reference
    if cfg.reference is not None:
        state.reference = golden_reference(cfg.reference)
        _check_reference_is_the_model(graph, state)
        return state.reference
    if cfg.source.has_golden:
        state.reference = golden_reference(cfg.source.bireal_model())
        return state.reference
    imported = state.own_file(step_file("import"))
    if imported is None:
        raise CheckFailed(
            "no reference: the imported IR of this build is missing; rebuild from the import step"
        )
    state.reference = Reference("imported-ir", graph_runner(load_graph(imported)))
    return state.reference


PROBE_IMAGES = 8


def _check_reference_is_the_model(graph: Graph, state) -> None:
    """--reference must be the checkpoint the model was exported from: its golden and the model
    as imported (exact semantics of the file) agree on a few probe images and in shape, else the
    reference is refused as bad input, before any check uses it."""
    cfg = state.cfg
    imported = state.own_file(step_file("import"))
    if imported is None:
        return
    probe, _ = images_for(graph, PROBE_IMAGES, cfg.seed)
    try:
        want = state.reference.run(probe)
    except (RuntimeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise UserError(
            f"--reference {cfg.reference} cannot run on this model's {probe.shape[1:]} inputs ({first}); "
            "give the checkpoint the model was exported from"
        ) from None
    got = graph_runner(load_graph(imported))(probe)
    if got.shape != want.shape or (got != want).any():
        differ = "in output shape" if got.shape != want.shape else (
            f"on {int((got != want).reshape(len(got), -1).any(axis=1).sum())} of {len(probe)} probe images")  # fmt: skip
        raise UserError(
            f"--reference {cfg.reference} is not the model in {cfg.source.label}: its golden and the file "
            f"differ {differ}; give the checkpoint the file was exported from"
        )


def first_difference(got: np.ndarray, want: np.ndarray, offset: int) -> dict | None:
    bad = np.argwhere(got.reshape(len(got), -1) != want.reshape(len(want), -1))
    if not len(bad):
        return None
    i, j = (int(v) for v in bad[0])
    return {"image": offset + i, "element": j, "got": int(got.reshape(len(got), -1)[i, j]),
            "want": int(want.reshape(len(want), -1)[i, j])}  # fmt: skip


def compare(check: str, run, ref: Reference, images: np.ndarray, batch: int, source: str) -> CheckResult:
    """Run `run` on `images` batch by batch (with a progress bar) against the reference."""
    mismatches, first, seen, done = 0, None, set(), 0
    bar = tqdm(
        total=len(images),
        desc=check,
        unit="img",
        file=sys.stderr,
        leave=False,
        disable=len(images) <= batch or not sys.stderr.isatty(),  # bars only on a terminal
    )
    for x in batches(images, batch):
        got, want = np.asarray(run(x)), ref.run(x)
        if got.shape != want.shape:
            raise CheckFailed(f"{check}: output shape {got.shape} differs from the reference's {want.shape}")
        rows = (got != want).reshape(len(got), -1).any(axis=1)
        mismatches += int(rows.sum())
        if first is None:
            first = first_difference(got, want, done)
        seen.update(row.tobytes() for row in np.ascontiguousarray(want.reshape(len(want), -1)))
        done += len(x)
        bar.update(len(x))
    bar.close()
    return CheckResult(check, len(images), mismatches, source, ref.name, len(seen), first)


def require(result: CheckResult) -> dict:
    """The result as a report entry; a check that found a difference ends the build."""
    if result.mismatches:
        raise CheckFailed(result.describe())
    if result.images > 1 and result.distinct_outputs <= 1:
        print(f"warning: {result.check}: all {result.images} outputs are equal", file=sys.stderr)
    return result.as_dict()


def images_for(graph: Graph, count: int, seed: int) -> tuple[np.ndarray, str]:
    """The check images for the graph's input grid (docs: compiler.verification.check_images);
    Fashion-MNIST test images among them for 1x28x28 models on the 1/255 grid."""
    n, h, w, c = graph.tensors[graph.inputs[0]].shape
    # int64 pixels, float32 images and the mixed copy of them
    check_allocation(
        f"{count:,} check images of {c}x{h}x{w}", count * c * h * w * 24, "give fewer --verify-images"
    )
    grid = InputGrid.of(graph)
    on_pixels = (grid.qmin, grid.qmax) == (0, 255) and abs(grid.scale * 255 - 1) < 1e-6
    dataset = "fashion-mnist" if (c, h, w) == (1, 28, 28) and on_pixels else None
    return check_images(grid, (c, h, w), count, seed, dataset)


def run_verify(graph: Graph, state) -> None:
    """The verify step: the final IR and every saved step's IR against the reference."""
    state.report["bit_exact"] = verify_build(graph, state)


def verify_build(graph: Graph, state) -> dict:
    cfg = state.cfg
    start = time.perf_counter()
    images, source = images_for(graph, max(cfg.verify_images, cfg.step_images), cfg.seed)
    ref = reference_for(graph, state)
    final = images[: cfg.verify_images]
    result = (
        require(compare("verify", graph_runner(graph), ref, final, cfg.batch, source)) if len(final) else {}
    )
    per_step = {}
    few = images[: cfg.step_images]
    for name in list(STEPS)[:-1]:
        path = state.own_file(step_file(name))
        if path is not None and len(few):
            check = compare(
                f"verify: the IR after {name}", graph_runner(load_graph(path)), ref, few, cfg.batch, source
            )
            per_step[name] = {"images": check.images, "mismatches": require(check)["mismatches"]}
    result["steps"] = per_step
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result
