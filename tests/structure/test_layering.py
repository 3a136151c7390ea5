"""The architecture as the imports show it, and the kernel registries complete.

- no import cycle between modules, nor between subsystems (compiler.hw, compiler.ir,
  compiler.backends, ..., sim, bireal_hw; compiler's own top-level files are one);
- compiler/hw imports neither the simulator nor a backend (they sit above it);
- no kernel kind is compared as a string outside the kernel registries;
- every kernel class has its simulator values, its schedule and its HLS template.
"""

from __future__ import annotations

import ast

import pytest

from compiler.backends.hls.kernels import CONTEXTS
from compiler.backends.rtl.kernels import MODULES
from compiler.hw.kernels import KERNEL_CLASSES, InputDMA, Kernel, MatrixVector, WeightDMA, lookup
from sim.functional import VALUES
from sim.schedule import BUILDERS
from tests.structure.imports import ROOT, cycles, import_graph, modules


def subsystem(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "compiler" and len(parts) > 2:
        return ".".join(parts[:2])
    if parts[0] == "compiler" and len(parts) == 2 and modules()[module].name == "__init__.py":
        return module
    return parts[0]


def test_no_import_cycle_between_modules():
    assert cycles(import_graph()) == []


def test_no_import_cycle_between_subsystems():
    graph: dict[str, set[str]] = {}
    for m, deps in import_graph().items():
        graph.setdefault(subsystem(m), set()).update(
            subsystem(d) for d in deps if subsystem(d) != subsystem(m)
        )
    assert cycles(graph) == []
    assert "sim" not in graph["compiler.hw"] and "compiler.backends" not in graph["compiler.hw"]


def test_the_hardware_model_imports_neither_simulator_nor_backends():
    bad = [
        (m, d)
        for m, deps in import_graph().items()
        if m.startswith("compiler.hw")
        for d in deps
        if d.startswith(("sim", "compiler.backends"))
    ]
    assert bad == []


def test_the_analyzer_sees_lazy_imports():
    """A function-level import counts (the check would pass vacuously otherwise)."""
    deps = import_graph()["compiler.build"]
    assert "compiler.steps" in deps and "compiler.targets" in deps
    assert "compiler.frontend.importer" in import_graph()["compiler.ir_steps"]  # imported inside step_import


def _kind_compares(path) -> list[str]:
    """`x.kind == "mvu"`, `x.kind in ("add", ...)`, `x.kind != ...` with a kernel kind."""
    kinds = set(KERNEL_CLASSES)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        if not any(isinstance(s, ast.Attribute) and s.attr == "kind" for s in sides):
            continue
        for s in sides:
            consts = [s] if isinstance(s, ast.Constant) else list(getattr(s, "elts", []))
            if any(isinstance(c, ast.Constant) and c.value in kinds for c in consts):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_kernel_kind_string_is_compared_outside_the_registries():
    paths = [p for p in modules().values() if "compiler/hw/kernels" not in str(p)]
    paths += sorted((ROOT / "tests").rglob("*.py")) + sorted((ROOT / "benchmarks").rglob("*.py"))
    found = [hit for p in paths for hit in _kind_compares(p)]
    assert found == []


def test_the_kind_scan_finds_a_comparison(tmp_path):
    probe = ROOT / "tests" / "structure" / "_probe_tmp.py"
    try:
        probe.write_text('def f(k):\n    return k.kind == "mvu" or k.kind in ("add", "x")\n')
        assert len(_kind_compares(probe)) == 2
    finally:
        probe.unlink()


# kernel classes the RTL has no module for, and where the RTL target refuses a design holding one
NOT_IN_RTL = {
    "weight_dma": "tests/sim/test_external.py::test_the_rtl_target_refuses_a_folding_that_streams_weights"
}


@pytest.mark.parametrize("cls", list(KERNEL_CLASSES.values()), ids=list(KERNEL_CLASSES))
def test_every_kernel_class_has_values_schedule_template_and_rtl(cls):
    k = object.__new__(cls)
    k.name = cls.kind
    lookup(BUILDERS, k, "schedule")
    lookup(CONTEXTS, k, "HLS template")
    if cls.kind in NOT_IN_RTL:
        with pytest.raises(ValueError, match="no RTL module"):
            lookup(MODULES, k, "RTL module")
    else:
        lookup(MODULES, k, "RTL module")
    if cls not in (InputDMA, WeightDMA):  # the pixels; the weight words (run_functional gives both)
        lookup(VALUES, k, "functional model")


def test_a_wrong_geometry_fails_at_construction():
    with pytest.raises(TypeError):
        MatrixVector.Geometry(mw=4, mh=2, pixels=1, binary=True, simd_bits=3)  # no such field
    with pytest.raises(TypeError, match="MatrixVector.Geometry"):
        MatrixVector("mvu_0", [], [], {"mw": 4})
    with pytest.raises(ValueError, match="no schedule for kernel class"):
        lookup(BUILDERS, type("Unknown", (Kernel,), {"Geometry": dict})("u", [], [], {}), "schedule")


def test_the_core_imports_no_optional_backend():
    """`pip install -e .` without extras: the build, the API and the simulator import neither TVM
    nor hls4ml (they load only when their target runs)."""
    import subprocess
    import sys

    code = (
        "import sys, compiler.build, compiler.api, compiler.sim_step, compiler.fpga_steps, sim.functional; "
        "print(sorted(m for m in ('tvm', 'hls4ml', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_missing_extra_is_one_line(monkeypatch):
    import importlib.util

    import pytest

    from bireal_hw.errors import UserError
    from compiler import preflight
    from compiler.build import BuildConfig

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in ("tvm", "hls4ml") else real(name, *a)
    )
    for target, extra in (("cpu", "cpu"), ("hls4ml", "hls4ml"), ("fpga", "hls4ml")):
        cfg = BuildConfig(model="bireal_small", out="/tmp/unused", target=target)
        with pytest.raises(UserError, match=rf'pip install -e "\.\[{extra}\]" torch==2\.13\.0'):
            preflight.tvm_installed(cfg) if extra == "cpu" else preflight.hls4ml_installed(cfg)
