"""Peer baselines for the CPU latency benchmark (issue 6): onnxruntime fp32 and OpenVINO binary.

    python benchmarks/peers.py [--rounds 10] [--threads 2]

- onnxruntime fp32 (compiler.cpu_peers.onnxruntime_ms): bireal18's float twin (ResNet-18 shapes)
  exported to ONNX and run by onnxruntime's CPU provider, its output checked against PyTorch's.
- `openvino_binary_bireal18_ms`: a Bi-Real-18-shaped network written directly in OpenVINO ops
  (random weights), every binary 3x3 conv an opset1 BinaryConvolution ("xnor-popcount").

What the OpenVINO CPU plugin needs to run its own jit binary-conv kernel (checked against
OpenVINO 2026.4.1 on AVX-512; `openvino_binary_primitives` reports what it actually picked):
- the activations are binarized by a FakeQuantize with levels=2 whose output range is
  {0, 1} (output_low=0, output_high=1; a bit 1 means +1, a bit 0 means -1). The plugin then runs
  that FakeQuantize as a "binarization" producing u1 data. A {-1, +1} FakeQuantize is NOT
  recognized: it stays f32 and the binary conv computes wrong results;
- the weights are a u1 Constant (packed LSB-first, the first element in bit 0 of byte 0). f32
  +-1 weights make the plugin insert an f32->u1 Convert that it cannot execute (compile fails);
- pad_value 0 (Bi-Real's zero padding: pads are excluded from the count), -1 or +1 all work.
With that, the binary convs' primitive type is "jit_avx512_u1" (jit_avx2_u1 / jit_sse42_u1 on
older CPUs), the BN Multiply/Add and the residual Add are fused into them as post-ops.
`openvino_binary_selftest` checks one stride-1 and one stride-2 binary block bit-exactly against
PyTorch before anything is timed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compiler.cpu_peers import median_ms, onnxruntime_ms  # noqa: E402

BIREAL18_WIDTHS = (64, 128, 256, 512)
BIREAL18_BLOCKS = (4, 4, 4, 4)


# --------------------------------------------------------------------------------------------
# OpenVINO binary Bi-Real-18
# --------------------------------------------------------------------------------------------


@dataclass
class _Block:
    cin: int
    cout: int
    stride: int
    weight: np.ndarray  # (cout, cin, 3, 3) in {-1, +1}
    scale: np.ndarray  # (cout,) folded BN
    bias: np.ndarray
    down_weight: np.ndarray | None = None  # (cout, cin, 1, 1) fp32
    down_scale: np.ndarray | None = None
    down_bias: np.ndarray | None = None


@dataclass
class BiReal18Weights:
    """Random (seeded) weights of a Bi-Real-18-shaped network; BNs already folded."""

    stem_weight: np.ndarray
    stem_scale: np.ndarray
    stem_bias: np.ndarray
    blocks: list[_Block] = field(default_factory=list)
    fc_weight: np.ndarray | None = None  # (classes, 512)
    fc_bias: np.ndarray | None = None

    @classmethod
    def random(
        cls,
        seed: int = 0,
        widths: tuple[int, ...] = BIREAL18_WIDTHS,
        blocks: tuple[int, ...] = BIREAL18_BLOCKS,
        stem_channels: int = 64,
        in_channels: int = 3,
        classes: int = 1000,
    ) -> BiReal18Weights:
        rng = np.random.default_rng(seed)

        def f32(a):
            return np.asarray(a, dtype=np.float32)

        def bn(c, gain):
            return f32(rng.uniform(0.5, 1.5, c) * gain), f32(rng.normal(0.0, 0.1, c))

        stem_w = f32(rng.normal(0, np.sqrt(2.0 / (in_channels * 49)), (stem_channels, in_channels, 7, 7)))
        w = cls(stem_w, *bn(stem_channels, 1.0))
        cin = stem_channels
        for stage, (n, width) in enumerate(zip(blocks, widths, strict=True)):
            for i in range(n):
                stride = 2 if (stage > 0 and i == 0) else 1
                weight = f32(np.where(rng.random((width, cin, 3, 3)) < 0.5, -1.0, 1.0))
                blk = _Block(cin, width, stride, weight, *bn(width, 1.0 / np.sqrt(9 * cin)))
                if stride != 1 or cin != width:
                    blk.down_weight = f32(rng.normal(0, np.sqrt(1.0 / cin), (width, cin, 1, 1)))
                    blk.down_scale, blk.down_bias = bn(width, 1.0)
                w.blocks.append(blk)
                cin = width
        w.fc_weight = f32(rng.normal(0, np.sqrt(1.0 / cin), (classes, cin)))
        w.fc_bias = f32(rng.normal(0, 0.01, classes))
        return w


def _u1_constant(pm1: np.ndarray):
    """A u1 Constant holding `pm1` (+-1 values): bit 1 = +1, packed LSB-first."""
    import openvino as ov
    import openvino.opset13 as ops

    tensor = ov.Tensor(ov.Type.u1, ov.Shape(list(pm1.shape)))
    tensor.data[:] = np.packbits((pm1 > 0).reshape(-1).astype(np.uint8), bitorder="little")
    return ops.constant(tensor)


def _ov_const(a):
    import openvino.opset13 as ops

    return ops.constant(np.asarray(a, dtype=np.float32))


def _ov_channel_affine(x, scale, bias):
    import openvino.opset13 as ops

    c = scale.shape[0]
    return ops.add(ops.multiply(x, _ov_const(scale.reshape(1, c, 1, 1))), _ov_const(bias.reshape(1, c, 1, 1)))


def _ov_sign_bits(x, channels: int):
    """FakeQuantize levels=2 to {0, 1}: the CPU plugin's binarization (x > 0 -> bit 1 = +1)."""
    import openvino.opset13 as ops

    thr = _ov_const(np.zeros((1, channels, 1, 1)))
    return ops.fake_quantize(x, thr, thr, _ov_const(0.0), _ov_const(1.0), 2)


