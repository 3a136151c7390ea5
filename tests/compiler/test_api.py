"""The Python API (`compiler.compile`) and the named models (`--model bireal18` ...): every
kind of model a user holds builds, and the result's `predict` gives the golden's integers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import compiler
from bireal_hw.errors import UserError
from bireal_hw.models import BiRealConfig
from bireal_hw.random_models import ModelSpec, NarrowQuantNet, make_model
from compiler.build import main
from compiler.model_source import named_model
from compiler.verification import golden_reference
from tests.conftest import run_cli

TINY = BiRealConfig("tiny", (1, 1), (5, 9), stem="small", in_channels=1, num_classes=4, image_size=10)


def _images(n: int, shape=(1, 10, 10), seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape)).astype(np.float32) / 255


@pytest.fixture(scope="module")
def tiny() -> torch.nn.Module:
    return make_model(ModelSpec(7, TINY, 0))


@pytest.mark.parametrize("target", ["ir", "sim"])
def test_compile_a_bireal_module_predicts_the_golden(tiny, target, tmp_path):
    result = compiler.compile(tiny, target=target, out=tmp_path / "out", verify_images=8)
    assert result.ok and result.report["bit_exact"]["mismatches"] == 0
    assert result.report["bit_exact"]["reference"] == "pytorch-integer"
    assert result.paths["report"].is_file() and result.paths["log"].is_file()
    if target == "sim":
        assert result.paths["folding"].is_file() and result.report["fits"]
    x = _images(5)
    want = golden_reference(tiny).run(x)
    assert np.array_equal(result.predict(x), want)
    assert np.array_equal(result.classify(torch.from_numpy(x)), want.argmax(1))


def test_compile_onnx_proto_and_modelwrapper(tiny, tmp_path):
    from qonnx.core.modelwrapper import ModelWrapper

    from bireal_hw.export import export_qonnx_model

    proto = export_qonnx_model(tiny)
    x = _images(4)
    want = golden_reference(tiny).run(x)
    for i, model in enumerate((proto, ModelWrapper(proto))):
        result = compiler.compile(model, out=tmp_path / f"out{i}", verify_images=6)
        assert result.report["source"]["kind"] == "proto"
        assert result.report["bit_exact"]["reference"] == "imported-ir"
        assert np.array_equal(result.predict(x), want)


def test_compile_a_path_and_a_brevitas_module(tmp_path):
    net = NarrowQuantNet(3, False, 2, True).eval()
    result = compiler.compile(net, out=tmp_path / "b", input_shape=(1, 3, 7, 7), verify_images=6)
    assert result.ok and result.report["source"]["kind"] == "brevitas"
    onnx_path = tmp_path / "narrow.onnx"
    from bireal_hw.random_models import narrow_onnx

    narrow_onnx(onnx_path, 3, False, 2, True, seed=1)
    from_path = compiler.compile(str(onnx_path), out=tmp_path / "p", verify_images=6)
    assert from_path.report["source"]["kind"] == "onnx"
    from compiler.ir import load_graph
    from compiler.verification import graph_runner

    x = np.random.default_rng(0).random((3, 3, 7, 7)).astype(np.float32)
    imported = graph_runner(load_graph(tmp_path / "p" / "steps" / "00_import.ir"))  # the exact semantics
    assert np.array_equal(from_path.predict(x), imported(x))


@pytest.mark.parametrize(
    "model,kwargs,words",
    [
        (object(), {}, "cannot build a object"),
        (NarrowQuantNet(2, True, 2, True), {}, "needs input_shape"),
        (NarrowQuantNet(2, True, 2, True), {"input_shape": (3, 7, 7)}, "input_shape must be"),
        ("bireal_small", {"fps": float("nan"), "target": "sim"}, "--fps must be a finite number"),
        ("bireal_small", {"no_such_option": 1}, "compile():"),
        ("bireal_small", {"target": "asic"}, "unknown target"),
    ],
)
def test_compile_refuses_bad_input_with_one_line(model, kwargs, words, tmp_path):
    with pytest.raises(UserError, match=None) as info:
        compiler.compile(model, out=tmp_path / "out", **kwargs)
    assert words in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_compile_refuses_a_module_with_non_finite_weights(tmp_path):
    net = make_model(ModelSpec(2, TINY, 0))
    with torch.no_grad():
        net.stem_bn.running_var[0] = float("inf")
    with pytest.raises(UserError, match="stem_bn.running_var.*non-finite"):
        compiler.compile(net, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_named_models_from_the_cli(tmp_path, capsys):
    """`--model bireal_small --seed N`: random weights with randomized BN, marked in the report,
    a pure function of the seed, checked against its own golden."""
    digests = []
    for seed in (1, 1, 2):
        out = tmp_path / f"s{seed}-{len(digests)}"
        args = ["--model", "bireal_small", "--seed", str(seed), "--residual-bits", "4", "--out", str(out)]
        code, stdout, err = run_cli(main, capsys, *args, "--verify-images", "4")
        assert code == 0, err
        report = json.loads((out / "report.json").read_text())
        assert report["random_weights"] is True and json.loads(stdout)["random_weights"] is True
        assert report["source"]["kind"] == "named" and "4-bit residual grid" in report["model"]
        assert report["bit_exact"]["reference"] == "pytorch-integer"
        digests.append(json.loads((out / "fingerprint.json").read_text())["model_sha256"])
    assert digests[0] == digests[1] != digests[2]
    net = named_model("bireal_small", 4, 1)
    assert net.cfg.residual_bits == 4
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert any((m.weight < 0).any() for m in bns)  # randomized BN: negative gamma present


def test_the_api_example_runs(tmp_path):
    """examples/python_api.py, as the README shows it (the IR target, for time)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    args = [
        sys.executable,
        str(root / "examples" / "python_api.py"),
        "--out",
        str(tmp_path / "o"),
        "--target",
        "ir",
    ]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "0 mismatches" in proc.stdout and "correct: " in proc.stdout
