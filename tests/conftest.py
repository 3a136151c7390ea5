"""Shared fixtures. Every random test is seeded; a failing case prints its seed in its id."""

from __future__ import annotations

import os
import warnings

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "2")
warnings.filterwarnings("ignore", message="fast_hadamard_transform")


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    yield


def randomize_batchnorm(model: torch.nn.Module, gen: torch.Generator, gamma_signs: bool = True) -> None:
    """Random BN statistics and affine parameters, including negative and zero gamma."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_((torch.rand(c, generator=gen) - 0.5) * 4)
            m.running_var.copy_(torch.rand(c, generator=gen) * 2 + 0.1)
            gamma = torch.rand(c, generator=gen) * 1.5 + 0.05
            if gamma_signs:
                sign = torch.where(torch.rand(c, generator=gen) < 0.3, -1.0, 1.0)
                gamma = gamma * sign
                gamma[torch.rand(c, generator=gen) < 0.1] = 0.0
            m.weight.data.copy_(gamma)
            m.bias.data.copy_((torch.rand(c, generator=gen) - 0.5) * 2)


def run_cli(main, capsys, *args: str) -> tuple[int, str, str]:
    """Run a CLI `main(argv)` in-process: (exit status, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
