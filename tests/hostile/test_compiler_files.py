"""Hostile files given to `python -m compiler.build`: a growing corpus of QONNX models, step files
of an earlier run (--start-step), and folding files (--folding), each made in tmp_path from one
small valid model. Every case: exit status 2, exactly one line on stderr (`error: ...`, naming
what is wrong), no traceback, and the --out folder as it was (not created by a fresh build; the
same files and bytes for a resume). The positive controls (the unedited model builds, an
unedited folder resumes, a valid folding applies) keep the checks from passing vacuously.

Case classes: non-finite or out-of-range numbers in the model (scales, zero points, bit widths,
BatchNorm, weights, biases, constants); opsets newer than onnx knows; input sizes over the memory
budget; damaged or edited step files, fingerprint.json and report.json on resume; damaged,
deep, huge or ill-typed folding files; inputs with symbolic, zero or negative dims and models
with more than one output.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from compiler.build import main
from compiler.ir import IRError, load_graph, save_graph
from tests.compiler.tiny_graphs import tiny_bireal_graph
from tests.conftest import run_cli

QUICK = ("--verify-images", "4")


# ---------------------------------------------------------------- the base model and helpers


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory) -> Path:
    """A small valid QONNX model: a Bi-Real net (3x3 stem, two blocks, one downsampling) of
    1 x 8 x 8 images and 3 classes, exported by this project's exporter."""
    from bireal_hw.export import export_qonnx_model
    from bireal_hw.models import BiRealConfig, Stem
    from bireal_hw.random_models import ModelSpec, make_model

    cfg = BiRealConfig("tiny", (1, 1), (4, 8), stem=Stem.SMALL, in_channels=1, num_classes=3, image_size=8)
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    onnx.save(export_qonnx_model(make_model(ModelSpec(0, cfg))), str(path))
    return path


