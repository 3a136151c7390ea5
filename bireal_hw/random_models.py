"""Seeded random Bi-Real models over the space the compiler claims, for differential testing.

`draw_spec(seed)` picks a `ModelSpec` (stem, stages, widths including odd ones and
non-multiples of 64, blocks per stage, input size including odd where legal, 1 or 3 input
channels, every padding, residual grid 2-8 bits, classes); `make_model(spec)` builds it with
random weights and BatchNorm statistics that include negative, zero and tiny gamma and
thresholds landing exactly on accumulator values (ties of the half-to-even rounding), and
optionally trains it briefly on random data. Everything is a function of the spec, so a failing
case is rebuilt from its seed alone: `python -m compiler.differential --seed N`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from bireal_hw.models import (
    BinaryBranch,
    BiRealBlock,
    BiRealConfig,
    BiRealNet,
    Block,
    Downsample,
    Padding,
    Stem,
    build_model,
)


@dataclass(frozen=True)
class ModelSpec:
    """A random model: its architecture plus how its parameters are drawn."""

    seed: int
    config: BiRealConfig
    train_steps: int = 0  # Adam steps on random data after the random init (0: random weights only)

    def describe(self) -> str:
        c = self.config
        return (
            f"seed {self.seed}: {c.stem.value} stem {c.stem_channels}, "
            + ("bottleneck blocks, " if c.block is Block.BOTTLENECK else "")
            + f"widths {list(c.widths)}, "
            f"blocks {list(c.stage_blocks)}, {c.in_channels}x{c.image_size}x{c.image_size}, "
            f"{c.padding.value} padding, {c.residual_bits}-bit grid, {c.num_classes} classes"
            + (f", trained {self.train_steps} steps" if self.train_steps else "")
        )

    def to_dict(self) -> dict:
        return {"seed": self.seed, "config": self.config.to_dict(), "train_steps": self.train_steps}


# widths that probe the word and vector edges of the backends: 1, primes, just below and above
# 8, 16, 32 and 64, and a few non-multiples of 64 above it
WIDTHS = (1, 2, 3, 5, 7, 8, 9, 13, 15, 16, 17, 24, 31, 32, 33, 47, 63, 64, 65, 96, 130)


def draw_spec(seed: int, max_width: int = 130) -> ModelSpec:
    """The seeded random model number `seed` (a pure function of the seed)."""
    rng = np.random.default_rng(seed)
    widths_pool = [w for w in WIDTHS if w <= max_width]
    stem = Stem.SMALL if rng.random() < 0.75 else Stem.IMAGENET
    stages = int(rng.integers(1, 4))
    widths = tuple(int(rng.choice(widths_pool)) for _ in range(stages))
    blocks = tuple(int(rng.integers(1, 3)) for _ in range(stages))
    stem_width = int(rng.choice(widths_pool)) if rng.random() < 0.5 else 0
    # the map entering stage s must be even for every later halving stage
    unit = 2 ** (stages - 1)  # the map entering stage 1 must be a multiple of this
    if stem is Stem.SMALL:  # 3x3/1 stem: the input size is the first stage's map (odd if one stage)
        size = unit * int(rng.integers(-(-3 // unit), 16 // unit + 1))
    else:  # 7x7/2 conv then 3x3/2 pool: inputs 4m-3 .. 4m give an m x m map
        m = unit * int(rng.integers(1, max(1, 8 // unit) + 1))
        size = 4 * m - int(rng.integers(0, 4))
    cfg = BiRealConfig(
        f"random_{seed}",
        blocks,
        widths,
        stem=stem,
        in_channels=int(rng.choice([1, 3])),
        num_classes=int(rng.integers(2, 13)),
        image_size=size,
        residual_bits=int(rng.integers(2, 9)),
        padding=Padding(str(rng.choice([p.value for p in Padding]))),
        stem_width=stem_width,
    )
    train_steps = 3 if rng.random() < 0.2 else 0
    return ModelSpec(seed, cfg, train_steps)


def _randomize_batchnorm(
    bn: nn.BatchNorm2d, gen: torch.Generator, acc_scale: torch.Tensor | None, out_scale: float
) -> None:
    """Random statistics with negative, zero and tiny gamma; where `acc_scale` (per channel,
    exact in float32) is given, some channels get a mean and beta that put a rounding tie
    (y / out_scale = +-1/2 exactly) on an integer accumulator value."""
    c = bn.num_features
    u = lambda: torch.rand(c, generator=gen)  # noqa: E731
    mean = (u() - 0.5) * 4
    var = u() * 2 + 0.1
    gamma = (u() * 1.5 + 0.05) * torch.where(u() < 0.3, -1.0, 1.0)
    gamma[u() < 0.1] = 0.0
    gamma[u() < 0.1] = 1e-6  # tiny: thresholds far outside the reachable range
    beta = (u() - 0.5) * 2
    if acc_scale is not None:
        tie = u() < 0.3
        acc0 = torch.tensor([0.0, 1.0, -1.0, 2.0, -2.0, 4.0])[torch.randint(0, 6, (c,), generator=gen)]
        mean = torch.where(tie, (acc_scale.float() * acc0), mean)
        half = torch.where(u() < 0.5, 0.5, -0.5) * float(out_scale)
        beta = torch.where(tie, half, beta)
    bn.running_mean.copy_(mean)
    bn.running_var.copy_(var)
    bn.weight.data.copy_(gamma)
    bn.bias.data.copy_(beta)


def make_model(spec: ModelSpec) -> BiRealNet:
    """The quantized model of `spec`, in eval mode, parameters drawn from its seed."""
    torch.manual_seed(spec.seed)
    gen = torch.Generator().manual_seed(spec.seed)
    model = build_model(spec.config)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen))
        residual = model.residual_quant.act_quant.fused_activation_quant_proxy.tensor_quant
        # a residual scale that keeps the grid busy for these random accumulators
        residual.set_scale(float(torch.empty(()).uniform_(0.05, 0.6, generator=gen)))
    if spec.train_steps:
        _train_briefly(model, spec, gen)
    with torch.no_grad():
        out_scale = float(residual.scale())
        for unit in model.blocks.modules():  # each binary unit, then the projections it owns
            if isinstance(unit, BiRealBlock | BinaryBranch):
                alpha = unit.conv.quant_weight().scale.detach().reshape(-1)
                _randomize_batchnorm(unit.bn, gen, alpha, out_scale)
            elif isinstance(unit, Downsample):
                _randomize_batchnorm(unit.bn, gen, None, out_scale)
        _randomize_batchnorm(model.stem_bn, gen, None, out_scale)
    return model.eval()


def _train_briefly(model: BiRealNet, spec: ModelSpec, gen: torch.Generator) -> None:
    """A few Adam steps on random images and labels (moves weights, scales and BN statistics)."""
    c = spec.config
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(spec.train_steps):
        x = torch.rand((8, c.in_channels, c.image_size, c.image_size), generator=gen)
        y = torch.randint(0, c.num_classes, (8,), generator=gen)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def bottleneck_spec(seed: int) -> ModelSpec:
    """The random model of `seed` with bottleneck blocks (Bi-Real-50's): the same draw, each
    width rounded up to a multiple of 4 (the 1x1 reduce and the 3x3 take a quarter of it). Kept
    apart from `draw_spec` so that the basic models of every seed stay what they were."""
    spec = draw_spec(seed)
    widths = tuple(4 * -(-w // 4) for w in spec.config.widths)
    return spec_with(spec, widths=widths, block=Block.BOTTLENECK, name=f"random_b{seed}")


def spec_with(spec: ModelSpec, **config_changes) -> ModelSpec:
    return dataclasses.replace(spec, config=spec.config.replace(**config_changes))


class NarrowQuantNet(nn.Module):
    """A small Brevitas CNN whose input and activations are `in_bits` / `act_bits` wide, signed or
    not (2- and 3-bit maps in every position): quantized input -> conv (3-bit weights) -> BN ->
    quantizer -> unpadded conv (2-bit weights) -> BN -> quantizer -> global average pool ->
    classifier (4-bit weights)."""

    def __init__(
        self, in_bits: int, in_signed: bool, act_bits: int, act_signed: bool, channels: int = 3
    ) -> None:
        import brevitas.nn as qnn

        super().__init__()
        self.inp = qnn.QuantIdentity(bit_width=in_bits, signed=in_signed, return_quant_tensor=True)
        self.c1 = qnn.QuantConv2d(channels, 5, 3, padding=1, bias=False, weight_bit_width=3)
        self.bn1 = nn.BatchNorm2d(5)
        self.q1 = qnn.QuantIdentity(bit_width=act_bits, signed=act_signed, return_quant_tensor=True)
        self.c2 = qnn.QuantConv2d(5, 7, 3, bias=False, weight_bit_width=2)
        self.bn2 = nn.BatchNorm2d(7)
        self.q2 = qnn.QuantIdentity(bit_width=act_bits, signed=act_signed, return_quant_tensor=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = qnn.QuantLinear(7, 4, bias=True, weight_bit_width=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.q1(self.bn1(self.c1(self.inp(x))))
        x = self.q2(self.bn2(self.c2(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def narrow_onnx(path, in_bits: int, in_signed: bool, act_bits: int, act_signed: bool, seed: int = 0) -> None:
    """Export a seeded `NarrowQuantNet` (random BN with negative gamma) as QONNX to `path`."""
    import contextlib
    import io

    from brevitas.export import export_qonnx

    torch.manual_seed(seed)
    model = NarrowQuantNet(in_bits, in_signed, act_bits, act_signed).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bn in (model.bn1, model.bn2):
            _randomize_batchnorm(bn, gen, None, 1.0)
    with contextlib.redirect_stdout(io.StringIO()):
        export_qonnx(model, torch.rand(1, 3, 7, 7), export_path=str(path))
