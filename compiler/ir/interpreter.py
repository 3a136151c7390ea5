"""The IR interpreter: runs a graph's op references on numpy integers, node by node."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from compiler.ir.graph import Graph
from compiler.ir.ops import OPS


def execute(
    graph: Graph, inputs: np.ndarray | dict[str, np.ndarray], outputs: Iterable[str] | None = None
) -> dict[str, np.ndarray]:
    """Run `graph` on `inputs` (one array for a one-input graph, or name -> array; any batch size)
    and return the requested tensors (default: the graph outputs) by name. Intermediate values
    are freed after their last use."""
    if not isinstance(inputs, dict):
        if len(graph.inputs) != 1:
            raise ValueError(f"the graph has {len(graph.inputs)} inputs; pass a dict")
        inputs = {graph.inputs[0]: inputs}
    wanted = list(graph.outputs if outputs is None else outputs)
    last_use: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        for name in node.inputs:
            last_use[name] = i
    keep = set(wanted) | set(graph.consts)
    values: dict[str, np.ndarray] = dict(graph.consts)
    for name in graph.inputs:
        values[name] = np.asarray(inputs[name])
    for i, node in enumerate(graph.nodes):
        results = OPS[node.op].reference(node.attrs, [values[n] for n in node.inputs])
        values.update(zip(node.outputs, results, strict=True))
        for name in node.inputs:
            if last_use.get(name) == i and name not in keep:
                del values[name]
    missing = [w for w in wanted if w not in values]
    if missing:
        raise KeyError(f"tensors {missing} are not computed by the graph")
    return {w: values[w] for w in wanted}
