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

import errno
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from bireal_hw import validate as v
from bireal_hw.errors import CheckFailed, UserError, cli_main
from compiler import fingerprint as fp
from compiler.backends.tvm_cpu.isa import AUTO, ORDER
from compiler.build_log import NORMAL, QUIET, VERBOSE, BuildLog
from compiler.hw.boards import BOARDS, Board, choose_board
from compiler.hw.external import MODES as EXTERNAL_MODES
from compiler.ir import Graph, IRError, load_graph, save_graph
from compiler.steps import STEPS, run_step, step_file
from compiler.targets import ARTIFACTS, GENERATED_FOLDERS, TARGETS, Target, run_preflight

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "examples" / "fashion_mnist" / "checkpoint.pt"
MAX_IMAGES = 1_000_000  # check images per build (their memory is checked against the budget too)
MAX_SIM_FRAMES = 1000  # the timing simulation's frames (its run time grows linearly)
CPU_ISAS = (AUTO, *ORDER)  # --cpu-isa: auto or a popcount path (compiler/backends/tvm_cpu/isa.py)
MIN_CLOCK_MHZ, MAX_CLOCK_MHZ = 1.0, 1000.0  # an FPGA fabric clock


@dataclass
class BuildConfig:
    """Everything a build needs; no environment variables. `validate()` (run by `build`) checks
    every value with the rules of bireal_hw.validate, so the Python API refuses what the CLI
    refuses."""

    # a QONNX .onnx (untrusted), a bireal_hw checkpoint .pt, a model name (bireal18, bireal34,
    # bireal_small: random weights), or through the API an nn.Module, ModelProto or ModelWrapper
    model: object
    out: Path  # output folder
    target: Target = Target.IR
    start_step: str | None = None  # resume: run from this step on, reading the IR saved before it
    stop_step: str | None = None  # run up to and including this step
    verify_images: int = 1000  # images for the final bit-exact check (0 skips it)
    step_images: int = 4  # images for checking every saved step's IR
    reference: Path | None = None  # checkpoint whose integer golden is the reference (default: the model's)
    seed: int = 0  # random verification images, when the dataset is not on this machine
    batch: int = 250  # images per interpreter call
    board: str | None = None  # the board the design must fit (None: the target's, zcu104 or ecp5-85f)
    board_file: Path | None = None  # a board of the user's own (JSON), instead of `board`
    fps: float | None = None  # frames/s to reach (None: the fastest folding that fits the board)
    clock_mhz: float | None = None  # None: the target's (200; --target bitstream: nextpnr's target, 100)
    folding: Path | None = None  # a folding JSON instead of --fps
    sim_frames: int = 2  # frames the timing simulation runs (the interval is between the last two)
    residual_bits: int | None = None  # a named model's residual grid (default: the model's, 8)
    input_shape: tuple[int, ...] | None = None  # (1, C, H, W) to export a Brevitas nn.Module
    synth: bool = False  # --target rtl: also synthesize with Yosys (the `synth` step)
    synth_jobs: int = 1  # Yosys runs at once, each over a group of instances (1: the whole design in one)
    cpu_isa: str = "auto"  # --target cpu: the popcount path (auto: the best this CPU has; isa.py)
    external_weights: str | None = None  # none | auto | all (None: auto where the target streams weights)

    def __post_init__(self) -> None:
        if isinstance(self.out, str) and not self.out.strip():
            raise UserError("--out is empty; give the output folder")
        self.out = Path(self.out)
        for name in ("reference", "board_file", "folding"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                setattr(self, name, Path(value))
        if isinstance(self.target, str):
            if self.target not in TARGETS:
                raise UserError(f"unknown target {self.target!r}; choose one of: {', '.join(TARGETS)}")
            self.target = Target(self.target)
        if self.board is None:
            self.board = self.target.spec.default_board
        if self.clock_mhz is None:
            self.clock_mhz = self.target.spec.default_clock_mhz
        if self.external_weights is None:
            self.external_weights = "auto" if self.target.spec.external_weights else "none"

    def validate(self) -> None:
        """One line (UserError) for any value out of its range, before any work."""
        v.check_integer("--verify-images", self.verify_images, 0, MAX_IMAGES)
        v.check_integer("step_images", self.step_images, 0, MAX_IMAGES)
        v.check_integer("--seed", self.seed, 0, 2**32 - 1)
        v.check_integer("batch", self.batch, 1, 100_000)
        v.check_integer("--sim-frames", self.sim_frames, 2, MAX_SIM_FRAMES)
        v.check_number("--clock-mhz", self.clock_mhz, MIN_CLOCK_MHZ, MAX_CLOCK_MHZ)
        if self.fps is not None:
            v.check_number("--fps", self.fps, 0, None, lo_open=True)
            if self.fps > self.clock_mhz * 1e6:
                raise UserError(
                    f"--fps {self.fps:g} at {self.clock_mhz:g} MHz would need less than one clock cycle per "
                    "frame; lower --fps or raise --clock-mhz"
                )
        if self.fps is not None and self.folding is not None:
            raise UserError("give either --fps or --folding, not both")
        if self.residual_bits is not None:
            v.check_integer("--residual-bits", self.residual_bits, 2, 16)
        if self.external_weights not in EXTERNAL_MODES:
            raise UserError(
                f"--external-weights {str(self.external_weights)[:40]!r}: choose one of {', '.join(EXTERNAL_MODES)}"
            )
        if self.external_weights != "none" and not self.target.spec.external_weights:
            raise UserError(
                f"--target {self.target.value} keeps every weight on chip; --external-weights is for "
                f"--target {' and '.join(t.name for t in TARGETS.values() if t.external_weights)}"
            )
        if self.cpu_isa not in CPU_ISAS:
            raise UserError(f"--cpu-isa {self.cpu_isa!r}: unknown; choose one of {', '.join(CPU_ISAS)}")

    @property
    def source(self):
        """The model as a compiler.model_source.ModelSource (resolved once)."""
        if "_source" not in self.__dict__:
            from compiler.model_source import resolve_model

            self.__dict__["_source"] = resolve_model(
                self.model, self.residual_bits, self.seed, self.input_shape
            )
        return self.__dict__["_source"]

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
    rtl_project: object = None  # compiler.backends.rtl.codegen.RtlProject once rtlgen ran
    resumed: bool = False  # the run continues one in cfg.out whose fingerprint equals this one's

    def own_file(self, relative: str) -> Path | None:
        """A file this run wrote (or the run it resumes), else None: never one of another build."""
        for folder in (self.stage, self.cfg.out) if self.resumed else (self.stage,):
            if (folder / relative).is_file():
                return folder / relative
        return None


def _selected_steps(cfg: BuildConfig) -> list[str]:
    spec = cfg.target.spec
    names = [s for s in spec.steps if s not in spec.optional or getattr(cfg, s, False)]
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
    """The IR a resumed run starts from: the step file of the target's last IR-changing step
    before `first`. It is read only once every step file this run may read from cfg.out (all but
    those it writes itself: the verify step reads the earlier ones too) still has the SHA-256 the
    build that wrote it recorded (compiler/fingerprint.py)."""
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
    writes = {s for s in _selected_steps(cfg) if STEPS[s].changes_ir}
    fp.check_step_files(cfg.out, [step_file(s) for s in STEPS if s not in writes])
    try:
        graph = load_graph(path)
    except IRError as exc:
        first_line = (str(exc).splitlines() or [""])[0][:160]
        raise UserError(
            f"{path}: not a readable IR checkpoint ({first_line}); run the build from its first step"
        ) from None
    return graph


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


def build(cfg: BuildConfig, progress=print, verbosity: int = NORMAL) -> dict:
    """Run the selected steps; returns the report (also written to cfg.out/report.json)."""
    return run_build(cfg, progress, verbosity).report


def _previous_report(path: Path) -> dict:
    """The report of the build this run resumes (a damaged one is refused in one line)."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as exc:
        raise UserError(
            f"cannot resume: {path} is not readable JSON ({type(exc).__name__}); run from the first step"
        ) from None
    if not isinstance(report, dict) or not all(
        isinstance(s, dict) and "name" in s for s in report.get("steps", [])
    ):
        raise UserError(f"cannot resume: {path} is not a report of this tool; run from the first step")
    return report


def _check_out(out: Path) -> None:
    """The output folder can be made and written, before any work."""
    for folder in (out, *out.parents):
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                where = "exists and is not a folder" if folder == out else f"lies under {folder}, a file"
                raise UserError(f"--out {out} {where}; choose another --out")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise UserError(
                    f"--out {out}: {folder} is not writable (read-only or no permission); choose another --out"
                )
            return


_DISK_ERRORS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
                errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied"}  # fmt: skip


def _disk_error(exc: OSError, where: str, out: Path) -> UserError | None:
    why = _DISK_ERRORS.get(exc.errno)
    return (
        UserError(f"{where}: {why} under {out.parent}; free some space or choose another --out")
        if why
        else None
    )


def run_build(cfg: BuildConfig, progress=print, verbosity: int = NORMAL) -> BuildState:
    """`build`, returning the whole BuildState (the design and the reference in memory, for
    compiler.api); the files are in cfg.out."""
    cfg.validate()
    steps = _selected_steps(cfg)
    run_preflight(cfg.target.spec, cfg)  # flags checked before any work
    _check_out(cfg.out)
    source = cfg.source  # the model resolved (and a named one made) before any file is written
    own_fingerprint = fp.fingerprint(cfg)
    resumed = steps[0] != cfg.target.spec.steps[0]
    if resumed:
        fp.check_resumable(cfg, own_fingerprint)
    graph = _resume_graph(cfg, steps[0])
    try:
        cfg.out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{cfg.out.name}.staging-", dir=cfg.out.parent))
    except OSError as exc:
        raise UserError(
            f"--out {cfg.out}: cannot write there ({exc.strerror}); choose another --out"
        ) from None
    log = None
    try:
        log = BuildLog(stage / "build.log", progress, verbosity)
        state = BuildState(cfg, stage, resumed=resumed)
        previous = cfg.out / "report.json"
        if resumed and previous.is_file():
            state.report = _previous_report(previous)
        state.report.update({"target": cfg.target.value, "model": source.label})
        if source.random_weights:
            state.report["random_weights"] = True
        state.report.pop("failed_check", None)
        records = [s for s in state.report.get("steps", []) if s["name"] not in steps]
        (stage / fp.FILE).write_text(json.dumps(own_fingerprint, indent=1))
        log.detail(f"build of {source.label} for --target {cfg.target.value} into {cfg.out}")
        name = steps[0]
        try:
            with log.capturing_stderr():
                for name in steps:
                    start = time.perf_counter()
                    graph = run_step(name, graph, state)
                    seconds = time.perf_counter() - start
                    if STEPS[name].changes_ir:
                        save_graph(graph, stage / step_file(name))
                        fp.record_step_file(stage, step_file(name))
                    records.append({"name": name, "seconds": round(seconds, 3), "nodes": len(graph.nodes)})
                    for p in state.report.get("passes", {}).get(name, []):
                        log.detail(f"  pass {p.get('pass', p.get('name', '?'))}: " + ", ".join(
                            f"{k} {val}" for k, val in p.items() if k not in ("pass", "name")))  # fmt: skip
                    own = cfg.target.spec.steps
                    log.step(
                        f"[{own.index(name) + 1}/{len(own)}] {name} done in {seconds:.2f} s ({len(graph.nodes)} nodes)"
                    )
        except UserError:
            raise
        except OSError as exc:
            if (disk := _disk_error(exc, f"step {name}", cfg.out)) is not None:
                raise disk from None
            raise _fail(exc, name, state, records, log, resumed) from None
        except Exception as exc:
            raise _fail(exc, name, state, records, log, resumed) from None
        try:
            save_graph(graph, stage / "model.ir")
            state.report["ok"] = True
            state.report["steps"] = records
            state.report.setdefault("layers", _layer_table(graph))
            state.report["graph"] = graph.name
            if state.names:
                (stage / "names.json").write_text(json.dumps(state.names, indent=1))
            (stage / "timings.json").write_text(json.dumps(records, indent=1))
            (stage / "report.json").write_text(json.dumps(state.report, indent=1))
            log.step(f"done in {time.perf_counter() - log.start:.2f} s: {cfg.out}")
            log.close()
            _move_into(stage, cfg.out, fresh=not resumed)
        except OSError as exc:
            raise (_disk_error(exc, "writing the results", cfg.out) or exc) from None
        return state
    finally:
        if log is not None:
            log.close()
        shutil.rmtree(stage, ignore_errors=True)


def _fail(
    exc: Exception, name: str, state: BuildState, records: list, log: BuildLog, resumed: bool
) -> CheckFailed:
    """A failed check (or a bug on a model the build accepted): the report with the figures so
    far and the failed check, the log and the traceback on file, no artifact that looks usable."""
    cfg, stage = state.cfg, state.stage
    failure = exc
    if not isinstance(exc, CheckFailed):
        (stage / "traceback.txt").write_text("".join(traceback.format_exception(exc)))
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        failure = CheckFailed(
            f"{name}: internal error ({type(exc).__name__}: {first}); this is a bug: "
            f"the traceback is in {cfg.out / 'traceback.txt'}"
        )
    state.report.update({"ok": False, "failed_check": str(failure), "steps": records})
    log.note(f"FAILED: {failure}")
    log.close()
    _remove_artifacts(stage)
    (stage / "report.json").write_text(json.dumps(state.report, indent=1))
    _move_into(stage, cfg.out, fresh=not resumed, failed=True)
    return failure


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


def build_parser() -> v.Parser:
    from compiler.model_source import named_models

    p = v.Parser(prog="python -m compiler.build", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--model",
        default=str(DEFAULT_MODEL),
        help="QONNX .onnx file, bireal_hw checkpoint .pt, or a model name with random weights: "
        + ", ".join(named_models()),
    )
    p.add_argument("--target", default="ir", choices=list(TARGETS))
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--start-step", choices=list(STEPS), help="resume: run from this step on")
    p.add_argument("--stop-step", choices=list(STEPS), help="run up to and including this step")
    p.add_argument(
        "--verify-images",
        type=v.integer(0, MAX_IMAGES),
        help="images for the bit-exact checks (0: skip; default 1000, "
        + ", ".join(
            f"{t.default_verify_images} for --target {t.name}"
            for t in TARGETS.values()
            if t.default_verify_images != 1000
        )
        + ")",
    )
    p.add_argument("--reference", help="checkpoint whose integer golden is the reference for an .onnx model")
    p.add_argument(
        "--seed", type=v.integer(0, 2**32 - 1), default=0, help="random check images; a named model's weights"
    )
    p.add_argument(
        "--residual-bits", type=v.integer(2, 16), help="a named model's residual grid (default: 8)"
    )
    talk = p.add_mutually_exclusive_group()
    talk.add_argument("--quiet", action="store_true", help="print only the summary line and errors")
    talk.add_argument(
        "--verbose", action="store_true", help="also print every pass (build.log has them always)"
    )
    hw = p.add_argument_group("--target sim and fpga")
    hw.add_argument(
        "--board", help=", ".join(BOARDS) + " (default: ecp5-85f for --target bitstream, else zcu104)"
    )
    hw.add_argument(
        "--board-file", help="a board of your own: JSON with its part and resources (docs/hardware.md)"
    )
    hw.add_argument(
        "--fps",
        type=v.number(0, None, lo_open=True),
        help="frames/s to reach (default: the fastest folding that fits)",
    )
    hw.add_argument(
        "--clock-mhz",
        type=v.number(MIN_CLOCK_MHZ, MAX_CLOCK_MHZ),
        help="the design's clock (default: 200; for --target bitstream nextpnr's target, 100)",
    )
    hw.add_argument("--folding", help="folding JSON {kernel: {pe, simd}} instead of --fps")
    hw.add_argument(
        "--sim-frames", type=v.integer(2, MAX_SIM_FRAMES), default=2, help="frames the timing simulation runs"
    )
    hw.add_argument(
        "--synth",
        action="store_true",
        help="--target rtl: also synthesize with Yosys for UltraScale+ (counts beside the cost model's)",
    )
    hw.add_argument(
        "--synth-jobs",
        type=v.integer(1, 64),
        default=1,
        help="Yosys runs at once, each synthesizing a group of the design's instances (same counts; "
        "use the machine's cores for a large design)",
    )
    hw.add_argument(
        "--external-weights",
        choices=EXTERNAL_MODES,
        help="matrix units whose weights stream from DRAM (docs/hardware.md): auto (default for --target "
        "sim and fpga) where the design does not fit on chip, all, or none",
    )
    p.add_argument(
        "--cpu-isa",
        choices=CPU_ISAS,
        default="auto",
        help="--target cpu: the binary convs' popcount code (default auto: the best this CPU has; a lower "
        "one builds for that x86-64 level, to run on other machines: docs/cpu.md)",
    )
    return p


def summary_line(report: dict, cfg: BuildConfig) -> dict:
    keys = ("ok", "target", "model", "random_weights", "bit_exact", "fps", "cycles_per_frame",
            "latency_cycles", "resources", "fits")  # fmt: skip
    summary = {k: report[k] for k in keys if k in report}
    for k in cfg.target.spec.summary:
        if k in report:
            summary[k] = {"images": report[k]["images"], "mismatches": report[k]["mismatches"]}
    if "synth" in report:
        summary["synthesized"] = report["synth"]["total"]["synthesized"]
    if "bitstream" in report:
        b = report["bitstream"]
        summary["bitstream"] = {k: b[k] for k in ("file", "device", "fmax_mhz", "fps_at_fmax")}
    summary["steps"] = {s["name"]: s["seconds"] for s in report.get("steps", [])}
    return summary


@cli_main
def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    spec = TARGETS[args.target]
    if args.verify_images is None:
        args.verify_images = spec.default_verify_images
    if args.board is None:
        args.board = spec.default_board
    if args.clock_mhz is None:
        args.clock_mhz = spec.default_clock_mhz
    cfg = BuildConfig(
        model=args.model,
        out=args.out,
        target=Target(args.target),
        start_step=args.start_step,
        stop_step=args.stop_step,
        verify_images=args.verify_images,
        reference=args.reference,
        seed=args.seed,
        board=args.board,
        board_file=args.board_file,
        fps=args.fps,
        clock_mhz=args.clock_mhz,
        folding=args.folding,
        sim_frames=args.sim_frames,
        residual_bits=args.residual_bits,
        synth=args.synth,
        synth_jobs=args.synth_jobs,
        cpu_isa=args.cpu_isa,
        external_weights=args.external_weights,
    )
    verbosity = QUIET if args.quiet else VERBOSE if args.verbose else NORMAL
    report = build(cfg, progress=lambda msg: print(msg, file=sys.stderr, flush=True), verbosity=verbosity)
    print(json.dumps(summary_line(report, cfg)))


if __name__ == "__main__":
    main()
