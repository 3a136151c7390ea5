"""The build's `verify` step: the final IR and every saved step's IR against the reference."""

from __future__ import annotations

import sys
import time

import numpy as np
from tqdm import tqdm

from compiler.ir import Graph, load_graph
from compiler.verification import (
    Reference,
    batches,
    count_mismatches,
    golden_reference,
    graph_runner,
    verification_images,
)


def reference_for(graph: Graph, state) -> Reference:
    """The build's reference: the checkpoint's integer golden, or the IR as imported (one per build,
    its outputs cached: the IR, the simulated design and the C-simulation check the same images)."""
    from compiler.build import step_file

    cfg = state.cfg
    if state.reference is not None:
        return state.reference
    if cfg.reference is not None or cfg.is_checkpoint:
        state.reference = golden_reference(cfg.reference or cfg.model)
        return state.reference
    imported = state.stage / step_file(0, "import")
    if not imported.is_file():
        imported = cfg.out / step_file(0, "import")
    state.reference = Reference("imported-ir", graph_runner(load_graph(imported)))
    return state.reference


def compare(run, ref: Reference, images: np.ndarray, batch: int, label: str) -> int:
    """Images whose logits from `run` differ from the reference's, with a progress bar."""
    mismatches = 0
    bar = tqdm(
        total=len(images), desc=label, unit="img", file=sys.stderr, leave=False, disable=len(images) < batch
    )
    for x in batches(images, batch):
        mismatches += count_mismatches(run(x), ref.run(x))
        bar.update(len(x))
    bar.close()
    return mismatches


def images_for(graph: Graph, count: int, seed: int) -> tuple[np.ndarray, str]:
    """Verification images for the graph's input: Fashion-MNIST test images for 1x28x28 models
    when installed, otherwise seeded random ones."""
    n, h, w, c = graph.tensors[graph.inputs[0]].shape
    dataset = "fashion-mnist" if (c, h, w) == (1, 28, 28) else None
    return verification_images(dataset, (c, h, w), count, seed)


def verify_build(graph: Graph, state) -> dict:
    from compiler.build import STEPS, step_file

    cfg = state.cfg
    start = time.perf_counter()
    images, source = images_for(graph, max(cfg.verify_images, cfg.step_images), cfg.seed)
    ref = reference_for(graph, state)
    final = images[: cfg.verify_images]
    result = {
        "reference": ref.name,
        "images": len(final),
        "mismatches": compare(graph_runner(graph), ref, final, cfg.batch, "verify") if len(final) else 0,
        "source": source,
    }
    per_step = {}
    for index, name in enumerate(list(STEPS)[:-1]):
        path = state.stage / step_file(index, name)
        if not path.is_file():
            path = cfg.out / step_file(index, name)
        if path.is_file() and cfg.step_images:
            few = images[: cfg.step_images]
            per_step[name] = {
                "images": len(few),
                "mismatches": compare(graph_runner(load_graph(path)), ref, few, cfg.batch, name),
            }
    result["steps"] = per_step
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result
