"""How to write a pass.

A pass is a stateless object with a `name` and `run(graph) -> changed` that rewrites the graph
in place. Rewrite passes subclass `RewritePass` and keep the two halves apart:

- `match(graph, node, facts)` looks at one node (and the read-only `facts` computed once per run,
  e.g. exact value ranges) and returns what the rewrite needs, or None;
- `rewrite(graph, node, match)` replaces that node by new nodes (`replace_node`).

Analyses (value ranges, widths, later cycles and resources) never mutate the graph. Every pass has
a test that runs the IR reference before and after on a tiny graph (equal with `==`) and asserts the
structural change it promises; `PassManager(verify_each=True)` re-verifies the IR after each pass.
"""

from __future__ import annotations

from typing import Any

from compiler.ir import Graph, Node


class Pass:
    name: str = "pass"

    def run(self, graph: Graph) -> bool:
        raise NotImplementedError


class RewritePass(Pass):
    """Visits every node once (in order) and rewrites the ones `match` accepts."""

    def facts(self, graph: Graph) -> Any:
        """Read-only analysis results shared by all matches of one run."""
        return None

    def match(self, graph: Graph, node: Node, facts: Any) -> Any:
        raise NotImplementedError

    def rewrite(self, graph: Graph, node: Node, match: Any) -> None:
        raise NotImplementedError

    def run(self, graph: Graph) -> bool:
        facts = self.facts(graph)
        matches = [(n, m) for n in list(graph.nodes) if (m := self.match(graph, n, facts)) is not None]
        for node, m in matches:
            self.rewrite(graph, node, m)
        if matches:
            graph.remove_unused()
            graph.rename_nodes()
        return bool(matches)


def replace_node(graph: Graph, old: Node, new: list[Node]) -> None:
    """Put `new` where `old` was (the last new node must produce old's outputs)."""
    i = next(k for k, n in enumerate(graph.nodes) if n is old)
    graph.nodes[i : i + 1] = new
