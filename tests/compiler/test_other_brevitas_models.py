"""A Brevitas network that is not Bi-Real (4-bit weights, BN + QuantReLU, max pool, a flatten of a
2x2 map into the classifier), exported raw with `brevitas.export.export_qonnx`: the IR equals its
own import (exact QONNX semantics) after every pass, and qonnx's executor (float32, the peer
reference) within half an output unit, the documented rounding of the classifier bias onto the
logits' integer grid."""

from __future__ import annotations

import contextlib
import io

import brevitas.nn as qnn
import numpy as np
import onnx
import pytest
import torch
from torch import nn

from compiler.frontend import load_model_graph
from compiler.ir import execute
from compiler.passes import PassManager, lowering_passes, streamline_passes


class SmallCNV(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
        self.c1 = qnn.QuantConv2d(3, 8, 3, padding=1, bias=False, weight_bit_width=4)
        self.bn1 = nn.BatchNorm2d(8)
        self.r1 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.pool = nn.MaxPool2d(2)
        self.c2 = qnn.QuantConv2d(8, 6, 3, bias=False, weight_bit_width=4)
        self.bn2 = nn.BatchNorm2d(6)
        self.r2 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.fc = qnn.QuantLinear(6 * 2 * 2, 5, bias=True, weight_bit_width=4)

    def forward(self, x):
        x = self.pool(self.r1(self.bn1(self.c1(self.inp(x)))))
        x = self.r2(self.bn2(self.c2(x)))
        return self.fc(torch.flatten(x, 1))


@pytest.fixture(scope="module")
def cnv_onnx(tmp_path_factory):
    from brevitas.export import export_qonnx

    torch.manual_seed(0)
    model = SmallCNV().eval()
    with torch.no_grad():
        for bn in (model.bn1, model.bn2):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.uniform_(-1, 1)  # negative gammas too
            bn.bias.uniform_(-1, 1)
    path = tmp_path_factory.mktemp("cnv") / "cnv.onnx"
    with contextlib.redirect_stdout(io.StringIO()):
        export_qonnx(model, torch.rand(1, 3, 8, 8), export_path=str(path))
    return path


def images(n: int = 48) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(n, 3, 8, 8)).astype(np.float32) / 255


def test_generic_brevitas_model_is_exact_after_every_pass(cnv_onnx):
    graph = load_model_graph(cnv_onnx).graph
    x = images().transpose(0, 2, 3, 1).astype(np.float64)
    want = execute(graph, x)[graph.outputs[0]]
    for p in streamline_passes() + lowering_passes():
        graph = PassManager([p], verify_each=True).run(graph)
        assert np.array_equal(execute(graph, x)[graph.outputs[0]], want), p.name
    ops = [n.op for n in graph.nodes]
    assert "flatten" in ops and "max_pool" in ops and "requantize" not in ops


def test_generic_brevitas_model_matches_qonnx_executor(cnv_onnx):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    graph = PassManager(streamline_passes() + lowering_passes()).run(load_model_graph(cnv_onnx).graph)
    x = images()
    ours = execute(graph, x.transpose(0, 2, 3, 1).astype(np.float64))[graph.outputs[0]]
    wrapper = ModelWrapper(onnx.load(str(cnv_onnx)))
    iname, oname = wrapper.graph.input[0].name, wrapper.graph.output[0].name
    theirs = np.concatenate([execute_onnx(wrapper, {iname: x[i : i + 1]})[oname] for i in range(len(x))])
    unit = float(graph.nodes[-1].attrs.scale)
    assert np.abs(ours - theirs).max() / unit <= 0.5 + 1e-3
    assert (ours.argmax(1) == theirs.argmax(1)).all()