def _ov_binary_block(x, blk: _Block, pad_value: float, name: str):
    import openvino.opset1 as o1
    import openvino.opset13 as ops

    bits = _ov_sign_bits(x, blk.cin)
    s = [blk.stride, blk.stride]
    y = o1.binary_convolution(
        bits, _u1_constant(blk.weight), s, [1, 1], [1, 1], [1, 1], "xnor-popcount", pad_value, name=name
    )
    y = _ov_channel_affine(y, blk.scale, blk.bias)
    shortcut = x
    if blk.down_weight is not None:
        if blk.stride != 1:
            shortcut = ops.avg_pool(shortcut, [blk.stride] * 2, [0, 0], [0, 0], [blk.stride] * 2, True)
        shortcut = ops.convolution(shortcut, _ov_const(blk.down_weight), [1, 1], [0, 0], [0, 0], [1, 1])
        shortcut = _ov_channel_affine(shortcut, blk.down_scale, blk.down_bias)
    return ops.add(y, shortcut)


def build_openvino_bireal18(weights: BiReal18Weights | None = None, size: int = 224, pad_value: float = 0.0):
    """The Bi-Real-18-shaped `openvino.Model` (input "input", (1, 3, size, size) f32; logits).

    Binary convs are named "binconv{i}" (i = 0..15).
    """
    import openvino as ov
    import openvino.opset13 as ops

    w = weights or BiReal18Weights.random()
    cin = w.stem_weight.shape[1]
    x = ops.parameter([1, cin, size, size], np.float32, name="input")
    y = ops.convolution(x, _ov_const(w.stem_weight), [2, 2], [3, 3], [3, 3], [1, 1])
    y = _ov_channel_affine(y, w.stem_scale, w.stem_bias)
    y = ops.max_pool(y, [2, 2], [1, 1], [1, 1], [1, 1], [3, 3]).output(0)
    for i, blk in enumerate(w.blocks):
        y = _ov_binary_block(y, blk, pad_value, f"binconv{i}")
    y = ops.reduce_mean(y, ops.constant(np.array([2, 3], np.int64)), keep_dims=False)
    y = ops.matmul(y, _ov_const(w.fc_weight), False, True)
    y = ops.add(y, _ov_const(w.fc_bias.reshape(1, -1)))
    return ov.Model([y], [x], "bireal18_binary")


