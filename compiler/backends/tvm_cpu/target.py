"""The host CPU as a TVM target: the CPU name LLVM detects on this machine (never the string
"native"), its core count, given as a target dict (TVM 0.27)."""

from __future__ import annotations

import os


def host_target(threads: int | None = None):
    import tvm

    mcpu = tvm.get_global_func("tvm.codegen.llvm.GetHostCPUName")()
    return tvm.target.Target({"kind": "llvm", "mcpu": str(mcpu), "num-cores": threads or os.cpu_count() or 1})
