"""The build's `simulate` step: FIFO sizing and cycle-level timing of the folded design, each
kernel alone against its analytical cycles, the design's outputs against the reference with ==,
and the report (per-layer table, plot, folding)."""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from compiler.hw.cost import RESOURCES
from compiler.hw.design import SEARCH_HEADROOM, Design, dataflow_from_graph
from compiler.hw.folding import folding_dict
from compiler.hw.latency import first_frame_latency
from compiler.ir import Graph
from compiler.verify_build import compare, images_for, reference_for, require
from sim.functional import run_functional
from sim.report import layer_rows, markdown_table, next_step, plot_layers
from sim.simulate import cycle_errors, host_pixels, simulate


def dram_report(design, interval: int) -> dict:
    """The units streaming their weights from DRAM and the rate they read at the simulated fps,
    beside the rate the DRAM model gives the design (compiler/hw/external.py)."""
    from compiler.hw.external import dram_bytes_per_cycle, has_dram
    from compiler.hw.kernels import WeightDMA

    dmas = [k for k in design.dataflow.order() if isinstance(k, WeightDMA)]
    per_frame = sum(k.geometry.bytes_per_frame for k in dmas)
    fps = design.clock_mhz * 1e6 / interval
    available = (
        float(dram_bytes_per_cycle(design.board, design.clock_mhz)) * design.clock_mhz * 1e6
        if has_dram(design.board)
        else 0.0
    )
    return {
        "mode": design.external,
        "units": [k.geometry.unit for k in dmas],
        "bytes_per_frame": per_frame,
        "gbs": round(per_frame * fps / 1e9, 3),
        "available_gbs": round(available / 1e9, 3),
    }


def design_runner(graph: Graph, design: Design):
    """NCHW images in [0, 1] -> the design's integer logits, from the simulator's value model."""
    quantizer = next(n for n in graph.nodes if n.op == "quantize_input").attrs

    def run(x: np.ndarray) -> np.ndarray:
        pixels = host_pixels(x, quantizer)
        return run_functional(design.dataflow, pixels)["output"]

    return run


def _bit_exact(graph: Graph, design: Design, state) -> dict:
    cfg = state.cfg
    images, source = images_for(graph, cfg.verify_images, cfg.seed)
    ref = reference_for(graph, state)
    run = design_runner(graph, design)
    return require(compare("simulate: the design's values (sim/)", run, ref, images, cfg.batch, source))


def run_simulation(graph: Graph, state) -> None:
    cfg = state.cfg
    design = state.design
    if design is None:  # resumed at this step: the folding is on the IR nodes
        design = dataflow_from_graph(graph, cfg.chosen_board(), cfg.clock_mhz)
    start = time.perf_counter()
    sim = simulate(design.dataflow, cfg.sim_frames, per_kernel=True)
    errors = cycle_errors(design.dataflow, sim)
    values_start = time.perf_counter()
    bit_exact = _bit_exact(graph, design, state) if cfg.verify_images else {"images": 0, "mismatches": 0}
    bit_exact["seconds"] = round(time.perf_counter() - values_start, 2)
    sim_seconds = time.perf_counter() - start
    rows = layer_rows(design, sim)
    analytical = design.cost.interval
    shortcut = {s: d for s, d in sim.fifo_depths.items() if s in sim.occupancy}
    worst = max(errors, key=lambda k: abs(errors[k])) if errors else None
    report = {
        "board": design.board.name,
        "clock_mhz": design.clock_mhz,
        "target_fps": design.target_fps,
        "cycles_per_frame": sim.interval,
        "analytical_cycles_per_frame": analytical,
        "pipeline_cycle_error": round((sim.interval - analytical) / analytical, 6),
        "latency_cycles": sim.latency,
        "analytical_latency_cycles": (estimate := first_frame_latency(design.dataflow)),
        "latency_error": round((estimate - sim.latency) / sim.latency, 6),
        "fps": round(design.clock_mhz * 1e6 / sim.interval, 1),
        "latency_ms": round(sim.latency / (design.clock_mhz * 1e3), 4),
        "bottleneck": design.cost.bottleneck,
        "resources": design.cost.totals(),
        "board_resources": design.board.resources(),
        "utilization": {
            r: round(design.cost.totals()[r] / max(1, design.board.resources()[r]), 4) for r in RESOURCES
        },
        "fits": design.fits(),
        "fits_board": design.fits(1.0),
        "headroom": SEARCH_HEADROOM,
        "bit_exact": bit_exact,
        "sim_seconds": round(sim_seconds, 2),
        "timing_seconds": round(sim.seconds, 2),
        "frames_simulated": cfg.sim_frames,
        "cycles_simulated": sim.cycles_simulated,
        "worst_kernel_cycle_error": {"kernel": worst, "error": round(errors[worst], 6)} if worst else None,
        "shortcut_fifo_depths": shortcut,
        "next_step": next_step(graph, design),
        "dram": dram_report(design, sim.interval),
        "layers": rows,
    }
    state.report.update(report)
    stage = state.stage
    (stage / "folding.json").write_text(json.dumps(folding_dict(design.dataflow), indent=1))
    (stage / "layers.md").write_text(markdown_table(rows))
    plot_layers(
        rows,
        stage / "layers.png",
        f"{graph.name} on {design.board.name} at {design.clock_mhz:g} MHz",
        design,
    )
    fps = report["fps"]
    if report["dram"]["units"]:
        d = report["dram"]
        print(
            f"weights in DRAM: {len(d['units'])} units ({', '.join(d['units'])}), {d['bytes_per_frame']:,} bytes "
            f"per frame, {d['gbs']} GB/s of the {d['available_gbs']} GB/s the model gives the design",
            file=sys.stderr,
        )
    print(
        f"simulated {cfg.sim_frames} frames: {sim.interval} cycles/frame ({fps:g} fps at {design.clock_mhz:g} MHz), "
        f"latency {sim.latency} cycles, bottleneck {design.cost.bottleneck}, fits {design.board.name} ({SEARCH_HEADROOM:.0%} of every resource): {design.fits()}",
        file=sys.stderr,
    )
