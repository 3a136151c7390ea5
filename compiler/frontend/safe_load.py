"""Load an untrusted ONNX file: every check runs before onnx or numpy touch the tensor data.

`load_untrusted_onnx(path)` returns a self-contained, checked, shape-inferred `onnx.ModelProto` or raises
`UserError` with one line, `<path>: <what is wrong>; <what to do>`. Checks, in order:

1. Path: exists, a regular file (a symlink only into its own folder), not empty, at most `max_bytes`.
2. Parse: a ModelProto holding a graph; onnx is never asked to follow external data.
3. Opsets and domains: ai.onnx opset from 11 to the newest this onnx knows
   (`onnx.defs.onnx_opset_version()`), a qonnx opset from 1 to `MAX_QONNX_OPSET`; every node (subgraphs and functions too) in "", "ai.onnx"
   (renamed "") or qonnx ("qonnx.custom_op.general", alias "finn.custom_op.general"; a missing opset
   import for it is added). Names must be valid UTF-8 and are otherwise arbitrary: none is used as a path.
4. Every TensorProto (initializers, sparse ones, node attributes, subgraphs): a known, supported data
   type; dims >= 0 whose element count (Python ints) is at most 2**31 and fits the file; at most one
   data field, whose length matches the dims.
5. External data: a relative location without `..`, root or drive, inside the model's folder with no
   symlink on the way, a regular file, offset + length inside it and matching the dims. The bytes
   are then read into raw_data: the returned model is self-contained.
6. Graph: nodes, inputs and outputs exist; no tensor is defined twice or used undefined; no cycle
   (a topological sort names a node on it).
7. `onnx.checker.check_model(full_check=True)` and strict, type-checked shape inference. Both skip
   qonnx ops (no schema); should an onnx version reject them instead, a failure naming a qonnx
   domain or op is retried with the plain checker and non-strict inference.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

import onnx
from onnx import AttributeProto, GraphProto, ModelProto, NodeProto, SparseTensorProto, TensorProto

from bireal_hw.errors import UserError

MAX_ELEMENTS = 2**31
MIN_OPSET = 11
MAX_QONNX_OPSET = 2  # the qonnx.custom_op.general versions whose Quant/BipolarQuant the importer implements
QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general")
KNOWN_DOMAINS = ("", "ai.onnx", *QONNX_DOMAINS)
_QONNX_WORDS = re.compile(r"qonnx\.custom_op|finn\.custom_op|\b(Quant|BipolarQuant|Trunc|MultiThreshold)\b")
_TYPED_FIELDS = ("float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data")
_EXTERNAL_KEYS = ("location", "offset", "length", "checksum")
_REDO = "re-export the model"
# data type names -> (bits per element, the typed field that may hold them); 0 bits: strings.
_LAYOUT_TABLE = (
    ("FLOAT", 32, "float_data"),
    ("DOUBLE", 64, "double_data"),
    ("INT64", 64, "int64_data"),
    ("UINT32", 32, "uint64_data"),
    ("UINT64", 64, "uint64_data"),
    ("INT32", 32, "int32_data"),
    ("INT16 UINT16 FLOAT16 BFLOAT16", 16, "int32_data"),
    ("INT8 UINT8 BOOL FLOAT8E4M3FN FLOAT8E4M3FNUZ FLOAT8E5M2 FLOAT8E5M2FNUZ FLOAT8E8M0", 8, "int32_data"),
    ("INT4 UINT4 FLOAT4E2M1", 4, "int32_data"),  # packed, in raw_data and in int32_data alike
    ("INT2 UINT2", 2, "int32_data"),
    ("STRING", 0, "string_data"),
)
_LAYOUT = {
    getattr(TensorProto, n): (bits, field)
    for names, bits, field in _LAYOUT_TABLE
    for n in names.split()
    if hasattr(TensorProto, n)
}


def load_untrusted_onnx(path: str | Path, max_bytes: int = 2**31) -> ModelProto:
    """Load, validate and shape-infer the ONNX file at `path`; any problem raises a one-line `UserError`."""
    shown = os.fspath(path)
    try:
        return _load(shown, max_bytes)
    except UserError as exc:
        _fail(f"{shown}: {exc}")
    except Exception as exc:  # a case no check foresaw must still end in a one-line UserError
        _fail(f"{shown}: could not load the model ({type(exc).__name__}: {_first_line(exc)}); {_REDO}")


def _fail(message: str) -> NoReturn:
    text = " ".join(message.splitlines()).strip()
    raise UserError("".join(c if c.isprintable() else repr(c)[1:-1] for c in text))


def _q(name: object, limit: int = 60) -> str:
    """repr() of a (possibly hostile) name, trimmed: prints safely on one line."""
    text = repr(name)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_line(exc: BaseException, limit: int = 200) -> str:
    lines = str(exc).strip().splitlines()
    line = (lines[0].strip() if lines else "") or type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # different drives
        return False


def _load(path: str, max_bytes: int) -> ModelProto:
    data, folder = _read_model_file(path, max_bytes)
    try:
        model = ModelProto.FromString(data)
    except Exception as exc:
        _fail(f"not a valid ONNX file ({_first_line(exc)}); check that the file is complete or {_REDO}")
    if not model.HasField("graph"):
        _fail(f"not a valid ONNX file (it holds no graph); check that it is an ONNX model or {_REDO}")
    nodes, dense, sparse = _walk(model)
    _check_opsets_and_domains(model, nodes)
    for sp in sparse:
        _count(sp.dims, f"sparse tensor {_q(sp.values.name)}")
        dense += [sp.values, sp.indices]
    _load_external([t for t in dense if _check_tensor(t, len(data))], folder, max_bytes)
    _check_graph(model.graph)
    return _onnx_checks(model, any(n.domain in QONNX_DOMAINS for n in nodes))


def _read_model_file(path: str, max_bytes: int) -> tuple[bytes, str]:
    """The file's bytes and the model's folder (realpath), which external data must stay inside."""
    if not path or "\0" in path:
        _fail("not a usable path; give the path of an .onnx file")
    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    try:
        st = os.lstat(path)
        target = path
        if stat.S_ISLNK(st.st_mode):
            target = os.path.realpath(path)
            if not _inside(target, folder):
                _fail("is a symlink to a file outside its folder; copy the model file there instead")
            st = os.stat(target)
    except FileNotFoundError:
        _fail("no such file (or a broken symlink); check the path")
    except OSError as exc:
        _fail(f"cannot read the file ({exc.strerror}); check the path and its permissions")
    if stat.S_ISDIR(st.st_mode):
        _fail("is a folder; give the path of the .onnx file inside it")
    if not stat.S_ISREG(st.st_mode):
        _fail("is not a regular file; give the path of an .onnx file")
    if st.st_size == 0:
        _fail(f"the file is empty (0 bytes); {_REDO}")
    if st.st_size > max_bytes:
        _fail(f"the file is {st.st_size} bytes, over the limit of {max_bytes}; raise max_bytes if trusted")
    data = _read_regular(target, 0, max_bytes + 1)
    if not 0 < len(data) <= max_bytes:
        _fail("the file changed while it was read; load it again once it is complete")
    return data, folder


def _read_regular(path: str, offset: int, length: int) -> bytes:
    """Read up to `length` bytes at `offset`, refusing a symlink or a special file swapped in meanwhile."""
    flags = (
        os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    )
    with open(os.open(path, flags), "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            _fail("a file changed into a special file while it was read; check the model's folder")
        f.seek(offset)
        return f.read(length)


def _subgraphs(attr: AttributeProto) -> list[GraphProto]:
    return [*([attr.g] if attr.HasField("g") else []), *attr.graphs]


def _walk(model: ModelProto) -> tuple[list[NodeProto], list[TensorProto], list[SparseTensorProto]]:
    """All nodes (graph, subgraphs, functions), dense and sparse tensors, without recursion."""
    _check_names(*(text for p in model.metadata_props for text in (p.key, p.value)))
    nodes = [n for f in model.functions for n in f.node]
    dense: list[TensorProto] = []
    sparse: list[SparseTensorProto] = []
    graphs, done = [model.graph], 0
    while graphs or done < len(nodes):
        if graphs:
            g = graphs.pop()
            _check_names(g.name, *(v.name for v in (*g.input, *g.output, *g.value_info)))
            dense += g.initializer
            sparse += g.sparse_initializer
            nodes += g.node
            continue
        node = nodes[done]
        done += 1
        _check_names(node.name, node.op_type, node.domain, *node.input, *node.output)
        for attr in node.attribute:
            _check_names(attr.name)
            graphs += _subgraphs(attr)
            dense += [*([attr.t] if attr.HasField("t") else []), *attr.tensors]
            sparse += [
                *([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []),
                *attr.sparse_tensors,
            ]
    return nodes, dense, sparse


def _check_names(*names: object) -> None:
    for name in names:
        if not isinstance(name, str):  # protobuf hands back bytes for invalid UTF-8
            _fail(f"holds a name that is not valid UTF-8 ({_q(name)}); {_REDO}")


def _check_opsets_and_domains(model: ModelProto, nodes: list[NodeProto]) -> None:
    versions: dict[str, int] = {}
    for op in model.opset_import:
        _check_names(op.domain)
        if op.domain == "ai.onnx":  # an alias of "": onnx's checker only knows the latter for nodes
            op.domain = ""
        if op.domain in versions:
            _fail(f"imports the opset of domain {_q(op.domain)} twice; {_REDO}")
        versions[op.domain] = op.version
    if "" not in versions:
        _fail(f"imports no ai.onnx opset; {_REDO} with opset {MIN_OPSET} or newer")
    if versions[""] < MIN_OPSET:
        _fail(f"uses ai.onnx opset {versions['']}; {_REDO} with opset {MIN_OPSET} or newer")
    newest = onnx.defs.onnx_opset_version()
    if versions[""] > newest:
        _fail(
            f"uses ai.onnx opset {versions['']}, newer than {newest}, the newest that onnx {onnx.__version__} "
            f"knows; {_REDO} with an opset from {MIN_OPSET} to {newest} (or update onnx)"
        )
    for domain in QONNX_DOMAINS:
        if domain in versions and not 1 <= versions[domain] <= MAX_QONNX_OPSET:
            _fail(
                f"imports version {versions[domain]} of domain {_q(domain)}; only versions 1 to "
                f"{MAX_QONNX_OPSET} are supported, {_REDO} with qonnx opset {MAX_QONNX_OPSET} or older"
            )
    for node in nodes:
        if node.domain not in KNOWN_DOMAINS:
            _fail(
                f"node {_q(node.name)} uses op {_q(node.op_type)} of unknown domain {_q(node.domain)}; "
                "only ai.onnx and qonnx ops are supported"
            )
        if node.domain == "ai.onnx":
            node.domain = ""
        if node.domain in QONNX_DOMAINS and node.domain not in versions:
            model.opset_import.add(domain=node.domain, version=1)
            versions[node.domain] = 1


def _count(dims: Iterable[int], what: str) -> int:
    """The element count of `dims`, checked with Python ints before anything is allocated."""
    dims = list(dims)
    if any(d < 0 for d in dims):
        _fail(f"{what} has a negative dimension; {_REDO}")
    if 0 in dims:
        return 0
    count = 1
    for d in dims:
        count *= d
        if count > MAX_ELEMENTS:
            _fail(f"{what} declares a huge shape (over {MAX_ELEMENTS} elements); refusing it, {_REDO}")
    return count


def _check_tensor(t: TensorProto, file_size: int) -> bool:
    """Validate one tensor's type, shape and data fields; True when its data is external."""
    name = f"tensor {_q(t.name)}"
    _check_names(t.name, *(e.key for e in t.external_data), *(e.value for e in t.external_data))
    if t.data_type not in _LAYOUT:
        if t.data_type in TensorProto.DataType.values():
            _fail(f"{name} has unsupported data type {TensorProto.DataType.Name(t.data_type)}; {_REDO}")
        _fail(f"{name} has unknown data type {t.data_type}; {_REDO}")
    bits, field = _LAYOUT[t.data_type]
    count = _count(t.dims, name)
    typed = [f for f in _TYPED_FIELDS if len(getattr(t, f))]
    has_raw = t.HasField("raw_data")
    external = t.data_location == TensorProto.EXTERNAL
    if has_raw and typed:
        _fail(f"{name} has both raw_data and typed data ({typed[0]}); refusing ambiguous weights, {_REDO}")
    if len(typed) > 1:
        _fail(f"{name} has several typed data fields ({', '.join(typed)}); refusing ambiguous weights")
    if t.data_location not in (TensorProto.DEFAULT, TensorProto.EXTERNAL):
        _fail(f"{name} has unknown data_location {t.data_location}; {_REDO}")
    if external and (has_raw or typed):
        _fail(f"{name} has both external and inline data; refusing ambiguous weights, {_REDO}")
    if t.external_data and not external:
        _fail(f"{name} has external_data entries but its data_location is not EXTERNAL; {_REDO}")
    if t.HasField("segment"):
        _fail(f"{name} is a segmented tensor, which is not supported; {_REDO}")
    if bits == 0 and (has_raw or external):
        _fail(f"{name} is a string tensor stored as raw or external bytes; {_REDO}")
    if external:
        return True
    if not (has_raw or typed):
        if count:
            _fail(f"{name} declares {count} elements but holds no data; {_REDO}")
        return False
    if typed and typed[0] != field:
        _fail(f"{name} keeps its data in {typed[0]}, but its type needs {field} or raw_data; {_REDO}")
    nbytes = (count * bits + 7) // 8
    need = nbytes if has_raw or 0 < bits < 8 else count  # one typed entry per element unless packed
    if need > file_size:
        _fail(f"{name} declares {count} elements, more than the file holds; refusing a huge declared shape")
    have = len(t.raw_data) if has_raw else len(getattr(t, field))
    if have != need:
        held = f"raw_data holds {have} bytes" if has_raw else f"{field} holds {have} entries"
        _fail(f"{name}: {held}, its dims need {need}; {_REDO}")
    return False


