"""The build's RTL steps (--target rtl), after `simulate`:

rtlgen   the Verilog of the simulated design (compiler/backends/rtl): kernel modules, ROM files,
         the top level, and the Vivado flow that uses the RTL directly (rtl/vivado/)
rtlsim   the design Verilated and streamed with the check images back to back: outputs against
         the reference with `==`; each frame's last output beat and every stream's last push per
         frame against sim/'s cycle by cycle; FIFO occupancy maxima against the sizing; a second
         pass with random bus gaps and back-pressure; a deadlock named by its FIFO
"""

from __future__ import annotations

import sys
import time

import numpy as np

from bireal_hw.errors import CheckFailed, UserError
from compiler.backends.hls import driver as host
from compiler.backends.rtl import verilator as vl
from compiler.backends.rtl.codegen import RtlProject, generate
from compiler.backends.rtl.vivado import write_vivado_flow
from compiler.fpga_steps import _design
from compiler.hw.dataflow import Dataflow
from compiler.hw.kernels import MatrixVector, WeightDMA
from compiler.hw.kernels.dma import element_bytes
from compiler.ir import Graph
from compiler.verify_build import compare, images_for, reference_for, require
from sim.schedule import build_processes
from sim.timing import Timing, solve

TIMING_FRAMES = 3  # frames whose every stream's timing is compared with sim/'s
STRESS_IMAGES = 200  # images of the random gaps / back-pressure pass


def bus_words(graph: Graph, df: Dataflow, project: RtlProject, images: np.ndarray) -> np.ndarray:
    """Images -> the input bus words (the PYNQ driver's own packing)."""
    q = next(n for n in graph.nodes if n.op == "quantize_input").attrs
    info = {
        "in_scale": float(q.scale),
        "in_qmin": int(q.qmin),
        "in_qmax": int(q.qmax),
        "in_offset": int(q.offset),
        "in_cut": float(q.cut) if q.bipolar else None,
        "in_bytes": element_bytes(df.output_streams(df.input_kernel)[0].bits),
        "in_words": project.in_words,
    }
    return host.input_words(info, images)


def pixel_words(df: Dataflow, project: RtlProject, pixels: np.ndarray) -> np.ndarray:
    """(frames, H, W, C) integer pixels -> input bus words (a bipolar pixel as its bit)."""
    bits = df.output_streams(df.input_kernel)[0].bits
    values = (pixels > 0).astype(np.int64) if bits == 1 else pixels
    return host.pack_frames(values, element_bytes(bits), project.in_words)


def logits(df: Dataflow, words: np.ndarray) -> np.ndarray:
    (s,) = df.input_streams(df.output_kernel)
    return host.unpack_frames(words, element_bytes(s.bits), df.output_kernel.geometry.elements)


def sim_timing(df: Dataflow, frames: int) -> Timing:
    """sim/'s timing of `frames` frames at the design's FIFO depths."""
    return solve(build_processes(df, frames), {s: st.depth for s, st in df.streams.items()})


def stall_limit(df: Dataflow) -> int:
    """Cycles without any FIFO traffic or bus transfer after which the design is deadlocked: a
    matrix unit computes up to SF - 1 ops between writes (neuron folds past the first read
    nothing), every other op reads or writes; random bus gaps add short streaks."""
    longest = max((k.folds()[0] for k in df.kernels.values() if isinstance(k, MatrixVector)), default=1)
    return 2 * longest + 1000


def deadlock_message(df: Dataflow, run: vl.RtlRun) -> str:
    """Name the full FIFO whose reader waits for another input (as sim/ does)."""
    full = [s for s, (count, depth, _) in run.fifos.items() if count >= depth]
    empty = {s for s, (count, _, _) in run.fifos.items() if count == 0}

    def starved(s: str) -> bool:
        reader = df.kernels[df.streams[s].consumer]
        return any(i in empty for i in reader.inputs if i != s)

    full.sort(key=lambda s: not starved(s))
    if not full:
        return f"rtl: the design stopped at cycle {run.cycles} with no FIFO full"
    s = full[0]
    st = df.streams[s]
    return (
        f"rtl: deadlock at cycle {run.cycles}: FIFO {s} ({st.producer} -> {st.consumer}) is full at depth "
        f"{st.depth} while {st.consumer} waits for another input; deepen {s}"
    )


