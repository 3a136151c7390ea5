"""Every kernel class in the simulator on the seeded Bi-Real-like designs of tests/hls/designs.py
(odd channels, +-1 and zero padding, strides 1 and 2, pools, a thresholded input), randomly
folded: the design's values equal the IR interpreter's on every stream, each kernel alone runs
at its analytical cycles, and the analytical latency estimate is computed from the same order."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.hw.boards import board
from compiler.hw.cost import design_cost
from compiler.hw.kernels import Thresholding
from compiler.hw.latency import first_frame_latency
from compiler.ir import execute
from sim.functional import run_functional
from sim.simulate import cycle_errors, simulate
from tests.hls.designs import SHAPES, bireal_like, images, random_folding, sign_pool_fc_graph


@pytest.mark.parametrize("index", range(len(SHAPES)))
def test_random_designs_compute_the_ir_and_meet_their_cycles(index):
    graph = bireal_like(SHAPES[index], seed=index)
    df = random_folding(graph, seed=200 + index)
    x = images(graph, 4, seed=index)
    q = next(n for n in graph.nodes if n.op == "quantize_input").attrs
    pixels = np.clip(np.round(x / float(q.scale)), q.qmin, q.qmax).astype(np.int64).transpose(0, 2, 3, 1)
    names = [t for n in graph.nodes for t in n.outputs]
    ir = execute(graph, x.transpose(0, 2, 3, 1), outputs=names)
    values = run_functional(df, pixels)
    compared = 0
    for s in df.streams.values():  # each stream carries its IR tensor in NHWC order
        want = ir[s.tensor].reshape(len(x), -1)
        assert np.array_equal(values[s.name], want), f"{s.name} ({s.producer} -> {s.consumer})"
        compared += 1
    assert compared == len(df.streams) > 5
    assert np.array_equal(values["output"], ir[graph.nodes[-1].inputs[0]].reshape(len(x), -1))
    result = simulate(df, frames=2)
    assert all(e == 0 for e in cycle_errors(df, result).values())
    assert result.interval == max(kc.cycles for kc in design_cost(df, board("zcu104").resources()).kernels)
    assert first_frame_latency(df) > 0
    if SHAPES[index].threshold_input:
        assert any(isinstance(k, Thresholding) for k in df.order())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_sign_feeding_a_pool_and_a_matrix_unit_is_a_thresholding_unit(seed):
    """sign -> max_pool -> flatten -> binary FC (no sliding window to take the sign on the way in;
    once a KeyError): the sign is a thresholding unit (threshold 0, step 2), its bipolar map is
    pooled and read by the matrix unit; values == the IR on every stream, cycles as modelled.
    The input has 11 channels of 8 bits with the offset of a `2x - 1` pre-processing: 11-byte
    pixels, gathered by the DMA from the packed bus words."""
    from compiler.ir.ops.quantize_input import quantize

    graph = sign_pool_fc_graph(seed)
    df = random_folding(graph, seed=seed)
    assert any(isinstance(k, Thresholding) for k in df.order())
    # 36 pixels of 11 bytes, packed: 50 words, one per cycle (more cycles than pixels)
    assert df.input_kernel.cycles(df) == df.input_kernel.bus_words(df) == -(-36 * 11 // 8) == 50
    x = images(graph, 6, seed)
    qa = graph.nodes[0].attrs
    names = [t for n in graph.nodes for t in n.outputs]
    ir = execute(graph, x.transpose(0, 2, 3, 1), outputs=names)
    values = run_functional(df, quantize(qa, x).transpose(0, 2, 3, 1))
    for st in df.streams.values():
        assert np.array_equal(values[st.name], ir[st.tensor].reshape(len(x), -1)), st.name
    assert len({row.tobytes() for row in values["output"]}) > 1
    result = simulate(df, frames=2)
    assert all(e == 0 for e in cycle_errors(df, result).values())