def _external_file(location: str, folder: str, name: str) -> str:
    """Resolve an external data location inside `folder`, refusing any way out of it."""
    where = f"{name} external data location {_q(location)}"
    if not location or "\0" in location:
        _fail(f"{name} uses external data without a usable location; {_REDO}")
    if location.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", location) or os.path.isabs(location):
        _fail(f"{where} is an absolute path; external data must sit in the model's folder")
    parts = [p for p in re.split(r"[\\/]", location) if p not in ("", ".")]
    if ".." in parts:
        _fail(f"{where} has a '..' component; external data must sit in the model's folder")
    current = folder
    try:
        for part in parts:
            current = os.path.join(current, part)
            if stat.S_ISLNK(os.lstat(current).st_mode):
                _fail(f"{where} goes through a symlink; copy the data file into the model's folder")
        mode = os.stat(current).st_mode
    except (FileNotFoundError, NotADirectoryError):
        _fail(f"{where} does not exist; copy the data file next to the model")
    except OSError as exc:
        _fail(f"{where} cannot be read ({exc.strerror}); check its permissions")
    if not parts or not stat.S_ISREG(mode):
        _fail(f"{where} is not a regular file; {_REDO}")
    if not _inside(os.path.realpath(current), folder):
        _fail(f"{where} resolves outside the model's folder; copy the data file there")
    return current