def compile_openvino(model, threads: int, perf_count: bool = False):
    import openvino as ov

    config = {
        "PERF_COUNT": perf_count,
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
        "INFERENCE_PRECISION_HINT": "f32",  # no bf16 for the fp32 stem/shortcuts/FC on AMX CPUs
    }
    return ov.Core().compile_model(model, "CPU", config)


def openvino_runtime_layers(compiled) -> list[dict[str, str]]:
    """The executed graph of a compiled model: one dict per node (name, layerType,
    primitiveType, outputPrecisions, originalLayersNames = the source ops fused into it)."""
    keys = ("layerType", "primitiveType", "runtimePrecision", "outputPrecisions", "originalLayersNames")
    layers = []
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        row = {"name": op.get_friendly_name()}
        for k in keys:
            if k in info:
                row[k] = info[k].astype(str)
        layers.append(row)
    return layers


def openvino_binary_primitives(compiled=None, threads: int = 2, size: int = 224) -> dict[str, int]:
    """Primitive type -> count over the executed BinaryConvolution nodes (e.g. {"jit_avx512_u1": 16}).

    `compiled`: a compiled model to inspect; None compiles the Bi-Real-18 network first. A
    "ref*" primitive type would mean a reference fallback.
    """
    if compiled is None:
        compiled = compile_openvino(build_openvino_bireal18(size=size), threads)
    counts = Counter(
        row.get("primitiveType", "?")
        for row in openvino_runtime_layers(compiled)
        if row.get("layerType") == "BinaryConvolution"
    )
    return dict(counts)


def _torch_binary_block(x: torch.Tensor, blk: _Block, pad_value: float) -> torch.Tensor:
    import torch.nn.functional as F

    s = torch.where(x > 0, 1.0, -1.0).to(x.dtype)
    s = F.pad(s, (1, 1, 1, 1), value=pad_value)
    y = F.conv2d(s, torch.from_numpy(blk.weight).double(), stride=blk.stride)
    y = y * torch.from_numpy(blk.scale).double().view(1, -1, 1, 1) + torch.from_numpy(blk.bias).double().view(
        1, -1, 1, 1
    )
    shortcut = x
    if blk.down_weight is not None:
        if blk.stride != 1:
            shortcut = F.avg_pool2d(shortcut, blk.stride)
        shortcut = F.conv2d(shortcut, torch.from_numpy(blk.down_weight).double())
        shortcut = shortcut * torch.from_numpy(blk.down_scale).double().view(1, -1, 1, 1) + torch.from_numpy(
            blk.down_bias
        ).double().view(1, -1, 1, 1)
    return y + shortcut


