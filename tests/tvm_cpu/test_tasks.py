"""Claimed parallel tasks (compiler/backends/tvm_cpu/tasks.py): every task of a rewritten loop
runs exactly once per call, whether the threads keep to their own ranges or steal."""

from __future__ import annotations

import numpy as np
import pytest

tvm = pytest.importorskip("tvm")
pytestmark = pytest.mark.tvm

from compiler.backends.tvm_cpu.target import host_target  # noqa: E402
from compiler.backends.tvm_cpu.tasks import applies, claimed_tasks  # noqa: E402


def count_tasks(n_tasks: int):
    """PrimFunc (hits, work): hits[i] += 1 for each task i, after some work proportional to i % 7
    (uneven tasks, so the threads' progress drifts apart)."""
    from tvm.script import tirx as T

    @T.prim_func
    def f(hits: T.Buffer((n_tasks,), "int32"), work: T.Buffer((n_tasks,), "int32")):
        for i in T.parallel(n_tasks):
            acc = T.alloc_buffer((1,), "int32", scope="local", annotations={"disable_lower_builtin": True})
            acc[0] = 0
            for k in range((i % 7) * 2000):
                acc[0] = acc[0] * 3 + k
            work[i] = acc[0]
            hits[i] = hits[i] + 1

    return f.with_attr("global_symbol", "count")


def run(func, n_tasks: int, calls: int) -> np.ndarray:
    with tvm.transform.PassContext(config={"tirx.disable_storage_rewrite": True}):
        lib = tvm.compile(tvm.IRModule({"count": func}), target=host_target())
    hits = tvm.runtime.tensor(np.zeros(n_tasks, np.int32))
    work = tvm.runtime.tensor(np.zeros(n_tasks, np.int32))
    for _ in range(calls):
        lib["count"](hits, work)
    return hits.numpy()


@pytest.mark.skipif(not applies(host_target()), reason="claimed tasks use x86 lock bts")
@pytest.mark.parametrize("n_tasks", [3, 16, 17, 200, 1001])
@pytest.mark.parametrize("threads", [2, 3, 4])
def test_every_task_runs_once_per_call(n_tasks, threads):
    # more claiming threads than the pool has: a pool thread runs several of them one after the
    # other, and the first steals the later ones' ranges before they start
    func = claimed_tasks(count_tasks(n_tasks), threads)
    rewritten = "llvm.x86.atomic.bts.rm" in func.script()
    assert rewritten == (n_tasks > threads)
    assert np.array_equal(run(func, n_tasks, 20), np.full(n_tasks, 20))


def test_loops_without_parallel_tasks_are_unchanged():
    from tvm.script import tirx as T

    @T.prim_func
    def f(y: T.Buffer((8,), "int32")):
        for i in range(8):
            y[i] = i

    assert claimed_tasks(f, 2).same_as(f)
