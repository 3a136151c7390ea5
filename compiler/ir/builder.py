"""GraphBuilder: appends nodes with inferred shapes and exact types, for the frontend and tests."""

from __future__ import annotations

import numpy as np

from compiler.ir.graph import Graph, Node
from compiler.ir.ops import OPS
from compiler.ir.types import REAL, Bounds, DType, IntType


class GraphBuilder:
    def __init__(self, name: str = "graph") -> None:
        self.graph = Graph(name, [], [], [], {}, {})
        self.bounds: dict[str, Bounds | None] = {}

    def input(self, shape: tuple[int, ...], dtype: DType = REAL) -> str:
        name = self.graph.add_tensor("x", shape, dtype)
        self.graph.inputs.append(name)
        self.bounds[name] = Bounds.of_type(dtype) if isinstance(dtype, IntType) else None
        return name

    def const(self, value: np.ndarray, dtype: DType, prefix: str = "c") -> str:
        name = self.graph.add_const(prefix, value, dtype)
        self.bounds[name] = None if dtype == REAL else Bounds.of(int(value.min()), int(value.max()))
        return name

    def node(self, op: str, inputs: list[str], attrs=None, dtype: IntType | None = None) -> str:
        """Append `op`; its output type is `dtype` (widened to int64 if too narrow for the exact
        range) or else the narrowest type of that range. Returns the output tensor's name."""
        spec = OPS[op]
        attrs = spec.Attrs() if attrs is None else attrs
        infos = [self.graph.tensors[i] for i in inputs]
        consts = [self.graph.consts.get(i) for i in inputs]
        spec.check(attrs, infos, consts)
        (shape,) = spec.shapes(attrs, infos)
        (b,) = spec.bounds(attrs, [self.bounds[i] for i in inputs], consts, infos)
        if spec.real_output:
            out_type: DType = REAL
        else:
            out_type = dtype or spec.fixed_type or b.dtype()
            if not out_type.holds(b.min, b.max):
                out_type = IntType(64, True)
        out = self.graph.add_tensor("t", shape, out_type)
        self.bounds[out] = b
        self.graph.nodes.append(Node(op, list(inputs), [out], attrs))
        return out

    def finish(self, outputs: list[str]) -> Graph:
        self.graph.outputs = list(outputs)
        self.graph.remove_unused()
        self.graph.rename_nodes()
        return self.graph
