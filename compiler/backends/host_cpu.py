"""The CPU this process runs on, as LLVM sees it (its cpuid: name and features), and the check
that a CPU library (`--target cpu`) was built for features it has. Needs only TVM's runtime, so
compiler.runtime uses it without the compiler."""

from __future__ import annotations

from bireal_hw.errors import UserError


def host_cpu() -> str:
    import tvm

    return str(tvm.get_global_func("tvm.codegen.llvm.GetHostCPUName")())


def host_features() -> dict[str, bool]:
    """LLVM's features of the CPU this process runs on (its cpuid, not its name)."""
    import tvm

    return {str(k): bool(v) for k, v in tvm.get_global_func("tvm.codegen.llvm.GetHostCPUFeatures")().items()}


def missing_on_host(features: list[str], host: dict[str, bool] | None = None) -> list[str]:
    """The features this CPU lacks. LLVM's tuning flags (e.g. `fast-gather`), which cpuid does
    not report, are not features a CPU can lack."""
    host = host_features() if host is None else host
    return [f for f in features if f in host and not host[f]]


def require_host(record: dict | None, where: str) -> None:
    """Refuse, in one line, a library built for features this CPU lacks (`record`: plan.json's
    "cpu", isa.build_record), where its first AVX-512 or other instruction would kill the
    process with SIGILL."""
    if not record:
        return
    missing = missing_on_host(record["features"])
    if missing:
        raise UserError(
            f"{where}: built for {record['mcpu']} ({record['path']} popcounts) and this CPU ({host_cpu()}) lacks "
            f"{', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}; rebuild it here with --target cpu, "
            "or on the build machine with a --cpu-isa this CPU has (avx2, portable)"
        )
