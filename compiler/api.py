"""The Python API: `compiler.compile(model, target, out, ...)` builds a model the way
`python -m compiler.build` does and returns a `BuildResult`.

    import compiler
    from bireal_hw.models import build_model

    result = compiler.compile("bireal_small", target="sim", out="build/sim", fps=20_000)
    result.report["fps"], result.paths["folding"]
    logits = result.predict(images)  # NCHW float images in [0, 1] -> int64 logits, bit-exact

`model` is anything `python -m compiler.build --model` takes (a path to a QONNX .onnx or a
bireal_hw checkpoint .pt, a model name) or, here only, a bireal_hw `BiRealNet`, another Brevitas
`nn.Module` (with `input_shape=(1, C, H, W)`), an `onnx.ModelProto` or a qonnx `ModelWrapper`.
Keyword arguments are the fields of `compiler.build.BuildConfig` (the CLI's flags). Bad input
raises `bireal_hw.errors.UserError` (one line), a failed check `CheckFailed`; nothing is left in
`out` then but the failed report.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from compiler.build import BuildConfig, run_build
from compiler.build_log import NORMAL, QUIET, VERBOSE


@dataclass
class BuildResult:
    """What a build made: its report, the files in `out` by name, and `predict` for the targets
    that run on this machine (ir: the IR interpreter, sim: the simulator's values, fpga: the
    deploy driver on the C-simulated board, cpu: the TVM library, hls4ml: hls4ml's C-simulation)."""

    out: Path
    target: str
    report: dict
    _state: object = field(default=None, repr=False)
    _runner: object = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return bool(self.report.get("ok"))

    @property
    def paths(self) -> dict[str, Path]:
        """The build's files and folders that exist, by name (report, log, ir, folding, hls, ...)."""
        named = {
            "report": "report.json",
            "log": "build.log",
            "ir": "model.ir",
            "folding": "folding.json",
            "layers": "layers.md",
            "plot": "layers.png",
            "hls": "hls",
            "vivado": "vivado",
            "deploy": "deploy",
            "deploy_zip": "deploy.zip",
            "makefile": "Makefile",
            "cpu": "cpu",
            "hls4ml": "hls4ml",
        }
        return {k: self.out / v for k, v in named.items() if (self.out / v).exists()}

    def predict(self, images) -> np.ndarray:
        """Integer logits (N, classes) of the built form for NCHW images in [0, 1] (numpy or
        torch); the same integers as the golden, compared with == by the build's own checks."""
        x = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
        if x.ndim == 3:
            x = x[None]
        if self._runner is None:
            self._runner = _runner(self)
        return np.asarray(self._runner(np.ascontiguousarray(x, dtype=np.float32)))

    def classify(self, images) -> np.ndarray:
        """Top-1 classes of `images`."""
        logits = self.predict(images)
        return logits.reshape(len(logits), -1).argmax(1)


def _runner(result: BuildResult):
    from bireal_hw.errors import UserError
    from compiler.ir import load_graph
    from compiler.verification import graph_runner

    graph = load_graph(result.out / "model.ir")
    if result.target == "ir":
        return graph_runner(graph)
    if result.target == "sim":
        from compiler.sim_step import design_runner

        return design_runner(graph, result._state.design)
    if result.target == "fpga":
        from compiler.fpga_steps import load_driver

        accel = load_driver(result.out / "deploy").BirealAccelerator(result.out / "deploy", simulated=True)
        return lambda x: accel.execute_integer(x, batch_size=8)
    if result.target == "cpu":
        from compiler.runtime import CompiledModel

        return CompiledModel(result.out / "cpu").run
    if result.target == "hls4ml":
        from compiler.hls4ml_step import project_runner

        return project_runner(graph, result.out / "hls4ml")
    raise UserError(f"--target {result.target} has no predict on this machine")


def compile(  # noqa: A001  (the API's name, like torch.compile)
    model,
    target: str = "ir",
    out: str | Path | None = None,
    *,
    quiet: bool = True,
    verbose: bool = False,
    **config,
) -> BuildResult:
    """Build `model` for `target` into `out` (default: a new temporary folder) and return the
    result. `config`: BuildConfig's fields (verify_images, board, fps, clock_mhz, folding,
    residual_bits, seed, input_shape, ...). The build's messages go to out/build.log, and to
    stderr unless `quiet` (`verbose`: also every pass)."""
    from bireal_hw.errors import UserError

    if out is None:
        out = Path(tempfile.mkdtemp(prefix="bireal-build-")) / target
    if "verify_images" not in config:
        from compiler.targets import TARGETS

        if target in TARGETS:
            config["verify_images"] = TARGETS[target].default_verify_images
    try:
        cfg = BuildConfig(model=model, out=out, target=target, **config)
    except TypeError as exc:
        raise UserError(f"compile(): {exc}") from None
    verbosity = VERBOSE if verbose else QUIET if quiet else NORMAL
    state = run_build(cfg, progress=_stderr, verbosity=verbosity)
    return BuildResult(cfg.out, cfg.target.value, state.report, state)


def _stderr(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)
