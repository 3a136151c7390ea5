"""Regenerate the hostile-ONNX corpus for `compiler.frontend.safe_load` (deterministic, tiny files).

    python tests/compiler/corpus/make_corpus.py [--out FOLDER]

Every model is built by hand with `onnx.helper` and written with an explicit IR version and opset, and
every byte comes from `struct` or a seeded `random.Random`, so reruns give byte-identical files. The
README.md next to the files is generated from `CASES` too. The symlink case is not a committed file
(git symlinks are fragile): tests build it with `make_symlink_case`.
"""

from __future__ import annotations

import argparse
import random
import struct
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import onnx
from onnx import TensorProto, helper

HERE = Path(__file__).resolve().parent
IR_VERSION = 8
OPSET = 13


class Case(NamedTuple):
    file: str
    what: str
    expect: str | None  # substring of the UserError message; None: the loader must accept the file
    source: str  # the stage that must reject or accept it: "loader" (load_untrusted_onnx) or "importer"


def _floats(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def _weight(name: str = "w", dims: tuple[int, ...] = (1, 2), raw: bytes | None = None) -> TensorProto:
    return helper.make_tensor(
        name, TensorProto.FLOAT, dims, raw if raw is not None else _floats(0.5, -1.5), raw=True
    )


def _io(name: str) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 2])


def _model(nodes, inputs, outputs, inits=(), domains: tuple[tuple[str, int], ...] = ()) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "corpus", [_io(n) for n in inputs], [_io(n) for n in outputs], list(inits)
    )
    opsets = [helper.make_opsetid("", OPSET), *(helper.make_opsetid(d, v) for d, v in domains)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=IR_VERSION, producer_name="make_corpus")


def _tiny() -> onnx.ModelProto:
    """x + w -> y: a valid model, the base of most cases."""
    return _model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], ["x"], ["y"], [_weight()])


def _bytes(model: onnx.ModelProto) -> bytes:
    return model.SerializeToString(deterministic=True)


def _external(location: str) -> bytes:
    model = _tiny()
    w = model.graph.initializer[0]
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "8")):
        w.external_data.add(key=key, value=value)
    return _bytes(model)


