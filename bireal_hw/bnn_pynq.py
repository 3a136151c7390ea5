"""The Brevitas `bnn_pynq` zoo (CNV, LFC, SFC, TFC at W1A1, W1A2, W2A2), the field's standard
binary networks that FINN builds, made from the installed `brevitas_examples` classes with seeded
random weights and randomized BatchNorm (nothing is downloaded) and exported unchanged with
Brevitas' own QONNX export.

Eleven of the twelve have a config file in brevitas (`cfg/*.ini`); LFC W2A2 has none and is the
LFC network (three 1024-wide layers, 2-bit input) with 2-bit weights and activations, made by the
same `fc()` constructor. `small=True` gives the same structure narrowed (CNV with 8-16 channels,
FC layers of 16-24 features) for fast tests.

BatchNorm is randomized so that the binary activations are balanced and every corner of the
folding is exercised: means spread over the accumulator's range (some exactly on accumulator
values, ties of the sign), variances around the fan-in, gammas of both signs with a few zero,
betas small. The TensorNorm tail gets a random affine map (positive gamma: it keeps the
network's argmax).
"""

from __future__ import annotations

import contextlib
import io
from configparser import ConfigParser
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np

ARCHS = ("cnv", "lfc", "sfc", "tfc")
PRECISIONS = ("w1a1", "w1a2", "w2a2")
MODELS = tuple(f"{a}_{p}" for a in ARCHS for p in PRECISIONS)
FC_FEATURES = {"lfc": (1024, 1024, 1024), "sfc": (256, 256, 256), "tfc": (64, 64, 64)}
SMALL_FC = (24, 16, 20)
SMALL_CNV = [(8, False), (8, True), (12, False), (12, True), (16, False), (16, False)]
SMALL_CNV_FC = [(16, 24), (24, 20)]


@dataclass(frozen=True)
class ZooModel:
    name: str  # e.g. "cnv_w1a1"
    arch: str
    weight_bits: int
    act_bits: int
    in_bits: int
    dataset: str  # "CIFAR10" | "MNIST"

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, 3, 32, 32) if self.arch == "cnv" else (1, 1, 28, 28)

    @property
    def cfg_name(self) -> str:
        """The name of brevitas' config file (`cnv_1w1a`), or of the one it is derived from."""
        w, a = self.weight_bits, self.act_bits
        return f"{self.arch}_{w}w{a}a" if (self.arch, w, a) != ("lfc", 2, 2) else "lfc_1w2a"


def zoo_model(name: str) -> ZooModel:
    if name not in MODELS:
        raise ValueError(f"unknown bnn_pynq model {name!r}; one of {', '.join(MODELS)}")
    arch, p = name.split("_")
    w, a = int(p[1]), int(p[3])
    in_bits = 8 if arch == "cnv" else (1 if a == 1 else 2)
    return ZooModel(name, arch, w, a, in_bits, "CIFAR10" if arch == "cnv" else "MNIST")


def _config(z: ZooModel) -> ConfigParser:
    from brevitas_examples.bnn_pynq.models import get_model_cfg

    cfg = get_model_cfg(z.cfg_name)
    cfg.set("QUANT", "WEIGHT_BIT_WIDTH", str(z.weight_bits))
    cfg.set("QUANT", "ACT_BIT_WIDTH", str(z.act_bits))
    cfg.set("QUANT", "IN_BIT_WIDTH", str(z.in_bits))
    return cfg


def build(name: str, seed: int = 0, small: bool = False):
    """The model as an eval-mode torch module with seeded random weights and randomized
    BatchNorm (a pure function of name, seed and small)."""
    import torch
    from brevitas_examples.bnn_pynq.models import CNV as cnv_module
    from brevitas_examples.bnn_pynq.models import cnv, fc

    z = zoo_model(name)
    cfg = _config(z)
    if small and z.arch != "cnv":
        cfg.set("MODEL", "OUT_FEATURES", repr(list(SMALL_FC)))
    elif z.arch != "cnv":
        cfg.set("MODEL", "OUT_FEATURES", repr(list(FC_FEATURES[z.arch])))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if z.arch == "cnv" and small:
            with (
                mock.patch.object(cnv_module, "CNV_OUT_CH_POOL", SMALL_CNV),
                mock.patch.object(cnv_module, "INTERMEDIATE_FC_FEATURES", SMALL_CNV_FC),
                mock.patch.object(cnv_module, "LAST_FC_IN_FEATURES", SMALL_CNV_FC[-1][1]),
            ):
                model = cnv(cfg)
        else:
            model = cnv(cfg) if z.arch == "cnv" else fc(cfg)
        randomize(model, np.random.default_rng(seed))
    return model.eval()


def randomize(model, rng: np.random.Generator) -> None:
    """Random BatchNorm statistics and TensorNorm affine map (see the module docstring)."""
    import torch
    from brevitas.nn import QuantConv2d, QuantLinear
    from brevitas_examples.bnn_pynq.models.tensor_norm import TensorNorm

    fan_in = None
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, QuantConv2d | QuantLinear):
                fan_in = int(np.prod(m.weight.shape[1:]))
            elif isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d) and fan_in is not None:
                n = m.num_features
                spread = float(np.sqrt(fan_in))
                mean = rng.normal(0.0, 0.5 * spread, n)
                on_value = rng.random(n) < 0.25  # exactly on an accumulator value: ties of the sign
                mean[on_value] = np.round(mean[on_value])
                gamma = rng.uniform(0.2, 1.5, n) * np.where(rng.random(n) < 0.3, -1.0, 1.0)
                gamma[rng.random(n) < 0.03] = 0.0
                m.running_mean.copy_(torch.from_numpy(mean))
                m.running_var.copy_(torch.from_numpy(rng.uniform(0.3, 1.5, n) * fan_in))
                m.weight.copy_(torch.from_numpy(gamma))
                m.bias.copy_(torch.from_numpy(rng.normal(0.0, 0.3, n)))
            elif isinstance(m, TensorNorm):
                m.running_mean.fill_(float(rng.normal(0.0, 2.0)))
                m.running_var.fill_(float(rng.uniform(0.5, 4.0)))
                m.weight.fill_(float(rng.uniform(0.5, 2.0)))
                m.bias.fill_(float(rng.normal(0.0, 1.0)))


def export(model, input_shape, path: str | Path) -> Path:
    """Brevitas' own QONNX export of `model`, unchanged."""
    import torch
    from brevitas.export import export_qonnx

    path = Path(path)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        export_qonnx(model, torch.zeros(*input_shape), export_path=str(path))
    return path


def export_model(name: str, path: str | Path, seed: int = 0, small: bool = False) -> Path:
    return export(build(name, seed, small), zoo_model(name).input_shape, path)


def float_forward(model, images: np.ndarray) -> np.ndarray:
    """Brevitas' own (float32) forward on NCHW images in [0, 1]: the logits."""
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))).numpy()


__all__ = ["MODELS", "ZooModel", "build", "export", "export_model", "float_forward", "zoo_model"]