def _refused(code: int, err: str, words: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert words in lines[0], err
    return lines[0]


def _nothing_left(parent: Path, out: Path) -> None:
    assert not out.exists()
    assert not [p for p in parent.iterdir() if ".staging-" in p.name]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _init(model: onnx.ModelProto, name: str) -> onnx.TensorProto:
    return next(t for t in model.graph.initializer if t.name == name)


def _set(name: str, value) -> Callable[[onnx.ModelProto], None]:
    """Edit: initializer `name` (its first element, or all of a scalar) becomes `value`."""

    def edit(model: onnx.ModelProto) -> None:
        t = _init(model, name)
        a = numpy_helper.to_array(t).copy()
        a.reshape(-1)[0] = value
        t.CopyFrom(numpy_helper.from_array(a, name))

    return edit


def _fill(name: str, value) -> Callable[[onnx.ModelProto], None]:
    def edit(model: onnx.ModelProto) -> None:
        t = _init(model, name)
        a = numpy_helper.to_array(t).copy()
        a[...] = value
        t.CopyFrom(numpy_helper.from_array(a, name))

    return edit


def _node(model: onnx.ModelProto, name: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if n.name == name)


def _epsilon(value: float) -> Callable[[onnx.ModelProto], None]:
    def edit(model: onnx.ModelProto) -> None:
        attr = next(a for a in _node(model, "BatchNormalization_1").attribute if a.name == "epsilon")
        attr.f = value

    return edit


def _add_constant(model: onnx.ModelProto) -> None:
    """The first residual Add adds a NaN constant instead of its shortcut."""
    add = _node(model, "Add_0")
    model.graph.initializer.append(
        numpy_helper.from_array(np.full((1, 4, 8, 8), np.nan, dtype=np.float32), "evil_constant")
    )
    add.input[1] = "evil_constant"


def _opset(domain: str, version: int) -> Callable[[onnx.ModelProto], None]:
    def edit(model: onnx.ModelProto) -> None:
        next(o for o in model.opset_import if o.domain == domain).version = version

    return edit


def _input_dim(axis: int, value: int | str) -> Callable[[onnx.ModelProto], None]:
    def edit(model: onnx.ModelProto) -> None:
        del model.graph.value_info[:]
        dim = model.graph.input[0].type.tensor_type.shape.dim[axis]
        if isinstance(value, str):
            dim.dim_param = value
        else:
            dim.dim_value = value

    return edit


def _input_hw(size: int) -> Callable[[onnx.ModelProto], None]:
    def edit(model: onnx.ModelProto) -> None:
        _input_dim(2, size)(model)
        _input_dim(3, size)(model)

    return edit


def _second_output(model: onnx.ModelProto) -> None:
    model.graph.output.append(
        onnx.helper.make_tensor_value_info("Quant_9_out0", onnx.TensorProto.FLOAT, [1, 8, 4, 4])
    )


# (id, edit of the valid model, words the one line must hold)
MODEL_CASES = [
    # 1. numbers: non-finite anywhere, bit widths, BatchNorm
    (
        "input-scale-nan",
        _set("Quant_0_param0", np.nan),
        "'Quant_0_param0' (read by Quant node 'Quant_0') holds 1 non-finite",
    ),
    (
        "act-scale-inf",
        _set("Quant_4_param0", np.inf),
        "'Quant_4_param0' (read by Quant node 'Quant_4') holds 1 non-finite",
    ),
    ("weight-scale-nan", _set("Quant_1_param1", np.nan), "'Quant_1_param1' (read by Quant node 'Quant_1')"),
    (
        "bipolar-weight-scale-inf",
        _set("BipolarQuant_0_param1", -np.inf),
        "read by BipolarQuant node 'BipolarQuant_0'",
    ),
    ("bipolar-act-scale-nan", _set("BipolarQuant_2_param0", np.nan), "'BipolarQuant_2_param0'"),
    ("zero-point-nan", _set("Quant_1_param2", np.nan), "'Quant_1_param2' (read by Quant node 'Quant_1')"),
    ("bits-nan", _set("Quant_1_param3", np.nan), "'Quant_1_param3' (read by Quant node 'Quant_1') holds"),
    ("bits-inf", _set("Quant_0_param2", np.inf), "'Quant_0_param2'"),
    ("bits-fraction", _set("Quant_1_param3", 2.5), "bit width must be an integer in [1, 32], got 2.5"),
    ("bits-negative", _set("Quant_4_param2", -3.0), "bit width must be an integer in [1, 32], got -3"),
    ("bits-zero", _set("Quant_2_param3", 0.0), "bit width must be an integer in [1, 32], got 0"),
    ("bits-huge", _set("Quant_3_param3", 1e9), "bit width must be an integer in [1, 32], got 1000000000"),
    ("bn-gamma-nan", _set("BatchNormalization_0_param0", np.nan), "read by BatchNormalization node"),
    ("bn-beta-inf", _set("BatchNormalization_1_param1", np.inf), "'BatchNormalization_1_param1'"),
    ("bn-mean-nan", _set("BatchNormalization_2_param2", np.nan), "'BatchNormalization_2_param2'"),
    ("bn-var-inf", _set("BatchNormalization_3_param3", np.inf), "'BatchNormalization_3_param3'"),
    ("bn-var-negative", _set("BatchNormalization_0_param3", -0.5), "negative variance"),
    (
        "bn-var-zero-eps-zero",
        lambda m: (_fill("BatchNormalization_1_param3", 0.0)(m), _epsilon(0.0)(m)),
        "variance + epsilon = 0",
    ),
    ("bn-eps-nan", _epsilon(float("nan")), "epsilon must be a finite number"),
    ("bn-eps-inf", _epsilon(float("inf")), "epsilon must be a finite number"),
    ("bn-eps-negative", _epsilon(-1.0), "epsilon must be >= 0"),
    ("conv-weight-nan", _set("Quant_1_param0", np.nan), "'Quant_1_param0' (read by Quant node 'Quant_1')"),
    ("binary-weight-inf", _set("BipolarQuant_1_param0", np.inf), "'BipolarQuant_1_param0'"),
    ("gemm-weight-nan", _set("Quant_3_param0", np.nan), "'Quant_3_param0'"),
    ("gemm-bias-inf", _set("Gemm_0_param0", np.inf), "'Gemm_0_param0' (read by Gemm node 'Gemm_0')"),
    ("gemm-bias-huge", _set("Gemm_0_param0", 3e38), "bias is over 2**31 steps"),
    ("add-constant-nan", _add_constant, "'evil_constant' (read by Add node 'Add_0') holds 256 non-finite"),
    # 2. opsets
    ("opset-99", _opset("", 99), "uses ai.onnx opset 99, newer than"),
    (
        "qonnx-opset-99",
        _opset("qonnx.custom_op.general", 99),
        "version 99 of domain 'qonnx.custom_op.general'",
    ),
    ("qonnx-opset-0", _opset("qonnx.custom_op.general", 0), "version 0 of domain"),
    # 3. sizes: over the memory budget before anything is allocated
    ("input-huge", _input_hw(10**6), "more than the"),
    ("batch-1e9", _input_dim(0, 10**9), "batch size 1000000000"),
    # 6. the input's dims and the output count
    ("input-symbolic-height", _input_dim(2, "height"), "symbolic height (H) dimension 'height'"),
    ("input-symbolic-channels", _input_dim(1, "C"), "symbolic channel (C) dimension"),
    ("input-zero-width", _input_dim(3, 0), "width (W) dimension 0"),
    ("input-negative-height", _input_dim(2, -5), "height (H) dimension -5"),
    ("two-outputs", _second_output, "has 2 outputs"),
]


def _hostile(tiny_onnx: Path, tmp_path: Path, edit) -> Path:
    model = onnx.load(str(tiny_onnx))
    edit(model)
    path = tmp_path / "hostile.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def test_the_unedited_model_builds(tiny_onnx, tmp_path, capsys):
    """Positive control: the model every hostile case edits builds bit-exactly (exit 0)."""
    out = tmp_path / "out"
    code, stdout, err = run_cli(main, capsys, "--model", str(tiny_onnx), "--out", str(out), *QUICK)
    assert code == 0, err
    assert json.loads(stdout)["bit_exact"]["mismatches"] == 0
    # the edits of the cases find what they edit
    model = onnx.load(str(tiny_onnx))
    for _, edit, _ in MODEL_CASES:
        edit(onnx.ModelProto.FromString(model.SerializeToString()))


@pytest.mark.parametrize("case,edit,words", MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_hostile_model_is_one_line(case, edit, words, tiny_onnx, tmp_path, capsys):
    path = _hostile(tiny_onnx, tmp_path, edit)
    out = tmp_path / "out"
    code, stdout, err = run_cli(main, capsys, "--model", str(path), "--out", str(out), *QUICK)
    line = _refused(code, err, words)
    assert str(path) in line, line  # the line names the file
    assert stdout == ""
    _nothing_left(tmp_path, out)


def test_one_images_tensor_over_the_budget_is_refused(tiny_onnx, tmp_path, capsys, monkeypatch):
    """The input fits the budget, one image's largest tensor (a conv's window) does not."""
    import bireal_hw.validate

    monkeypatch.setattr(bireal_hw.validate, "memory_budget", lambda: 1000)  # the 1x8x8 input: 512 bytes
    out = tmp_path / "out"
    code, _, err = run_cli(main, capsys, "--model", str(tiny_onnx), "--out", str(out), *QUICK)
    _refused(code, err, "one image's largest tensor (the 3x3 window of a conv over 4 channels")
    _nothing_left(tmp_path, out)


# ---------------------------------------------------------------- resume: step files of an earlier run


@pytest.fixture(scope="module")
def built(tiny_onnx, tmp_path_factory) -> Path:
    """A complete --target ir build of the tiny model (copied by each resume case)."""
    out = tmp_path_factory.mktemp("built") / "out"
    code = 0
    try:
        main(["--model", str(tiny_onnx), "--out", str(out), "--quiet", *QUICK])
    except SystemExit as exc:
        code = exc.code
    assert code in (0, None) and (out / "steps" / "02_lower.ir").is_file()
    return out


def _write(relative: str, data: bytes | Callable[[bytes], bytes]):
    def edit(out: Path) -> None:
        path = out / relative
        path.write_bytes(data(path.read_bytes()) if callable(data) else data)

    return edit


def _edit_text(relative: str, old: str, new: str):
    def edit(out: Path) -> None:
        path = out / relative
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))

    return edit


