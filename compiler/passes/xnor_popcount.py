"""LowerBipolarMatMulToXnorPopcount: matmul of a bipolar (or ternary, from a zero-padding window)
input with bipolar weights and no bias -> xnor_popcount_matmul, whose semantics are bit-packed:
dot = 2 * popcount(xnor(x, w) & valid) - popcount(valid)."""

from __future__ import annotations

from compiler.ir import BIPOLAR, TERNARY, Graph, Node
from compiler.ir.ops.base import NoAttrs
from compiler.passes.base import RewritePass, replace_node


class LowerBipolarMatMulToXnorPopcount(RewritePass):
    name = "lower_bipolar_matmul_to_xnor_popcount"

    def match(self, graph: Graph, node: Node, facts):
        if node.op != "matmul" or len(node.inputs) != 2:
            return None
        x, w = (graph.tensors[i].dtype for i in node.inputs)
        return True if x in (BIPOLAR, TERNARY) and w == BIPOLAR else None

    def rewrite(self, graph: Graph, node: Node, match) -> None:
        replace_node(graph, node, [Node("xnor_popcount_matmul", list(node.inputs), node.outputs, NoAttrs())])
