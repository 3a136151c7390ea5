"""MinimizeIntegerWidths: every integer tensor (accumulators, sums, thresholds, biases) gets the
narrowest type that holds its exact range, computed with Python ints by the value-range analysis
(never with floats). Bipolar and ternary tensors keep their types."""

from __future__ import annotations

from compiler.ir import BIPOLAR, TERNARY, Graph, IntType, value_bounds
from compiler.ir.verify import const_bounds
from compiler.passes.base import Pass


class MinimizeIntegerWidths(Pass):
    name = "minimize_integer_widths"

    def run(self, graph: Graph) -> bool:
        bounds = value_bounds(graph)
        changed = False
        for name, info in graph.tensors.items():
            if (
                not isinstance(info.dtype, IntType)
                or info.dtype in (BIPOLAR, TERNARY)
                or name in graph.inputs
            ):
                continue
            b = const_bounds(graph.consts[name]) if name in graph.consts else bounds.get(name)
            if b is None:
                continue
            narrow = b.dtype()
            if narrow != info.dtype:
                info.dtype = narrow
                changed = True
        return changed
