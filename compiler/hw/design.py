"""The hardware design step: dataflow graph, folding (to a target, to the fastest that fits a
board, or from a file), costs, and the folding recorded on the IR nodes' `hw` records."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from bireal_hw.errors import UserError
from compiler.hw.boards import Board
from compiler.hw.cost import RESOURCES, DesignCost, design_cost
from compiler.hw.dataflow import Dataflow, build_dataflow
from compiler.hw.external import attach_weight_dmas, choose_external, has_dram
from compiler.hw.folding import apply_folding_file, connect_widths, fold_to_target, follow_neighbours
from compiler.hw.kernels import WeightDMA
from compiler.ir import Graph

SEARCH_HEADROOM = 0.85  # a design "fits" with 15% of every resource left for routing


@dataclass
class Design:
    dataflow: Dataflow
    cost: DesignCost
    board: Board
    clock_mhz: float
    target_fps: float | None
    external: str = "none"  # which matrix units may stream their weights from DRAM (compiler/hw/external.py)

    @property
    def fps(self) -> float:
        return self.clock_mhz * 1e6 / self.cost.interval

    def fits(self, headroom: float | None = None) -> bool:
        """Every resource within `headroom` of the board (default SEARCH_HEADROOM, 85%: the rule
        of the folding search, the report's `fits` and `next_step`; 1.0: the whole board)."""
        headroom = SEARCH_HEADROOM if headroom is None else headroom
        totals, capacity = self.cost.totals(), self.board.resources()
        return all(totals[r] <= headroom * capacity[r] for r in RESOURCES)

    def over_budget(self, headroom: float = 1.0) -> str:
        totals, capacity = self.cost.totals(), self.board.resources()
        return ", ".join(
            f"{r} {totals[r]:,} > {headroom * capacity[r]:,.0f}"
            for r in RESOURCES
            if totals[r] > headroom * capacity[r]
        )


def folded_for(
    graph: Graph, target: int, fps: float, clock: float, board: Board, external: str = "none"
) -> Design:
    """The design folded for `target` cycles per frame, its weights on chip or streamed from DRAM
    as `external` says (compiler/hw/external.py: "none", "all", or "auto": streamed where the
    design does not fit on chip)."""
    df = build_dataflow(graph)
    fold_to_target(df, target, fps, clock)
    design = Design(df, design_cost(df, board.resources()), board, clock, fps, external)
    costed = [tuple(df.kernels)]  # the kernels design.cost was computed for (weight DMAs come and go)

    def fits() -> bool:
        design.cost, costed[0] = design_cost(df, board.resources()), tuple(df.kernels)
        return design.fits()

    try:
        choose_external(df, board, clock, target, external, fits)
    except ValueError as exc:
        raise UserError(f"{exc}; leave --external-weights at none, or choose a board with DRAM") from None
    if tuple(df.kernels) != costed[0]:
        design.cost = design_cost(df, board.resources())
    return design


LADDER = 1.1  # the folding search's first pass: cycle targets this factor apart, slowest first
LADDER_PATIENCE = 12  # rungs (a factor 1.1**12 = 3.1 in cycles) that may fail in a row after a fit


def _fastest_fitting(graph: Graph, board: Board, clock: float, external: str = "none") -> Design:
    """The smallest cycles-per-frame target whose folding uses at most 85% of every resource of
    the board. Whether a target fits is not monotone in it (a faster folding can place its
    memories better: another PE moves a line buffer out of LUTs), so a binary search alone can
    miss every fitting design: first a ladder of targets LADDER apart from the fully folded
    design's cycles down to 1 (stopping once LADDER_PATIENCE rungs in a row below a fitting one
    fail: a faster design needs more of everything, and placement gains are local), then a binary
    search between the fastest rung that fits and the next rung, which did not."""
    slowest = build_dataflow(graph)
    for k in slowest.order():
        k.pe = k.simd = 1
    connect_widths(slowest)
    hi = max(k.cycles(slowest) for k in slowest.order())

    def attempt(target: int) -> Design | None:
        try:
            design = folded_for(graph, target, clock * 1e6 / target, clock, board, external)
        except UserError:
            return None
        return design if design.fits() else None

    rungs, target = [], float(hi)
    while target >= 1:
        rungs.append(int(target))
        target /= LADDER
    best, failed_below, misses = None, 0, 0
    for rung in dict.fromkeys(rungs):  # slowest first
        design = attempt(rung)
        if design is not None:
            best, failed_below, misses = design, 0, 0
        elif best is not None:
            failed_below = failed_below or rung
            misses += 1
            if misses >= LADDER_PATIENCE:
                break
    if best is None:
        hint = "choose a larger board"
        if external == "none" and has_dram(board):
            hint += ", or let weights stream from DRAM (--external-weights auto)"
        raise UserError(f"the model does not fit {board.name} even fully folded; {hint}")
    lo, top = failed_below + 1, best.cost.interval - 1  # between the next rung that failed and the best
    while failed_below and lo <= top:
        mid = (lo + top) // 2
        design = attempt(mid)
        if design is not None and design.cost.interval < best.cost.interval:
            best, top = design, mid - 1
        else:
            lo = mid + 1
    if isinstance(
        best.dataflow.kernels[best.cost.bottleneck], WeightDMA
    ):  # DRAM-bound: fold no faster than it runs
        slower = attempt(best.cost.interval)
        if slower is not None and slower.cost.interval <= best.cost.interval:
            best = slower
    best.target_fps = None
    return best


def make_design(
    graph: Graph,
    board: Board,
    clock_mhz: float,
    fps: float | None,
    folding: Path | None,
    external: str = "none",
) -> Design:
    """The design of `graph` on `board`: folded from a file, for `fps`, or the fastest that fits;
    `external` ("none", "auto", "all") says which matrix units may stream their weights from DRAM
    (a folding file says it per unit)."""
    if clock_mhz <= 0 or (fps is not None and fps <= 0):
        raise UserError("--fps and --clock-mhz must be positive")
    if folding is not None:
        df = build_dataflow(graph)
        apply_folding_file(df, folding)
        _attach(df, board, clock_mhz)
        design = Design(df, design_cost(df, board.resources()), board, clock_mhz, None)
        if not design.fits(1.0):
            raise UserError(
                f"--folding {folding.name} does not fit {board.name} ({design.over_budget()}); fold more "
                "(smaller pe/simd), choose a larger board, or leave --folding out for the fastest that fits"
            )
    elif fps is None:
        design = _fastest_fitting(graph, board, clock_mhz, external)
    else:
        design = folded_for(graph, int(clock_mhz * 1e6 // fps), fps, clock_mhz, board, external)
        if not design.fits(1.0):
            try:
                best = _fastest_fitting(graph, board, clock_mhz, external).fps
                hint = f"at most {best:.0f} fps fit"
            except UserError:
                hint = "the model does not fit this board"
            raise UserError(
                f"--fps {fps:g} at {clock_mhz:g} MHz does not fit {board.name} ({design.over_budget()}); "
                f"{hint}: lower --fps or choose a larger board"
            )
        if not design.fits():
            print(
                f"warning: --fps {fps:g} uses more than {SEARCH_HEADROOM:.0%} of {board.name}'s "
                f"{design.over_budget(SEARCH_HEADROOM)}: place and route may fail",
                file=sys.stderr,
            )
    record_folding(graph, design.dataflow)
    return design


def _attach(df: Dataflow, board: Board, clock_mhz: float) -> None:
    """The weight DMAs of the units a folding file or a saved IR streams from DRAM."""
    try:
        attach_weight_dmas(df, board, clock_mhz)
    except ValueError as exc:
        raise UserError(
            f'{exc}: keep that unit\'s weights on chip ("weights": "chip"), or choose a board with DRAM'
        ) from None


def record_folding(graph: Graph, df: Dataflow) -> None:
    """Write each kernel's folding into the `hw` record of the IR nodes it implements."""
    nodes = {n.name: n for n in graph.nodes}
    for k in df.order():
        for name in k.ir_nodes:
            nodes[name].hw = {"kernel": k.name, "pe": k.pe, "simd": k.simd}
            if getattr(k, "external", False):
                nodes[name].hw["weights"] = "dram"


def dataflow_from_graph(graph: Graph, board: Board, clock_mhz: float) -> Design:
    """Rebuild a design from an IR whose nodes carry their folding (a resumed build)."""
    df = build_dataflow(graph)
    by_node = {n.name: n.hw for n in graph.nodes if n.hw}
    for k in df.order():
        hw = next((by_node[n] for n in k.ir_nodes if n in by_node), None)
        if hw:
            k.pe, k.simd = int(hw["pe"]), int(hw["simd"])
            if hw.get("weights") == "dram":
                k.external = True
        elif k.folded:
            raise UserError("the saved IR carries no folding; run the dataflow step first")
    follow_neighbours(df)
    connect_widths(df)
    _attach(df, board, clock_mhz)
    return Design(df, design_cost(df, board.resources()), board, clock_mhz, None)
