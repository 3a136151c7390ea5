"""Cycle-level timing in the style of hardware-queue tests: source -> unit -> sink with exact
arrival cycles, FIFOs of depth 1 and 2 at both ends, the fast engine equal to the tick-by-tick
reference, and deadlocks reported (naming the FIFO) instead of hanging."""

from __future__ import annotations

import numpy as np
import pytest

from sim.schedule import Process
from sim.timing import Deadlock, solve, tick


def source(name: str, stream: str, n: int) -> Process:
    return Process(name, name, n, writes={stream: np.arange(n)})


def sink(name: str, stream: str, n: int) -> Process:
    return Process(name, name, n, reads={stream: np.arange(n)})


def both(procs, depths):
    fast, ref = solve(procs, depths), tick(procs, depths)
    for name in fast.times:
        assert np.array_equal(fast.times[name], ref.times[name]), name
    return fast


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_source_to_sink_arrival_cycles(depth):
    t = both([source("src", "s", 6), sink("snk", "s", 6)], {"s": depth})
    if depth == 1:  # a one-place FIFO passes an item every other cycle
        assert t.push["s"].tolist() == [0, 2, 4, 6, 8, 10]
        assert t.pop["s"].tolist() == [1, 3, 5, 7, 9, 11]
    else:  # two places sustain one item per cycle; the first item arrives one cycle later
        assert t.push["s"].tolist() == [0, 1, 2, 3, 4, 5]
        assert t.pop["s"].tolist() == [1, 2, 3, 4, 5, 6]


def test_slow_sink_throttles_through_a_full_fifo():
    slow = Process("snk", "snk", 10, reads={"s": np.array([0, 3, 6, 9])})  # reads every third op
    t = both([source("src", "s", 4), slow], {"s": 2})
    assert t.pop["s"].tolist() == [1, 4, 7, 10]
    assert t.push["s"].tolist() == [0, 1, 2, 5]  # item 3 waits for item 1's pop (cycle 4)


def test_unit_between_source_and_sink():
    """A matrix-vector unit with 3 synapse folds and 2 neuron folds over 2 pixels: reads on the
    first neuron fold, one output beat per neuron fold."""
    ops = 2 * 3 * 2
    unit = Process(
        "mvu", "mvu", ops, reads={"a": np.array([0, 1, 2, 6, 7, 8])}, writes={"b": np.array([2, 5, 8, 11])}
    )
    t = both([source("src", "a", 6), unit, sink("snk", "b", 4)], {"a": 2, "b": 2})
    assert t.times["mvu"].tolist() == list(range(1, 13))  # every input arrives in time: no stall
    assert t.push["b"].tolist() == [3, 6, 9, 12]
    assert t.pop["b"].tolist() == [4, 7, 10, 13]


def test_line_trace():
    trace: list[str] = []
    tick([source("src", "s", 2), sink("snk", "s", 2)], {"s": 1}, trace=trace)
    # cycle 1: the one-place FIFO is still full ('w'); cycle 2: item 1 is not visible yet ('r')
    assert trace == ["     0 #r", "     1 w#", "     2 #r", "     3 .#"]


def diamond(shortcut_depth: int, n: int = 40):
    """fork -> (slow branch: 10-cycle bursts) and (shortcut) -> add: a residual block."""
    fork = Process(
        "fork", "fork", n, reads={"in": np.arange(n)}, writes={"x": np.arange(n), "y": np.arange(n)}
    )
    slow = Process("conv", "conv", n + 10, reads={"x": np.arange(n)}, writes={"x2": np.arange(10, n + 10)})
    add = Process(
        "add", "add", n, reads={"x2": np.arange(n), "y": np.arange(n)}, writes={"out": np.arange(n)}
    )
    return [source("src", "in", n), fork, slow, add, sink("snk", "out", n)], {
        "in": 2,
        "x": 2,
        "y": shortcut_depth,
        "x2": 2,
        "out": 2,
    }


def test_shortcut_fifo_too_small_is_a_named_deadlock():
    procs, depths = diamond(shortcut_depth=4)
    with pytest.raises(Deadlock) as exc:
        solve(procs, depths)
    assert exc.value.fifo == "y"  # the full shortcut, whose reader waits for the other branch
    assert "FIFO" in str(exc.value) and "deadlock at cycle" in str(exc.value)
    procs, depths = diamond(shortcut_depth=12)
    both(procs, depths)  # deep enough: completes, and both engines agree


@pytest.mark.parametrize("seed", range(5))
def test_fast_engine_equals_tick_engine_on_random_pipelines(seed):
    rng = np.random.default_rng(seed)
    n = 30
    procs, depths = [source("p0", "s0", n)], {}
    for i in range(1, 5):
        ops = n + int(rng.integers(0, 20))
        reads = np.sort(rng.choice(ops, size=n, replace=False))
        writes = np.sort(rng.choice(ops, size=n, replace=False))
        procs.append(Process(f"p{i}", f"p{i}", ops, reads={f"s{i - 1}": reads}, writes={f"s{i}": writes}))
        depths[f"s{i - 1}"] = int(rng.integers(1, 4))
    procs.append(sink("p5", "s4", n))
    depths["s4"] = 1
    both(procs, depths)
