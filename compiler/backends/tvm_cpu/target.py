"""The host CPU as a TVM target (isa.py chooses it and its popcount path), and the compile step."""

from __future__ import annotations


def host_target(threads: int | None = None, isa: str = "auto"):
    """This CPU as a TVM target (isa.cpu_target): its LLVM name less the features it lacks, or
    the generic level of a forced popcount path."""
    from compiler.backends.tvm_cpu.isa import cpu_target

    return cpu_target(isa, threads)


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