def _load_external(tensors: list[TensorProto], folder: str, max_bytes: int) -> None:
    """Validate every external reference, then read the bytes into raw_data (two passes)."""
    plans: list[tuple[TensorProto, str, int, int]] = []
    total = 0
    for t in tensors:
        name = f"tensor {_q(t.name)}"
        info: dict[str, str] = {}
        for entry in t.external_data:
            if entry.key not in _EXTERNAL_KEYS or entry.key in info:
                _fail(f"{name} has an unknown or repeated external_data key {_q(entry.key)}; {_REDO}")
            info[entry.key] = entry.value
        file = _external_file(info.get("location", ""), folder, name)
        size = os.stat(file).st_size
        for key in ("offset", "length"):
            if key in info and not (info[key].isascii() and info[key].isdigit()):
                _fail(f"{name} has external data {key} {_q(info[key])}, not a whole number; {_REDO}")
        offset = int(info.get("offset", "0"))
        length = int(info.get("length", str(max(size - offset, 0))))
        nbytes = (_count(t.dims, name) * _LAYOUT[t.data_type][0] + 7) // 8
        if offset + length > size:
            _fail(f"{name}: external data offset {offset} + length {length} runs past the end of its file")
        if length != nbytes:
            _fail(f"{name}: external data length {length} does not match its dims ({nbytes} bytes); {_REDO}")
        total += length
        if total > max_bytes:
            _fail(f"the external data is over the limit of {max_bytes} bytes; raise max_bytes if trusted")
        plans.append((t, file, offset, length))
    for t, file, offset, length in plans:
        data = _read_regular(file, offset, length)
        if len(data) != length:
            _fail(f"the external data file of tensor {_q(t.name)} shrank while it was read; load it again")
        t.raw_data = data
        del t.external_data[:]
        t.data_location = TensorProto.DEFAULT


