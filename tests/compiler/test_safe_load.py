"""`compiler.frontend.safe_load.load_untrusted_onnx` against the hostile corpus and hand-built cases."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bireal_hw.errors import UserError
from compiler.frontend import safe_load
from compiler.frontend.safe_load import load_untrusted_onnx

CORPUS = Path(__file__).resolve().parent / "corpus"
_spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
make_corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_corpus)
CASES = [case for case, _ in make_corpus.CASES]


def _reject(path: Path | str, expect: str, **kwargs) -> str:
    with pytest.raises(UserError) as info:
        load_untrusted_onnx(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, message
    assert message.isprintable(), message
    assert expect in message, message
    assert message.startswith(str(path)), message
    return message


def _write(tmp_path: Path, model: onnx.ModelProto, name: str = "model.onnx") -> Path:
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return path


def _vi(name: str, dims=(1, 2)) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(dims))


def _model(
    nodes, inputs=("x",), outputs=("y",), inits=(), opset: int = 13, **graph_kwargs
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "g", [_vi(n) for n in inputs], [_vi(n) for n in outputs], list(inits), **graph_kwargs
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _add_model(w: TensorProto) -> onnx.ModelProto:
    """y = x + w, with `w` as given (possibly hostile)."""
    return _model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], inits=[w])


def _tensor(dims=(1, 2), data_type=TensorProto.FLOAT, **fields) -> TensorProto:
    t = TensorProto(name="w", data_type=data_type, dims=list(dims))
    for key, value in fields.items():
        if key == "raw_data":
            t.raw_data = value
        else:
            getattr(t, key).extend(value)
    return t


def _external_tensor(location: str, offset="0", length="8", dims=(1, 2)) -> TensorProto:
    t = _tensor(dims)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            t.external_data.add(key=key, value=value)
    return t


W = np.array([[0.5, -1.5]], dtype=np.float32)


# ---------------------------------------------------------------- corpus


@pytest.mark.parametrize("case", [c for c in CASES if c.expect], ids=lambda c: c.file)
def test_corpus_file_is_rejected(case):
    assert case.source == "loader"
    _reject(CORPUS / case.file, case.expect)


@pytest.mark.parametrize("case", [c for c in CASES if not c.expect], ids=lambda c: c.file)
def test_corpus_file_is_accepted(case):
    model = load_untrusted_onnx(CORPUS / case.file)
    assert isinstance(model, onnx.ModelProto) and len(model.graph.node) >= 1


def test_hostile_names_are_kept_verbatim():
    model = load_untrusted_onnx(CORPUS / "hostile_names.onnx")
    names = {n.name for n in model.graph.node} | {t for n in model.graph.node for t in (*n.input, *n.output)}
    assert {"../x", "a;b", "$(rm -rf /)", '"q"', "int"} <= names


def test_corpus_files_are_small_and_complete():
    on_disk = {p.name for p in CORPUS.iterdir() if p.suffix == ".onnx"}
    assert on_disk == {c.file for c in CASES}
    assert all((CORPUS / c.file).stat().st_size < 100_000 for c in CASES)


def test_make_corpus_is_deterministic(tmp_path):
    script = CORPUS / "make_corpus.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in CORPUS.iterdir() if p.suffix in (".onnx", ".md"))
    for name in made:
        assert (tmp_path / name).read_bytes() == (CORPUS / name).read_bytes(), name


# ---------------------------------------------------------------- real model


def test_real_bireal_export_loads(tmp_path):
    """Exports the Fashion-MNIST checkpoint (about 10 s) and loads it as an untrusted file."""
    from bireal_hw.checkpoint import load_model
    from bireal_hw.export import export_qonnx_model, write_onnx

    model, _ = load_model("examples/fashion_mnist/checkpoint.pt")
    proto = export_qonnx_model(model)
    write_onnx(proto, tmp_path / "bireal.onnx")
    loaded = load_untrusted_onnx(tmp_path / "bireal.onnx")
    assert [n.op_type for n in loaded.graph.node] == [n.op_type for n in proto.graph.node]
    assert {n.domain for n in loaded.graph.node} >= {"qonnx.custom_op.general"}
    assert [i.raw_data for i in loaded.graph.initializer] == [i.raw_data for i in proto.graph.initializer]
    assert loaded.metadata_props == proto.metadata_props


# ---------------------------------------------------------------- paths


def test_missing_folder_and_special_files(tmp_path):
    _reject(tmp_path / "nope.onnx", "no such file")
    _reject(tmp_path, "is a folder")
    fifo = tmp_path / "fifo.onnx"
    os.mkfifo(fifo)
    _reject(fifo, "not a regular file")
    (tmp_path / "dangling.onnx").symlink_to(tmp_path / "gone.onnx")
    _reject(tmp_path / "dangling.onnx", "no such file")


def test_size_limit(tmp_path):
    path = _write(tmp_path, _add_model(numpy_helper.from_array(W, "w")))
    _reject(path, "over the limit of 10", max_bytes=10)


def test_model_symlink_out_of_its_folder_is_rejected(tmp_path):
    real = _write(tmp_path, _add_model(numpy_helper.from_array(W, "w")))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "link.onnx").symlink_to(real)
    _reject(tmp_path / "sub" / "link.onnx", "symlink to a file outside its folder")
    (tmp_path / "inside.onnx").symlink_to(real)  # a symlink within the folder is fine
    assert load_untrusted_onnx(tmp_path / "inside.onnx").graph.node[0].op_type == "Add"


# ---------------------------------------------------------------- external data


def test_valid_external_data_is_inlined(tmp_path, monkeypatch):
    weights = np.arange(2 * 3 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 3) / 7
    bias = np.array([1.0, -2.0], dtype=np.float32)
    conv = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [conv],
        "g",
        [_vi("x", (1, 3, 4, 4))],
        [_vi("y", (1, 2, 4, 4))],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    (tmp_path / "data").mkdir()
    onnx.save_model(
        model,
        str(tmp_path / "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="data/weights.bin",
        size_threshold=0,
    )
    stored = onnx.load(str(tmp_path / "model.onnx"), load_external_data=False)
    assert all(t.data_location == TensorProto.EXTERNAL for t in stored.graph.initializer)

    def forbidden(*args, **kwargs):
        raise AssertionError("safe_load must not let onnx follow external data")

    monkeypatch.setattr(onnx, "load", forbidden)
    monkeypatch.setattr(onnx, "load_model", forbidden)
    monkeypatch.setattr(onnx.external_data_helper, "load_external_data_for_model", forbidden)
    loaded = load_untrusted_onnx(tmp_path / "model.onnx")
    inits = {t.name: t for t in loaded.graph.initializer}
    for name, expected in (("w", weights), ("b", bias)):
        t = inits[name]
        assert t.data_location == TensorProto.DEFAULT and not t.external_data and t.raw_data
        np.testing.assert_array_equal(numpy_helper.to_array(t), expected)


def test_external_data_past_end_of_file(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"\0" * 12)
    _reject(_write(tmp_path, _add_model(_external_tensor("w.bin", offset="8"))), "runs past the end")
    _reject(_write(tmp_path, _add_model(_external_tensor("w.bin", length="12"))), "does not match its dims")
    _reject(
        _write(tmp_path, _add_model(_external_tensor("w.bin", offset="2", length=None))), "does not match"
    )
    model = load_untrusted_onnx(_write(tmp_path, _add_model(_external_tensor("w.bin", offset="4"))))
    assert model.graph.initializer[0].raw_data == b"\0" * 8


def test_external_data_symlink_is_rejected(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"s" * 8)
    path = make_corpus.make_symlink_case(tmp_path / "traversal_symlink", secret)
    _reject(path, "goes through a symlink")


def test_external_data_symlinked_folder_is_rejected(tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "w.bin").write_bytes(b"s" * 8)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "sub").symlink_to(tmp_path / "outside")
    _reject(_write(tmp_path / "model", _add_model(_external_tensor("sub/w.bin"))), "goes through a symlink")


@pytest.mark.parametrize(
    "location, expect",
    [
        ("../secret.bin", "has a '..' component"),
        ("sub/../../secret.bin", "has a '..' component"),
        ("sub\\..\\..\\secret.bin", "has a '..' component"),
        ("/etc/passwd", "is an absolute path"),
        ("\\\\server\\share\\w.bin", "is an absolute path"),
        ("C:\\secret.bin", "is an absolute path"),
        ("c:secret.bin", "is an absolute path"),
        ("", "without a usable location"),
        ("w.bin\0", "without a usable location"),
        ("missing.bin", "does not exist"),
        ("w.bin/x", "does not exist"),
        ("sub", "is not a regular file"),
        (".", "is not a regular file"),
    ],
)
def test_external_data_location_is_refused(tmp_path, location, expect):
    (tmp_path / "w.bin").write_bytes(b"\0" * 8)
    (tmp_path / "sub").mkdir()
    _reject(_write(tmp_path, _add_model(_external_tensor(location))), expect)


@pytest.mark.parametrize(
    "edit, expect",
    [
        (lambda t: t.external_data.add(key="basepath", value="/"), "unknown or repeated external_data key"),
        (lambda t: t.external_data.add(key="offset", value="0"), "unknown or repeated external_data key"),
        (lambda t: t.external_data[1].__setattr__("value", "-1"), "not a whole number"),
        (lambda t: t.external_data[2].__setattr__("value", "8e0"), "not a whole number"),
        (lambda t: t.__setattr__("raw_data", b"\0" * 8), "both external and inline data"),
        (lambda t: t.__setattr__("data_location", TensorProto.DEFAULT), "data_location is not EXTERNAL"),
        (lambda t: t.__setattr__("data_type", TensorProto.STRING), "string tensor"),
    ],
)
def test_external_data_entries_are_checked(tmp_path, edit, expect):
    (tmp_path / "w.bin").write_bytes(b"\0" * 8)
    t = _external_tensor("w.bin")
    edit(t)
    _reject(_write(tmp_path, _add_model(t)), expect)


# ---------------------------------------------------------------- tensors


@pytest.mark.parametrize(
    "tensor, expect",
    [
        (_tensor((1, -2), raw_data=b""), "negative dimension"),
        (_tensor(data_type=99, raw_data=b"\0" * 8), "unknown data type 99"),
        (_tensor(data_type=TensorProto.COMPLEX64, float_data=[0.0] * 4), "unsupported data type"),
        (_tensor(float_data=[1.0]), "float_data holds 1 entries, its dims need 2"),
        (_tensor(int64_data=[1, 2]), "keeps its data in int64_data"),
        (_tensor(float_data=[1.0, 2.0], int32_data=[1, 2]), "several typed data fields"),
        (_tensor(), "declares 2 elements but holds no data"),
        (_tensor((2**31, 2), float_data=[1.0]), "declares a huge shape"),
        (_tensor((2**20, 2**10), raw_data=b"\0" * 8), "more than the file holds"),
        (_tensor((3, 0, 2**62, 2**62), raw_data=b""), "Add"),  # zero elements: fine here, the checker fails
        (
            _tensor(data_type=TensorProto.FLOAT16, int32_data=[1]),
            "int32_data holds 1 entries, its dims need 2",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_initializer(tmp_path, tensor, expect):
    _reject(_write(tmp_path, _add_model(tensor)), expect)


def test_float16_int32_data_is_accepted(tmp_path):
    t = _tensor(data_type=TensorProto.FLOAT16, int32_data=[0x3C00, 0xC000])
    cast = helper.make_node("Cast", ["w"], ["wf"], to=TensorProto.FLOAT)
    model = _model([cast, helper.make_node("Add", ["x", "wf"], ["y"])], inits=[t])
    assert load_untrusted_onnx(_write(tmp_path, model)).graph.initializer[0].int32_data == [0x3C00, 0xC000]


def test_constant_attribute_tensors_are_checked(tmp_path):
    const = helper.make_node(
        "Constant", [], ["c"], name="const", value=_tensor((2**40, 2**40), raw_data=b"\0" * 8)
    )
    model = _model([const, helper.make_node("Add", ["x", "c"], ["y"])])
    _reject(_write(tmp_path, model), "declares a huge shape")


def test_subgraph_tensors_are_checked(tmp_path):
    bad = _tensor(raw_data=b"\0" * 8, float_data=[1.0, 2.0])
    then = helper.make_graph([helper.make_node("Constant", [], ["t"], value=bad)], "then", [], [_vi("t")])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [], [_vi("e")])
    nodes = [
        helper.make_node("Constant", [], ["cond"], value=numpy_helper.from_array(np.array(True))),
        helper.make_node("If", ["cond"], ["y"], name="if", then_branch=then, else_branch=other),
    ]
    _reject(_write(tmp_path, _model(nodes)), "both raw_data and typed data")


def test_sparse_initializer_is_checked(tmp_path):
    values = numpy_helper.from_array(np.array([1.0], dtype=np.float32), "w")
    indices = numpy_helper.from_array(np.array([0], dtype=np.int64), "w_idx")
    sparse = helper.make_sparse_tensor(values, indices, [2**40, 2**40])
    model = _model([helper.make_node("Add", ["x", "w"], ["y"])])
    model.graph.sparse_initializer.append(sparse)
    _reject(_write(tmp_path, model), "sparse tensor 'w' declares a huge shape")


# ---------------------------------------------------------------- graph structure


def test_graph_structure(tmp_path):
    relu = helper.make_node("Relu", ["x"], ["y"], name="r1")
    _reject(
        _write(tmp_path, _model([relu, helper.make_node("Relu", ["x"], ["y"], name="r2")])), "defined twice"
    )
    _reject(_write(tmp_path, _model([helper.make_node("Relu", ["x"], ["x"])])), "defined twice")
    _reject(
        _write(tmp_path, _model([helper.make_node("Add", ["x", "ghost"], ["y"])])), "'ghost', which nothing"
    )
    _reject(
        _write(tmp_path, _model([helper.make_node("Add", ["x", "y"], ["y"])])),
        "cycle through node #0 ('Add')",
    )
    _reject(_write(tmp_path, _model([relu], inputs=())), "empty graph")
    _reject(_write(tmp_path, _model([relu], outputs=())), "empty graph")


def test_cycle_with_hostile_name_prints_on_one_line(tmp_path):
    name = "evil\nname\x1b[31m\u2028" + "x" * 500
    nodes = [
        helper.make_node("Relu", ["x"], ["y"], name="ok"),
        helper.make_node("Add", ["y", "b"], ["a"], name=name),
        helper.make_node("Relu", ["a"], ["b"], name="B"),
    ]
    message = _reject(_write(tmp_path, _model(nodes)), "has a cycle through node")
    assert len(message) < 300 and "\x1b" not in message


def test_cycle_through_a_subgraph(tmp_path):
    """An If branch reading the tensor that the If's own output feeds: a cycle via outer scope."""
    then = helper.make_graph([helper.make_node("Identity", ["late"], ["t"])], "then", [], [_vi("t")])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [], [_vi("e")])
    nodes = [
        helper.make_node("Constant", [], ["cond"], value=numpy_helper.from_array(np.array(True))),
        helper.make_node("If", ["cond"], ["y0"], name="if", then_branch=then, else_branch=other),
        helper.make_node("Relu", ["y0"], ["late"], name="relu"),
        helper.make_node("Identity", ["late"], ["y"]),
    ]
    _reject(_write(tmp_path, _model(nodes)), "has a cycle through node")