def _edit_npz(relative: str):
    """A threshold of the lowered IR one higher: the .npz is still a valid, parseable archive."""

    def edit(out: Path) -> None:
        path = out / relative
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        name = next(k for k in arrays if k.startswith("thr"))
        arrays[name] = arrays[name].copy()
        arrays[name].reshape(-1)[0] += 1
        with open(path, "wb") as f:
            np.savez(f, **arrays)

    return edit


def _edit_json(name: str, change: Callable[[dict], object]):
    def edit(out: Path) -> None:
        path = out / name
        path.write_text(json.dumps(change(json.loads(path.read_text()))))

    return edit


GARBAGE = bytes(range(256)) * 8
DEEP = b"[" * 100_000 + b"]" * 100_000
LOWER, IMPORT = "steps/02_lower.ir", "steps/00_import.ir"
CHANGED = "was changed after the build wrote it; run the build from its first step"

# (id, edit of the built folder, the step to start at, words the one line must hold)
RESUME_CASES = [
    ("npz-garbage", _write(LOWER + ".npz", GARBAGE), "verify", f"02_lower.ir.npz {CHANGED}"),
    (
        "npz-truncated",
        _write(LOWER + ".npz", lambda b: b[: len(b) // 2]),
        "verify",
        "02_lower.ir.npz was changed",
    ),
    ("npz-empty", _write(LOWER + ".npz", b""), "verify", "02_lower.ir.npz was changed"),
    ("npz-array-edited", _edit_npz(LOWER + ".npz"), "verify", "02_lower.ir.npz was changed"),
    ("ir-truncated", _write(LOWER, lambda b: b[: len(b) // 2]), "verify", f"02_lower.ir {CHANGED}"),
    ("ir-garbage", _write(LOWER, GARBAGE), "verify", "02_lower.ir was changed"),
    ("ir-attribute-edited", _edit_text(LOWER, "qmin=-128", "qmin=-127"), "verify", "02_lower.ir was changed"),
    (
        "ir-stride-edited",
        _edit_text(LOWER, "stride=(2,2)", "stride=(1,1)"),
        "verify",
        "02_lower.ir was changed",
    ),
    ("earlier-step-edited", _edit_text(IMPORT, "qmax=255", "qmax=254"), "lower", "00_import.ir was changed"),
    ("npz-missing", lambda out: (out / (LOWER + ".npz")).unlink(), "verify", "02_lower.ir is missing"),
    (
        "digests-missing",
        _edit_json("fingerprint.json", lambda f: {k: v for k, v in f.items() if k != "step_files"}),
        "verify",
        "has no digest in",
    ),  # fmt: skip
    (
        "digests-damaged",
        _edit_json("fingerprint.json", lambda f: {**f, "step_files": {LOWER: 5}}),
        "verify",
        "damaged step digests",
    ),  # fmt: skip
    ("fingerprint-garbage", _write("fingerprint.json", GARBAGE), "verify", "no readable fingerprint.json"),
    ("fingerprint-deep", _write("fingerprint.json", DEEP), "verify", "no readable fingerprint.json"),
    ("fingerprint-list", _write("fingerprint.json", b"[1, 2]"), "verify", "not a fingerprint of this tool"),
    (
        "fingerprint-other-model",
        _edit_json("fingerprint.json", lambda f: {**f, "model_sha256": "0" * 64}),
        "verify",
        "model_sha256 differ",
    ),  # fmt: skip
    ("report-garbage", _write("report.json", b"{not json"), "verify", "no readable report.json"),
    ("report-deep", _write("report.json", DEEP), "verify", "no readable report.json"),
    (
        "report-list",
        _write("report.json", b"[]"),
        "verify",
        "not a report of this tool (it is not an object)",
    ),
    (
        "report-steps-int",
        _edit_json("report.json", lambda r: {**r, "steps": 5}),
        "verify",
        "its steps are not",
    ),
    (
        "report-step-no-seconds",
        _edit_json("report.json", lambda r: {**r, "steps": [{"name": "import"}]}),
        "verify",
        "its steps are not",
    ),  # fmt: skip
    (
        "report-passes-list",
        _edit_json("report.json", lambda r: {**r, "passes": [1]}),
        "lower",
        "its passes are not",
    ),
    (
        "report-bit-exact-text",
        _edit_json("report.json", lambda r: {**r, "bit_exact": "yes"}),
        "lower",
        "'bit_exact' section",
    ),  # fmt: skip
]


def _resume(capsys, model: Path, out: Path, start: str) -> tuple[int, str, str]:
    return run_cli(main, capsys, "--model", str(model), "--out", str(out), "--start-step", start, *QUICK)


@pytest.mark.parametrize("case,edit,start,words", RESUME_CASES, ids=[c[0] for c in RESUME_CASES])
def test_damaged_resume_is_one_line(case, edit, start, words, built, tiny_onnx, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(built, out)
    edit(out)
    before = _snapshot(out)
    code, stdout, err = _resume(capsys, tiny_onnx, out, start)
    _refused(code, err, words)
    assert stdout == ""
    assert _snapshot(out) == before  # the folder as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left


def test_unedited_resumes_work_and_carry_the_digests(built, tiny_onnx, tmp_path, capsys):
    """Positive controls: an unedited folder resumes (exit 0); a resumed run's step files are
    recorded with the earlier ones, so a second resume checks both; a step file the run
    rewrites itself may differ (only the files the run reads are checked)."""
    out = tmp_path / "out"
    shutil.copytree(built, out)
    code, _, err = _resume(capsys, tiny_onnx, out, "verify")
    assert code == 0, err
    code, _, err = _resume(capsys, tiny_onnx, out, "streamline")
    assert code == 0, err
    digests = json.loads((out / "fingerprint.json").read_text())["step_files"]
    assert sorted(digests) == [IMPORT, "steps/01_streamline.ir", LOWER]
    code, _, err = _resume(capsys, tiny_onnx, out, "lower")
    assert code == 0, err
    _edit_text(LOWER, "qmin=-128", "qmin=-127")(out)  # rewritten by a run from lower
    code, _, err = _resume(capsys, tiny_onnx, out, "lower")
    assert code == 0, err
    assert "qmin=-127" not in (out / LOWER).read_text()
    _edit_text(LOWER, "qmin=-128", "qmin=-127")(out)  # read by a run from verify
    code, _, err = _resume(capsys, tiny_onnx, out, "verify")
    _refused(code, err, "02_lower.ir was changed")


def _ir_text_edit(old: str, new: str):
    def edit(path: Path) -> None:
        text = path.read_text()
        assert old in text, text
        path.write_text(text.replace(old, new, 1))

    return edit


def _npz_write(data: bytes):
    def edit(path: Path) -> None:
        Path(str(path) + ".npz").write_bytes(data)

    return edit


def _npz_reshape(path: Path) -> None:
    npz = Path(str(path) + ".npz")
    with np.load(npz) as data:
        arrays = {k: data[k] for k in data.files}
    name = next(iter(arrays))
    arrays[name] = arrays[name].reshape(-1)[:-1]
    with open(npz, "wb") as f:
        np.savez(f, **arrays)


def _npy_instead(path: Path) -> None:
    with open(str(path) + ".npz", "wb") as f:
        np.save(f, np.zeros(3))


LOAD_CASES = [
    ("npz-garbage", _npz_write(GARBAGE), "not a readable .npz file"),
    (
        "npz-truncated",
        lambda p: _npz_write(Path(str(p) + ".npz").read_bytes()[:100])(p),
        "not a readable .npz",
    ),
    ("npy-not-npz", _npy_instead, "not a readable .npz file"),
    ("const-shape-changed", _npz_reshape, "but its value is"),
    ("ir-binary", lambda p: p.write_bytes(GARBAGE), "not a readable IR text file"),
    ("ir-truncated-line", lambda p: p.write_text(p.read_text()[:-20]), "line"),
    ("attr-not-a-number", _ir_text_edit("qmax=7", "qmax=seven"), "cannot parse"),
    ("fraction-over-zero", _ir_text_edit("ratio_a=1/1", "ratio_a=1/0"), "ZeroDivisionError"),
    ("bad-json-meta", lambda p: p.write_text(p.read_text() + 'meta "k" {oops\n'), "cannot parse"),
    ("hw-bad-json", _ir_text_edit("pad_value=0}\n", "pad_value=0} hw={oops}\n"), "JSONDecodeError"),
]


@pytest.mark.parametrize("case,edit,words", LOAD_CASES, ids=[c[0] for c in LOAD_CASES])
def test_load_graph_of_a_damaged_file_is_ir_error(case, edit, words, tmp_path):
    """load_graph (which a resume, the verify step and the API use) raises IRError on damage."""
    path = tmp_path / "g.ir"
    save_graph(tiny_bireal_graph(), path)
    load_graph(path)  # the undamaged file loads
    edit(path)
    with pytest.raises(IRError, match=None) as info:
        load_graph(path)
    assert words in str(info.value) and "\n" not in str(info.value), info.value


# ---------------------------------------------------------------- --folding files

SIM = ("--target", "sim", "--stop-step", "dataflow", "--verify-images", "0")

# (id, file bytes, words); checked before any work (no step runs, nothing is printed before)
FOLDING_CASES = [
    ("deep-nesting", DEEP, "nested too deeply"),
    ("deep-objects", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "nested too deeply"),
    ("not-an-object", b"[1, 2]", "expected an object of kernel name -> {pe, simd}, got a JSON list"),
    ("a-number", b"7", "got a JSON int"),
    ("kernels-not-object", b'{"kernels": [1]}', "got a JSON list"),
    ("entry-not-object", b'{"mvu_2": 3}', "maps to a JSON int"),
    ("pe-float", b'{"mvu_2": {"pe": 1.5}}', "pe must be an integer in [1, 65536], got 1.5"),
    ("pe-whole-float", b'{"mvu_2": {"pe": 2.0}}', "got pe 2.0"),
    ("pe-negative", b'{"mvu_2": {"pe": -4}}', "pe must be an integer in [1, 65536], got -4"),
    ("pe-zero", b'{"mvu_2": {"pe": 0}}', "got 0"),
    ("pe-huge", b'{"mvu_2": {"pe": 1000000000000}}', "got 1000000000000"),
    ("pe-giant-int", b'{"mvu_2": {"pe": 1' + b"0" * 5000 + b"}}", "not a readable JSON file"),
    ("pe-nan", b'{"mvu_2": {"pe": NaN}}', "NaN is not a JSON number"),
    ("simd-infinity", b'{"mvu_2": {"simd": Infinity}}', "Infinity is not a JSON number"),
    ("simd-text", b'{"mvu_2": {"simd": "9"}}', "simd must be an integer"),
    ("pe-bool", b'{"mvu_2": {"pe": true}}', "pe must be an integer"),
    ("unknown-key", b'{"mvu_2": {"pe": 1, "depth": 3}}', "unknown key 'depth'"),
    ("not-utf8", b'{"\xff\xfe": 1}', "not a readable JSON file"),
    ("huge-file", b"{" + b" " * (5 << 20) + b"}", "bytes, over the 4194304"),
]


@pytest.mark.parametrize("case,data,words", FOLDING_CASES, ids=[c[0] for c in FOLDING_CASES])
def test_bad_folding_file_is_one_line(case, data, words, tiny_onnx, tmp_path, capsys):
    folding = tmp_path / "folding.json"
    folding.write_bytes(data)
    out = tmp_path / "out"
    code, stdout, err = run_cli(
        main, capsys, "--model", str(tiny_onnx), "--out", str(out), *SIM, "--folding", str(folding)
    )
    line = _refused(code, err, words)
    assert line.startswith(f"error: --folding {folding}: "), line
    _nothing_left(tmp_path, out)


# refused by the design (the kernels exist only then): --quiet keeps the step lines off stderr
DESIGN_FOLDING_CASES = [
    ("unknown-kernel", {"no_such_kernel": {"pe": 1}}, "unknown kernel 'no_such_kernel'; kernels: "),
    ("illegal-pe", {"mvu_2": {"pe": 3}}, "pe=3 simd=1 is not legal for mvu_2"),
]


@pytest.mark.parametrize("case,spec,words", DESIGN_FOLDING_CASES, ids=[c[0] for c in DESIGN_FOLDING_CASES])
def test_folding_the_design_refuses_is_one_line(case, spec, words, tiny_onnx, tmp_path, capsys):
    folding = tmp_path / "folding.json"
    folding.write_text(json.dumps(spec))
    out = tmp_path / "out"
    code, _, err = run_cli(
        main, capsys, "--model", str(tiny_onnx), "--out", str(out), *SIM, "--quiet", "--folding", str(folding)
    )
    _refused(code, err, words)
    _nothing_left(tmp_path, out)


def test_a_valid_folding_file_applies(tiny_onnx, tmp_path, capsys):
    """Positive control: the same kernel with a legal pe builds, and the IR records it."""
    folding = tmp_path / "folding.json"
    folding.write_text(json.dumps({"kernels": {"mvu_2": {"pe": 2, "simd": 9}}}))
    out = tmp_path / "out"
    code, _, err = run_cli(
        main, capsys, "--model", str(tiny_onnx), "--out", str(out), *SIM, "--quiet", "--folding", str(folding)
    )
    assert code == 0, err
    assert '"kernel": "mvu_2", "pe": 2, "simd": 9' in (out / "steps" / "04_dataflow.ir").read_text()
