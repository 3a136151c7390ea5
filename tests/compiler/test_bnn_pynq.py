"""The Brevitas bnn_pynq zoo (bireal_hw.bnn_pynq: CNV, LFC, SFC, TFC at W1A1, W1A2, W2A2), exported
unchanged, on small versions of the 12 models: every structure they use imports exactly (the
float pre-processing absorbed into the input quantizer, a bipolar input, BatchNorm -> sign as one
threshold, 2-bit activations, max pools on bipolar and 2-bit maps, the TensorNorm tail in the
output dequantizer), agrees with Brevitas' own float forward, and builds for sim (all 12), fpga
and cpu (the structures' representatives) with the build's == checks. What the IR cannot take is
refused in one line."""

from __future__ import annotations

import contextlib
import io
import json

import brevitas.nn as qnn
import numpy as np
import pytest
import torch
from torch import nn

import compiler
from bireal_hw import bnn_pynq
from compiler.build import main
from compiler.frontend import load_model_graph
from compiler.ir import BIPOLAR, execute
from compiler.ir.ops.dequantize_output import dequantize
from compiler.passes import PassManager, streamline_passes
from compiler.verification import logits_tensor, verification_images
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """name -> (torch model, exported ONNX path) of the 12 small models."""
    folder = tmp_path_factory.mktemp("zoo")
    out = {}
    for name in bnn_pynq.MODELS:
        net = bnn_pynq.build(name, seed=1, small=True)
        out[name] = (net, bnn_pynq.export(net, bnn_pynq.zoo_model(name).input_shape, folder / f"{name}.onnx"))
    return out


def _images(name: str, n: int) -> np.ndarray:
    _, c, h, w = bnn_pynq.zoo_model(name).input_shape
    return verification_images("fashion-mnist" if c == 1 else None, (c, h, w), n, 5)[0]


@pytest.mark.parametrize("name", bnn_pynq.MODELS)
def test_each_model_imports_its_structures_exactly(zoo, name):
    net, path = zoo[name]
    z = bnn_pynq.zoo_model(name)
    graph = load_model_graph(path).graph
    ops = [n.op for n in graph.nodes]
    q = graph.nodes[0].attrs
    assert ops[0] == "quantize_input"
    if z.arch == "cnv":  # 2x - 1 then an 8-bit signed grid of step 2^-7: pixels k/256 - 128
        assert (q.scale, q.offset, q.qmin, q.qmax) == (1 / 256, -128, -128, 127)
        assert ops.count("max_pool") == 2
    elif z.in_bits == 1:  # sign(2x - 1): a bipolar input, cut at 0.5
        assert q.bipolar and q.cut == 0.5 and graph.tensors[graph.nodes[0].outputs[0]].dtype == BIPOLAR
    else:  # 2x - 1 on the 2-bit narrow grid of step 1: round(2x) - 1
        assert (q.scale, q.offset, q.qmin, q.qmax) == (0.5, -1, -1, 1)
    if z.arch != "cnv":
        assert ops[1] == "flatten"  # the float image was flattened first
    dq = graph.nodes[-1].attrs
    assert graph.nodes[-1].op == "dequantize_output" and dq.offset != 0 and dq.scale > 0  # TensorNorm
    streamlined = PassManager(streamline_passes()).run(graph.copy())
    thresholds = [n for n in streamlined.nodes if n.op == "multi_threshold"]
    assert thresholds and "requantize" not in [n.op for n in streamlined.nodes]
    bipolar = [n for n in thresholds if streamlined.tensors[n.outputs[0]].dtype == BIPOLAR]
    assert len(bipolar) == (len(thresholds) if z.act_bits == 1 else 0)
    for n in bipolar:  # one threshold per channel, kept twice: outputs exactly -1 or +1
        t = streamlined.consts[n.inputs[1]]
        assert n.attrs.qmin == -1 and t.shape[1] == 2 and (t[:, 0] == t[:, 1]).all()
    # the integers, dequantized, are Brevitas' own float forward up to float32 rounding
    x = _images(name, 48)
    logits = logits_tensor(graph)
    ints = execute(graph, np.ascontiguousarray(x.transpose(0, 2, 3, 1), dtype=np.float64), outputs=[logits])[
        logits
    ]
    ours = dequantize(dq, ints).reshape(len(x), -1)
    theirs = bnn_pynq.float_forward(net, x).reshape(len(x), -1)
    close = np.abs(ours - theirs).max(axis=1) <= 1e-3 * (1 + np.abs(theirs).max(axis=1))
    assert close.mean() >= 0.95, f"{int((~close).sum())} of {len(x)} images differ from Brevitas"
    assert (ours.argmax(1) == theirs.argmax(1)).mean() >= 0.95
    assert len({row.tobytes() for row in ints}) > 4  # the images tell the classes apart


