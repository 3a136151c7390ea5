"""The build's synthesis steps, after `rtlsim` (the RTL is proven `==` first):

synth      (--target rtl --synth, and --target bitstream) Yosys `synth_xilinx -family xcup` of the
           generated RTL: per kernel and per FIFO the synthesized LUT/FF/BRAM36/URAM/DSP beside
           the cost model's estimate, the error of each, and the kernel's logic depth against the
           bound for 200 MHz (compiler/backends/rtl/synth.py)
bitstream  (--target bitstream) the same RTL synthesized, placed and routed for a Lattice ECP5
           with Yosys and nextpnr, packed into a bitstream: the achieved clock (fmax) and the
           frames/s of the simulated cycles at that clock (compiler/backends/rtl/bitstream.py)
"""

from __future__ import annotations

import sys

from compiler.backends.rtl.bitstream import DEVICE, build_bitstream
from compiler.backends.rtl.codegen import TOP
from compiler.backends.rtl.synth import DEPTH_BOUND, RESOURCES, Cells, synthesize_in_groups
from compiler.hw.calibrated import fifo_logic
from compiler.hw.cost import design_cost
from compiler.hw.dataflow import Dataflow


def error(estimate: float, synthesized: float) -> float | None:
    """(estimate - synthesized) / synthesized; 0 when both are 0; None when only synthesis is 0."""
    if synthesized == 0:
        return 0.0 if estimate == 0 else None
    return round((estimate - synthesized) / synthesized, 4)


def estimates(df: Dataflow, board: dict[str, int]) -> dict[str, dict[str, float]]:
    """The cost model's resources per instance of the top level (kernel name, fifo_<stream>)."""
    cost = design_cost(df, board)
    out = {kc.name: {r: float(v) for r, v in kc.resources().items()} for kc in cost.kernels}
    for m in cost.fifos:
        row = {r: 0.0 for r in RESOURCES}
        row["LUT" if m.kind in ("LUTRAM", "SRL") else m.kind] += m.count
        row["FF"] += fifo_logic(m.width, m.depth)["FF"]
        out[f"fifo_{m.stream}"] = row
    return out


def row(cells: Cells, estimate: dict[str, float]) -> dict:
    synthesized = {r: round(v, 1) for r, v in cells.resources().items()}
    return {
        "synthesized": synthesized,
        "estimate": estimate,
        "error": {r: error(estimate[r], synthesized[r]) for r in RESOURCES},
        "lutram_luts": cells.lutram,
        "logic_depth": cells.depth,
        "carry_mux_on_path": cells.chain,
    }


def run_synth(graph, state) -> None:
    from compiler.rtl_steps import ensure_rtl

    project = ensure_rtl(graph, state)
    df, board = state.design.dataflow, state.design.board
    jobs = state.cfg.synth_jobs
    print(
        f"synthesizing the RTL with Yosys (synth_xilinx -family xcup{f', {jobs} runs at once' if jobs > 1 else ''})"
        " ...",
        file=sys.stderr,
    )
    est = estimates(df, board.resources())
    weights = {name: e["LUT"] + e["FF"] for name, e in est.items()}
    result = synthesize_in_groups(project.root, project.sources, TOP, project.root / "synth", weights, jobs)
    kernels = {
        name: row(c, est[name]) for name, c in result.instances.items() if not name.startswith("fifo_")
    }
    fifos = {name: row(c, est[name]) for name, c in result.instances.items() if name.startswith("fifo_")}
    total_est = {r: sum(e[r] for e in est.values()) for r in RESOURCES}
    total = {r: round(v, 1) for r, v in result.total().items()}
    deepest = max(kernels, key=lambda k: kernels[k]["logic_depth"])
    over = sorted(k for k, v in kernels.items() if v["logic_depth"] > DEPTH_BOUND)
    state.report["synth"] = {
        "tool": "yosys synth_xilinx -family xcup -flatten (each top-level instance kept apart)",
        "runs": min(jobs, len(weights)),  # > 1: groups of instances at once (the top's glue left out)
        "part": board.part,
        "seconds": round(result.seconds, 2),
        "total": {
            "synthesized": total,
            "estimate": total_est,
            "error": {r: error(total_est[r], total[r]) for r in RESOURCES},
        },
        "kernels": kernels,
        "fifos": fifos,
        "logic_depth_bound": DEPTH_BOUND,
        "deepest_kernel": deepest,
        "kernels_over_bound": over,
        "log": str(result.log.relative_to(state.stage)),
    }
    print(
        f"synthesized (Yosys, UltraScale+): LUT {total['LUT']:,.0f} (estimate {total_est['LUT']:,.0f}), "
        f"FF {total['FF']:,.0f} ({total_est['FF']:,.0f}), BRAM36 {total['BRAM36']:g} ({total_est['BRAM36']:g}), "
        f"URAM {total['URAM']:g} ({total_est['URAM']:g}), DSP {total['DSP']:g} ({total_est['DSP']:g}); "
        f"deepest logic {kernels[deepest]['logic_depth']} LUT levels ({deepest}; bound {DEPTH_BOUND}) "
        f"in {result.seconds:.0f} s",
        file=sys.stderr,
    )


def run_bitstream(graph, state) -> None:
    from compiler.rtl_steps import ensure_rtl

    project = ensure_rtl(graph, state)
    target = state.design.clock_mhz
    print(f"placing and routing for the {DEVICE} (yosys synth_ecp5, nextpnr-ecp5) ...", file=sys.stderr)
    b = build_bitstream(project.root, project.sources, TOP, target)
    cycles = state.report.get("rtl_sim", {}).get("cycles_per_frame") or state.design.cost.interval
    latency = state.report.get("rtl_sim", {}).get("latency_cycles")
    state.report["bitstream"] = {
        "device": DEVICE,
        "file": str(b.path.relative_to(state.stage)),
        "bytes": b.path.stat().st_size,
        "fmax_mhz": round(b.fmax_mhz, 2),
        "target_mhz": b.target_mhz,
        "meets_target": b.fmax_mhz >= b.target_mhz,
        "cycles_per_frame": cycles,
        "fps_at_fmax": round(b.fmax_mhz * 1e6 / cycles, 1),
        "latency_us_at_fmax": round(latency / b.fmax_mhz, 2) if latency else None,
        "utilisation": b.utilisation,
        "seconds": {k: round(v, 2) for k, v in b.seconds.items()},
        "nextpnr_report": str((b.path.parent / f"{TOP}_report.json").relative_to(state.stage)),
    }
    u = b.utilisation
    print(
        f"bitstream {state.report['bitstream']['file']} ({DEVICE}): fmax {b.fmax_mhz:.1f} MHz "
        f"(target {target:g}), {state.report['bitstream']['fps_at_fmax']:,.0f} frames/s at fmax; "
        f"LUT4 {u['LUT4']['used']:,}/{u['LUT4']['available']:,}, FF {u['FF']['used']:,}, "
        f"DP16KD {u['DP16KD']['used']}/{u['DP16KD']['available']}",
        file=sys.stderr,
    )