def _outer_names(graph: GraphProto) -> set[str]:
    """Names a subgraph uses from enclosing scopes."""
    defined = {v.name for v in graph.input} | {t.name for t in graph.initializer}
    defined |= {s.values.name for s in graph.sparse_initializer} | {o for n in graph.node for o in n.output}
    used = {i for n in graph.node for i in n.input}
    for node in graph.node:
        for attr in node.attribute:
            for sub in _subgraphs(attr):
                used |= _outer_names(sub)
    return used - defined - {""}


def _check_graph(graph: GraphProto) -> None:
    """Definitions, uses and a topological sort (Kahn) of the main graph."""
    if not graph.node or not graph.input or not graph.output:
        _fail(
            f"empty graph ({len(graph.node)} nodes, {len(graph.input)} inputs, {len(graph.output)} outputs); "
            "export a model with at least one node, input and output"
        )
    defined = {v.name for v in graph.input} | {t.name for t in graph.initializer} | {""}
    defined |= {s.values.name for s in graph.sparse_initializer}
    label = [_q(n.name) if n.name else f"#{i} ({_q(n.op_type)})" for i, n in enumerate(graph.node)]
    producer: dict[str, int] = {}
    for i, node in enumerate(graph.node):
        for out in filter(None, node.output):
            if out in producer or out in defined:
                _fail(f"tensor {_q(out)} is defined twice (again by node {label[i]}); {_REDO}")
            producer[out] = i
    deps: list[set[int]] = []
    for i, node in enumerate(graph.node):
        uses = {*node.input, *(n for a in node.attribute for g in _subgraphs(a) for n in _outer_names(g))}
        for name in sorted(uses):
            if name not in producer and name not in defined:
                _fail(f"node {label[i]} uses tensor {_q(name)}, which nothing defines; {_REDO}")
        deps.append({producer[n] for n in uses if n in producer and n not in defined})
    users: list[list[int]] = [[] for _ in deps]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    waiting = [len(d) for d in deps]
    ready = [i for i, w in enumerate(waiting) if w == 0]
    while ready:
        for u in users[ready.pop()]:
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.append(u)
    if any(waiting):
        i, seen = next(k for k, w in enumerate(waiting) if w), set()
        while i not in seen:  # step back along unsorted producers until one repeats: it is on a cycle
            seen.add(i)
            i = next(j for j in deps[i] if waiting[j])
        _fail(f"the graph has a cycle through node {label[i]}; {_REDO}")


def _onnx_checks(model: ModelProto, uses_qonnx: bool) -> ModelProto:
    """Full checker + strict inference; a qonnx-related failure there gets one lenient retry."""
    for strict in (True, False):
        step = "onnx.checker"
        try:
            onnx.checker.check_model(model, full_check=strict)
            step = "ONNX shape inference"
            return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=strict)
        except Exception as exc:
            first = _first_line(exc)
            if not (strict and uses_qonnx and _QONNX_WORDS.search(str(exc))):
                _fail(f"the model fails {step} ({first}); {_REDO}")
    raise AssertionError("unreachable")
