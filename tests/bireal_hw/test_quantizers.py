import torch

from bireal_hw.quantizers import (
    ApproxSign,
    ClippedStraightThroughSign,
    LearnedScaleIntQuant,
    MeanAbsBinaryWeightQuant,
    approx_sign_derivative,
    bipolar_sign,
    weight_scale,
)


def test_sign_of_zero_is_plus_one():
    x = torch.tensor([-1.0, -1e-30, -0.0, 0.0, 1e-30, 2.0])
    assert bipolar_sign(x).tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0, 1.0]
    assert torch.sign(torch.tensor(0.0)) == 0  # the pitfall this convention avoids


def test_approx_sign_gradient_values():
    x = torch.tensor([-2.0, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5], requires_grad=True)
    y = ApproxSign.apply(x)
    y.backward(torch.ones_like(x))
    # 2 + 2x on [-1, 0), 2 - 2x on [0, 1), 0 elsewhere
    expected = [0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 1.5, 1.0, 0.5, 0.0, 0.0]
    assert x.grad.tolist() == expected
    assert y.tolist() == [-1, -1, -1, -1, -1, 1, 1, 1, 1, 1, 1]


def test_approx_sign_derivative_matches_polynomial_on_grid():
    x = torch.linspace(-1.5, 1.5, 301, dtype=torch.float64)
    piecewise = torch.where(
        (x >= -1) & (x < 0), 2 + 2 * x, torch.where((x >= 0) & (x < 1), 2 - 2 * x, torch.zeros_like(x))
    )
    assert torch.equal(approx_sign_derivative(x), piecewise)


def test_weight_scale_is_per_channel_mean_abs_and_detached():
    w = torch.tensor([[[[1.0, -3.0]]], [[[0.5, 0.5]]]], requires_grad=True)
    alpha = weight_scale(w)
    assert alpha.shape == (2, 1, 1, 1)
    assert alpha.flatten().tolist() == [2.0, 0.5]
    assert not alpha.requires_grad


def test_binary_weight_values_and_clipped_straight_through_gradient():
    w = torch.tensor([[[[0.5, -0.25, 0.0, 2.0]]]], requires_grad=True)
    value, scale, zero_point, bit_width = MeanAbsBinaryWeightQuant()(w)
    assert scale.item() == 0.6875
    assert value.flatten().tolist() == [0.6875, -0.6875, 0.6875, 0.6875]
    assert (zero_point.item(), bit_width.item()) == (0.0, 1.0)
    value.sum().backward()
    # straight-through, scaled by alpha, zero where |w| > 1
    assert w.grad.flatten().tolist() == [0.6875, 0.6875, 0.6875, 0.0]
    w2 = torch.tensor([-1.0, 1.0, 1.5], requires_grad=True)
    ClippedStraightThroughSign.apply(w2).sum().backward()
    assert w2.grad.tolist() == [1.0, 1.0, 0.0]


def test_residual_grid_rounds_half_to_even_and_saturates():
    q = LearnedScaleIntQuant(bit_width=4, scaling_init=7.0)  # scale 1.0, range [-8, 7]
    x = torch.tensor([-9.0, -8.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 6.5, 7.5, 20.0])
    y, scale, _, bits = q(x)
    assert scale.item() == 1.0 and bits.item() == 4
    assert y.tolist() == [-8, -8, -2, -2, -0.0, 0, 2, 2, 6, 7, 7]


def test_residual_grid_gradients():
    q = LearnedScaleIntQuant(bit_width=4, scaling_init=7.0)
    x = torch.tensor([0.3, 9.0, -9.0], requires_grad=True)
    y, *_ = q(x)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 0.0]
    # d/ds: round(v) - v inside, qmax / qmin outside
    # d/d(log s) = s * d/ds with s = 1
    assert abs(q.log_scale.grad.item() - ((0 - 0.3) + 7 + (-8))) < 1e-6
