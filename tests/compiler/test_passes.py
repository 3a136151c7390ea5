"""Each pass on a tiny graph: the IR reference before and after are equal (==), the structural
change happens, and the IR verifies after every pass."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from compiler.ir import BIPOLAR, TERNARY, IntType, IRError, verify
from compiler.passes import (
    DumpIRAfterEachPass,
    FoldRequantizeIntoThresholds,
    LowerBipolarMatMulToXnorPopcount,
    LowerConvToSlidingWindowMatMul,
    MinimizeIntegerWidths,
    Pass,
    PassManager,
    PassTiming,
    PutResidualAddsOnOneGrid,
    lowering_passes,
    streamline_passes,
)
from tests.compiler.tiny_graphs import logits, tiny_bireal_graph, tiny_images


def ops(graph) -> list[str]:
    return [n.op for n in graph.nodes]


def run(passes, graph):
    return PassManager(passes, verify_each=True).run(graph)


@pytest.mark.parametrize("seed", range(3))
def test_fold_requantize_into_thresholds(seed):
    before = tiny_bireal_graph(seed)
    after = run([FoldRequantizeIntoThresholds()], before)
    assert "requantize" not in ops(after) and ops(after).count("multi_threshold") == 3
    assert ops(before).count("requantize") == 3  # the input graph is untouched
    directions = np.concatenate([after.consts[n.inputs[2]] for n in after.nodes if n.op == "multi_threshold"])
    assert {-1, 0, 1} <= set(directions.tolist())  # negative and zero gammas handled
    x = tiny_images(seed=seed)
    assert np.array_equal(logits(after, x), logits(before, x))


def test_put_residual_adds_on_one_grid():
    same = tiny_bireal_graph(1)
    after = run([PutResidualAddsOnOneGrid()], same)
    assert "scaled_add" not in ops(after) and "add" in ops(after)
    x = tiny_images()
    assert np.array_equal(logits(after, x), logits(same, x))
    other = tiny_bireal_graph(1, ratio=Fraction(1, 2))
    assert ops(run([PutResidualAddsOnOneGrid()], other)) == ops(other)  # different grids: left alone


@pytest.mark.parametrize("pad_value", [0, 1, -1])
def test_lower_conv_to_sliding_window_matmul(pad_value):
    before = tiny_bireal_graph(2, pad_value=pad_value)
    after = run([LowerConvToSlidingWindowMatMul()], before)
    assert "conv" not in ops(after)
    assert ops(after).count("sliding_window") == 2  # the 1x1 downsample conv needs no window
    windows = [after.tensors[n.outputs[0]].dtype for n in after.nodes if n.op == "sliding_window"]
    assert windows[1] == (TERNARY if pad_value == 0 else BIPOLAR)
    x = tiny_images(seed=pad_value + 5)
    assert np.array_equal(logits(after, x), logits(before, x))


def test_lower_bipolar_matmul_to_xnor_popcount():
    before = run([LowerConvToSlidingWindowMatMul()], tiny_bireal_graph(3))
    after = run([LowerBipolarMatMulToXnorPopcount()], before)
    assert ops(after).count("xnor_popcount_matmul") == 1
    assert ops(after).count("matmul") == ops(before).count("matmul") - 1  # 8-bit layers stay
    x = tiny_images(seed=3)
    assert np.array_equal(logits(after, x), logits(before, x))


def test_minimize_integer_widths():
    before = run(streamline_passes() + lowering_passes()[:2], tiny_bireal_graph(4))
    after = run([MinimizeIntegerWidths()], before)
    xnor = next(n for n in after.nodes if n.op == "xnor_popcount_matmul")
    k = after.consts[xnor.inputs[1]].shape[1]
    assert after.tensors[xnor.outputs[0]].dtype == IntType.covering(-k, k) == IntType(7, True)
    wide = [t.dtype for t in before.tensors.values() if t.dtype == IntType(32, True)]
    assert wide and not [t.dtype for t in after.tensors.values() if t.dtype == IntType(32, True)]
    x = tiny_images(seed=4)
    assert np.array_equal(logits(after, x), logits(before, x))


def test_full_pipeline_equals_imported_graph_after_every_pass(tmp_path):
    graph = tiny_bireal_graph(5)
    x = tiny_images(seed=5)
    want = logits(graph, x)
    current = graph
    for p in streamline_passes() + lowering_passes():
        current = run([p], current)
        assert np.array_equal(logits(current, x), want), p.name
    timing, dump = PassTiming(), DumpIRAfterEachPass(tmp_path / "dump")
    PassManager(streamline_passes() + lowering_passes(), [timing, dump]).run(graph)
    assert [r["pass"] for r in timing.records] == [p.name for p in streamline_passes() + lowering_passes()]
    assert len(list((tmp_path / "dump").glob("*.ir"))) == 5


class BreaksShapes(Pass):
    name = "breaks_shapes"

    def run(self, graph) -> bool:
        graph.tensors[graph.nodes[1].outputs[0]].shape = (1, 2, 3, 4)
        return True


def test_verify_each_catches_a_broken_pass():
    with pytest.raises(IRError, match="declared"):
        PassManager([BreaksShapes()], verify_each=True).run(tiny_bireal_graph())
    verify(tiny_bireal_graph())  # the original is untouched and valid


def test_group_cpu_kernels_records_the_fusion_groups_and_changes_no_value(tmp_path):
    from compiler.ir import load_graph, save_graph
    from compiler.passes import GroupCPUKernels

    before = run(streamline_passes(), tiny_bireal_graph(0))
    after = run([GroupCPUKernels()], before.copy())
    assert ops(after) == ops(before)
    x = tiny_images()
    assert np.array_equal(logits(after, x), logits(before, x))
    records = {n.name: n.hw.get("cpu", {}) for n in after.nodes}
    groups: dict[str, list[str]] = {}
    for n in after.nodes:
        if "group" in records[n.name]:
            groups.setdefault(records[n.name]["group"], []).append(records[n.name]["role"])
    assert all(records[n.name].get("role") == "conv" for n in after.nodes if n.op == "conv")
    assert any(roles[:2] == ["conv", "threshold"] for roles in groups.values())
    binary = [n for n in after.nodes if n.op == "conv" and after.tensors[n.inputs[1]].dtype == BIPOLAR]
    signs = [n for n in after.nodes if n.op == "sign"]
    assert binary and all(records[s.name].get("packed") for s in signs)  # every sign feeds binary convs
    assert any(role == "pack" for roles in groups.values() for role in roles)
    save_graph(after, tmp_path / "fused.ir")  # the records are part of the IR text (and its dumps)
    assert 'hw={"cpu"' in (tmp_path / "fused.ir").read_text()
    again = load_graph(tmp_path / "fused.ir")
    assert [n.hw for n in again.nodes] == [n.hw for n in after.nodes]
    rerun = run([GroupCPUKernels()], again)
    assert [n.hw for n in rerun.nodes] == [n.hw for n in after.nodes]  # idempotent
