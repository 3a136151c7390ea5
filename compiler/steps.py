"""The build's steps as data: where each is implemented and whether it changes the IR.

A step is a function `(graph, state) -> Graph | None` in its module (imported when the step runs,
so a build imports only what its target needs); one that returns None only reads the IR and adds
to the report. The IR is saved after every step that changes it as `steps/NN_<step>.ir` (+ .npz),
NN its index in this table. A new step is one entry here (docs/extending.md).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class StepInfo:
    name: str
    module: str
    function: str
    changes_ir: bool  # False: reads the IR, adds to the report, writes no step file


STEPS: dict[str, StepInfo] = {
    s.name: s
    for s in [
        StepInfo("import", "compiler.ir_steps", "step_import", True),
        StepInfo("streamline", "compiler.ir_steps", "step_streamline", True),
        StepInfo("lower", "compiler.ir_steps", "step_lower", True),
        StepInfo("verify", "compiler.verify_build", "run_verify", False),
        StepInfo("dataflow", "compiler.ir_steps", "step_dataflow", True),
        StepInfo("simulate", "compiler.sim_step", "run_simulation", False),
        StepInfo("codegen", "compiler.fpga_steps", "run_codegen", False),
        StepInfo("csim", "compiler.fpga_steps", "run_csim", False),
        StepInfo("package", "compiler.fpga_steps", "run_package", False),
        StepInfo("hls4ml", "compiler.hls4ml_step", "run_hls4ml", False),
        StepInfo("cpu", "compiler.cpu_step", "run_cpu", False),
        StepInfo("fuse", "compiler.ir_steps", "step_fuse", True),
        StepInfo("rtlgen", "compiler.rtl_steps", "run_rtlgen", False),
        StepInfo("rtlsim", "compiler.rtl_steps", "run_rtlsim", False),
        StepInfo("synth", "compiler.synth_steps", "run_synth", False),
        StepInfo("bitstream", "compiler.synth_steps", "run_bitstream", False),
    ]
}


def step_file(name: str) -> str:
    """Where the IR after step `name` is saved, relative to the output folder."""
    return f"steps/{list(STEPS).index(name):02d}_{name}.ir"


def run_step(name: str, graph, state):
    """Run step `name`; the IR after it (the same graph for a step that only reads it)."""
    info = STEPS[name]
    out = getattr(importlib.import_module(info.module), info.function)(graph, state)
    if info.changes_ir:
        return out
    return graph