def openvino_binary_selftest(pad_value: float = 0.0, threads: int = 1) -> float:
    """Check the OpenVINO binary block (sign FQ + BinaryConvolution + BN + shortcut) against
    PyTorch in float64, for a stride-1 and a stride-2/downsample block; returns the max |diff|
    (float32 rounding only) or raises. Also raises if a binary conv is not a jit kernel."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(123)
    cin, cout, size = 64, 128, 14
    worst = 0.0
    for stride, co in ((1, cin), (2, cout)):
        w = BiReal18Weights.random(seed=7, widths=(cin, co), blocks=(1, 1), stem_channels=cin)
        blk = w.blocks[1] if stride == 2 else w.blocks[0]
        x = rng.standard_normal((1, cin, size, size)).astype(np.float32)
        p = ops.parameter([1, cin, size, size], np.float32, name="input")
        compiled = compile_openvino(ov.Model([_ov_binary_block(p, blk, pad_value, "binconv")], [p]), threads)
        got = compiled(x)[0]
        ref = _torch_binary_block(torch.from_numpy(x).double(), blk, pad_value).numpy()
        err = float(np.abs(got - ref).max())
        if err > 1e-4 * max(1.0, float(np.abs(ref).max())):
            raise RuntimeError(
                f"OpenVINO binary block (stride {stride}) differs from PyTorch: max |diff| {err}"
            )
        prims = openvino_binary_primitives(compiled)
        if not prims or any(not p.startswith("jit") for p in prims):
            raise RuntimeError(f"OpenVINO binary conv is not a jit kernel: {prims}")
        worst = max(worst, err)
    return worst


_SELFTEST_DONE: set[float] = set()


def openvino_binary_bireal18(
    threads: int, rounds: int, size: int = 224, pad_value: float = 0.0, seed: int = 0
) -> dict:
    """Median ms of the OpenVINO binary Bi-Real-18 (batch 1) plus what the CPU plugin ran:
    {"ms", "binary_primitives", "layer_types", "openvino", "selftest_max_diff"}."""
    run, info = openvino_binary_bireal18_runner(threads, size, pad_value, seed)
    return {"ms": median_ms(run, rounds), **info}


def openvino_binary_bireal18_runner(threads: int, size: int = 224, pad_value: float = 0.0, seed: int = 0):
    """(a call running the OpenVINO binary Bi-Real-18 once at batch 1, what the CPU plugin ran:
    {"binary_primitives", "layer_types", "openvino", "selftest_max_diff"})."""
    import openvino as ov

    if pad_value not in _SELFTEST_DONE:
        selftest = openvino_binary_selftest(pad_value)
        _SELFTEST_DONE.add(pad_value)
    else:
        selftest = None
    compiled = compile_openvino(
        build_openvino_bireal18(BiReal18Weights.random(seed), size, pad_value), threads
    )
    request = compiled.create_infer_request()
    x = np.random.default_rng(seed + 1).random((1, 3, size, size), dtype=np.float32)
    request.infer({0: x})
    if not np.all(np.isfinite(request.get_output_tensor(0).data)):
        raise RuntimeError("OpenVINO binary Bi-Real-18 produced non-finite logits")
    layers = openvino_runtime_layers(compiled)
    return lambda: request.infer({0: x}), {
        "binary_primitives": openvino_binary_primitives(compiled),
        "layer_types": dict(Counter(f"{r.get('layerType')}:{r.get('primitiveType')}" for r in layers)),
        "openvino": ov.get_version(),
        "selftest_max_diff": selftest,
    }


def openvino_binary_bireal18_profile(
    threads: int, rounds: int, size: int = 224, pad_value: float = 0.0, seed: int = 0
) -> dict[str, float]:
    """Per executed node type ("BinaryConvolution:jit_avx512_u1", ...): summed median ms per
    inference, from the CPU plugin's PERF_COUNT counters (which add some overhead of their own)."""
    compiled = compile_openvino(
        build_openvino_bireal18(BiReal18Weights.random(seed), size, pad_value), threads, perf_count=True
    )
    request = compiled.create_infer_request()
    x = np.random.default_rng(seed + 1).random((1, 3, size, size), dtype=np.float32)
    request.infer({0: x})
    per_node: dict[tuple[str, str, str], list[float]] = {}
    for _ in range(max(1, rounds)):
        request.infer({0: x})
        for info in request.get_profiling_info():
            if str(info.status).endswith("EXECUTED"):
                key = (info.node_name, info.node_type, info.exec_type)
                per_node.setdefault(key, []).append(1000 * info.real_time.total_seconds())
    totals: Counter[str] = Counter()
    for (_, node_type, exec_type), times in per_node.items():
        totals[f"{node_type}:{exec_type}"] += statistics.median(times)
    return dict(totals.most_common())


def openvino_binary_bireal18_ms(threads: int, rounds: int, size: int = 224) -> float:
    """Median ms of `rounds` batch-1 runs of the OpenVINO binary Bi-Real-18, after warm-up."""
    return openvino_binary_bireal18(threads, rounds, size)["ms"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bireal_hw.models import build_model, model_config

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.rand(1, 3, 224, 224)
    twin = build_model(model_config("bireal18").replace(quantized=False)).eval()
    results = {"onnxruntime_fp32_resnet18_ms": onnxruntime_ms(twin, x, args.threads, args.rounds)}
    ov_result = openvino_binary_bireal18(args.threads, args.rounds)
    results["openvino_binary_bireal18_ms"] = ov_result.pop("ms")
    results.update(ov_result)
    results["openvino_profile_ms"] = openvino_binary_bireal18_profile(args.threads, args.rounds)
    print(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
