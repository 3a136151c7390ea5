"""Build a model: QONNX or checkpoint -> IR -> streamlined integer IR -> dataflow design + simulation.

    python -m compiler.build [--model FILE.onnx|CKPT.pt] --target ir|sim|fpga|hls4ml|cpu --out DIR
                             [--start-step S] [--stop-step S] [--verify-images N]
                             [--board B | --board-file F.json] [--fps F --clock-mhz C | --folding F.json]

Each target is a list of steps (compiler/targets.py); each step is an entry of compiler/steps.py,
implemented in its own module (the IR is saved after each one that changes it as
DIR/steps/NN_<step>.ir + .npz):
  import      the frontend: untrusted-file checks, QONNX -> IR (NHWC, exact scales)
  streamline  BN + scales -> integer thresholds; residual adds onto one integer grid
  lower       conv -> sliding window + matmul; bipolar matmul -> XNOR-popcount; minimal widths
  verify      the final IR against the reference with `==` on every logit of N images, and
              every saved step's IR on a few of them
  dataflow    (sim) one streaming kernel per layer, folded (PE/SIMD) for --fps within --board, or
              the fastest folding that fits; analytical cycles and resources (docs/hardware.md)
  simulate    (sim) FIFO sizing, cycle-level timing, every kernel against its analytical cycles,
              and the design's outputs against the reference with `==` on N images
  codegen     (fpga) the Vitis HLS C++ project (one kernel per layer from Jinja2 templates, a
              DATAFLOW top level with the sized FIFOs), its test bench, Vitis HLS and Vivado tcl,
              the Makefile (`make hls`, `make bitstream`)
  csim        (fpga) g++ C-simulation of the generated C++ against the reference with `==` on N
              images, and every FIFO's traffic against the simulator's
  package     (fpga) deploy/ (PYNQ driver.py, design.json, bitstream slot, C-simulation library
              as a simulated board, checked by running the driver) and deploy.zip
  hls4ml      (hls4ml) the streamlined IR as an hls4ml project (Vitis backend, io_stream, exact
              integer layers), compiled and C-simulated by hls4ml, compared with `==` on N images
  fuse        (cpu) the CPU kernels' fusion groups (conv + thresholds + add + sign packing; the
              threshold + max pool), recorded on the IR's nodes (compiler/passes/cpu_fusion.py)
  cpu         (cpu) the fused IR compiled by TVM for this host's CPU, one kernel per group,
              compared with `==`

DIR gets model.ir (+ .npz), steps/, passes/<step>/ (IR text after every pass), names.json (IR
tensor -> ONNX tensor), timings.json and report.json. Everything is written to a staging folder
beside DIR and moved in at the end: a failed build leaves DIR as it was.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from bireal_hw.errors import CheckFailed, UserError, cli_main
from compiler import fingerprint as fp
from compiler.hw.boards import BOARDS, Board, choose_board
from compiler.ir import Graph, IRError, load_graph, save_graph
from compiler.steps import STEPS, run_step, step_file
from compiler.targets import ARTIFACTS, GENERATED_FOLDERS, TARGETS, Target, run_preflight

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "examples" / "fashion_mnist" / "checkpoint.pt"


@dataclass
class BuildConfig:
    """Everything a build needs; no environment variables."""

    model: Path  # .onnx (QONNX, untrusted) or a bireal_hw checkpoint (.pt)
    out: Path  # output folder
    target: Target = Target.IR
    start_step: str | None = None  # resume: run from this step on, reading the IR saved before it
    stop_step: str | None = None  # run up to and including this step
    verify_images: int = 1000  # images for the final bit-exact check (0 skips it)
    step_images: int = 4  # images for checking every saved step's IR
    reference: Path | None = None  # checkpoint whose integer golden is the reference (default: the model's)
    seed: int = 0  # random verification images, when the dataset is not on this machine
    batch: int = 250  # images per interpreter call
    board: str = "zcu104"  # --target sim: the board whose resources the design must fit
    board_file: Path | None = None  # a board of the user's own (JSON), instead of `board`
    fps: float | None = None  # frames/s to reach (None: the fastest folding that fits the board)
    clock_mhz: float = 200.0
    folding: Path | None = None  # a folding JSON instead of --fps
    sim_frames: int = 2  # frames the timing simulation runs (the interval is between the last two)

    @property
    def is_checkpoint(self) -> bool:
        return self.model.suffix.lower() in (".pt", ".pth", ".ckpt")

    def chosen_board(self) -> Board:
        return choose_board(self.board, self.board_file)


@dataclass
class BuildState:
    cfg: BuildConfig
    stage: Path  # staging folder
    report: dict = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    design: object = None  # compiler.hw.design.Design once the dataflow step ran
    reference: object = None  # compiler.verification.Reference, made on first use
    project: object = None  # compiler.backends.hls.codegen.Project once codegen ran
    csim_library: Path | None = None
    resumed: bool = False  # the run continues one in cfg.out whose fingerprint equals this one's

    def own_file(self, relative: str) -> Path | None:
        """A file this run wrote (or the run it resumes), else None: never one of another build."""
        for folder in (self.stage, self.cfg.out) if self.resumed else (self.stage,):
            if (folder / relative).is_file():
                return folder / relative
        return None


def _selected_steps(cfg: BuildConfig) -> list[str]:
    names = list(cfg.target.spec.steps)
    for flag, value in (("--start-step", cfg.start_step), ("--stop-step", cfg.stop_step)):
        if value is not None and value not in names:
            raise UserError(
                f"{flag} {value!r} is not a step of --target {cfg.target.value}; its steps are: {', '.join(names)}"
            )
    start = names.index(cfg.start_step) if cfg.start_step else 0
    stop = names.index(cfg.stop_step) if cfg.stop_step else len(names) - 1
    if start > stop:
        raise UserError(f"--start-step {cfg.start_step} comes after --stop-step {cfg.stop_step}")
    return names[start : stop + 1]


def _resume_graph(cfg: BuildConfig, first: str) -> Graph | None:
    own = list(cfg.target.spec.steps)
    if own.index(first) == 0:
        return None
    # the IR as the target's last IR-changing step before `first` saved it
    prev = [s for s in own[: own.index(first)] if STEPS[s].changes_ir][-1]
    path = cfg.out / step_file(prev)
    if not path.is_file() or not Path(str(path) + ".npz").is_file():
        raise UserError(
            f"cannot start at {first}: {path} is missing; run the earlier steps into {cfg.out} first"
        )
    try:
        return load_graph(path)
    except (IRError, ValueError, OSError) as exc:
        raise UserError(f"{path}: not a readable IR checkpoint ({str(exc).splitlines()[0][:160]})") from None


def _layer_table(graph: Graph) -> list[dict]:
    return [
        {
            "name": n.name,
            "op": n.op,
            "shape": list(graph.tensors[n.outputs[0]].shape),
            "type": str(graph.tensors[n.outputs[0]].dtype),
        }
        for n in graph.nodes
    ]


def build(cfg: BuildConfig, progress=print) -> dict:
    """Run the selected steps; returns the report (also written to cfg.out/report.json)."""
    steps = _selected_steps(cfg)
    run_preflight(cfg.target.spec, cfg)  # flags checked before any work
    if cfg.out.exists() and not cfg.out.is_dir():
        raise UserError(f"--out {cfg.out} exists and is not a folder")
    if steps[0] == "import" and not cfg.model.is_file():
        raise UserError(f"model {cfg.model} not found; give --model FILE.onnx or a checkpoint .pt")
    own_fingerprint = fp.fingerprint(cfg)
    resumed = steps[0] != cfg.target.spec.steps[0]
    if resumed:
        fp.check_resumable(cfg, own_fingerprint)
    graph = _resume_graph(cfg, steps[0])
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{cfg.out.name}.staging-", dir=cfg.out.parent))
    try:
        state = BuildState(cfg, stage, resumed=resumed)
        previous = cfg.out / "report.json"
        if resumed and previous.is_file():
            state.report = json.loads(previous.read_text())
        state.report.update({"target": cfg.target.value, "model": str(cfg.model)})
        state.report.pop("failed_check", None)
        records = [s for s in state.report.get("steps", []) if s["name"] not in steps]
        (stage / fp.FILE).write_text(json.dumps(own_fingerprint, indent=1))
        try:
            for name in steps:
                start = time.perf_counter()
                graph = run_step(name, graph, state)
                seconds = time.perf_counter() - start
                if STEPS[name].changes_ir:
                    save_graph(graph, stage / step_file(name))
                records.append({"name": name, "seconds": round(seconds, 3), "nodes": len(graph.nodes)})
                own = cfg.target.spec.steps
                progress(
                    f"[{own.index(name) + 1}/{len(own)}] {name} done in {seconds:.2f} s ({len(graph.nodes)} nodes)"
                )
        except UserError:
            raise
        except Exception as exc:
            failure = exc
            # a bug on a model the build accepted: one line, the traceback on file
            if not isinstance(exc, CheckFailed):
                (stage / "traceback.txt").write_text("".join(traceback.format_exception(exc)))
                first = (str(exc).strip().splitlines() or [""])[0][:200]
                failure = CheckFailed(
                    f"{name}: internal error ({type(exc).__name__}: {first}); this is a bug: "
                    f"the traceback is in {cfg.out / 'traceback.txt'}"
                )
            # the figures so far and the failed check, but no artifact that looks usable
            state.report.update({"ok": False, "failed_check": str(failure), "steps": records})
            _remove_artifacts(stage)
            (stage / "report.json").write_text(json.dumps(state.report, indent=1))
            _move_into(stage, cfg.out, fresh=not resumed, failed=True)
            raise failure from None
        save_graph(graph, stage / "model.ir")
        state.report["ok"] = True
        state.report["steps"] = records
        state.report.setdefault("layers", _layer_table(graph))
        state.report["graph"] = graph.name
        if state.names:
            (stage / "names.json").write_text(json.dumps(state.names, indent=1))
        (stage / "timings.json").write_text(json.dumps(records, indent=1))
        (stage / "report.json").write_text(json.dumps(state.report, indent=1))
        _move_into(stage, cfg.out, fresh=not resumed)
        return state.report
    finally:
        shutil.rmtree(stage, ignore_errors=True)


RUN_FOLDERS = ("steps", "passes")  # a run's own step files: a fresh run replaces the old ones whole


def _remove_artifacts(folder: Path) -> None:
    for name in ARTIFACTS:
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.is_file():
            path.unlink()


def _move_into(stage: Path, out: Path, fresh: bool, failed: bool = False) -> None:
    """Move the staged files into `out`, replacing same-named files (report.json last); a
    generated project folder the build produced replaces the old one whole, a fresh (not
    resumed) run replaces the old step files, and a failed run removes every artifact of an
    earlier build, so that nothing in `out` looks valid beside its failed report."""
    out.mkdir(parents=True, exist_ok=True)
    for name in (*GENERATED_FOLDERS, *(RUN_FOLDERS if fresh else ())):
        if ((stage / name).is_dir() or failed or name in RUN_FOLDERS) and (out / name).is_dir():
            shutil.rmtree(out / name)
    if failed:
        _remove_artifacts(out)
    files = sorted((p for p in stage.rglob("*") if p.is_file()), key=lambda p: p.name == "report.json")
    for src in files:
        dst = out / src.relative_to(stage)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)


@cli_main
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m compiler.build", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="QONNX .onnx file or bireal_hw checkpoint .pt")
    p.add_argument("--target", default="ir", choices=list(TARGETS))
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--start-step", choices=list(STEPS))
    p.add_argument("--stop-step", choices=list(STEPS))
    p.add_argument(
        "--verify-images",
        type=int,
        help="images for the bit-exact checks (0: skip; default 1000, "
        + ", ".join(
            f"{t.default_verify_images} for --target {t.name}"
            for t in TARGETS.values()
            if t.default_verify_images != 1000
        )
        + ")",
    )
    p.add_argument("--reference", help="checkpoint whose integer golden is the reference for an .onnx model")
    p.add_argument("--seed", type=int, default=0)
    hw = p.add_argument_group("--target sim and fpga")
    hw.add_argument("--board", default="zcu104", help=", ".join(BOARDS))
    hw.add_argument(
        "--board-file", help="a board of your own: JSON with its part and resources (docs/hardware.md)"
    )
    hw.add_argument("--fps", type=float, help="frames/s to reach (default: the fastest folding that fits)")
    hw.add_argument("--clock-mhz", type=float, default=200.0)
    hw.add_argument("--folding", help="folding JSON {kernel: {pe, simd}} instead of --fps")
    hw.add_argument("--sim-frames", type=int, default=2, help="frames the timing simulation runs (>= 2)")
    args = p.parse_args(argv)
    if args.sim_frames < 2:
        raise UserError("--sim-frames must be at least 2 (the interval is measured between frames)")
    if args.verify_images is None:
        args.verify_images = TARGETS[args.target].default_verify_images
    if args.verify_images < 0:
        raise UserError("--verify-images must be >= 0")
    cfg = BuildConfig(
        model=Path(args.model),
        out=Path(args.out),
        target=Target(args.target),
        start_step=args.start_step,
        stop_step=args.stop_step,
        verify_images=args.verify_images,
        reference=Path(args.reference) if args.reference else None,
        seed=args.seed,
        board=args.board,
        board_file=Path(args.board_file) if args.board_file else None,
        fps=args.fps,
        clock_mhz=args.clock_mhz,
        folding=Path(args.folding) if args.folding else None,
        sim_frames=args.sim_frames,
    )
    report = build(cfg, progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    keys = (
        "ok",
        "target",
        "model",
        "bit_exact",
        "fps",
        "cycles_per_frame",
        "latency_cycles",
        "resources",
        "fits",
    )
    summary = {k: report[k] for k in keys if k in report}
    for k in cfg.target.spec.summary:
        if k in report:
            summary[k] = {"images": report[k]["images"], "mismatches": report[k]["mismatches"]}
    summary["steps"] = {s["name"]: s["seconds"] for s in report.get("steps", [])}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