def compare_timing(df: Dataflow, run: vl.RtlRun, frames: int) -> dict:
    """The Verilated cycles against sim/'s over the first `frames` frames: per frame the output's
    last beat, per stream its last push of each frame, per FIFO the largest occupancy."""
    timing = sim_timing(df, frames)
    out = df.output_kernel
    ends = [int(t) for t in timing.times[out.name].reshape(frames, -1)[:, -1]]
    rtl_ends = run.frame_done[:frames]
    streams = {}
    for s in df.streams:
        sim_push = [int(t) for t in timing.push[s].reshape(frames, -1)[:, -1]]
        rtl_push = run.frame_pushes.get(s, [])[:frames]
        if sim_push != rtl_push:
            streams[s] = {"sim": sim_push, "rtl": rtl_push}
    kernels = {}
    for k in df.order():
        if k.outputs:
            s = k.outputs[0]
            sim_push = [int(t) for t in timing.push[s].reshape(frames, -1)[:, -1]]
            rtl_push = run.frame_pushes.get(s, [])[:frames]
            kernels[k.name] = {
                "last_beat_per_frame_sim": sim_push,
                "last_beat_per_frame_rtl": rtl_push,
                "cycles_per_frame_sim": sim_push[-1] - sim_push[-2] if frames > 1 else None,
                "cycles_per_frame_rtl": rtl_push[-1] - rtl_push[-2] if len(rtl_push) > 1 else None,
            }
    return {
        "frames_compared": frames,
        "frame_ends_sim": ends,
        "frame_ends_rtl": rtl_ends,
        "cycles_per_frame": ends[-1] - ends[-2] if frames > 1 else ends[0] + 1,
        "latency_cycles": ends[0] + 1,
        "streams_compared": len(df.streams),
        "streams_differing": streams,
        "occupancy_sim": {s: timing.occupancy_max(s) for s in df.streams},
        "kernels": kernels,
        "equal": ends == rtl_ends and not streams,
    }


def run_rtlgen(graph: Graph, state) -> None:
    cfg = state.cfg
    design = _design(graph, state)
    streaming = [k.geometry.unit for k in design.dataflow.order() if isinstance(k, WeightDMA)]
    if streaming:  # a folding file's "weights": "dram"
        raise UserError(
            f"--target rtl keeps every weight on chip, but the folding streams {streaming[0]}'s from DRAM; "
            'set its "weights" to "chip", or build it with --target fpga or sim'
        )
    root = state.stage / "rtl"
    project = generate(design.dataflow, graph, root, design.board.resources())
    if design.board.family:  # a Zynq board: the Vivado flow (an ECP5 build is placed by nextpnr)
        write_vivado_flow(project, root / "vivado", design.board, design.clock_mhz)
    state.rtl_project = project
    state.report["rtl"] = {
        "kernels": len(project.kernels),
        "fifos": len(design.dataflow.streams),
        "sources": [str(p.relative_to(state.stage)) for p in project.sources],
        "roms": sum(len(rk.roms) for rk in project.kernels),
        "part": design.board.part,
        "clock_mhz": design.clock_mhz,
    }
    print(
        f"generated the RTL of {len(project.kernels)} kernels and {len(design.dataflow.streams)} FIFOs in rtl/ "
        f"({'Vivado flow in rtl/vivado/, ' if design.board.family else ''}seed {cfg.seed})",
        file=sys.stderr,
    )


def ensure_rtl(graph: Graph, state) -> RtlProject:
    """The generated RTL (made again, deterministically, in a resumed build)."""
    if getattr(state, "rtl_project", None) is None:
        run_rtlgen(graph, state)
    return state.rtl_project


