"""The width converter between a producer's beat and its consumer's (inserted by the folding)."""

from __future__ import annotations

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
