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


def _budget_text(design: Design, names: tuple[str, ...]) -> str:
    totals, capacity = design.cost.totals(), design.board.resources()
    return ", ".join(
        f"{r} {totals[r]:,} of {capacity[r]:,} ({totals[r] / max(1, capacity[r]):.0%})" for r in names
    )


def plot_layers(rows: list[dict], path: Path, title: str, design: Design | None = None) -> None:
    """Per layer: cycles per frame (analytical and simulated alone) against the design's frame
    interval and the interval --fps asks for; LUT and FF; BRAM36, URAM and DSP; each resource
    panel titled with the design's totals against the board's budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["name"] for r in rows]
    fig, axes = plt.subplots(3, 1, figsize=(max(8, len(rows) * 0.22), 10), sharex=True)
    axes[0].bar(names, [r["cycles"] for r in rows], color="#4477aa", label="analytical")
    sims = [r.get("simulated_cycles", 0) for r in rows]
    axes[0].plot(names, sims, "k.", label="simulated alone")
    if design is not None:
        axes[0].axhline(
            design.cost.interval, color="#ee6677", lw=1, label=f"interval {design.cost.interval:,}"
        )
        if design.target_fps:
            target = design.clock_mhz * 1e6 / design.target_fps
            axes[0].axhline(target, color="#aa3377", ls="--", lw=1, label=f"--fps target {target:,.0f}")
    axes[0].set_ylabel("cycles / frame")
    axes[0].legend(fontsize=7)
    axes[0].set_title(title)
    panels = ((axes[1], ("LUT", "FF"), ("#66ccee", "#228833")),
              (axes[2], ("BRAM36", "URAM", "DSP"), ("#ccbb44", "#ee7733", "#bbbbbb")))  # fmt: skip
    for ax, resources, colors in panels:
        bottom = [0.0] * len(rows)
        for res, color in zip(resources, colors, strict=True):
            values = [r["resources"][res] for r in rows]
            ax.bar(names, values, bottom=bottom, color=color, label=res)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_ylabel(" + ".join(resources))
        ax.legend(fontsize=7)
        if design is not None:
            budget = _budget_text(design, resources)
            ax.set_title(f"{budget} on {design.board.name}", fontsize=8)
    axes[2].tick_params(axis="x", rotation=90, labelsize=6)
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
        faster = folded_for(
            graph, target, design.clock_mhz * 1e6 / target, design.clock_mhz, design.board, design.external
        )
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
