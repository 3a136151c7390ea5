"""The build's `cpu` step (--target cpu): the streamlined IR as fused, scheduled TVM kernels for
the host CPU in one shared library (`cpu/model.so`, `params.npz`, `plan.json`), loaded back
through `compiler.runtime` and compared with the reference using == on N images, plus the
median single-image latency."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time

import numpy as np

from bireal_hw.errors import CheckFailed, UserError
from compiler.backends.tvm_cpu.network import compile_program
from compiler.backends.tvm_cpu.target import compile_funcs, host_target
from compiler.cpu_peers import median_ms, peer_latencies
from compiler.ir import Graph
from compiler.runtime import CompiledModel
from compiler.verify_build import compare, images_for, reference_for, require


def _has_ort() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def run_cpu(graph: Graph, state) -> None:

    cfg = state.cfg
    out = state.stage / "cpu"
    out.mkdir(parents=True, exist_ok=True)
    target = host_target(isa=cfg.cpu_isa)
    start = time.perf_counter()
    try:
        program = compile_program(graph, batch=1, target=target)
        lib = compile_funcs(program.funcs, target)
    except UserError:
        raise
    except Exception as exc:  # TVM's parser, lowering or LLVM: a bug of this backend, never a traceback
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
        first = next((line for line in lines if "rror" in line), lines[-1])  # TVM's "error: ..." line
        raise CheckFailed(
            f"cpu: TVM code generation failed on a model the IR accepts ({type(exc).__name__}: {first[:200]}); "
            "this is a bug of the CPU backend: report it with the model"
        ) from None
    lib.export_library(str(out / "model.so"))
    compile_seconds = time.perf_counter() - start
    np.savez(out / "params.npz", **program.params)
    (out / "plan.json").write_text(json.dumps(program.plan(), indent=1))
    model = CompiledModel(out)
    images, source = images_for(graph, cfg.verify_images, cfg.seed)
    ref = reference_for(graph, state)
    check = compare("cpu: the TVM library", model.run, ref, images, cfg.batch, source)
    bit_exact = require(check)
    mismatches = check.mismatches
    one = images[:1] if len(images) else images_for(graph, 1, cfg.seed)[0]
    latency = {"ours": median_ms(lambda: model.run(one), 20)}
    if cfg.source.has_golden:  # the float twin of the same architecture, on this machine
        progress = f"cpu: timing the float twin ({'PyTorch, onnxruntime' if _has_ort() else 'PyTorch'})"
        print(progress, file=sys.stderr)
        latency.update(
            peer_latencies(cfg.source.bireal_model().cfg, tuple(one.shape[1:]), os.cpu_count() or 1, 20)
        )
    state.report["cpu"] = {
        "target": str(target),
        "popcount_path": program.cpu["path"],  # isa.py: the binary convs' XOR-popcount code
        "built_for": {k: program.cpu[k] for k in ("mcpu", "mattr")},
        "kernels": len(program.funcs),
        "compile_seconds": round(compile_seconds, 2),
        "artifacts": ["cpu/model.so", "cpu/params.npz", "cpu/plan.json"],
    }
    state.report["bit_exact"] = bit_exact
    state.report["latency_ms"] = {k: round(v, 3) for k, v in latency.items()}
    state.report["latency_ms"]["batch"] = 1
    peers = ", ".join(f"{k} {v:.3f} ms" for k, v in latency.items() if k != "ours")
    print(
        f"cpu: {len(program.funcs)} TVM kernels ({program.cpu['path']} popcounts, {program.cpu['mcpu']}), "
        f"{len(images)} images, {mismatches} mismatches, "
        f"median latency {latency['ours']:.3f} ms" + (f" (float twin: {peers})" if peers else ""),
        file=sys.stderr,
    )
