"""`python -m compiler.build --target ir`: the report, resuming from saved steps, hostile names
kept out of every output, and every bad input in the corpus -> one line, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from compiler.build import main
from tests.compiler.corpus import make_corpus
from tests.conftest import run_cli

CORPUS = Path(__file__).resolve().parent / "corpus"
REJECTED = [case for case, _ in make_corpus.CASES if case.expect is not None]


def build(capsys, *args: str) -> tuple[int, str, str]:
    return run_cli(main, capsys, "--target", "ir", *args)


def test_build_default_model_and_resume(tmp_path, capsys, default_onnx):
    out = tmp_path / "out"
    code, stdout, _ = build(capsys, "--model", str(default_onnx), "--out", str(out), "--verify-images", "40")
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["target"] == "ir" and report["model"] == str(default_onnx)
    assert report["bit_exact"]["reference"] == "imported-ir"  # an .onnx without a checkpoint
    assert (report["bit_exact"]["images"], report["bit_exact"]["mismatches"]) == (40, 0)
    assert all(s["mismatches"] == 0 for s in report["bit_exact"]["steps"].values())
    assert [s["name"] for s in report["steps"]] == ["import", "streamline", "lower", "verify"]
    assert {layer["op"] for layer in report["layers"]} >= {"xnor_popcount_matmul", "multi_threshold"}
    for name in ("model.ir", "model.ir.npz", "timings.json", "names.json", "steps/02_lower.ir"):
        assert (out / name).is_file(), name
    assert len(list((out / "passes" / "lower").glob("*.ir"))) == 3
    assert json.loads(stdout)["bit_exact"]["mismatches"] == 0

    args = [
        "--model",
        str(default_onnx),
        "--out",
        str(out),
        "--start-step",
        "verify",
        "--verify-images",
        "10",
    ]
    code, _, err = build(capsys, *args)
    assert code == 0 and "[1/4]" not in err and "[4/4] verify" in err
    resumed = json.loads((out / "report.json").read_text())
    assert [s["name"] for s in resumed["steps"]] == ["import", "streamline", "lower", "verify"]

    partial = tmp_path / "partial"
    args = ["--model", str(default_onnx), "--out", str(partial), "--stop-step", "streamline"]
    assert build(capsys, *args)[0] == 0
    assert sorted(p.name for p in (partial / "steps").glob("*.ir")) == ["00_import.ir", "01_streamline.ir"]
    code, _, err = build(
        capsys, "--model", str(default_onnx), "--out", str(tmp_path / "new"), "--start-step", "lower"
    )
    assert code == 2 and "run the build from its first step" in err and not (tmp_path / "new").exists()


def test_checkpoint_reference_is_the_pytorch_golden(tmp_path, capsys):
    code, _, _ = build(capsys, "--out", str(tmp_path / "o"), "--verify-images", "20")
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert code == 0 and report["bit_exact"]["reference"] == "pytorch-integer"
    assert "fashion-mnist test images" in report["bit_exact"]["source"]


HOSTILE = ["../x", "a;b", "$(rm -rf /)", '"q"', "int", "/etc/passwd", "..", "a b\\c"]


def test_hostile_names_never_reach_outputs(tmp_path, capsys, default_onnx):
    model = onnx.load(str(default_onnx))
    rename = {}
    for i, node in enumerate(model.graph.node):
        node.name = HOSTILE[i % len(HOSTILE)] + str(i)
        for j, name in enumerate(node.output):
            rename[name] = f"{HOSTILE[(i + j) % len(HOSTILE)]}/{i}"
    for item in list(model.graph.initializer) + list(model.graph.input) + list(model.graph.output):
        rename.setdefault(item.name, f"{HOSTILE[len(rename) % len(HOSTILE)]}#{len(rename)}")
    for node in model.graph.node:
        node.input[:] = [rename.get(n, n) for n in node.input]
        node.output[:] = [rename[n] for n in node.output]
    for item in list(model.graph.initializer) + list(model.graph.input) + list(model.graph.output):
        item.name = rename[item.name]
    del model.graph.value_info[:]
    path = tmp_path / "hostile.onnx"
    onnx.save(model, str(path))
    out = tmp_path / "out"
    code, _, _ = build(capsys, "--model", str(path), "--out", str(out), "--verify-images", "8")
    assert code == 0
    assert json.loads((out / "report.json").read_text())["bit_exact"]["mismatches"] == 0
    for f in out.rglob("*"):
        assert f.resolve().is_relative_to(out.resolve())
        assert not any(h in f.name for h in ("..x", ";", "$", '"', "passwd"))
    text = (out / "model.ir").read_text()
    assert not any(h in text for h in ("../x", "a;b", "rm -rf", "passwd"))
    assert set(json.loads((out / "names.json").read_text()).values()) <= set(rename.values())  # mapping kept


@pytest.mark.parametrize("case", REJECTED, ids=lambda c: c.file)
def test_bad_input_is_one_line_exit_2_nothing_written(case, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = build(capsys, "--model", str(CORPUS / case.file), "--out", str(out))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and case.expect in err
    assert "Traceback" not in err and stdout == ""
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "make, expect",
    [
        (lambda p: p.write_bytes(b""), "the file is empty"),
        (lambda p: p.mkdir(), "not a regular file|is a directory|folder"),
        (lambda p: None, "not found"),
        (lambda p: p.write_bytes(b"\x80\x02not a checkpoint"), ""),
    ],
    ids=["empty", "folder", "missing", "bad-checkpoint"],
)
def test_other_bad_models(make, expect, tmp_path, capsys):
    import re

    suffix = ".pt" if expect == "" else ".onnx"
    model = tmp_path / f"m{suffix}"
    make(model)
    code, _, err = build(capsys, "--model", str(model), "--out", str(tmp_path / "out"))
    assert code == 2 and err.count("\n") == 1 and re.search(expect, err)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("file", ["hostile_names.onnx", "qonnx_tiny.onnx"])
def test_importer_rejects_what_the_ir_cannot_express(file, tmp_path, capsys):
    """Valid ONNX files outside what the IR expresses (a 2-D float input): one line naming it."""
    code, _, err = build(capsys, "--model", str(CORPUS / file), "--out", str(tmp_path / "o"))
    assert code == 2 and err.count("\n") == 1 and "the IR takes N x C x H x W images" in err
    assert not (tmp_path / "o").exists()


def test_unsupported_op_is_named(tmp_path, capsys, default_onnx):
    model = onnx.load(str(default_onnx))
    node = next(n for n in model.graph.node if n.op_type == "Add")
    node.op_type = "Max"  # a real ONNX op the IR does not have
    path = tmp_path / "max.onnx"
    onnx.save(model, str(path))
    code, _, err = build(capsys, "--model", str(path), "--out", str(tmp_path / "o"))
    assert code == 2 and err.count("\n") == 1 and "Max node" in err and "is not supported by the IR" in err
    node.op_type = "Sub"  # supported by scalar constants only (pre-processing, the logits' affine tail)
    onnx.save(model, str(path))
    code, _, err = build(capsys, "--model", str(path), "--out", str(tmp_path / "p"))
    assert code == 2 and err.count("\n") == 1 and "Sub node" in err and "only an Add of two tensors" in err
