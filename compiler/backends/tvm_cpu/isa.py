"""Which XOR-popcount code the binary convs get: chosen from the target's LLVM features (never from
the CPU's name), recorded in the library's plan, and checked against the CPU that loads it.

Paths, best first (docs/cpu.md measures each):

- `vpopcntdq`: AVX-512F/BW with AVX512-VPOPCNTDQ. One `vpopcntq` per XOR word on 512-bit vectors,
  no carry-saves (measured faster on a Zen 4; Intel Ice Lake and later, AMD Zen 4 and 5).
- `avx512bw`: AVX-512F/BW without it. Harley-Seal carry-saves on `vpternlogq`, the counts as
  weighted `vpshufb` nibble lookups summed by one `vpsadbw` (Intel Skylake-SP, Cascade Lake).
- `avx2`: 256-bit vectors, no AVX-512. The carry-saves as `vpxor`/`vpand`/`vpor`, the counts as
  LLVM's `vpshufb` nibble lookups (AMD Zen 2/3, Intel client CPUs).
- `portable`: any x86-64 (or other LLVM target): the same kernel from plain `^ & |` and popcount.

A path lower than the host's is forced (`--cpu-isa`, the benchmark's `--isa`) by building for the
generic x86-64 level of that path (`x86-64-v4`, `-v3`, `-v2`), plus the host's VNNI on the
AVX-512 level, so the other kernels lose the features above it too (an `avx2` library uses no
AVX-512 anywhere) and the library runs on any CPU of that level, Intel or AMD.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from bireal_hw.errors import UserError
from compiler.backends.host_cpu import host_cpu, missing_on_host


@dataclass(frozen=True)
class PopcountPath:
    name: str
    needs: tuple[str, ...]  # LLVM features the path's instructions need
    lanes: int  # 64-bit words per vector of the binary conv's core loop
    ternlog: bool  # carry-saves as vpternlogq
    nibbles: bool  # counts as weighted vpshufb nibble lookups (else llvm.ctpop: vpopcntq where it exists)
    level: str  # the generic LLVM CPU that forces this path ("" : the host's own)
    keep: tuple[str, ...] = ()  # host features added to that level where the host has them
    harley_seal: bool = True  # carry-save adders before the counts (else one count per term)
    tile_vectors: int = 2  # vectors of output channels per register tile


PATHS = {
    p.name: p
    for p in (
        # one vpopcntq per term: on a Zen 4, 1.24 ms against 1.57 ms with the carry-saves for
        # bireal18's binary convs, every one of the 16 faster (docs/cpu.md)
        PopcountPath(
            "vpopcntdq", ("avx512f", "avx512bw", "avx512vpopcntdq"), 8, True, False, "", harley_seal=False
        ),
        PopcountPath("avx512bw", ("avx512f", "avx512bw"), 8, True, True, "x86-64-v4", ("avx512vnni",)),
        PopcountPath("avx2", ("avx2",), 4, False, False, "x86-64-v3"),
        PopcountPath("portable", (), 8, False, False, "x86-64-v2"),
    )
}
ORDER = tuple(PATHS)  # best first
AUTO = "auto"


def has_features(target, names) -> bool:
    from tvm.target import codegen

    return all(bool(codegen.target_has_features(f, target)) for f in names)


def path_of(target) -> PopcountPath:
    """The best path whose features the target has (a non-x86 target has none: portable)."""
    return next(PATHS[n] for n in ORDER if has_features(target, PATHS[n].needs))


def cpu_target(isa: str = AUTO, threads: int | None = None):
    """The host's CPU as a TVM target dict (TVM 0.27, never "native"); a forced `isa` below the
    host's builds for that path's generic level instead. A path the host cannot run is refused
    in one line."""
    import tvm

    spec = {"kind": "llvm", "mcpu": host_cpu(), "num-cores": threads or os.cpu_count() or 1}
    # as clang's -march=native: the CPU's name, less what this CPU lacks of that name's features
    # (a VM hides some: this Zen 4's lacks mwaitx, pku, rdpru and wbnoinvd)
    absent = missing_on_host(target_features(tvm.target.Target(dict(spec))))
    if absent:
        spec["mattr"] = [f"-{f}" for f in absent]
    if isa != AUTO:
        if isa not in PATHS:
            raise UserError(f"--cpu-isa {isa!r}: unknown; choose one of {', '.join((AUTO, *ORDER))}")
        host = tvm.target.Target(dict(spec))
        missing = [f for f in PATHS[isa].needs if not has_features(host, (f,))]
        if missing:
            raise UserError(
                f"--cpu-isa {isa}: this CPU ({spec['mcpu']}) lacks {', '.join(missing)}; "
                f"choose {AUTO} or one of {', '.join(n for n in ORDER if has_features(host, PATHS[n].needs))}"
            )
        path = PATHS[isa]
        if path.level and path is not path_of(host):
            spec["mcpu"] = path.level
            spec.pop("mattr", None)
            kept = [f"+{f}" for f in path.keep if has_features(host, (f,))]
            if kept:
                spec["mattr"] = kept
    return tvm.target.Target(spec)


def target_features(target) -> list[str]:
    """Every LLVM feature the target enables (what the library's code may use)."""
    import tvm

    return sorted(str(k) for k in tvm.get_global_func("target.llvm_get_cpu_features")(target))


def build_record(target) -> dict:
    """What plan.json records of the CPU code: the path, the CPU and every feature it was built for."""
    return {
        "path": path_of(target).name,
        "mcpu": str(target.attrs.get("mcpu", "")),
        "mattr": [str(a) for a in target.attrs.get("mattr", [])],
        "features": target_features(target),
    }
