"""The integer golden against an independent float64 computation of the same trained model.

The float64 reference below never touches thresholds: it dequantizes every weight, runs the
convolutions, BatchNorm and the residual quantizer in float64 (round half to even, saturate),
exactly as the model's definition reads. The residual stream must agree with `==` after the stem
and after every block.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bireal_hw.integer import integer_model
from bireal_hw.models import Padding, Stem, build_model
from bireal_hw.quantizers import bipolar_sign
from tests.conftest import randomize_batchnorm


def _bn64(bn, y):
    shape = (1, -1, 1, 1)
    mean, var = bn.running_mean.double().view(shape), bn.running_var.double().view(shape)
    gamma, beta = bn.weight.detach().double().view(shape), bn.bias.detach().double().view(shape)
    return gamma * (y - mean) / torch.sqrt(var + float(np.float32(bn.eps))) + beta


def _wq64(conv):
    """Integer weights times their float32 scale, in float64 (Brevitas' value is float32)."""
    qw = conv.quant_weight()
    return torch.round(qw.value.detach().double() / qw.scale.detach().double()) * qw.scale.detach().double()


def float64_reference(model, pixels):
    cfg = model.cfg
    res = model.residual_quant.act_quant.fused_activation_quant_proxy.tensor_quant
    s_r = float(res.scale().detach())

    def quant(y):
        return torch.clamp(torch.round(y / s_r), res.qmin, res.qmax)  # integers, float64

    s_in = float(model.input_quant.act_quant.scale())
    x = pixels.double() * s_in
    stem = model.stem_conv
    r = quant(_bn64(model.stem_bn, F.conv2d(x, _wq64(stem), stride=stem.stride, padding=stem.padding)))
    if cfg.stem is Stem.IMAGENET:
        r = F.max_pool2d(r, 3, 2, 1)
    trace = [r]
    for blk in model.blocks:
        a = bipolar_sign(r * s_r)
        w = blk.conv.quant_weight().value.detach().double()  # sign(W) * alpha
        if cfg.padding is Padding.ZERO:
            y = F.conv2d(a, w, stride=blk.conv.stride, padding=1)
        else:
            y = F.conv2d(
                F.pad(a, (1, 1, 1, 1), value=cfg.padding.value_after_sign), w, stride=blk.conv.stride
            )
        q = quant(_bn64(blk.bn, y))
        if blk.downsample is None:
            sc = r
        else:
            ds = blk.downsample
            pooled = F.avg_pool2d(r * s_r, ds.pool.kernel_size, ds.pool.kernel_size)
            sc = quant(_bn64(ds.bn, F.conv2d(pooled, _wq64(ds.conv))))
        r = torch.clamp(q + sc, res.qmin, res.qmax)
        trace.append(r)
    feats = (r * s_r).mean(dim=(2, 3))
    logits = feats @ _wq64(model.fc).t() + model.fc.bias.detach().double()
    return trace, logits


CASES = [
    # (seed, widths, blocks, padding, residual bits, in_channels, size)
    (0, (5, 7, 9), (1, 2, 1), "zero", 8, 1, 28),
    (1, (3, 6, 6), (2, 1, 1), "plus_one", 6, 1, 28),
    (2, (8, 11, 13), (1, 1, 2), "minus_one", 4, 3, 32),
    (3, (7, 7, 5), (1, 1, 1), "zero", 3, 3, 20),
    (4, (9, 9, 12), (2, 2, 1), "plus_one", 8, 1, 28),
]


@pytest.mark.parametrize("case", CASES, ids=[f"seed{c[0]}-{c[3]}-{c[4]}b" for c in CASES])
def test_golden_equals_float64_reference(case):
    seed, widths, blocks, padding, bits, channels, size = case
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = build_model(
        "bireal_small",
        widths=widths,
        stage_blocks=blocks,
        padding=padding,
        residual_bits=bits,
        in_channels=channels,
        image_size=size,
    )
    randomize_batchnorm(model, gen)
    res = model.residual_quant.act_quant.fused_activation_quant_proxy.tensor_quant
    res.set_scale(float(torch.rand(1, generator=gen)) * 0.3 + 0.02)
    model.eval()
    golden = integer_model(model)
    pixels = torch.randint(0, 256, (6, channels, size, size), generator=gen)
    pixels[0] = 0  # an all-zero image puts many signs exactly at 0
    pixels[1] = 255
    with torch.no_grad():
        trace64, logits64 = float64_reference(model, pixels)
    trace = golden.residual_trace(pixels)
    assert len(trace) == len(trace64)
    for i, (a, b) in enumerate(zip(trace, trace64, strict=False)):
        assert a.dtype == torch.int64
        assert torch.equal(a, b.to(torch.int64)), f"seed {seed}: residual stream differs after step {i}"
    # the classifier bias is rounded onto the logits' integer grid: at most half a unit apart
    r = trace[-1]
    unit = golden.output_scale(r.shape[2] * r.shape[3])
    assert (golden.real_logits(pixels) - logits64).abs().max() <= unit / 2 + 1e-9


def test_golden_matches_qat_forward_on_random_model():
    gen = torch.Generator().manual_seed(7)
    model = build_model("bireal_small", widths=(8, 12, 16), stage_blocks=(1, 1, 1))
    randomize_batchnorm(model, gen, gamma_signs=False)
    model.eval()
    golden = integer_model(model)
    pixels = torch.randint(0, 256, (16, 1, 28, 28), generator=gen)
    with torch.no_grad():
        qat = model(pixels.float() / 255)
    assert torch.equal(golden.quantize_input(pixels.float() / 255), pixels)
    agree = (golden(pixels).argmax(1) == qat.argmax(1)).float().mean()
    assert agree == 1.0


def test_bireal18_golden_runs_at_224_with_exact_accumulators():
    gen = torch.Generator().manual_seed(3)
    model = build_model("bireal18")
    randomize_batchnorm(model, gen)
    model.eval()
    golden = integer_model(model)
    pixels = torch.randint(0, 256, (1, 3, 224, 224), generator=gen)
    with torch.no_grad():
        trace64, _ = float64_reference(model, pixels)
    trace = golden.residual_trace(pixels)
    assert [tuple(t.shape) for t in trace][-1] == (1, 512, 7, 7)
    assert all(torch.equal(a, b.to(torch.int64)) for a, b in zip(trace, trace64, strict=False))


def test_golden_refuses_float_twin_and_float_inputs():
    with pytest.raises(ValueError):
        integer_model(build_model("bireal_small", quantized=False))
    golden = integer_model(build_model("bireal_small", widths=(4, 4, 4), stage_blocks=(1, 1, 1)).eval())
    with pytest.raises(TypeError):
        golden(torch.rand(1, 1, 28, 28))


@pytest.mark.parametrize(
    "widths,blocks,stem,padding,bits,size",
    [
        ((16, 32), (1, 2), "small", "zero", 8, 16),
        ((8, 12, 20), (2, 1, 1), "small", "plus_one", 3, 12),
        ((16, 8), (1, 1), "imagenet", "minus_one", 5, 29),
    ],
)
def test_bottleneck_golden_equals_the_exact_reference_and_the_qat_forward(
    widths, blocks, stem, padding, bits, size
):
    """Bi-Real-50's blocks: the golden's logits == the Fraction reference's on random pixels, and
    its argmax that of the QAT forward (BN with positive gamma, so no tie is decided by float32)."""
    from bireal_hw.exact_reference import ExactBiReal

    gen = torch.Generator().manual_seed(len(widths) + size)
    torch.manual_seed(size)
    overrides = dict(widths=widths, stage_blocks=blocks, stem=stem, padding=padding, residual_bits=bits)
    model = build_model("bireal50", **overrides, in_channels=3, num_classes=7, image_size=size)
    randomize_batchnorm(model, gen, gamma_signs=False)
    model.eval()
    golden = integer_model(model)
    pixels = torch.randint(0, 256, (12, 3, size, size), generator=gen)
    logits = golden(pixels)
    assert np.array_equal(logits.numpy(), ExactBiReal(model)(pixels.numpy()))
    assert len(np.unique(logits.numpy(), axis=0)) > 1
    with torch.no_grad():
        qat = model(pixels.float() / 255)
    assert (golden.real_logits(pixels).argmax(1) == qat.argmax(1)).float().mean() >= 11 / 12


def test_bireal50_golden_runs_at_224_with_exact_accumulators():
    gen = torch.Generator().manual_seed(5)
    model = build_model("bireal50")
    randomize_batchnorm(model, gen)
    model.eval()
    pixels = torch.randint(0, 256, (1, 3, 224, 224), generator=gen)
    trace = integer_model(model).residual_trace(pixels)
    assert len(trace) == 17 and tuple(trace[-1].shape) == (1, 2048, 7, 7)
    assert len(torch.unique(trace[-1])) > 16  # the wide stream is not degenerate
