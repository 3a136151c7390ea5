"""The host's side of the design: the input DMA (pixels from the host, which applies the input
quantizer; one pixel per beat) and the output DMA (integer logits to the host, which applies the
output dequantizer)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.hw.kernels.base import Builder, Dataflow, Kernel, register
from compiler.hw.kernels.elementwise import ElementsGeometry


@dataclass(frozen=True)
class PixelGeometry:
    shape: tuple[int, int, int]  # H, W, C

    @property
    def channels(self) -> int:
        return self.shape[2]


class DMA(Kernel):
    host_port = True

    def logic_lut_ff(self, width: int) -> tuple[int, int]:
        return 600, 900


@register
class InputDMA(DMA):
    kind = "input_dma"
    Geometry = PixelGeometry
    ir_ops = ("quantize_input",)

    @classmethod
    def from_ir(cls, b: Builder, node) -> Kernel:
        shape = tuple(b.graph.tensors[b.graph.inputs[0]].shape[1:])
        return b.add(cls, cls.Geometry(shape), [node.name], output=node.outputs[0])

    def out_width(self) -> int:
        return self.geometry.shape[2]

    def cycles(self, df: Dataflow) -> int:
        return df.output_streams(self)[0].beats


@register
class OutputDMA(DMA):
    kind = "output_dma"
    Geometry = ElementsGeometry
    ir_ops = ("dequantize_output",)

    @classmethod
    def from_ir(cls, b: Builder, node) -> Kernel:
        elements = int(np.prod(b.graph.tensors[node.inputs[0]].shape[1:]))
        return b.add(cls, cls.Geometry(elements), [node.name], inputs=node.inputs[:1])

    def follow(self, df: Dataflow) -> None:
        """It reads its producer's beat."""
        self.pe = df.kernels[df.streams[self.inputs[0]].producer].out_width()
