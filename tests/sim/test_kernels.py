"""Each kernel's schedule on the hardware-queue bench (a source offering a beat every cycle, the
kernel, a sink taking one every cycle, FIFOs of depth 2 plus the beats in flight in the writer's
pipeline): exact push cycles of its outputs, from both timing engines."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.hw.dataflow import Dataflow, Stream
from compiler.hw.kernels import (
    Add,
    Fork,
    GlobalSumPool,
    Kernel,
    MatrixVector,
    MaxPool,
    SlidingWindow,
    SumPool,
    WidthConverter,
)
from compiler.hw.kernels.matrix import AFFINE_MIN_STEPS, REQUANT_STAGES
from sim.schedule import build_processes
from sim.simulate import isolated, least_depth
from sim.timing import solve, tick


def bench(kernel: Kernel, inputs: list[tuple[int, int]], outputs: list[tuple[int, int]]):
    """Push cycles (the op's firing: the beat is written `pipeline_stages` later) of each output stream; inputs/outputs: (elements, width)."""
    streams = {}
    for i, (n, w) in enumerate(inputs):
        streams[f"in{i}"] = Stream(f"in{i}", "x", kernel.name, n, 8, w)
    for i, (n, w) in enumerate(outputs):
        streams[f"out{i}"] = Stream(f"out{i}", kernel.name, "y", n, 8, w)
    kernel.inputs, kernel.outputs = list(streams)[: len(inputs)], list(streams)[len(inputs) :]
    df = Dataflow("t", {kernel.name: kernel}, streams, (1, 1, 1), 0)
    mini = isolated(df, kernel)
    procs = build_processes(mini, 1)
    depths = {s: least_depth(mini, s) for s in mini.streams}
    fast, ref = solve(procs, depths), tick(procs, depths)
    assert all(np.array_equal(fast.times[n], ref.times[n]) for n in fast.times)
    return [fast.push[s].tolist() for s in kernel.outputs]


def padded_window(size: int, channels: int, simd: int) -> Kernel:
    """A 3x3, stride-1, zero-padded sliding window over a size x size map with the Bi-Real sign."""
    g = SlidingWindow.Geometry(
        ifm=(size, size, channels),
        ofm=(size, size),
        kernel=(3, 3),
        stride=(1, 1),
        pads=(1, 1, 1, 1),
        pad_value=0,
        sign_input=True,
        ternary=True,
    )
    return SlidingWindow("swu", [], [], g, simd=simd)


def test_add_and_fork_pass_a_beat_per_cycle():
    (out,) = bench(Add("add", [], [], Add.Geometry((2, 2, 4), -8, 7), pe=2), [(16, 2), (16, 2)], [(16, 2)])
    assert out == list(range(1, 9))  # source pushes at k, visible at k + 1
    a, b = bench(Fork("fork", [], [], Fork.Geometry(8), pe=2), [(8, 2)], [(8, 2), (8, 2)])
    assert a == b == [1, 2, 3, 4]


def test_width_converters():
    (down,) = bench(WidthConverter("dwc", [], [], WidthConverter.Geometry(4, 2, 8)), [(8, 4)], [(8, 2)])
    assert down == [1, 2, 3, 4]  # one wide beat read, two narrow ones written
    (up,) = bench(WidthConverter("dwc", [], [], WidthConverter.Geometry(2, 4, 8)), [(8, 2)], [(8, 4)])
    assert up == [2, 4]  # written with the second narrow beat


def test_matrix_vector_unit():
    """2 pixels, MW = 6 with SIMD 2 (3 synapse folds), MH = 4 with PE 2 (2 neuron folds): output
    beat (p, n) at op p*6 + n*3 + 2, and op i fires at cycle i + 1 (the unit never starves)."""
    geometry = MatrixVector.Geometry(mw=6, mh=4, pixels=2, binary=True)
    k = MatrixVector("mvu", [], [], geometry, pe=2, simd=2)
    (out,) = bench(k, [(12, 2)], [(8, 2)])
    assert out == [3, 6, 9, 12]


def test_global_sum_pool_writes_during_the_last_pixel():
    k = GlobalSumPool("gsp", [], [], GlobalSumPool.Geometry((2, 2, 4)), pe=2)
    (out,) = bench(k, [(16, 2)], [(4, 2)])
    assert out == [7, 8]


def test_sliding_window_waits_for_the_bottom_right_pixel():
    """4x4x1 map, 3x3 window, stride 1, zero padding 1, one element per beat: writer beat b fires
    at max(previous + 1, cycle the needed input was read + 1); the reader reads input j at j + 1."""
    k = padded_window(4, 1, simd=1)
    (out,) = bench(k, [(16, 1)], [(144, 1)])
    need, _, capacity = k.window_dependencies(1, 1)
    assert capacity >= 16  # the whole map fits: the reader is never held back in frame 0
    expected, last = [], -1
    for b in range(144):
        last = max(last + 1, int(need[b]) + 2)
        expected.append(last)
    assert out == expected
    assert out[0] == 7  # input pixel (1, 1), the 6th beat, read at cycle 6


def test_pools_wait_for_their_windows():
    """4x4 map, 2x2 window, stride 2, one pixel (2 channels) per beat: output (oy, ox) is written
    the cycle after input pixel (2oy+1, 2ox+1) was read (read at its index + 1)."""
    for cls in (MaxPool, SumPool):
        g = cls.Geometry(ifm=(4, 4, 2), ofm=(2, 2), kernel=(2, 2), stride=(2, 2), pads=(0, 0, 0, 0))
        (out,) = bench(cls(cls.kind, [], [], g, pe=2), [(32, 2)], [(8, 2)])
        assert out == [7, 9, 15, 17]


def test_window_kernel_under_back_pressure_fast_equals_tick():
    """A padded window over three frames with a sink that takes a beat every third cycle:
    both engines agree; the writer's waits ascend although the raw needs of the clipped bottom
    rows do not (the fast engine's change tracking needs ascending waits and checks it)."""
    k = padded_window(6, 2, simd=2)
    streams = {"in0": Stream("in0", "x", "swu", 72, 8, 2), "out0": Stream("out0", "swu", "y", 648, 2, 2)}
    k.inputs, k.outputs = ["in0"], ["out0"]
    mini = isolated(Dataflow("t", {"swu": k}, streams, (1, 1, 1), 0), k)
    procs = build_processes(mini, 3)
    sink = next(p for p in procs if p.name.startswith("sink"))
    beats = len(sink.reads["out0"])
    sink.reads["out0"] = np.arange(beats) * 3
    sink.ops = beats * 3
    depths = {s: least_depth(mini, s) for s in mini.streams}
    fast, ref = solve(procs, depths), tick(procs, depths)
    assert all(np.array_equal(fast.times[n], ref.times[n]) for n in fast.times)
    need, _, _ = k.window_dependencies(2, 2)
    assert np.any(np.diff(need) < 0)
    writer = next(p for p in procs if p.name == "swu.write")
    writer.wait = (writer.wait[0], writer.wait[1][::-1].copy())
    with pytest.raises(ValueError, match="must not decrease"):
        solve(procs, depths)


@pytest.mark.parametrize(
    "simd,levels", [(1, 1), (6, 1), (7, 2), (36, 3), (97, 8), (300, 4), (97, -8), (300, -4)]
)
def test_a_pipelined_beat_is_readable_its_stages_after_its_push(simd, levels):
    """A thresholded binary matrix unit writes each beat pipeline_stages cycles after its op fires
    (its tree, then one stage per search level, or the multiply-add's REQUANT_STAGES where the
    thresholds are evenly spaced: levels < 0): the sink takes it one cycle after that, in both
    engines, and the unit still fires every cycle (the FIFO holds the beats in flight)."""
    rng = np.random.default_rng(simd)
    steps = 2 ** abs(levels) - 1
    if levels > 0:  # random: no multiply-add reproduces them
        thresholds = np.sort(rng.integers(-simd, simd, (4, steps)), axis=1)
    else:  # a BatchNorm's grid: 2 accumulator values per step
        thresholds = np.arange(steps)[None, :] * 2 - steps + rng.integers(-3, 3, (4, 1))
    g = MatrixVector.Geometry(
        mw=simd, mh=4, pixels=3, binary=True, qmin=0, threshold_bits=16, in_lo=-1, in_hi=1
    )
    weights = rng.choice([-1, 1], (4, simd))
    consts = {"weights": weights, "thresholds": thresholds, "direction": np.ones(4)}
    k = MatrixVector("mvu", [], [], g, consts=consts, pe=2, simd=simd)
    leaves = -(-simd // 6)
    tree = 1 + -(-max(0, (leaves - 1).bit_length()) // 4)
    affine = levels < 0 or (steps >= AFFINE_MIN_STEPS and k.requant() is not None)
    assert (k.requant() is not None) == affine and (levels > 0 or affine)
    assert k.pipeline_stages() == tree + (REQUANT_STAGES if affine else levels)
    streams = {
        "in0": Stream("in0", "x", "mvu", 3 * simd, 1, simd),
        "out0": Stream("out0", "mvu", "y", 12, 8, 2),
    }
    k.inputs, k.outputs = ["in0"], ["out0"]
    mini = isolated(Dataflow("t", {"mvu": k}, streams, (1, 1, 1), 0), k)
    procs = build_processes(mini, 1)
    depths = {s: least_depth(mini, s) for s in mini.streams}
    fast, ref = solve(procs, depths), tick(procs, depths)
    for t in (fast, ref):
        assert t.push["out0"].tolist() == [1, 2, 3, 4, 5, 6]  # op i at cycle i + 1, never held back
        assert (t.pop["out0"] == t.push["out0"] + k.pipeline_stages() + 1).all()
    assert mini.kernels["mvu"].pipeline_stages() == depths["out0"] - 2