def test_opsets_and_domains(tmp_path):
    relu = helper.make_node("Relu", ["x"], ["y"])
    _reject(_write(tmp_path, _model([relu], opset=10)), "uses ai.onnx opset 10")
    model = _model([relu])
    del model.opset_import[:]
    _reject(_write(tmp_path, model), "imports no ai.onnx opset")
    evil = helper.make_node("Relu", ["x"], ["t"], domain="evil.custom")
    then = helper.make_graph([evil], "then", [], [_vi("t")])
    nodes = [
        helper.make_node("Constant", [], ["cond"], value=numpy_helper.from_array(np.array(True))),
        helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=then),
    ]
    _reject(_write(tmp_path, _model(nodes)), "unknown domain 'evil.custom'")
    assert load_untrusted_onnx(_write(tmp_path, _model([relu], opset=11))).opset_import[0].version == 11


def test_ai_onnx_domain_alias_is_accepted(tmp_path):
    model = _model([helper.make_node("Relu", ["x"], ["y"], domain="ai.onnx")])
    model.opset_import[0].domain = "ai.onnx"
    loaded = load_untrusted_onnx(_write(tmp_path, model))
    assert loaded.graph.node[0].domain == "" and loaded.opset_import[0].domain == ""
    model.opset_import.add(domain="", version=13)
    _reject(_write(tmp_path, model), "imports the opset of domain '' twice")


