"""The width converter between a producer's beat and its consumer's (inserted by the folding)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from compiler.hw.kernels.base import Dataflow, Kernel, register


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
        """hdl/bireal_dwc.v shifts the input beat in at n elements and the output beat out of a
        register of A + B elements: a barrel shifter over n's bits that synthesis cannot prove
        constant (n is a multiple of gcd(A, B): its trailing zero bits stay 0)."""
        a, b = self.geometry.inw, self.geometry.outw
        bits = df.input_streams(self)[0].bits
        nw = math.ceil(math.log2(a + b + 1))
        g = math.gcd(a, b)
        zeros = min((g & -g).bit_length() - 1, nw)
        return {"cap": (a + b) * bits, "shift": (a + b) * bits * (nw - zeros)}