def _truncated() -> bytes:
    data = _bytes(_tiny())
    return data[: len(data) // 2]


def _empty_graph() -> bytes:
    return _bytes(_model([], ["x"], ["x"]))


def _cycle() -> bytes:
    nodes = [
        helper.make_node("Add", ["x", "b"], ["a"], name="A"),
        helper.make_node("Relu", ["a"], ["b"], name="B"),
    ]
    return _bytes(_model(nodes, ["x"], ["b"]))


def _unknown_domain() -> bytes:
    node = helper.make_node("Relu", ["x"], ["y"], name="evil", domain="evil.custom")
    return _bytes(_model([node], ["x"], ["y"], domains=(("evil.custom", 1),)))


def _unknown_op() -> bytes:
    return _bytes(_model([helper.make_node("FooBar", ["x"], ["y"], name="foo")], ["x"], ["y"]))


def _huge_shape() -> bytes:
    model = _tiny()
    model.graph.initializer[0].dims[:] = [2**40, 2**40]
    return _bytes(model)


def _conflicting_data() -> bytes:
    model = _tiny()
    model.graph.initializer[0].float_data.extend([0.5, -1.5])
    return _bytes(model)


def _short_raw_data() -> bytes:
    model = _tiny()
    model.graph.initializer[0].raw_data = _floats(0.5)
    return _bytes(model)


def _hostile_names() -> bytes:
    nodes = [
        helper.make_node("Add", ["../x", "a;b"], ['"q"'], name="$(rm -rf /)"),
        helper.make_node("Relu", ['"q"'], ["int"], name='"q"'),
    ]
    return _bytes(_model(nodes, ["../x"], ["int"], [_weight("a;b")]))


def _qonnx_tiny() -> bytes:
    """x -> Quant (8 bit) -> Add w -> BipolarQuant -> y, in the qonnx domain: a valid model."""
    scalars = [
        helper.make_tensor(n, TensorProto.FLOAT, [], _floats(v), raw=True)
        for n, v in (("scale", 0.25), ("zero", 0.0), ("bits", 8.0))
    ]
    nodes = [
        helper.make_node(
            "Quant",
            ["x", "scale", "zero", "bits"],
            ["q"],
            name="quant",
            domain="qonnx.custom_op.general",
            signed=1,
            narrow=0,
            rounding_mode="ROUND",
        ),
        helper.make_node("Add", ["q", "w"], ["s"], name="add"),
        helper.make_node(
            "BipolarQuant", ["s", "scale"], ["y"], name="sign", domain="qonnx.custom_op.general"
        ),
    ]
    domains = (("qonnx.custom_op.general", 1),)
    return _bytes(_model(nodes, ["x"], ["y"], [_weight(), *scalars], domains=domains))


L = "loader"
CASES: list[tuple[Case, Callable[[], bytes]]] = [
    (Case("truncated.onnx", "a valid tiny model cut in half", "not a valid ONNX file", L), _truncated),
    (
        Case("random_bytes.onnx", "256 seeded random bytes", "not a valid ONNX file", L),
        lambda: random.Random(1234).randbytes(256),
    ),
    (Case("empty_file.onnx", "0 bytes", "the file is empty", L), lambda: b""),
    (Case("empty_graph.onnx", "valid proto, graph without nodes", "empty graph", L), _empty_graph),
    (Case("cycle.onnx", "two nodes feeding each other", "has a cycle through node", L), _cycle),
    (
        Case("unknown_domain.onnx", "a node in domain evil.custom", "unknown domain 'evil.custom'", L),
        _unknown_domain,
    ),
    (
        Case("unknown_op.onnx", "op FooBar in the default domain (onnx.checker rejects it)", "FooBar", L),
        _unknown_op,
    ),
    (
        Case("traversal_dotdot.onnx", "external data location ../secret.bin", "has a '..' component", L),
        lambda: _external("../secret.bin"),
    ),
    (
        Case("traversal_absolute.onnx", "external data location /etc/passwd", "is an absolute path", L),
        lambda: _external("/etc/passwd"),
    ),
    (
        Case("huge_shape.onnx", "initializer dims [2**40, 2**40] with 8 bytes", "declares a huge shape", L),
        _huge_shape,
    ),
    (
        Case(
            "conflicting_data.onnx",
            "initializer with raw_data and float_data",
            "both raw_data and typed data",
            L,
        ),
        _conflicting_data,
    ),
    (
        Case(
            "short_raw_data.onnx",
            "initializer [1, 2] float with 4 bytes of raw_data",
            "raw_data holds 4 bytes",
            L,
        ),
        _short_raw_data,
    ),
    (Case("hostile_names.onnx", 'valid; names ../x, a;b, $(rm -rf /), "q", int', None, L), _hostile_names),
    (Case("qonnx_tiny.onnx", "valid; Quant and BipolarQuant in the qonnx domain", None, L), _qonnx_tiny),
]


def make_symlink_case(folder: Path, outside: Path) -> Path:
    """traversal_symlink: `folder`/model.onnx whose external data file is a symlink to `outside`
    (8 bytes or more). Built at test time, never committed."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "weights.bin").symlink_to(outside)
    path = folder / "model.onnx"
    path.write_bytes(_external("weights.bin"))
    return path


def _readme() -> str:
    lines = [
        "# Hostile ONNX corpus",
        "",
        "Generated by `python tests/compiler/corpus/make_corpus.py`; do not edit by hand. Each file must make",
        "`compiler.frontend.safe_load.load_untrusted_onnx` raise `UserError` with the given substring (one line),",
        "or load (expected: accepted). `traversal_symlink/` (model.onnx whose external data file is a symlink",
        "out of its folder, error substring `goes through a symlink`) is built at test time, not committed.",
        "",
        "| file | what | stage | expected error substring |",
        "| --- | --- | --- | --- |",
    ]
    for case, _ in CASES:
        expect = f"`{case.expect}`" if case.expect else "accepted"
        lines.append(f"| {case.file} | {case.what.replace('|', '/')} | {case.source} | {expect} |")
    return "\n".join(lines) + "\n"


def build(out: Path) -> list[Path]:
    """Write every corpus file and the README into `out`; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for case, make in CASES:
        (out / case.file).write_bytes(make())
        written.append(out / case.file)
    (out / "README.md").write_text(_readme(), encoding="utf-8")
    return [*written, out / "README.md"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to this script)")
    for path in build(p.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
