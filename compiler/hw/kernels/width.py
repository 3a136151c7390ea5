"""The width converter between a producer's beat and its consumer's (inserted by the folding)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from compiler.hw.kernels.base import Dataflow, Kernel, clog2, register


@cache
def count_states(a: int, b: int) -> int:
    """How many values the element count takes in its fixed cycle (`read_counts`): the states
    of the converter's counter, whose compare and next-value logic grows with their bits."""
    n, seen = 0, set()
    while n not in seen:
        seen.add(n)
        read = a <= b or n < b
        total = n + (a if read else 0)
        n = total - b if total >= b else total
    return len(seen)


@cache
def read_counts(a: int, b: int) -> tuple[int, ...]:
    """The element counts n at which a converter of A-element to B-element beats reads: the count
    runs from 0 through a fixed cycle (read when A <= B or n < B, write when it then holds B),
    whatever the stalls, so the input beat is only ever placed at these offsets."""
    n, seen, reads = 0, set(), []
    while n not in seen:
        seen.add(n)
        read = a <= b or n < b
        if read:
            reads.append(n)
        total = n + (a if read else 0)
        n = total - b if total >= b else total
    return tuple(sorted(reads))


@dataclass(frozen=True)
class ConverterGeometry:
    inw: int  # elements per input beat
    outw: int  # elements per output beat
    elements: int  # per frame

    @property
    def channels(self) -> int:
        return self.elements


@register
class WidthConverter(Kernel):
    kind = "dwc"
    Geometry = ConverterGeometry

    def cycles(self, df: Dataflow) -> int:
        return max(df.input_streams(self)[0].beats, df.output_streams(self)[0].beats)

    def logic_features(self, df: Dataflow) -> dict[str, float]:
        """hdl/bireal_dwc.v. Where B is a multiple of A it gathers B/A beats in a shift register of
        B - A elements (no multiplexer); where A is a multiple of B it scatters through a
        register of A - B elements, a 2:1 multiplexer per bit of the beat (`smux`). Otherwise it
        places the input beat at the counts where it reads (`read_counts`) and shifts the output
        beat out of a register of A + B elements: `place` = input bits times those counts (the
        multiplexer inputs), `cap` the register's bits. `held`: the register bits synthesis
        keeps (the general form's top B elements only ever hold zeros once shifted)."""
        a, b = self.geometry.inw, self.geometry.outw
        bits = df.input_streams(self)[0].bits
        states = count_states(a, b)
        ctr = clog2(states)  # the count's compare and next-value logic
        wrap = ctr if states & (states - 1) else 0  # a cycle not a power of two: a compare and reset
        if a < b and b % a == 0:
            return {
                "cap": (b - a) * bits,
                "place": 0,
                "counts": 0,
                "smux": 0,
                "held": (b - a) * bits,
                "ctr": ctr,
            }
        if a > b and a % b == 0:
            return {
                "cap": (a - b) * bits,
                "place": 0,
                "counts": 0,
                "smux": a * bits,
                "held": (a - b) * bits,
                "ctr": ctr,
            }
        reads = read_counts(a, b)
        return {
            "cap": (a + b) * bits,
            "place": len(reads) * a * bits,
            "counts": len(reads) * clog2(a + b + 1),
            "smux": 0,
            "held": max(a, b) * bits,
            "ctr": ctr,
            "wrap": wrap,
        }
