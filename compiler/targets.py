"""The build's targets as data: each one's steps, the checks run on its flags before any work,
what it generates, and what the CLI's summary line shows. A new target (a backend) is one entry
here, its steps in compiler/steps.py and its package (docs/extending.md); compiler/build.py has
no table of its own.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import Enum

LOWERED = ("import", "streamline", "lower")
IR_STEPS = (*LOWERED, "verify")
# the dataflow design comes before the verify step: an --fps, --folding or board the model cannot
# meet is refused seconds after the import, before the verification's minutes
HW_STEPS = (*LOWERED, "dataflow", "verify", "simulate")


@dataclass(frozen=True)
class TargetSpec:
    name: str
    steps: tuple[str, ...]
    preflight: tuple[str, ...] = ()  # "module:function" checks of the config, run before any work
    folders: tuple[str, ...] = ()  # generated project folders (replaced whole; removed on failure)
    files: tuple[str, ...] = ()  # other generated artifacts a user would run
    summary: tuple[str, ...] = ()  # report sections with images and mismatches for the summary line
    default_verify_images: int = 1000
    optional: tuple[str, ...] = ()  # steps that run only when the config's flag of the same name is set
    default_board: str = "zcu104"
    default_clock_mhz: float = 200.0
    external_weights: bool = False  # matrix units may stream their weights from DRAM (default "auto")


TARGETS: dict[str, TargetSpec] = {
    t.name: t
    for t in [
        TargetSpec("ir", IR_STEPS),
        TargetSpec("sim", HW_STEPS, preflight=("compiler.preflight:hardware_flags",), external_weights=True),
        TargetSpec(
            "fpga",
            (*HW_STEPS, "codegen", "csim", "package"),
            preflight=(
                "compiler.preflight:hls4ml_installed",  # its ap_types headers for the C-simulation
                "compiler.preflight:hardware_flags",
                "compiler.preflight:zynq_block_design",
                "compiler.preflight:hls_toolchain",
            ),
            folders=("hls", "vivado", "deploy"),
            files=("deploy.zip", "Makefile"),
            summary=("csim",),
            external_weights=True,
        ),
        TargetSpec(
            "rtl",
            (*HW_STEPS, "rtlgen", "rtlsim", "synth"),
            preflight=(
                "compiler.preflight:hardware_flags",
                "compiler.preflight:zynq_block_design",
                "compiler.preflight:rtl_toolchain",
                "compiler.preflight:synth_toolchain",
            ),
            folders=("rtl",),
            summary=("rtl_sim",),
            optional=("synth",),  # --synth
        ),
        TargetSpec(
            "bitstream",
            (*HW_STEPS, "rtlgen", "rtlsim", "synth", "bitstream"),
            preflight=(
                "compiler.preflight:hardware_flags",
                "compiler.preflight:rtl_toolchain",
                "compiler.preflight:synth_toolchain",
                "compiler.preflight:bitstream_toolchain",
            ),
            folders=("rtl",),
            summary=("rtl_sim",),
            default_verify_images=100,
            default_board="ecp5-85f",
            default_clock_mhz=100.0,
        ),
        TargetSpec(
            "hls4ml",
            ("import", "streamline", "hls4ml"),
            preflight=(
                "compiler.preflight:hls4ml_installed",
                "compiler.preflight:hardware_flags",
                "compiler.preflight:hls_toolchain",
            ),
            folders=("hls4ml",),
            summary=("hls4ml",),
            default_verify_images=20,  # its C-simulation runs about one image per second
        ),
        TargetSpec(
            "cpu",
            ("import", "streamline", "fuse", "cpu"),
            preflight=("compiler.preflight:tvm_installed",),
            folders=("cpu",),
        ),
    ]
}

Target = Enum("Target", {name.upper(): name for name in TARGETS}, type=str)
Target.__doc__ = "The build targets (compiler/targets.py), by name."
Target.spec = property(lambda self: TARGETS[self.value])

# generated project folders, replaced whole: no stale kernel left behind
GENERATED_FOLDERS = tuple(dict.fromkeys(f for t in TARGETS.values() for f in t.folders))
# what a user would run: a failed build leaves none of them
ARTIFACTS = (
    *GENERATED_FOLDERS,
    *dict.fromkeys(f for t in TARGETS.values() for f in t.files),
    "model.ir",
    "model.ir.npz",
)


def run_preflight(spec: TargetSpec, cfg) -> None:
    for ref in spec.preflight:
        module, function = ref.split(":")
        getattr(importlib.import_module(module), function)(cfg)
