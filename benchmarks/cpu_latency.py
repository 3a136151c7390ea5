"""CPU latency of `--target cpu` against its peers, batch 1, all in one run on this machine.

    python benchmarks/cpu_latency.py [--rounds 20] [--threads 2] [--isa auto|vpopcntdq|avx512bw|avx2|portable]
        [--json out.json]

--isa builds our libraries for that popcount path (compiler/backends/tvm_cpu/isa.py: a forced
path builds for its generic x86-64 level); with avx2 or portable, OpenVINO is limited the one way
it offers (ONEDNN_MAX_CPU_ISA=AVX2: its oneDNN convolutions and pools), and the table names the
primitives it ran (its own BinaryConvolution and FakeQuantize kernels ignore that limit).

Measured, each as the median of 3 interleaved passes (ours, PyTorch, onnxruntime, OpenVINO, then
again), each pass the median of --rounds runs after a warm-up:
- ours: bireal18 at 224x224 (the default 8-bit residual grid; random weights and BatchNorm)
  compiled by the cpu step's code path and run through compiler.runtime; its logits are first
  checked == against the golden;
- PyTorch fp32 and onnxruntime fp32: bireal18's float twin (ResNet-18 shapes, ReLU);
- OpenVINO: a Bi-Real-18-shaped network in OpenVINO's own BinaryConvolution (xnor-popcount)
  ops, run by its CPU plugin (benchmarks/peers.py; `pip install "torch==2.13.0" openvino`);
- the machine's peak XOR-popcount rate for the popcount path in use (benchmarks/popcount_peak.py,
  the best of that path's variants, right before and after our per-kernel profile, the higher of
  the two) and the rate our binary conv kernels reach (their
  XOR-popcount MACs over their measured time, epilogues included), in 3 such pairs: the pair
  with the median fraction is reported, with all three fractions;
- the default Fashion-MNIST model: our images/s against PyTorch running the trained model.
Prints the medians, the ratios and our per-kernel times (the next bottleneck), and OpenVINO's
per-layer-type times.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.popcount_peak import peak_of_path, peak_xor_popcount_gops  # noqa: E402
from bireal_hw.checkpoint import save_checkpoint  # noqa: E402
from bireal_hw.models import build_model, model_config  # noqa: E402
from compiler.backends.host_cpu import host_cpu  # noqa: E402
from compiler.build import CPU_ISAS, DEFAULT_MODEL, BuildConfig, Target, build  # noqa: E402
from compiler.cpu_peers import median_ms, onnxruntime_runner  # noqa: E402
from compiler.runtime import CompiledModel  # noqa: E402
from tests.conftest import randomize_batchnorm  # noqa: E402

PASSES = 3  # interleaved measurement passes; each system's result is the median of its passes


def compile_cpu(checkpoint: Path, out: Path, threads: int, isa: str) -> CompiledModel:
    report = build(
        BuildConfig(model=checkpoint, out=out, target=Target.CPU, verify_images=2, cpu_isa=isa),
        progress=lambda m: None,
    )
    assert report["bit_exact"]["mismatches"] == 0, report["bit_exact"]
    return CompiledModel(out / "cpu", threads=threads)


def cpu_name() -> str:
    """This CPU's model name (/proc/cpuinfo where there is one) and LLVM's name for it."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("model name")), "")  # fmt: skip
    return f"{model or 'CPU'} ({host_cpu()}, {os.cpu_count()} cores)"


def quiet() -> None:
    """Let the other runtime's worker threads stop spinning before the next measurement."""
    time.sleep(0.5)


def binary_rate(model: CompiledModel, profile: dict[str, float]) -> tuple[float, float]:
    """(G XOR-popcount MACs per second of the binary conv kernels, their summed ms)."""
    macs = {c["kernel"]: c["binary_macs"] for c in model.plan["calls"] if c.get("binary_macs")}
    ms = sum(profile[k] for k in macs)
    return sum(macs.values()) / ms / 1e6, ms


