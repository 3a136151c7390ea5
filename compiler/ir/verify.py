"""Whole-graph analysis and checks: shapes, exact value ranges, types.

`value_bounds(graph)` propagates exact per-channel ranges (Python ints) from the graph inputs'
types and the constants through every op; it never mutates the graph. `verify(graph)` raises
`IRError` unless the graph is well formed: topological order, known ops with the right arity
and attribute types, constant weights where required, each op's own `check`, declared shapes
equal to the inferred ones, and every declared integer type wide enough for its exact range.
"""

from __future__ import annotations

import numpy as np

from compiler.ir.graph import Graph, Node
from compiler.ir.ops import OPS, Op
from compiler.ir.types import Bounds, IntType, IRError, RealType


def op_of(node: Node) -> Op:
    op = OPS.get(node.op)
    if op is None:
        raise IRError(f"unknown op {node.op!r} in node {node.name!r}")
    return op


def const_bounds(value: np.ndarray) -> Bounds | None:
    if value.dtype.kind == "f":
        return None
    return Bounds.of(int(value.min(initial=0)), int(value.max(initial=0)))


def _check_node_signature(graph: Graph, node: Node, op: Op) -> None:
    allowed = op.n_inputs if isinstance(op.n_inputs, tuple) else (op.n_inputs,)
    if len(node.inputs) not in allowed:
        raise IRError(f"{node.name}: {node.op} takes {allowed} inputs, got {len(node.inputs)}")
    if not isinstance(node.attrs, op.Attrs):
        raise IRError(f"{node.name}: attributes are {type(node.attrs).__name__}, not {op.Attrs.__name__}")
    for i in op.const_inputs:
        if i < len(node.inputs) and node.inputs[i] not in graph.consts:
            raise IRError(f"{node.name}: input {i} of {node.op} must be a constant")
    if len(node.outputs) != 1:
        raise IRError(f"{node.name}: {node.op} has one output")


def value_bounds(graph: Graph, check: bool = False) -> dict[str, Bounds | None]:
    """Exact ranges of every tensor; with `check`, also verify each node on the way."""
    graph.check_topological()
    bounds: dict[str, Bounds | None] = {}
    for name in graph.inputs:
        dtype = graph.tensors[name].dtype
        bounds[name] = Bounds.of_type(dtype) if isinstance(dtype, IntType) else None
    for name, value in graph.consts.items():
        bounds[name] = const_bounds(value)
    for node in graph.nodes:
        op = op_of(node)
        infos = [graph.tensors[i] for i in node.inputs]
        consts = [graph.consts.get(i) for i in node.inputs]
        if check:
            _check_node_signature(graph, node, op)
            op.check(node.attrs, infos, consts)
        out_bounds = op.bounds(node.attrs, [bounds[i] for i in node.inputs], consts, infos)
        if check:
            shapes = op.shapes(node.attrs, infos)
            for name, shape, b in zip(node.outputs, shapes, out_bounds, strict=True):
                _check_output(node, graph, name, shape, b, op)
        bounds.update(zip(node.outputs, out_bounds, strict=True))
    return bounds


def _check_output(node: Node, graph: Graph, name: str, shape, b: Bounds | None, op: Op) -> None:
    info = graph.tensors.get(name)
    if info is None:
        raise IRError(f"{node.name}: output {name} has no tensor declaration")
    if tuple(info.shape) != tuple(shape):
        raise IRError(f"{node.name}: {name} declared {info.shape}, inferred {tuple(shape)}")
    if op.real_output:
        if not isinstance(info.dtype, RealType):
            raise IRError(f"{node.name}: {name} is real-valued, declared {info.dtype}")
        return
    if not isinstance(info.dtype, IntType):
        raise IRError(f"{node.name}: {name} is an integer tensor, declared {info.dtype}")
    if op.fixed_type is not None and info.dtype != op.fixed_type:
        raise IRError(f"{node.name}: {name} must be {op.fixed_type}, declared {info.dtype}")
    if not info.dtype.holds(b.min, b.max):
        raise IRError(f"{node.name}: {name} has range [{b.min}, {b.max}], too wide for {info.dtype}")


def verify(graph: Graph) -> None:
    """Raise IRError unless the graph is well formed (see the module docstring)."""
    names = [n.name for n in graph.nodes]
    if len(set(names)) != len(names):
        raise IRError("node names are not unique")
    for name in graph.inputs:
        if name not in graph.tensors:
            raise IRError(f"graph input {name} has no tensor declaration")
    for name, value in graph.consts.items():
        info = graph.tensors.get(name)
        if info is None or tuple(info.shape) != value.shape:
            raise IRError(f"constant {name} does not match its declaration")
        b = const_bounds(value)
        if b is not None and not (isinstance(info.dtype, IntType) and info.dtype.holds(b.min, b.max)):
            raise IRError(f"constant {name} holds [{b.min}, {b.max}], not representable as {info.dtype}")
    value_bounds(graph, check=True)