def test_finn_alias_without_opset_import_is_accepted(tmp_path):
    node = helper.make_node("BipolarQuant", ["x", "s"], ["y"], domain="finn.custom_op.general")
    scale = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "s")
    model = load_untrusted_onnx(_write(tmp_path, _model([node], inits=[scale])))
    assert {o.domain for o in model.opset_import} == {"", "finn.custom_op.general"}


def test_invalid_utf8_name(tmp_path):
    data = _model([helper.make_node("Relu", ["x"], ["y"], name="NAME")]).SerializeToString()
    path = tmp_path / "model.onnx"
    path.write_bytes(data.replace(b"NAME", b"\xff\xfeAB"))
    _reject(path, "not valid UTF-8")


# ---------------------------------------------------------------- onnx checks and the safety net


def test_qonnx_failure_in_strict_checks_falls_back(tmp_path, monkeypatch):
    """Should an onnx version reject the qonnx ops in full/strict mode, the lenient checks run instead."""
    real_check = onnx.checker.check_model

    def picky(model, full_check=False, **kwargs):
        if full_check:
            raise onnx.checker.ValidationError(
                "No Op registered for Quant with domain qonnx.custom_op.general"
            )
        return real_check(model, full_check=False, **kwargs)

    monkeypatch.setattr(onnx.checker, "check_model", picky)
    assert load_untrusted_onnx(CORPUS / "qonnx_tiny.onnx").graph.node[0].op_type == "Quant"
    _reject(CORPUS / "hostile_names.onnx", "fails onnx.checker (No Op registered for Quant")


def test_unexpected_exception_becomes_user_error(tmp_path, monkeypatch):
    def boom(*args):
        raise KeyError("first line\nsecond line")

    monkeypatch.setattr(safe_load, "_check_graph", boom)
    _reject(CORPUS / "hostile_names.onnx", "could not load the model (KeyError: 'first line")
