"""Peak XOR-popcount rate of this CPU, in binary ops per second (issue 6's roofline).

    python benchmarks/popcount_peak.py [--threads 2] [--seconds 0.2] [--trials 3]

One binary op = one bit XORed and counted (an XNOR-popcount MAC of a binary conv is one op here,
not two). benchmarks/popcount_peak.cpp is compiled with `g++ -O3 -march=native` into a temporary
directory and run; every thread sweeps its own two 4 KiB buffers (L1-resident) over and over.
Variants, compiled in where `-march=native` enables them and run where the CPU supports them:

- scalar_popcnt64: `__builtin_popcountll` on 64-bit words, 4 independent accumulators;
- avx2_vpshufb: Mula's nibble-lookup popcount on 256-bit vectors;
- avx512bw_vpshufb: the same on 512-bit vectors (AVX-512BW);
- avx512bw_harley_seal: carry-save-adder (vpternlogd) compression of 16 vectors, then the
  lookup; what a long binary dot product can use (it sums popcounts across many words);
- avx2_harley_seal: the same carry-saves on 256-bit vectors (vpxor/vpand/vpor), then the lookup;
- avx512_vpopcntdq: native `_mm512_popcnt_epi64`, only on CPUs with AVX512-VPOPCNTDQ;
- avx512_vpopcntdq_harley_seal: the carry-saves, then `vpopcntq`.

`PATH_VARIANTS` names the variants of each popcount path of the CPU target
(compiler/backends/tvm_cpu/isa.py): a path's peak is the best of its variants, the fastest code
its instructions allow (`peak_of_path`).

Each variant is checked against a plain bit count before it is timed; every sweep changes one
word of its data and ends with a compiler memory barrier, so no work can be folded away.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().with_suffix(".cpp")


def _compile(out_dir: Path) -> Path:
    cxx = shutil.which("g++")
    if cxx is None:
        raise RuntimeError("popcount_peak needs g++ on PATH (e.g. `apt-get install g++`)")
    exe = out_dir / "popcount_peak"
    cmd = [cxx, "-O3", "-march=native", "-std=c++17", "-pthread", "-o", str(exe), str(SOURCE)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"compiling {SOURCE.name} failed:\n{proc.stderr[-4000:]}")
    return exe


def peak_xor_popcount_gops(threads: int = 2, seconds: float = 0.2, trials: int = 3) -> dict:
    """Best XOR-popcount rate over the variants, all `threads` threads together.

    Returns {"variant": best variant, "gops": its rate in 1e9 binary ops/s, "threads": threads,
    "per_variant": {variant: gops}}; each rate is the best of `trials` runs of about `seconds`
    each (the slowest thread's time sets a run's rate).
    """
    if threads < 1:
        raise ValueError("threads must be >= 1")
    with tempfile.TemporaryDirectory() as tmp:
        exe = _compile(Path(tmp))
        proc = subprocess.run(
            [str(exe), str(threads), str(seconds), str(trials)], capture_output=True, text=True
        )
    if proc.returncode != 0:
        raise RuntimeError(f"popcount_peak failed ({proc.returncode}): {proc.stderr.strip()}")
    raw = json.loads(proc.stdout)
    per_variant = {name: v["gops"] for name, v in raw.items() if not name.startswith("_")}
    best = max(per_variant, key=per_variant.get)
    return {"variant": best, "gops": per_variant[best], "threads": threads, "per_variant": per_variant}


PATH_VARIANTS = {
    "vpopcntdq": (
        "avx512_vpopcntdq",
        "avx512_vpopcntdq_harley_seal",
        "avx512bw_harley_seal",
        "avx512bw_vpshufb",
    ),
    "avx512bw": ("avx512bw_harley_seal", "avx512bw_vpshufb"),
    "avx2": ("avx2_harley_seal", "avx2_vpshufb"),
    "portable": ("scalar_popcnt64",),
}


def peak_of_path(peak: dict, path: str) -> tuple[str, float]:
    """(variant, G/s): the best of `path`'s variants in a peak_xor_popcount_gops result."""
    rates = {k: v for k, v in peak["per_variant"].items() if k in PATH_VARIANTS[path]}
    best = max(rates, key=rates.get)
    return best, rates[best]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=0.2, help="per trial and variant")
    p.add_argument("--trials", type=int, default=3)
    args = p.parse_args()
    print(json.dumps(peak_xor_popcount_gops(args.threads, args.seconds, args.trials), indent=1))


if __name__ == "__main__":
    main()
