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
from compiler.hw.folding import apply_folding_file, connect_widths, fold_to_target, follow_neighbours
from compiler.ir import Graph

SEARCH_HEADROOM = 0.85  # a design "fits" with 15% of every resource left for routing


@dataclass
class Design:
    dataflow: Dataflow
    cost: DesignCost
    board: Board
    clock_mhz: float
    target_fps: float | None

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


def folded_for(graph: Graph, target: int, fps: float, clock: float, board: Board) -> Design:
    df = build_dataflow(graph)
    fold_to_target(df, target, fps, clock)
    return Design(df, design_cost(df, board.resources()), board, clock, fps)


def _fastest_fitting(graph: Graph, board: Board, clock: float) -> Design:
    """The smallest cycles-per-frame target whose folding uses at most 85% of every resource of
    the board (binary search)."""
    slowest = build_dataflow(graph)
    for k in slowest.order():
        k.pe = k.simd = 1
    connect_widths(slowest)
    hi = max(k.cycles(slowest) for k in slowest.order())
    lo = 1
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        try:
            design = folded_for(graph, mid, clock * 1e6 / mid, clock, board)
            ok = design.fits()
        except UserError:
            ok = False
        if ok:
            best, hi = design, mid - 1
        else:
            lo = mid + 1
    if best is None:
        raise UserError(f"the model does not fit {board.name} even fully folded; choose a larger board")
    best.target_fps = None
    return best


def make_design(
    graph: Graph, board: Board, clock_mhz: float, fps: float | None, folding: Path | None
) -> Design:
    if clock_mhz <= 0 or (fps is not None and fps <= 0):
        raise UserError("--fps and --clock-mhz must be positive")
    if folding is not None:
        df = build_dataflow(graph)
        apply_folding_file(df, folding)
        design = Design(df, design_cost(df, board.resources()), board, clock_mhz, None)
        if not design.fits(1.0):
            raise UserError(
                f"--folding {folding.name} does not fit {board.name} ({design.over_budget()}); fold more "
                "(smaller pe/simd), choose a larger board, or leave --folding out for the fastest that fits"
            )
    elif fps is None:
        design = _fastest_fitting(graph, board, clock_mhz)
    else:
        design = folded_for(graph, int(clock_mhz * 1e6 // fps), fps, clock_mhz, board)
        if not design.fits(1.0):
            try:
                best = _fastest_fitting(graph, board, clock_mhz).fps
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


def record_folding(graph: Graph, df: Dataflow) -> None:
    """Write each kernel's folding into the `hw` record of the IR nodes it implements."""
    nodes = {n.name: n for n in graph.nodes}
    for k in df.order():
        for name in k.ir_nodes:
            nodes[name].hw = {"kernel": k.name, "pe": k.pe, "simd": k.simd}


def dataflow_from_graph(graph: Graph, board: Board, clock_mhz: float) -> Design:
    """Rebuild a design from an IR whose nodes carry their folding (a resumed build)."""
    df = build_dataflow(graph)
    by_node = {n.name: n.hw for n in graph.nodes if n.hw}
    for k in df.order():
        hw = next((by_node[n] for n in k.ir_nodes if n in by_node), None)
        if hw:
            k.pe, k.simd = int(hw["pe"]), int(hw["simd"])
        elif k.folded:
            raise UserError("the saved IR carries no folding; run the dataflow step first")
    follow_neighbours(df)
    connect_widths(df)
    return Design(df, design_cost(df, board.resources()), board, clock_mhz, None)
