"""`--target cpu` on the embedded default model: one TVM library whose outputs equal the golden
with ==, loaded back through compiler.runtime."""

from __future__ import annotations

import json
import subprocess
import sys

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
    assert report["bit_exact"] == {
        "images": 50,
        "mismatches": 0,
        "source": "fashion-mnist test[:50]",
        "reference": "pytorch-integer",
    }
    assert report["latency_ms"]["ours"] > 0
    for name in report["cpu"]["artifacts"]:
        assert (out / name).is_file(), name
    # the runtime alone (no compiler import) reproduces the logits
    script = (
        "import sys, numpy as np; from compiler.runtime import CompiledModel; "
        "from compiler.verification import verification_images; "
        f"m = CompiledModel({str(out / 'cpu')!r}); x, _ = verification_images('fashion-mnist', (1, 28, 28), 3, 0); "
        "print(m.run(x).tolist()); "
        "assert 'compiler.build' not in sys.modules and 'compiler.backends.tvm_cpu' not in sys.modules"
    )
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr[-800:]
    from compiler.build import DEFAULT_MODEL
    from compiler.verification import golden_reference, verification_images

    x, _ = verification_images("fashion-mnist", (1, 28, 28), 3, 0)
    assert json.loads(first.stdout) == golden_reference(DEFAULT_MODEL).run(x).tolist()