def run_rtlsim(graph: Graph, state) -> None:
    cfg = state.cfg
    project, df = ensure_rtl(graph, state), state.design.dataflow
    print("compiling the RTL with Verilator ...", file=sys.stderr)
    start = time.perf_counter()
    exe, compiled = vl.build(project)
    compile_seconds = time.perf_counter() - start
    images, source = images_for(graph, max(cfg.verify_images, 2), cfg.seed)
    ref = reference_for(graph, state)
    words = bus_words(graph, df, project, images)
    stall = stall_limit(df)
    print(
        f"streaming {len(images)} images through the Verilated design (compile {compile_seconds:.1f} s"
        f"{'' if compiled else ', cached'}) ...",
        file=sys.stderr,
    )
    runs: list[vl.RtlRun] = []
    start = time.perf_counter()

    def run_all(x: np.ndarray) -> np.ndarray:  # one batch: every image, whose words are made
        r = vl.run(exe, project, words, stall_limit=stall, log=True)
        runs.append(r)
        if r.deadlock:
            raise CheckFailed(deadlock_message(df, r))
        return logits(df, r.outputs)

    check = compare("rtlsim: the Verilated RTL", run_all, ref, images, len(images), source)
    run_seconds = time.perf_counter() - start
    (r,) = runs
    frames = min(TIMING_FRAMES, len(images))
    # the first frames alone: every stream's pushes and every FIFO's largest occupancy against
    # sim/'s timing of the same frames
    first = vl.run(exe, project, words[:frames], stall_limit=stall, log=True)
    if first.deadlock:
        raise CheckFailed(deadlock_message(df, first))
    timing = compare_timing(df, first, frames)
    occupancy_differs = {
        s: {"rtl": first.fifos[s][2], "sim": timing["occupancy_sim"][s]}
        for s in df.streams
        if first.fifos[s][2] != timing["occupancy_sim"][s]
    }
    interval = r.frame_done[-1] - r.frame_done[-2]
    stress_words = words[:STRESS_IMAGES]
    stress = vl.run(exe, project, stress_words, mode=vl.STRESS, seed=cfg.seed, stall_limit=stall)
    if stress.deadlock:
        raise CheckFailed(deadlock_message(df, stress))
    stress_got = logits(df, stress.outputs)
    stress_want = ref.run(images[: len(stress_words)])
    stress_bad = int((stress_got != stress_want).reshape(len(stress_words), -1).any(axis=1).sum())
    sim_rate = state.report.get("cycles_simulated", 0) / max(
        state.report.get("timing_seconds", 0) or 1e-9, 1e-9
    )
    state.report["rtl_sim"] = {
        **check.as_dict(),
        "cycles_per_frame": interval,
        "latency_cycles": r.frame_done[0] + 1,
        "vs_sim": {
            "cycles_per_frame": timing["cycles_per_frame"],
            "latency_cycles": timing["latency_cycles"],
            "interval_error": (interval - timing["cycles_per_frame"]) / timing["cycles_per_frame"],
            "latency_error": (r.frame_done[0] + 1 - timing["latency_cycles"]) / timing["latency_cycles"],
            "frames_compared": frames,
            "every_stream_equal": timing["equal"],
            "streams_compared": timing["streams_compared"],
            "streams_differing": timing["streams_differing"],
            "kernels": timing["kernels"],
        },
        "fifo_occupancy": {
            "frames_compared": frames,
            "equal_to_sim": not occupancy_differs,
            "differing": occupancy_differs,
            "full_over_all_images": sorted(s for s, (_, depth, most) in r.fifos.items() if most >= depth),
        },
        "stress": {
            "images": len(stress_words),
            "mismatches": stress_bad,
            "cycles": stress.cycles,
            "input_gap_cycles": stress.input_gaps,
            "backpressure_cycles": stress.backpressure,
        },
        "verilator": {
            "compile_seconds": round(compile_seconds, 2),
            "compiled": compiled,
            "check_seconds": round(run_seconds, 2),
            "run_seconds": round(r.seconds, 2),
            "cycles": r.cycles,
            "cycles_per_second": round(r.cycles / max(r.seconds, 1e-9)),
        },
        "sim_cycles_per_second": round(sim_rate) if sim_rate else None,
    }
    print(
        f"RTL simulation (Verilator): {len(images)} images, {check.mismatches} mismatches; {interval} cycles/frame "
        f"(sim/ {timing['cycles_per_frame']}), latency {r.frame_done[0] + 1} (sim/ {timing['latency_cycles']}); "
        f"every stream's timing and FIFO occupancy {'equal' if timing['equal'] and not occupancy_differs else 'DIFFER from'} "
        f"sim/'s over {frames} frames; "
        f"random gaps/back-pressure: {len(stress_words)} images, {stress_bad} mismatches "
        f"(compile {compile_seconds:.1f} s{'' if compiled else ', cached'}, run {run_seconds:.1f} s)",
        file=sys.stderr,
    )
    require(check)
    if stress_bad:
        raise CheckFailed(
            f"rtlsim: {stress_bad} of {len(stress_words)} images differ under random bus gaps and back-pressure"
        )
    if not timing["equal"] or occupancy_differs:
        name = next(iter(timing["streams_differing"] or occupancy_differs))
        raise CheckFailed(
            f"rtlsim: the RTL's cycles differ from sim/'s (frame ends {timing['frame_ends_rtl']} vs "
            f"{timing['frame_ends_sim']}; first differing stream: {name})"
        )
