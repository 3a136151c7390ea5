"""Fixtures shared by the compiler tests: the embedded default model as QONNX and its IR stages."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from compiler.build import DEFAULT_MODEL


@pytest.fixture(scope="session")
def default_onnx(tmp_path_factory) -> Path:
    """The embedded Fashion-MNIST checkpoint exported to QONNX (once per session)."""
    from bireal_hw.checkpoint import load_model
    from bireal_hw.export import export_qonnx_model

    model, _ = load_model(DEFAULT_MODEL)
    path = tmp_path_factory.mktemp("default") / "model.onnx"
    onnx.save(export_qonnx_model(model), str(path))
    return path
