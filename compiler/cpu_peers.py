"""Float peers of a compiled model, timed on the same machine: the model's float twin (same
architecture and shapes, real weights and activations, ReLU) under PyTorch fp32 and under
onnxruntime fp32. Used by `--target cpu` (report.json `latency_ms`) and benchmarks/cpu_latency.py.
Weights are the twin's initial ones: latency does not depend on their values."""

from __future__ import annotations

import contextlib
import io
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def median_ms(fn, rounds: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, rounds)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def float_twin(checkpoint_or_config):
    """The float twin (eval mode) of the model in a bireal-hw checkpoint (or of a BiRealConfig)."""
    from bireal_hw.checkpoint import read_checkpoint
    from bireal_hw.models import BiRealConfig, build_model

    cfg = checkpoint_or_config
    if not isinstance(cfg, BiRealConfig):
        cfg = BiRealConfig.from_dict(read_checkpoint(cfg)["config"])
    return build_model(cfg.replace(quantized=False)).eval()


def pytorch_ms(model, x, threads: int, rounds: int) -> float:
    import torch

    torch.set_num_threads(threads)
    with torch.inference_mode():
        return median_ms(lambda: model(x), rounds)


def export_onnx(model, x, path: Path, opset: int = 17) -> str:
    """Export `model` at input `x` to `path`; returns which exporter worked. The TorchScript
    exporter (deprecated, present in torch 2.13) writes opset 17 directly; the torch.export one
    is the fallback."""
    import torch

    errors = []
    for dynamo in (False, True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sink = io.StringIO()
                with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                    torch.onnx.export(
                        model,
                        (x,),
                        str(path),
                        dynamo=dynamo,
                        opset_version=opset if not dynamo else max(opset, 18),
                        input_names=["input"],
                        output_names=["output"],
                        external_data=False,
                    )
            return "dynamo" if dynamo else "torchscript"
        except Exception as exc:  # noqa: BLE001 - try the other exporter, report both on failure
            errors.append(f"dynamo={dynamo}: {exc!r}")
    raise RuntimeError("torch.onnx.export failed with both exporters:\n" + "\n".join(errors))


def onnxruntime_session(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def onnxruntime_ms(model, x, threads: int, rounds: int) -> float:
    """Median ms of `model` (float) exported to ONNX and run by onnxruntime's CPU provider with
    every graph optimization. Raises if its output is not close to PyTorch's."""
    return median_ms(onnxruntime_runner(model, x, threads), rounds)


def onnxruntime_runner(model, x, threads: int):
    """A call running `model` (float) exported to ONNX under onnxruntime's CPU provider with every
    graph optimization, once; raises if its output is not close to PyTorch's."""
    import torch

    with torch.inference_mode():
        expected = model(x).detach().numpy()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(model, x, path)
        session = onnxruntime_session(path, threads)
    feed = {session.get_inputs()[0].name: x.detach().numpy().astype(np.float32)}
    got = session.run(None, feed)[0]
    scale = float(np.abs(expected).max()) or 1.0
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-3, atol=1e-3 * scale):
        raise RuntimeError(
            f"onnxruntime output differs from PyTorch (shapes {got.shape} vs {expected.shape})"
        )
    return lambda: session.run(None, feed)


def peer_latencies(checkpoint, shape: tuple[int, ...], threads: int, rounds: int) -> dict[str, float]:
    """{"pytorch_fp32": ms, "onnxruntime_fp32": ms (when onnxruntime is installed)} for the float
    twin at batch 1 and input `shape` (C, H, W)."""
    import importlib.util

    import torch

    twin = float_twin(checkpoint)
    x = torch.rand(1, *shape, generator=torch.Generator().manual_seed(0))
    out = {"pytorch_fp32": pytorch_ms(twin, x, threads, rounds)}
    if importlib.util.find_spec("onnxruntime") is not None:
        out["onnxruntime_fp32"] = onnxruntime_ms(twin, x, threads, rounds)
    return out
