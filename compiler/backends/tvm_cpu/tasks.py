"""Parallel tasks claimed at run time instead of split in fixed halves.

TVM runs `for i in T.parallel(E)` as one fixed, contiguous range of i per thread, so a kernel
takes as long as its slowest thread. On a virtual machine one vCPU is at times markedly slower
than the other (measured on this 2-vCPU machine: every kernel about 1.3x slower for whole
passes of 20 runs after the process slept, while one thread alone ran steadily), and a fixed
split then waits for it.

`claimed_tasks` rewrites a kernel's top-level parallel loop so that its E tasks are claimed, in
runs of ceil(E / 8T) tasks (about 8 claims per thread: one atomic per run keeps the claims' cost
below the measured noise, where one per task cost the 1 us quantizer rows about 10%). Each of the
T threads owns the contiguous range of claims TVM would have given it and walks it forward,
taking each with an atomic bit-test-and-set (`lock bts`) on a bitmap of one bit per claim; when
it meets a claim already taken, it steals from the other ranges, walking each backward from its
end until it meets a taken claim. Every task runs exactly once: a range is eaten from its front
by its owner and from its back by at most one thief, each stopping where the other has been.
With equal threads each runs its own range, as before; with a slow one, the fast one finishes
the slow one's range.

The bitmap lives on the calling thread's stack, zeroed before the loop and padded by a cache
line on each side so the workers' atomics never share a line with the caller's own data. The
atomic is the x86 intrinsic `llvm.x86.atomic.bts.rm` (TVM's CPU backend has no atomics); other
targets keep TVM's fixed split.
"""

from __future__ import annotations

GUARD = 8  # uint64 words of padding on each side of the bitmap: one cache line
CLAIMS_PER_THREAD = 8  # claims in each thread's range


def applies(target) -> bool:
    """Whether `target` (an llvm Target) is x86-64, where the claim uses `lock bts`."""
    triple = str(target.attrs.get("mtriple", "")) if target is not None else ""
    if not triple:
        import tvm

        triple = str(tvm.get_global_func("tvm.codegen.llvm.GetDefaultTargetTriple")())
    return triple.startswith("x86_64")


def _top_parallel(body):
    """(index in the top-level statement list, the loop) of the function's parallel loop."""
    from tvm import tirx

    stmts = list(body.seq) if isinstance(body, tirx.SeqStmt) else [body]
    for i, s in enumerate(stmts):
        if isinstance(s, tirx.For) and s.kind == tirx.ForKind.PARALLEL:
            return stmts, i, s
    return stmts, -1, None


def claimed_tasks(func, threads: int):
    """`func` with its top-level `T.parallel` loop (if any, of more tasks than `threads`) run as
    claimed tasks (see the module docstring); the loop body is unchanged."""
    import tvm
    from tvm import tirx

    stmts, at, loop = _top_parallel(func.body)
    if loop is None or not isinstance(loop.extent, tirx.IntImm) or int(loop.extent) <= threads:
        return func
    n_tasks, dt = int(loop.extent), str(loop.loop_var.ty)
    size = -(-n_tasks // (threads * CLAIMS_PER_THREAD))  # tasks per claim
    n_claims = -(-n_tasks // size)  # the claims: bits of the bitmap, split in T ranges
    nt = tirx.const(threads, dt)

    def c(v):
        return tirx.const(v, dt)

    stack = {"disable_lower_builtin": tirx.IntImm("bool", 1)}
    words = GUARD + (n_claims + 63) // 64 + GUARD
    bits = tirx.decl_buffer((words,), "uint64", name="claimed", scope="local")
    state = tirx.decl_buffer((2,), dt, name="claim_state", scope="local")  # round, step
    w = tirx.Var("w", "int32")
    clear = tirx.For(w, 0, words, tirx.ForKind.SERIAL, tirx.BufferStore(bits, tirx.const(0, "uint64"), [w]))

    t = tirx.Var("thread", dt)
    rnd, step = tirx.BufferLoad(state, [c(0)]), tirx.BufferLoad(state, [c(1)])
    seg = tirx.Var("segment", dt)
    lo, hi, item = tirx.Var("lo", dt), tirx.Var("hi", dt), tirx.Var("claim", dt)
    own = rnd == c(0)
    taken = tirx.call_llvm_intrin(
        "uint8",
        "llvm.x86.atomic.bts.rm",
        tirx.address_of(tirx.BufferLoad(bits, [c(GUARD) + tirx.floordiv(item, c(64))])),
        tirx.Cast("uint64", tirx.floormod(item, c(64))),
    )
    next_round = tirx.SeqStmt(
        [tirx.BufferStore(state, rnd + c(1), [c(0)]), tirx.BufferStore(state, c(0), [c(1)])]
    )
    # the claim's `size` tasks, each through a let of the original loop variable (a loop from
    # claim * size instead, a variable start, miscompiled the pool kernel in TVM's lowering)
    k = tirx.Var("k", dt)
    task = tirx.SeqStmt([tirx.Bind(loop.loop_var, item * c(size) + k), loop.body])
    if n_tasks % size:
        task = tirx.IfThenElse(item * c(size) + k < c(n_tasks), task, None)
    run = tirx.SeqStmt(
        [tirx.For(k, c(0), c(size), tirx.ForKind.SERIAL, task), tirx.BufferStore(state, step + c(1), [c(1)])]
    )
    inside = tirx.Select(own, item < hi, item >= lo)
    body = tirx.SeqStmt(
        [
            tirx.Bind(seg, tirx.floormod(t + rnd, nt)),
            tirx.Bind(lo, tirx.floordiv(seg * c(n_claims), nt)),
            tirx.Bind(hi, tirx.floordiv((seg + c(1)) * c(n_claims), nt)),
            tirx.Bind(item, tirx.Select(own, lo + step, hi - c(1) - step)),
            tirx.IfThenElse(
                inside,
                tirx.IfThenElse(taken == tirx.const(0, "uint8"), run, next_round),
                next_round,
            ),
        ]
    )
    threads_loop = tirx.For(
        t,
        c(0),
        nt,
        tirx.ForKind.PARALLEL,
        tirx.SeqStmt(
            [
                tirx.AllocBuffer(state, stack),
                tirx.BufferStore(state, c(0), [c(0)]),
                tirx.BufferStore(state, c(0), [c(1)]),
                tirx.While(rnd < nt, body),
            ]
        ),
    )
    stmts[at : at + 1] = [tirx.AllocBuffer(bits, stack), clear, threads_loop]
    new_body = tirx.SeqStmt(stmts) if len(stmts) > 1 else stmts[0]
    return tvm.tirx.PrimFunc(func.params, new_body, func.ret_type, func.attrs)
