"""`--target cpu` on the embedded default model: one TVM library whose outputs equal the golden
with ==, loaded back through compiler.runtime."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from compiler.build import main
from tests.conftest import run_cli

pytest.importorskip("tvm")
pytestmark = pytest.mark.tvm


def test_default_model_cpu_library_equals_the_golden(tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = run_cli(main, capsys, "--target", "cpu", "--out", str(out), "--verify-images", "50")
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    assert report["ok"] and report["bit_exact"] == {
        "images": 50,
        "mismatches": 0,
        "source": "4 grid extremes + 23 fashion-mnist test images + 23 random integers in [0, 255] (seed 0)",
        "reference": "pytorch-integer",
        "distinct_outputs": 50,
    }
    assert report["latency_ms"]["ours"] > 0 and report["latency_ms"]["pytorch_fp32"] > 0
    for name in report["cpu"]["artifacts"]:
        assert (out / name).is_file(), name
    # the runtime alone (no compiler import) reproduces the logits
    script = (
        "import sys, numpy as np; from compiler.runtime import CompiledModel; "
        "from compiler.verification import verification_images; "
        f"m = CompiledModel({str(out / 'cpu')!r}); x, _ = verification_images('fashion-mnist', (1, 28, 28), 3, 0); "
        "a = m.run(x); print(a.tolist()); "
        # the caller's array read in place (8-byte aligned only), or copied when not C-contiguous
        "buf = np.empty(x.size + 1); v = buf[1:].reshape(x.shape); v[:] = x; "
        "assert v.ctypes.data % 64 != 0 and (m.run(v) == a).all() and (m.run(np.asfortranarray(x)) == a).all(); "
        "assert 'compiler.build' not in sys.modules and 'compiler.backends.tvm_cpu' not in sys.modules"
    )
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr[-800:]
    from compiler.build import DEFAULT_MODEL
    from compiler.verification import golden_reference, verification_images

    x, _ = verification_images("fashion-mnist", (1, 28, 28), 3, 0)
    assert json.loads(first.stdout) == golden_reference(DEFAULT_MODEL).run(x).tolist()


@pytest.mark.slow
def test_default_model_cpu_on_all_test_images(tmp_path):
    from compiler.build import DEFAULT_MODEL, BuildConfig, Target, build

    cfg = BuildConfig(model=DEFAULT_MODEL, out=tmp_path / "out", target=Target.CPU, verify_images=10_000)
    report = build(cfg, progress=lambda msg: None)
    assert report["bit_exact"]["images"] == 10_000 and report["bit_exact"]["mismatches"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bireal18", "bireal34", "bireal50"])
def test_bireal_at_224_cpu_equals_the_golden(name, tmp_path):
    import torch

    from bireal_hw.checkpoint import save_checkpoint
    from bireal_hw.models import build_model, model_config
    from compiler.build import BuildConfig, Target, build
    from tests.conftest import randomize_batchnorm

    torch.manual_seed(0)
    model = build_model(model_config(name)).eval()  # the default 8-bit residual grid: 255 thresholds
    randomize_batchnorm(model, torch.Generator().manual_seed(1))
    ckpt = tmp_path / f"{name}.pt"
    save_checkpoint(ckpt, model)
    report = build(
        BuildConfig(model=ckpt, out=tmp_path / "out", target=Target.CPU, verify_images=3),
        progress=lambda m: None,
    )
    assert report["bit_exact"]["images"] == 3 and report["bit_exact"]["mismatches"] == 0


def test_four_bit_grid_model_with_byte_offsets_equals_the_golden(tmp_path):
    """bireal_small on a 4-bit residual grid: its downsample convs read x + 8 as bytes (VNNI where
    the CPU has it) and their thresholds absorb the offset; the logits stay equal."""
    import torch

    from bireal_hw.checkpoint import save_checkpoint
    from bireal_hw.models import build_model, model_config
    from compiler.backends.tvm_cpu import fused
    from compiler.backends.tvm_cpu.target import host_target
    from compiler.build import BuildConfig, Target, build
    from tests.conftest import randomize_batchnorm

    torch.manual_seed(0)
    model = build_model(model_config("bireal_small").replace(residual_bits=4)).eval()
    randomize_batchnorm(model, torch.Generator().manual_seed(2))
    ckpt = tmp_path / "small.pt"
    save_checkpoint(ckpt, model)
    report = build(
        BuildConfig(model=ckpt, out=tmp_path / "out", target=Target.CPU, verify_images=16),
        progress=lambda m: None,
    )
    assert report["bit_exact"]["images"] == 16 and report["bit_exact"]["mismatches"] == 0
    plan = json.loads((tmp_path / "out" / "cpu" / "plan.json").read_text())
    byte_maps = [k for k in plan["buffers"] if k.endswith(".bytes")]
    w = np.ones((16, 1, 1, 1), dtype=np.int64)
    if fused.vnni_applies(host_target(), w, 0, 255):
        assert len(byte_maps) >= 2  # the stem and at least one offset downsample conv
