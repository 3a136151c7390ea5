"""QONNX export: valid ONNX, BipolarQuant/Quant nodes, numerically the model, clean CLI errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from bireal_hw.checkpoint import save_checkpoint
from bireal_hw.export import METADATA_KEY, export_qonnx_model
from bireal_hw.models import build_model
from tests.conftest import randomize_batchnorm

ROOT = Path(__file__).resolve().parents[2]


def small_model(padding="zero", bits=8, seed=0):
    torch.manual_seed(seed)
    model = build_model(
        "bireal_small", widths=(6, 8, 10), stage_blocks=(1, 1, 1), padding=padding, residual_bits=bits
    )
    randomize_batchnorm(model, torch.Generator().manual_seed(seed), gamma_signs=False)
    return model.eval()


@pytest.mark.parametrize("padding", ["zero", "plus_one"])
def test_export_is_valid_qonnx_and_computes_the_model(padding):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    model = small_model(padding)
    proto = export_qonnx_model(model)
    onnx.checker.check_model(proto, full_check=True)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("BipolarQuant") >= 3 + 3  # 3 sign activations + 3 binary weights
    assert ops.count("Conv") == 1 + 3 + 2 and ops.count("Add") == 3
    assert ("Pad" in ops) == (padding != "zero")
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta[METADATA_KEY])["padding"] == padding
    quant_bits = {
        int(onnx.numpy_helper.to_array(i))
        for n in proto.graph.node
        if n.op_type == "Quant"
        for i in proto.graph.initializer
        if i.name == n.input[3]
    }
    assert quant_bits == {8}

    wrapper = ModelWrapper(proto)
    x = torch.randint(0, 256, (1, 1, 28, 28)).float() / 255
    out = execute_onnx(wrapper, {wrapper.graph.input[0].name: x.numpy()})[wrapper.graph.output[0].name]
    with torch.no_grad():
        ref = model(x).numpy()
    # QONNX's executor computes in float32 like the QAT model; integers are compared elsewhere.
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "bireal_hw.export", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_export_cli_writes_one_self_contained_file(tmp_path):
    save_checkpoint(tmp_path / "c.pt", small_model())
    proc = _cli("--checkpoint", str(tmp_path / "c.pt"), "--out", str(tmp_path / "m.onnx"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["ops"]["BipolarQuant"] >= 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "m.onnx"]
    onnx.checker.check_model(str(tmp_path / "m.onnx"), full_check=True)


def test_export_cli_errors(tmp_path):
    proc = _cli("--checkpoint", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "m.onnx"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "not found" in proc.stderr
    save_checkpoint(tmp_path / "f.pt", build_model("bireal_small", quantized=False))
    proc = _cli("--checkpoint", str(tmp_path / "f.pt"), "--out", str(tmp_path / "m.onnx"))
    assert proc.returncode == 2 and "float twin" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "m.onnx").exists()
