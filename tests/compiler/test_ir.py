"""The IR's text form round-trips, save/load keeps constants, and verify rejects malformed graphs."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.ir import IntType, IRError, Node, load_graph, parse_graph, print_graph, save_graph, verify
from compiler.passes import PassManager, lowering_passes, streamline_passes
from tests.compiler.tiny_graphs import logits, tiny_bireal_graph, tiny_images


def stages():
    imported = tiny_bireal_graph(7)
    streamlined = PassManager(streamline_passes()).run(imported)
    lowered = PassManager(lowering_passes()).run(streamlined)
    return [imported, streamlined, lowered]


@pytest.mark.parametrize("stage", range(3))
def test_text_round_trips(stage, tmp_path):
    graph = stages()[stage]
    graph.nodes[2].hw = {"kernel": "mvu_2", "pe": 4, "simd": 9}  # hardware records round-trip too
    text = print_graph(graph)
    parsed = parse_graph(text, graph.consts)
    assert print_graph(parsed) == text
    verify(parsed)
    save_graph(graph, tmp_path / "g.ir")
    loaded = load_graph(tmp_path / "g.ir")
    assert print_graph(loaded) == text
    x = tiny_images(seed=stage)
    assert np.array_equal(logits(loaded, x), logits(graph, x))


def test_text_parse_errors_are_ir_errors():
    graph = tiny_bireal_graph()
    text = print_graph(graph)
    with pytest.raises(IRError, match="unknown op"):
        parse_graph(text.replace("= sign(", "= frobnicate("), graph.consts)
    with pytest.raises(IRError, match="no value for constant"):
        parse_graph(text, {})
    with pytest.raises(IRError, match="cannot parse"):
        parse_graph(text + "%%% nonsense\n", graph.consts)


def broken(mutate) -> None:
    graph = tiny_bireal_graph()
    mutate(graph)
    verify(graph)


def test_verify_rejects_malformed_graphs():
    def narrow_accumulator(g):
        conv = next(n for n in g.nodes if n.op == "conv")
        g.tensors[conv.outputs[0]].dtype = IntType(4, True)

    def reorder(g):
        g.nodes.reverse()

    def weights_not_constant(g):
        conv = next(n for n in g.nodes if n.op == "conv")
        g.consts.pop(conv.inputs[1])

    def unknown_op(g):
        g.nodes[1] = Node("frobnicate", g.nodes[1].inputs, g.nodes[1].outputs, None, "x")

    def sign_not_bipolar(g):
        sign = next(n for n in g.nodes if n.op == "sign")
        g.tensors[sign.outputs[0]].dtype = IntType(8, True)

    for mutate, message in [
        (narrow_accumulator, "too wide for i4"),
        (reorder, "not defined before"),
        (weights_not_constant, "must be a constant|not defined"),
        (unknown_op, "unknown op"),
        (sign_not_bipolar, "must be bipolar"),
    ]:
        with pytest.raises(IRError, match=message):
            broken(mutate)