@pytest.mark.parametrize("name", bnn_pynq.MODELS)
def test_each_model_builds_on_sim_bit_exact(zoo, name, tmp_path):
    result = compiler.compile(zoo[name][1], "sim", tmp_path / "sim", verify_images=64)
    bit_exact = result.report["bit_exact"]
    assert result.ok and bit_exact["mismatches"] == 0 and bit_exact["images"] == 64
    assert bit_exact["distinct_outputs"] > 4
    if bnn_pynq.zoo_model(name).weight_bits * 8 <= 16:  # the CNV stem (8-bit x bipolar) in LUTs
        assert result.report["resources"]["DSP"] == 0


@pytest.mark.parametrize("name", ["tfc_w1a1", "cnv_w1a2", "cnv_w1a1"])
def test_structures_build_on_fpga_bit_exact(zoo, name, tmp_path):
    """bipolar input pixels (their stream bits on the bus), the 2x - 1 offset, 2-bit maps and max
    pools, LUT MACs with sign-bit weights, bipolar thresholds stored once: C-simulation and the
    deploy driver == the reference."""
    result = compiler.compile(zoo[name][1], "fpga", tmp_path / "fpga", verify_images=48)
    assert result.ok and result.report["csim"]["mismatches"] == 0


@pytest.mark.parametrize("name", ["tfc_w1a1", "cnv_w2a2"])
def test_structures_build_on_cpu_bit_exact(zoo, name, tmp_path):
    pytest.importorskip("tvm")
    result = compiler.compile(zoo[name][1], "cpu", tmp_path / "cpu", verify_images=48)
    assert result.ok and result.report["bit_exact"]["mismatches"] == 0


def test_full_size_tfc_matches_finn_folding_and_memory_placement(tmp_path):
    """At FINN's own point (zcu104, 10,000 fps, 100 MHz) TFC W1A1 runs at the slowest layer's
    7,168 cycles (the matrix units' inputs double-buffered), weights deeper than 128 words in
    block RAM and no DSPs."""
    path = bnn_pynq.export_model("tfc_w1a1", tmp_path / "tfc.onnx")
    r = compiler.compile(
        path, "sim", tmp_path / "sim", verify_images=16, board="zcu104", fps=10000, clock_mhz=100
    ).report
    assert r["analytical_cycles_per_frame"] == 7168 and r["cycles_per_frame"] == 7168
    assert r["resources"]["DSP"] == 0
    assert all(layer.get("cycle_error", 0) == 0 for layer in r["layers"])  # each kernel alone, as modelled
    for layer in r["layers"]:
        for m in layer["memories"]:
            what, shape, kind = m.split(": ")[0], m.split(": ")[1].split()[0], m.split()[-2]
            depth = int(shape.split("x")[1])
            if what.startswith(("weights", "thresholds")):
                assert kind == ("BRAM36" if depth > 128 else "LUTRAM" if depth > 1 else "CONST"), m


class _Normalized(nn.Module):
    """Per-channel normalization before the input quantizer: no scalar grid can absorb it."""

    def __init__(self, shift) -> None:
        super().__init__()
        self.shift = shift
        self.q = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
        self.fc = qnn.QuantLinear(12, 3, bias=False, weight_bit_width=4)

    def forward(self, x):
        return self.fc(torch.flatten(self.q(x - self.shift), 1))


class _Reversed(nn.Module):
    """Logits multiplied by a negative constant: the class order reversed."""

    def __init__(self) -> None:
        super().__init__()
        self.q = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
        self.fc = qnn.QuantLinear(12, 3, bias=False, weight_bit_width=4)

    def forward(self, x):
        return self.fc(torch.flatten(self.q(x), 1)) * -2.0


@pytest.mark.parametrize(
    "module, message",
    [
        (_Normalized(torch.tensor([0.1, 0.2, 0.3]).reshape(1, 3, 1, 1)), "only scalar constants"),
        (_Normalized(torch.tensor(0.3)), "not a whole number of the quantizer's steps"),
        (_Reversed(), "only a positive one is supported"),
    ],
)
def test_what_the_ir_cannot_take_is_one_line(module, message, tmp_path, capsys):
    from brevitas.export import export_qonnx

    path = tmp_path / "m.onnx"
    with contextlib.redirect_stdout(io.StringIO()):
        export_qonnx(module.eval(), torch.rand(1, 3, 2, 2), export_path=str(path))
    code, out, err = run_cli(
        main, capsys, "--model", str(path), "--target", "ir", "--out", str(tmp_path / "o")
    )
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("error")]
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err and not (tmp_path / "o").exists()


def test_zoo_models_by_name_on_the_cli(tmp_path, capsys):
    code, out, err = run_cli(
        main, capsys, "--model", "tfc_w2a2", "--target", "ir", "--out", str(tmp_path / "o")
    )
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert code == 0 and report["bit_exact"]["mismatches"] == 0 and report["random_weights"]
    assert report["source"]["kind"] == "zoo" and "TFC W2A2" in report["source"]["name"]
    code, _, err = run_cli(
        main,
        capsys,
        "--model",
        "cnv_w1a1",
        "--residual-bits",
        "4",
        "--target",
        "ir",
        "--out",
        str(tmp_path / "p"),
    )
    assert (
        code == 2 and err.strip().count("\n") == 0 and "--residual-bits applies to the Bi-Real models" in err
    )
