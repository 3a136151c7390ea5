"""The IR interpreter equals the integer golden (`bireal_hw.integer`) with `==` on every logit:
the embedded Fashion-MNIST model (a subset by default, all 10,000 test images in the slow test),
and bireal18 / bireal34 at 224x224 with random weights and randomized BatchNorm statistics, after
every pass of the pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bireal_hw.models import build_model, model_config
from compiler.build import DEFAULT_MODEL
from compiler.frontend import load_model_graph
from compiler.frontend.importer import import_qonnx
from compiler.passes import PassManager, lowering_passes, streamline_passes
from compiler.verification import (
    batches,
    count_mismatches,
    golden_reference,
    graph_runner,
    verification_images,
)
from tests.conftest import randomize_batchnorm

PIPELINE = streamline_passes() + lowering_passes()


def every_pass(graph):
    """The graph after each pass of the build pipeline, verified after each."""
    out = [("import", graph)]
    for p in PIPELINE:
        graph = PassManager([p], verify_each=True).run(graph)
        out.append((p.name, graph))
    return out


def mismatches(graph, reference, images, batch=250) -> int:
    run = graph_runner(graph)
    return sum(count_mismatches(run(x), reference.run(x)) for x in batches(images, batch))


@pytest.fixture(scope="module")
def default_stages(default_onnx):
    from compiler.frontend.safe_load import load_untrusted_onnx

    return every_pass(import_qonnx(load_untrusted_onnx(default_onnx), "default").graph)


def test_default_model_after_every_pass(default_stages):
    reference = golden_reference(DEFAULT_MODEL)
    images, source = verification_images("fashion-mnist", (1, 28, 28), 300, seed=0)
    assert source.startswith("fashion-mnist")
    for name, graph in default_stages:
        few = images if name == PIPELINE[-1].name else images[:16]
        assert mismatches(graph, reference, few) == 0, name


@pytest.mark.slow
def test_default_model_on_all_test_images(default_stages):
    reference = golden_reference(DEFAULT_MODEL)
    images, _ = verification_images("fashion-mnist", (1, 28, 28), 10_000, seed=0)
    assert len(images) == 10_000
    assert mismatches(default_stages[-1][1], reference, images) == 0


def test_checkpoint_loads_directly():
    result = load_model_graph(DEFAULT_MODEL)
    assert result.graph.name == "bireal_small" and "bireal_hw.config" in result.graph.metadata


@pytest.mark.parametrize(
    "name",
    [
        "bireal18",
        pytest.param("bireal34", marks=pytest.mark.slow),
        pytest.param("bireal50", marks=pytest.mark.slow),
    ],
)
def test_imagenet_models_at_224(name, tmp_path):
    from bireal_hw.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = build_model(model_config(name)).eval()
    randomize_batchnorm(model, torch.Generator().manual_seed(1))
    ckpt = tmp_path / f"{name}.pt"
    save_checkpoint(ckpt, model, epoch=0)
    stages = every_pass(load_model_graph(ckpt).graph)
    reference = golden_reference(ckpt)
    images, _ = verification_images(None, (3, 224, 224), 2, seed=3)
    for stage, graph in stages:
        assert mismatches(graph, reference, images) == 0, stage
    logits = graph_runner(stages[-1][1])(images)
    assert logits.shape == (2, 1000) and len(np.unique(logits)) > 100  # not a degenerate network
