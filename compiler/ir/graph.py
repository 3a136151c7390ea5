"""The IR graph: named tensors with types, constants as numpy arrays, nodes in topological order.

Layout convention: activations are NHWC (channels last), the order in which a streaming kernel
sees them and in which channels pack into machine words; the batch dimension is declared as 1
and every op's reference accepts any batch size.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.ir.types import DType, IRError


@dataclass
class TensorInfo:
    shape: tuple[int, ...]
    dtype: DType


@dataclass
class Node:
    """One op application. `attrs` is the op's typed attribute dataclass; `hw` holds hardware
    folding (PE, SIMD, memory mode, FIFO depths), never op semantics."""

    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: Any
    name: str = ""
    hw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    name: str
    inputs: list[str]
    outputs: list[str]
    nodes: list[Node]
    tensors: dict[str, TensorInfo]
    consts: dict[str, np.ndarray]
    metadata: dict[str, str] = field(default_factory=dict)

    def copy(self) -> Graph:
        """A structural deep copy; constant arrays are shared (passes never modify them in place)."""
        return Graph(
            self.name,
            list(self.inputs),
            list(self.outputs),
            [copy.deepcopy(n) for n in self.nodes],
            {k: TensorInfo(v.shape, v.dtype) for k, v in self.tensors.items()},
            dict(self.consts),
            dict(self.metadata),
        )

    def producers(self) -> dict[str, Node]:
        return {out: n for n in self.nodes for out in n.outputs}

    def consumers(self) -> dict[str, list[Node]]:
        users: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                users.setdefault(i, []).append(n)
        return users

    def fresh(self, prefix: str) -> str:
        """A tensor name not used yet."""
        i = len(self.tensors)
        while f"{prefix}{i}" in self.tensors:
            i += 1
        return f"{prefix}{i}"

    def add_const(self, prefix: str, value: np.ndarray, dtype: DType) -> str:
        name = self.fresh(prefix)
        self.consts[name] = value
        self.tensors[name] = TensorInfo(tuple(value.shape), dtype)
        return name

    def add_tensor(self, prefix: str, shape: tuple[int, ...], dtype: DType) -> str:
        name = self.fresh(prefix)
        self.tensors[name] = TensorInfo(tuple(shape), dtype)
        return name

    def remove_unused(self) -> None:
        """Drop tensors and constants nothing refers to."""
        used = set(self.inputs) | set(self.outputs)
        for n in self.nodes:
            used.update(n.inputs)
            used.update(n.outputs)
        for name in [t for t in self.tensors if t not in used]:
            del self.tensors[name]
            self.consts.pop(name, None)

    def rename_nodes(self) -> None:
        """Name every node `<op>_<index>` in graph order (names never come from the model)."""
        for i, n in enumerate(self.nodes):
            n.name = f"{n.op}_{i}"

    def check_topological(self) -> None:
        defined = set(self.inputs) | set(self.consts)
        for n in self.nodes:
            for i in n.inputs:
                if i not in defined:
                    raise IRError(f"node {n.name or n.op} reads {i}, which is not defined before it")
            for o in n.outputs:
                if o in defined:
                    raise IRError(f"tensor {o} is defined twice")
                defined.add(o)
        for o in self.outputs:
            if o not in defined:
                raise IRError(f"graph output {o} is never produced")
