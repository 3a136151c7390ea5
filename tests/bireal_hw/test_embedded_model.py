"""The embedded default model: its accuracy and the integer golden's agreement, on all 10,000
Fashion-MNIST test images (the dataset comes from Debian's dataset-fashion-mnist package)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bireal_hw.__main__ import DEFAULT_CHECKPOINT
from bireal_hw.checkpoint import load_model
from bireal_hw.evaluate import evaluate

ROOT = Path(__file__).resolve().parents[2]
RECORD = json.loads((ROOT / "examples" / "fashion_mnist" / "result.json").read_text())


@pytest.fixture(scope="module")
def report():
    model, _ = load_model(DEFAULT_CHECKPOINT)
    return evaluate(model, "fashion-mnist", integer=True, progress=False)


def test_embedded_model_reaches_its_recorded_accuracy(report):
    assert report["images"] == 10_000
    assert report["accuracy"] >= 0.90
    assert report["accuracy"] == RECORD["qat_test_accuracy"]  # the README's number, reproduced


def test_integer_golden_agrees_with_qat_on_at_least_999_per_mille(report):
    assert report["integer"]["top1_agreement"] >= 0.999
    assert report["integer"]["accuracy"] == RECORD["integer_test_accuracy"]


def test_main_job_writes_report_and_onnx(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bireal_hw", "--out", str(tmp_path), "--limit", "500"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["images"] == 500 and report["integer"]["top1_agreement"] >= 0.99
    assert (tmp_path / "model.onnx").stat().st_size > 10_000
