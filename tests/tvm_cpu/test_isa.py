"""The CPU target's popcount paths (compiler/backends/tvm_cpu/isa.py): each chosen from LLVM's
features, each compiled to its own instructions for a CPU of its kind (LLVM cross-compiles, so
this runs on any machine), each run and == the golden where this CPU has its features, and a
library built for features the CPU lacks refused in one line."""

from __future__ import annotations

import json
import re
import shutil

import pytest

tvm = pytest.importorskip("tvm")
pytestmark = pytest.mark.tvm

from bireal_hw.errors import UserError  # noqa: E402
from compiler.backends.host_cpu import host_features, missing_on_host  # noqa: E402
from compiler.backends.tvm_cpu import fused, isa  # noqa: E402
from compiler.backends.tvm_cpu.fused import Epilogue  # noqa: E402
from compiler.backends.tvm_cpu.target import compile_funcs, host_target  # noqa: E402

# a CPU of each kind, by LLVM name: Ice Lake server and Zen 4 (VPOPCNTDQ), Cascade Lake (AVX-512BW
# only), Zen 3 and Haswell (AVX2), and the x86-64-v2 baseline
KINDS = {
    "icelake-server": "vpopcntdq",
    "znver4": "vpopcntdq",
    "cascadelake": "avx512bw",
    "skylake-avx512": "avx512bw",
    "znver3": "avx2",
    "haswell": "avx2",
    "x86-64-v2": "portable",
}


def target(mcpu: str):
    return tvm.target.Target({"kind": "llvm", "mcpu": mcpu, "num-cores": 2})


@pytest.mark.parametrize("mcpu", KINDS)
def test_the_path_follows_the_cpus_features(mcpu):
    assert isa.path_of(target(mcpu)).name == KINDS[mcpu]


def assembly(lib) -> str:
    return "".join(m.inspect_source("asm") for m in [lib.mod, *lib.mod.imports] if m.kind == "llvm")


# each path's count instructions, and what it must not contain (a zmm register in an AVX2 library
# would die of SIGILL on its CPU)
SIGNATURE = {
    "vpopcntdq": (r"vpopcntq\s+%zmm", r"vpshufb\s+%zmm"),
    "avx512bw": (r"vpshufb\s+%zmm", r"vpopcntq"),
    "avx2": (r"vpshufb\s+%ymm", r"%zmm"),
    "portable": (r"pshufb\s+%xmm", r"%[yz]mm"),
}


@pytest.mark.parametrize("mcpu", ["icelake-server", "cascadelake", "znver3", "x86-64-v2"])
@pytest.mark.parametrize("c", [5, 64, 300])
def test_each_path_compiles_to_its_own_instructions(mcpu, c):
    """Checked on LLVM's assembly for a CPU of that kind, whatever CPU runs the test."""
    path = KINDS[mcpu]
    spec = fused.BinaryConv(1, 10, 10, c, 32, (8, 8), (3, 3), (1, 1), (0, 0), (3, 3), path)
    asm = assembly(compile_funcs({"f": fused.binary_conv_kernel(spec, Epilogue(), "f")}, target(mcpu)))
    must, never = SIGNATURE[path]
    assert re.search(must, asm), (path, must)
    assert not re.search(never, asm), (path, never)
    if path in ("vpopcntdq", "avx512bw"):
        assert re.search(r"vpternlogq", asm)  # the carry-saves


def runnable() -> list[str]:
    return [p for p in isa.ORDER if isa.has_features(host_target(), isa.PATHS[p].needs)]


def test_auto_takes_the_best_path_this_cpu_has():
    assert isa.path_of(host_target()).name == runnable()[0]
    assert "portable" in runnable()
    assert not missing_on_host(isa.target_features(host_target()))  # the VM's hidden features removed


def test_a_forced_path_builds_for_its_generic_level():
    for path in runnable()[1:]:
        t = host_target(isa=path)
        assert isa.path_of(t).name == path
        assert str(t.attrs["mcpu"]) == isa.PATHS[path].level


def test_a_path_this_cpu_lacks_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(isa, "host_cpu", lambda: "x86-64-v3")  # as if on an AVX2-only CPU
    with pytest.raises(UserError) as e:
        isa.cpu_target("vpopcntdq")
    message = str(e.value)
    assert "\n" not in message and "lacks avx512f" in message and "avx2" in message
    with pytest.raises(UserError, match="unknown"):
        isa.cpu_target("sse9")


_BUILT: dict = {}


def build_default(tmp_path_factory, path: str):
    """The default model built with --cpu-isa `path` (20 check images), once per test session."""
    from compiler.build import DEFAULT_MODEL, BuildConfig, Target, build

    if path not in _BUILT:
        out = tmp_path_factory.mktemp(path)
        report = build(
            BuildConfig(model=DEFAULT_MODEL, out=out, target=Target.CPU, verify_images=20, cpu_isa=path),
            progress=lambda m: None,
        )
        _BUILT[path] = out, report
    return _BUILT[path]


@pytest.mark.parametrize("path", ["avx512bw", "avx2", "portable"])
def test_a_forced_path_equals_the_golden_on_the_default_model(path, tmp_path_factory):
    if path not in runnable():
        pytest.skip(f"this CPU lacks {path}'s features (its kernel is compiled and checked above)")
    out, report = build_default(tmp_path_factory, path)
    assert report["bit_exact"]["images"] == 20 and report["bit_exact"]["mismatches"] == 0
    assert report["cpu"]["popcount_path"] == path
    plan = json.loads((out / "cpu" / "plan.json").read_text())
    assert plan["cpu"]["path"] == path
    assert ("avx512f" in plan["cpu"]["features"]) == (path == "avx512bw")


def test_a_library_built_for_features_this_cpu_lacks_is_refused(tmp_path_factory, tmp_path):
    from compiler.runtime import CompiledModel

    built, _ = build_default(tmp_path_factory, "portable")
    folder = tmp_path / "cpu"
    shutil.copytree(built / "cpu", folder)
    plan = json.loads((folder / "plan.json").read_text())
    lacking = sorted(f for f, has in host_features().items() if not has)
    assert lacking, "this CPU has every feature LLVM knows"
    plan["cpu"]["features"] = sorted(set(plan["cpu"]["features"]) | {lacking[0]})
    (folder / "plan.json").write_text(json.dumps(plan))
    with pytest.raises(UserError) as e:
        CompiledModel(folder)
    message = str(e.value)
    assert "\n" not in message and lacking[0] in message and "--cpu-isa" in message
    CompiledModel(built / "cpu")  # the library as built loads


def test_unknown_cpu_isa_on_the_command_line_exits_2(tmp_path, capsys):
    from compiler.build import main
    from tests.conftest import run_cli

    code, _, err = run_cli(main, capsys, "--target", "cpu", "--out", str(tmp_path / "o"), "--cpu-isa", "sse9")
    assert code == 2 and "--cpu-isa" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
