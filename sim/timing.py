"""Cycle-level timing of a dataflow design: two engines with the same semantics.

The semantics (sim/schedule.py): a process fires its next op in cycle c when every item it reads
was written before c (pushed `latency` cycles before that: the writer's register stages; `push`
records the firing, which reserves the slot), every item it writes has room (the item `depth` places earlier was popped
before c), and the sibling op it waits on fired before c; it fires in the first such cycle.

- `tick`: the reference. Two-phase per cycle (evaluate every process against the state latched
  at the start of the cycle, then commit all firings), bounded FIFOs, a line trace, and a
  no-progress watchdog that reports a deadlock naming the full FIFO and the cycle.
- `solve`: the fast engine. It skips the cycles in between: the earliest firing times satisfy
  t[i] = max(t[i-1] + 1, push + latency + 1 of each item read, pop + 1 of the item `depth` before each item
  written, sibling time + 1), a monotone system whose least solution is computed by sweeping the
  processes forward and backward with numpy (a running maximum per process) until nothing
  changes. A design that deadlocks has no finite solution: times pass the bound (every live cycle
  fires at least one op or has a beat being written, so no op can come after the total of ops and
  their latencies) and `solve` hands over to
  `tick` to name the FIFO.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.schedule import Process


class Deadlock(RuntimeError):
    def __init__(self, message: str, cycle: int, fifo: str | None) -> None:
        super().__init__(message)
        self.cycle, self.fifo = cycle, fifo


@dataclass
class Timing:
    times: dict[str, np.ndarray]  # process -> firing cycle of each op
    push: dict[str, np.ndarray]  # stream -> cycle each item was pushed
    pop: dict[str, np.ndarray]  # stream -> cycle each item was popped
    sweeps: int = 0

    def occupancy_max(self, stream: str) -> int:
        """Storage the FIFO needed: the most items held in any cycle, an item counting from the
        cycle it is pushed through the cycle before it is popped (pushed <= c minus popped < c)."""
        push, pop = self.push[stream], self.pop[stream]
        if not len(push):
            return 0
        cycles = np.arange(int(push.max()) + 1)
        pushed = np.searchsorted(np.sort(push), cycles, side="right")
        popped = np.searchsorted(np.sort(pop), cycles, side="left")
        return int((pushed - popped).max())


class _Links:
    """Who writes and reads each stream, at which ops."""

    def __init__(self, procs: list[Process]) -> None:
        self.producer: dict[str, tuple[str, np.ndarray]] = {}
        self.consumer: dict[str, tuple[str, np.ndarray]] = {}
        self.latency = {p.name: p.latency for p in procs}
        for p in procs:
            for s, idx in p.writes.items():
                self.producer[s] = (p.name, idx)
            for s, idx in p.reads.items():
                self.consumer[s] = (p.name, idx)
        missing = set(self.producer) ^ set(self.consumer)
        if missing:
            raise ValueError(f"streams without both ends: {sorted(missing)}")


def _dependents(procs: list[Process], links: _Links, depths: dict[str, int]):
    """For each process X: functions mapping X's first changed op to the first op of each
    dependent process Y that the change can reach."""
    out: dict[str, list[tuple[str, Callable[[int], int]]]] = {p.name: [] for p in procs}
    for p in procs:
        for s, widx in p.writes.items():  # pushes feed the reader
            reader, ridx = links.consumer[s]
            out[p.name].append((reader, lambda j, w=widx, r=ridx: _at(r, np.searchsorted(w, j))))
        for s, ridx in p.reads.items():  # pops make room for the writer, depth items later
            writer, widx = links.producer[s]
            d = depths[s]
            out[p.name].append((writer, lambda j, w=widx, r=ridx, d=d: _at(w, np.searchsorted(r, j) + d)))
        if p.wait is not None:  # a sibling waits on this process
            other, wait = p.wait
            if np.any(np.diff(wait) < 0):
                raise ValueError(f"{p.name}: the ops it waits on must not decrease")
            out[other].append((p.name, lambda j, w=wait: int(np.searchsorted(w, j))))
    return out


def _at(index: np.ndarray, k: int) -> int:
    return int(index[k]) if k < len(index) else 1 << 62


def _earliest(
    p: Process, times: dict[str, np.ndarray], links: _Links, depths: dict[str, int], start: int
) -> np.ndarray:
    """Earliest firing times of p's ops from `start` on, given everyone else's current times."""
    base = np.arange(start, p.ops, dtype=np.int64)
    need = base.copy()
    for s, idx in p.reads.items():
        prod, widx = links.producer[s]
        k = np.searchsorted(idx, start)
        visible = times[prod][widx[k:]] + 1 + links.latency[prod]
        need[idx[k:] - start] = np.maximum(need[idx[k:] - start], visible)
    for s, idx in p.writes.items():
        d = depths[s]
        k = max(d, int(np.searchsorted(idx, start)))
        if len(idx) > k:
            cons, ridx = links.consumer[s]
            pos = idx[k:] - start
            need[pos] = np.maximum(need[pos], times[cons][ridx[k - d : len(idx) - d]] + 1)
    if p.wait is not None:
        other, w = p.wait
        w = w[start:]
        m = w >= 0
        need[m] = np.maximum(need[m], times[other][w[m]] + 1)
    if start:
        need[0] = max(need[0], times[p.name][start - 1] + 1)
    return np.maximum.accumulate(need - base) + base


def solve(
    procs: list[Process],
    depths: dict[str, int],
    max_updates: int = 5_000_000,
    start_from: Timing | None = None,
) -> Timing:
    """Earliest firing times of every op (see the module docstring); Deadlock if none exist.
    `start_from`: times known to be lower bounds (e.g. the solution with deeper FIFOs), a warm start.
    A work list re-solves a process when a neighbour's times changed, and only from the first op
    that change can reach (the running maximum is causal)."""
    links = _Links(procs)
    by_name = {p.name: p for p in procs}
    dependents = _dependents(procs, links, depths)
    if start_from is not None:
        times = {name: t.copy() for name, t in start_from.times.items()}
    else:
        times = {p.name: np.arange(p.ops, dtype=np.int64) for p in procs}
    bound = sum(p.ops * (1 + p.latency) for p in procs) + 2  # a cycle fires an op or waits out a latency
    dirty = {p.name: 0 for p in procs}
    # earliest pending change first (an event order): late suffixes are not recomputed for every
    # early change
    heap = [(0, i, p.name) for i, p in enumerate(procs)]
    rank = {p.name: i for i, p in enumerate(procs)}
    updates = 0
    while heap:
        _, _, name = heapq.heappop(heap)
        if name not in dirty:
            continue
        start = dirty.pop(name)
        p = by_name[name]
        if start >= p.ops:
            continue
        new = _earliest(p, times, links, depths, start)
        changed = np.flatnonzero(new != times[name][start:])
        updates += 1
        if not len(changed):
            continue
        first = start + int(changed[0])
        times[name][start:] = new
        if new[-1] > bound:
            tick(procs, depths)  # raises Deadlock with the FIFO's name
            raise Deadlock("the design deadlocks (the timing has no finite solution)", int(bound), None)
        if updates > max_updates:
            raise RuntimeError(f"timing did not converge in {max_updates} updates")
        for other, reach in dependents[name]:
            at = reach(first)
            if at >= by_name[other].ops:
                continue
            if other not in dirty or at < dirty[other]:
                dirty[other] = at
                heapq.heappush(heap, (int(times[other][at]), rank[other], other))
    push = {s: times[p][idx] for s, (p, idx) in links.producer.items()}
    pop = {s: times[p][idx] for s, (p, idx) in links.consumer.items()}
    return Timing(times, push, pop, updates)


def tick(
    procs: list[Process],
    depths: dict[str, int],
    trace: list[str] | None = None,
    max_cycles: int | None = None,
) -> Timing:
    """The reference engine: cycle by cycle, two phases (see the module docstring). With `trace`,
    appends one line per cycle: per process '#' fired, 'r' waits for input, 'w' waits for room,
    's' waits for its sibling, '.' done."""
    links = _Links(procs)
    names = [p.name for p in procs]
    times = {p.name: np.full(p.ops, -1, dtype=np.int64) for p in procs}
    fired = {p.name: 0 for p in procs}
    ports = {
        p.name: [(s, idx, "r") for s, idx in p.reads.items()] + [(s, idx, "w") for s, idx in p.writes.items()]
        for p in procs
    }
    item = {(p.name, s): 0 for p in procs for s in list(p.reads) + list(p.writes)}
    push = {s: np.full(len(idx), -1, dtype=np.int64) for s, (_, idx) in links.producer.items()}
    pop = {s: np.full(len(idx), -1, dtype=np.int64) for s, (_, idx) in links.consumer.items()}
    limit = max_cycles if max_cycles is not None else sum(p.ops * (1 + p.latency) for p in procs) + 2
    in_flight_until = -1  # the last cycle in which a pushed item is still being written
    by_name = {p.name: p for p in procs}
    cycle = 0
    while any(fired[n] < by_name[n].ops for n in names):
        if cycle > limit:
            raise RuntimeError(f"no completion within {limit} cycles")
        firing: list[str] = []
        status = []
        for p in procs:  # evaluate: against the state latched at the start of this cycle
            i = fired[p.name]
            if i >= p.ops:
                status.append(".")
                continue
            why = ""
            for s, idx, kind in ports[p.name]:
                k = item[(p.name, s)]
                if k >= len(idx) or idx[k] != i:
                    continue
                if kind == "r" and not (
                    push[s][k] >= 0 and push[s][k] + links.latency[links.producer[s][0]] < cycle
                ):
                    why = why or "r"
                if kind == "w":
                    d = depths[s]
                    if k >= d and not (0 <= pop[s][k - d] < cycle):
                        why = why or "w"
            if p.wait is not None:
                other, w = p.wait
                if w[i] >= 0 and not (0 <= times[other][w[i]] < cycle):
                    why = why or "s"
            status.append(why or "#")
            if not why:
                firing.append(p.name)
        for name in firing:  # commit
            p = by_name[name]
            i = fired[name]
            times[name][i] = cycle
            for s, idx, kind in ports[name]:
                k = item[(name, s)]
                if k < len(idx) and idx[k] == i:
                    (push if kind == "w" else pop)[s][k] = cycle
                    item[(name, s)] = k + 1
                    if kind == "w":
                        in_flight_until = max(in_flight_until, cycle + p.latency)
            fired[name] = i + 1
        if trace is not None:
            trace.append(f"{cycle:6d} " + "".join(status))
        if not firing and cycle > in_flight_until:
            _report_deadlock(
                procs, ports, item, fired, depths, links, pop, cycle, dict(zip(names, status, strict=True))
            )
        cycle += 1
    return Timing(times, push, pop, cycle)


def _report_deadlock(
    procs, ports, item, fired, depths, links, pop, cycle: int, status: dict[str, str]
) -> None:
    """Nothing fired this cycle, so nothing ever will. Name the full FIFO at the root of the
    wait: its writer is stuck on it while its reader waits for input elsewhere (a shortcut FIFO
    full while the add waits for the conv branch)."""
    full = []
    for p in procs:
        i = fired[p.name]
        for s, idx, kind in ports[p.name]:
            k = item[(p.name, s)]
            d = depths[s]
            if (
                kind == "w"
                and i < p.ops
                and k < len(idx)
                and idx[k] == i
                and k >= d
                and not 0 <= pop[s][k - d] < cycle
            ):
                full.append((s, p.name, links.consumer[s][0]))
    full.sort(key=lambda f: status.get(f[2]) != "r")  # readers waiting for input first
    if full:
        s, writer, reader = full[0]
        raise Deadlock(
            f"deadlock at cycle {cycle}: FIFO {s} ({writer} -> {reader}) is full at depth {depths[s]} "
            f"while {reader} waits for another input; deepen {s}",
            cycle,
            s,
        )
    raise Deadlock(f"deadlock at cycle {cycle}: no process can fire", cycle, None)
