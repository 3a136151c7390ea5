"""Per-layer table, plot and the `--target sim` report: the analytical design (compiler/hw) beside
its simulation."""

from __future__ import annotations

from pathlib import Path

from compiler.hw.cost import RESOURCES
from compiler.hw.design import Design
from sim.simulate import SimResult, cycle_errors


def layer_rows(design: Design, sim: SimResult | None) -> list[dict]:
    df, cost = design.dataflow, design.cost
    errors = cycle_errors(df, sim) if sim else {}
    rows = []
    for kc in cost.kernels:
        k = df.kernels[kc.name]
        row = {
            "name": k.name,
            "kind": k.kind,
            "pe": k.pe,
            "simd": k.simd,
            "cycles": kc.cycles,
            "utilization": round(kc.cycles / cost.interval, 4),
            "resources": kc.resources(),
            "memories": [f"{m.what}: {m.width}x{m.depth} {m.kind} {m.count}" for m in kc.memories],
        }
        if sim and k.name in sim.kernel_intervals:
            row["simulated_cycles"] = sim.kernel_intervals[k.name]
            row["cycle_error"] = round(errors[k.name], 6)
        rows.append(row)
    return rows


def markdown_table(rows: list[dict]) -> str:
    head = "| kernel | PE | SIMD | cycles | simulated | util | LUT | FF | BRAM36 | URAM | DSP |"
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        res = r["resources"]
        lines.append(
            f"| {r['name']} | {r['pe']} | {r['simd']} | {r['cycles']} | {r.get('simulated_cycles', '')} | "
            f"{r['utilization']:.2f} | " + " | ".join(str(res[x]) for x in RESOURCES) + " |"
        )
    return "\n".join(lines) + "\n"


def plot_layers(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["name"] for r in rows]
    fig, axes = plt.subplots(2, 1, figsize=(max(8, len(rows) * 0.22), 7), sharex=True)
    axes[0].bar(names, [r["cycles"] for r in rows], color="#4477aa", label="analytical")
    sims = [r.get("simulated_cycles", 0) for r in rows]
    axes[0].plot(names, sims, "k.", label="simulated alone")
    axes[0].set_ylabel("cycles / frame")
    axes[0].legend()
    axes[0].set_title(title)
    bottom = [0.0] * len(rows)
    for res, color in (("LUT", "#66ccee"), ("FF", "#228833")):
        values = [r["resources"][res] for r in rows]
        axes[1].bar(names, values, bottom=bottom, color=color, label=res)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes[1].set_ylabel("LUT + FF")
    axes[1].legend()
    axes[1].tick_params(axis="x", rotation=90, labelsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def next_step(graph, design: Design) -> dict:
    """What the next faster design would cost: refold for one cycle less than the current frame
    interval (the bottleneck must speed up) and report its fps and the resource difference."""
    from bireal_hw.errors import UserError
    from compiler.hw.design import folded_for

    target = design.cost.interval - 1
    try:
        faster = folded_for(graph, target, design.clock_mhz * 1e6 / target, design.clock_mhz, design.board)
    except UserError as exc:
        return {"possible": False, "why": str(exc)}
    before, after = design.cost.totals(), faster.cost.totals()
    return {
        "possible": True,
        "fps": round(faster.fps, 1),
        "bottleneck": faster.cost.bottleneck,
        "resources": after,
        "extra": {r: after[r] - before[r] for r in RESOURCES},
        "fits": faster.fits(),  # within SEARCH_HEADROOM (85%), like the report's "fits"
    }
