"""The host CPU as a TVM target: the CPU name LLVM detects on this machine (never the string
"native"), its core count, given as a target dict (TVM 0.27)."""

from __future__ import annotations

import os


def host_target(threads: int | None = None):
    import tvm

    mcpu = tvm.get_global_func("tvm.codegen.llvm.GetHostCPUName")()
    return tvm.target.Target({"kind": "llvm", "mcpu": str(mcpu), "num-cores": threads or os.cpu_count() or 1})


def compile_funcs(funcs: dict, target=None):
    """tvm.compile of PrimFuncs for the host, their parallel loops as claimed tasks on x86
    (tasks.py). StorageRewrite is off: it merges the fused kernels' per-task scratch buffers and
    drops their stack annotation, which sends them to heap workspaces that LLVM cannot keep in
    registers (measured: 2x slower binary convs)."""
    import tvm

    from compiler.backends.tvm_cpu.tasks import applies, claimed_tasks

    target = target or host_target()
    if applies(target):
        threads = int(target.attrs.get("num-cores", 1))
        funcs = {name: claimed_tasks(f, threads) for name, f in funcs.items()}
    with tvm.transform.PassContext(config={"tirx.disable_storage_rewrite": True}):
        return tvm.compile(tvm.IRModule(funcs), target=target)
