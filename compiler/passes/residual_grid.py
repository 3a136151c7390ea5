"""PutResidualAddsOnOneGrid: scaled_add whose operands already share the output's grid (both
ratios 1, as with Bi-Real's one shared residual quantizer) -> add, an integer add with
saturation. Adds whose operands sit on other grids stay scaled_add, and the build reports them
as not expressible yet (see docs/compiler.md)."""

from __future__ import annotations

from compiler.ir import Graph, Node
from compiler.ir.ops.add import AddAttrs
from compiler.passes.base import RewritePass, replace_node


class PutResidualAddsOnOneGrid(RewritePass):
    name = "put_residual_adds_on_one_grid"

    def match(self, graph: Graph, node: Node, facts):
        if node.op == "scaled_add" and node.attrs.ratio_a == 1 and node.attrs.ratio_b == 1:
            return True
        return None

    def rewrite(self, graph: Graph, node: Node, match) -> None:
        a = node.attrs
        replace_node(graph, node, [Node("add", list(node.inputs), node.outputs, AddAttrs(a.qmin, a.qmax))])
