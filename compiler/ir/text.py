"""The IR's text form, one line per declaration or node, and its parser (they round-trip):

    graph "bireal_small"
    meta "bireal_hw.config" "{...json...}"
    input %x: real[1,28,28,1]
    const %w0: i8[32,3,3,1]
    %t1: u8[1,28,28,1] = quantize_input(%x) {scale=0.00392156862745098, qmin=0, qmax=255}
    output %t9

Constant values are not in the text; `save_graph` writes them beside it in an .npz file.
Attribute values print by their declared type: ints, floats (repr, exact), booleans, exact
rationals `p/q`, integer tuples `(3,3)`. Node names are not printed: they are `<op>_<index>`.

`load_graph` reads files a user may have damaged: anything unreadable (a truncated or garbage
text, an .npz that is not one, a constant whose shape differs from its declaration) raises
`IRError` naming the file and line, never another exception; an .npz too large for the memory
budget is refused (`UserError`) before it is read.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from bireal_hw import validate
from bireal_hw.atomic import atomic_write
from compiler.ir.graph import Graph, Node, TensorInfo
from compiler.ir.ops import OPS
from compiler.ir.types import IRError, parse_dtype

NAME = r"[A-Za-z_][A-Za-z0-9_.]*"
# what a damaged line makes the parsers raise (int("x"), {..}[key], Fraction("1/0"), json, ...)
_PARSE_ERRORS = (
    ValueError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    OverflowError,
    IndexError,
    RecursionError,
)
_DECL = re.compile(rf"^%({NAME}): (\w+)\[([0-9,]*)\]$")
_NODE = re.compile(r"^(.+?) = (\w+)\(([^)]*)\)(?: \{(.*?)\})?(?: hw=(\{.*\}))?$")


def _format_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return "(" + ",".join(str(int(v)) for v in value) + ")"
    if isinstance(value, int):
        return str(value)
    raise IRError(f"cannot print attribute value {value!r}")


def _parse_value(text: str, kind) -> object:
    origin = typing.get_origin(kind)
    if kind is bool:
        return {"true": True, "false": False}[text]
    if kind is Fraction:
        return Fraction(text)
    if kind is float:
        return float(text)
    if kind is int:
        return int(text)
    if origin is tuple:
        inner = text.strip("()")
        return tuple(int(v) for v in inner.split(",") if v)
    raise IRError(f"cannot parse attribute of type {kind}")


def _decl(name: str, info: TensorInfo) -> str:
    return f"%{name}: {info.dtype}[{','.join(str(d) for d in info.shape)}]"


def print_graph(graph: Graph) -> str:
    lines = [f"graph {json.dumps(graph.name)}"]
    for key, value in graph.metadata.items():
        lines.append(f"meta {json.dumps(key)} {json.dumps(value)}")
    for name in graph.inputs:
        lines.append("input " + _decl(name, graph.tensors[name]))
    for name in graph.consts:
        lines.append("const " + _decl(name, graph.tensors[name]))
    for node in graph.nodes:
        outs = ", ".join(_decl(o, graph.tensors[o]) for o in node.outputs)
        ins = ", ".join(f"%{i}" for i in node.inputs)
        line = f"{outs} = {node.op}({ins})"
        fields = dataclasses.fields(node.attrs)
        if fields:
            attrs = ", ".join(f"{f.name}={_format_value(getattr(node.attrs, f.name))}" for f in fields)
            line += f" {{{attrs}}}"
        if node.hw:
            line += " hw=" + json.dumps(node.hw, sort_keys=True)
        lines.append(line)
    for name in graph.outputs:
        lines.append(f"output %{name}")
    return "\n".join(lines) + "\n"


def _parse_decl(text: str, lineno: int) -> tuple[str, TensorInfo]:
    m = _DECL.match(text.strip())
    if not m:
        raise IRError(f"line {lineno}: bad tensor declaration {text!r}")
    shape = tuple(int(d) for d in m.group(3).split(",") if d)
    return m.group(1), TensorInfo(shape, parse_dtype(m.group(2)))


def _parse_attrs(op_name: str, text: str | None, lineno: int):
    op = OPS.get(op_name)
    if op is None:
        raise IRError(f"line {lineno}: unknown op {op_name!r}")
    hints = typing.get_type_hints(op.Attrs)
    values = {}
    for item in (text or "").split(", "):
        if not item:
            continue
        key, _, raw = item.partition("=")
        if key not in hints:
            raise IRError(f"line {lineno}: {op_name} has no attribute {key!r}")
        values[key] = _parse_value(raw, hints[key])
    try:
        return op.Attrs(**values)
    except TypeError as exc:
        raise IRError(f"line {lineno}: {op_name} attributes: {exc}") from None


def _parse_line(graph: Graph, line: str, lineno: int, consts: dict[str, np.ndarray]) -> None:
    head, _, rest = line.partition(" ")
    if head == "graph":
        graph.name = json.loads(rest)
        if not isinstance(graph.name, str):
            raise IRError(f"line {lineno}: the graph name is not a string")
    elif head == "meta":
        key, end = json.JSONDecoder().raw_decode(rest)
        value = json.loads(rest[end:])
        if not isinstance(key, str):
            raise IRError(f"line {lineno}: a metadata key is not a string")
        graph.metadata[key] = value
    elif head == "input":
        name, info = _parse_decl(rest, lineno)
        graph.inputs.append(name)
        graph.tensors[name] = info
    elif head == "const":
        name, info = _parse_decl(rest, lineno)
        if name not in consts:
            raise IRError(f"line {lineno}: no value for constant {name}")
        value = consts[name]
        if value.dtype.kind not in "biuf" or tuple(value.shape) != info.shape:
            raise IRError(
                f"line {lineno}: constant {name} is declared {info.dtype}{list(info.shape)}, but its "
                f"value is {value.dtype}{list(value.shape)}"
            )
        graph.consts[name] = value
        graph.tensors[name] = info
    elif head == "output":
        graph.outputs.append(rest.strip().lstrip("%"))
    else:
        m = _NODE.match(line)
        if not m:
            raise IRError(f"line {lineno}: cannot parse {line[:80]!r}")
        outs = [_parse_decl(d, lineno) for d in m.group(1).split(", ")]
        for name, info in outs:
            graph.tensors[name] = info
        ins = [i.strip().lstrip("%") for i in m.group(3).split(",") if i.strip()]
        hw = json.loads(m.group(5)) if m.group(5) else {}
        if not isinstance(hw, dict):
            raise IRError(f"line {lineno}: the hw record is not an object")
        attrs = _parse_attrs(m.group(2), m.group(4), lineno)
        graph.nodes.append(Node(m.group(2), ins, [n for n, _ in outs], attrs, hw=hw))


def parse_graph(text: str, consts: dict[str, np.ndarray]) -> Graph:
    """Parse the text form; `consts` supplies the values of the declared constants. Any
    malformed line raises IRError naming it."""
    graph = Graph("", [], [], [], {}, {})
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            _parse_line(graph, line, lineno, consts)
        except _PARSE_ERRORS as exc:
            why = (str(exc).strip().splitlines() or [""])[0][:80]
            raise IRError(
                f"line {lineno}: cannot parse {line[:80]!r} ({type(exc).__name__}: {why})"
            ) from None
    graph.rename_nodes()
    return graph


def save_graph(graph: Graph, path: str | Path) -> None:
    """Write `path` (the text) and `path` + '.npz' (the constants), each atomically."""
    path = Path(path)
    atomic_write(path, lambda tmp: Path(tmp).write_text(print_graph(graph)))

    def write_npz(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **graph.consts)

    atomic_write(str(path) + ".npz", write_npz)


def _load_consts(npz: str) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(npz) as archive:
            size = sum(info.file_size for info in archive.infolist())
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise IRError(f"{npz}: not a readable .npz file ({_why(exc)})") from None
    validate.check_allocation(f"{npz} (the IR's constants)", size, "it is not a file this tool wrote")
    try:
        with np.load(npz, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as exc:  # numpy and zipfile raise many types on damaged archives
        raise IRError(f"{npz}: not a readable .npz file ({_why(exc)})") from None


def _why(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0][:120]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def load_graph(path: str | Path) -> Graph:
    """The graph saved by `save_graph` at `path` (+ .npz); IRError (or UserError, for an .npz
    over the memory budget) on a damaged file, never another exception."""
    path = Path(path)
    consts = _load_consts(str(path) + ".npz")
    try:
        size = path.stat().st_size
        validate.check_allocation(f"{path} (the IR's text)", size, "it is not a file this tool wrote")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IRError(f"{path}: not a readable IR text file ({_why(exc)})") from None
    try:
        return parse_graph(text, consts)
    except IRError as exc:
        raise IRError(f"{path}: {exc}") from None