def kernel_table(profile: dict[str, float], model: CompiledModel, top: int) -> list[str]:
    kinds = {
        c["kernel"]: ("binary conv" if c.get("binary_macs") else c["kernel"].rsplit("_", 1)[0])
        for c in model.plan["calls"]
    }
    by_kind: dict[str, float] = {}
    for k, v in profile.items():
        by_kind[kinds[k]] = by_kind.get(kinds[k], 0.0) + v
    lines = [
        "  by kind: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1]))
    ]
    for name, ms in sorted(profile.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {name:24s} {kinds[name]:16s} {ms:7.3f}")
    return lines


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument(
        "--isa", default="auto", choices=CPU_ISAS, help="our popcount path (default: the best here)"
    )
    args = p.parse_args()
    if args.isa in ("avx2", "portable"):  # before OpenVINO loads: its oneDNN reads it once
        os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"
    rounds = max(10, args.rounds)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.rand(1, 3, 224, 224)
    images = x.numpy().astype(np.float64)
    res: dict = {"threads": args.threads, "rounds": rounds, "cpu": cpu_name()}

    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(model_config("bireal18")).eval()
        randomize_batchnorm(model, torch.Generator().manual_seed(1))
        ckpt = Path(tmp) / "bireal18.pt"
        save_checkpoint(ckpt, model)
        ours = compile_cpu(ckpt, Path(tmp) / "bireal18", args.threads, args.isa)
        default = compile_cpu(DEFAULT_MODEL, Path(tmp) / "default", args.threads, args.isa)
        path = ours.plan["cpu"]["path"]
        res["popcount_path"] = {"path": path, "built_for": ours.plan["cpu"]["mcpu"]}

        twin = build_model(model_config("bireal18").replace(quantized=False)).eval()
        systems = {"ours_bireal18_ms": lambda: ours.run(images)}
        with torch.inference_mode():
            systems["pytorch_fp32_resnet18_ms"] = lambda: twin(x)
        if importlib.util.find_spec("onnxruntime") is not None:
            systems["onnxruntime_fp32_resnet18_ms"] = onnxruntime_runner(twin, x, args.threads)
        openvino_profile = {}
        if importlib.util.find_spec("openvino") is not None:
            from benchmarks.peers import openvino_binary_bireal18_profile, openvino_binary_bireal18_runner

            run_ov, ov = openvino_binary_bireal18_runner(args.threads)
            systems["openvino_binary_bireal18_ms"] = run_ov
            res["openvino"] = {
                "version": ov["openvino"],
                "binary_primitives": ov["binary_primitives"],
                "max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "(none)"),
                "primitives": sorted({k.split(":", 1)[1] for k in ov["layer_types"]} - {"unknown_f32"}),
            }
            openvino_profile = openvino_binary_bireal18_profile(args.threads, rounds)
        else:
            print('openvino is not installed (pip install "torch==2.13.0" openvino): its row is skipped')
        # interleaved passes, so a slow phase of the (virtual) machine hits every system alike
        passes: dict[str, list[float]] = {k: [] for k in systems}
        for _ in range(PASSES):
            for name, fn in systems.items():
                quiet()
                with torch.inference_mode():
                    passes[name].append(median_ms(fn, rounds))
        for name, values in passes.items():
            res[name] = statistics.median(values)
        res["passes"] = passes

        # PASSES pairs of (our per-kernel profile, the peak right before and after it, the
        # higher per variant): each fraction compares measurements of the same phase of the
        # (virtual) machine, a slow phase can neither make the peak look low (and the fraction
        # high) nor the other way round; the pair with the median fraction is reported
        pairs = []
        for _ in range(PASSES):
            quiet()
            peaks = [peak_xor_popcount_gops(args.threads)]
            profile = ours.profile(images, rounds=rounds)
            peaks.append(peak_xor_popcount_gops(args.threads))
            peak = dict(peaks[0])
            peak["per_variant"] = {k: max(p["per_variant"][k] for p in peaks) for k in peak["per_variant"]}
            peak["variant"], peak["gops"] = peak_of_path(peak, path)
            rate, binary_ms = binary_rate(ours, profile)
            pairs.append((rate / peak["gops"], peak, profile, rate, binary_ms))
        pairs.sort(key=lambda p: p[0])
        _, peak, profile, rate, binary_ms = pairs[len(pairs) // 2]
        res["peak_xor_popcount_gops"] = peak
        res["binary_convs"] = {
            "ms": binary_ms,
            "gops": rate,
            "fraction_of_peak": rate / peak["gops"],
            "fractions_of_peak_per_pair": [p[0] for p in pairs],
        }
        kernels = kernel_table(profile, ours, 12)

        from compiler.verification import verification_images

        fm, _ = verification_images("fashion-mnist", (1, 28, 28), 64, 0)
        quiet()
        ours_default_ms = median_ms(lambda: default.run(fm[:1]), rounds)

    from bireal_hw.checkpoint import load_model

    trained, _ = load_model(DEFAULT_MODEL)
    batch = torch.from_numpy(fm).float()
    with torch.inference_mode():
        pt1 = median_ms(lambda: trained(batch[:1]), rounds)
        pt64 = median_ms(lambda: trained(batch), max(3, rounds // 4))
    res["default_model_images_per_s"] = {
        "ours_batch1": 1000 / ours_default_ms,
        "pytorch_batch1": 1000 / pt1,
        "pytorch_batch64": 64 * 1000 / pt64,
    }

    ours_ms = res["ours_bireal18_ms"]
    rows = [("ours, bireal18 (XOR-popcount, TVM)", ours_ms)]
    rows.append(("PyTorch fp32, ResNet-18 shapes", res["pytorch_fp32_resnet18_ms"]))
    if "onnxruntime_fp32_resnet18_ms" in res:
        rows.append(("onnxruntime fp32, ResNet-18 shapes", res["onnxruntime_fp32_resnet18_ms"]))
    if "openvino_binary_bireal18_ms" in res:
        rows.append(("OpenVINO BinaryConvolution, Bi-Real-18", res["openvino_binary_bireal18_ms"]))
    print(
        f"\n{res['cpu']}, our popcount path {path} (built for {res['popcount_path']['built_for']}); batch 1, "
        f"224x224, {args.threads} threads, median of {PASSES} interleaved passes of {rounds} runs"
    )
    if "openvino" in res:
        o = res["openvino"]
        print(
            f"  OpenVINO {o['version']}, ONEDNN_MAX_CPU_ISA={o['max_cpu_isa']}: ran {', '.join(o['primitives'])}"
        )
    print(f"  {'':42s} {'ms':>8s} {'ours faster by':>15s}")
    for label, ms in rows:
        print(f"  {label:42s} {ms:8.2f} {ms / ours_ms:14.2f}x")
    b = res["binary_convs"]
    print(
        f"\nXOR-popcount peak of the {path} path ({peak['variant']}): {peak['gops']:.0f} G/s; our binary convs "
        f"{b['gops']:.0f} G/s in {b['ms']:.2f} ms = {100 * b['fraction_of_peak']:.0f}% of that peak (the three "
        "pairs "
        + ", ".join(f"{100 * f:.0f}%" for f in b["fractions_of_peak_per_pair"])
        + "); every variant: "
        + ", ".join(f"{k} {v:.0f}" for k, v in peak["per_variant"].items())
    )
    ips = res["default_model_images_per_s"]
    print(
        f"default model, images/s: ours {ips['ours_batch1']:.0f} (batch 1); PyTorch {ips['pytorch_batch1']:.0f} "
        f"(batch 1), {ips['pytorch_batch64']:.0f} (batch 64)"
    )
    print("\nour kernels (median ms):")
    print("\n".join(kernels))
    if openvino_profile:
        print("OpenVINO by layer type (ms, its PERF_COUNT):")
        print("  " + ", ".join(f"{k} {v:.2f}" for k, v in list(openvino_profile.items())[:6]))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
