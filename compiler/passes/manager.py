"""PassManager: runs passes in order with instruments (per-pass timing, IR dumps) and optional
verification after each pass, on a copy of the input graph."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from compiler.ir import Graph, print_graph, verify
from compiler.passes.base import Pass


class Instrument:
    def before(self, p: Pass, graph: Graph) -> None:
        pass

    def after(self, p: Pass, graph: Graph, changed: bool, seconds: float) -> None:
        pass


@dataclass
class PassTiming(Instrument):
    """Records (pass, seconds, changed) for every pass run."""

    records: list[dict] = field(default_factory=list)

    def after(self, p: Pass, graph: Graph, changed: bool, seconds: float) -> None:
        self.records.append({"pass": p.name, "seconds": round(seconds, 4), "changed": changed})


@dataclass
class DumpIRAfterEachPass(Instrument):
    """Writes the IR text after every pass as `<folder>/<NN>_<pass>.ir` (constants omitted)."""

    folder: Path
    count: int = 0

    def after(self, p: Pass, graph: Graph, changed: bool, seconds: float) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count += 1
        (self.folder / f"{self.count:02d}_{p.name}.ir").write_text(print_graph(graph))


class PassManager:
    def __init__(
        self, passes: list[Pass], instruments: list[Instrument] | None = None, verify_each: bool = False
    ):
        self.passes = passes
        self.instruments = instruments or []
        self.verify_each = verify_each

    def run(self, graph: Graph) -> Graph:
        g = graph.copy()
        for p in self.passes:
            for inst in self.instruments:
                inst.before(p, g)
            start = time.perf_counter()
            changed = p.run(g)
            seconds = time.perf_counter() - start
            if self.verify_each:
                verify(g)
            for inst in self.instruments:
                inst.after(p, g, changed, seconds)
        return g
