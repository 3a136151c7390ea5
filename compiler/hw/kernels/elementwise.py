"""Element-wise kernels: the saturating residual add, the fork (a residual map to its block and
its shortcut), the global sum pool, and the folding rule they share with the pools."""

from __future__ import annotations

from dataclasses import dataclass

from compiler.hw.calibrated import kept_beats
from compiler.hw.kernels.base import Builder, Dataflow, Kernel, clog2, divisors, register


def feeding_width(df: Dataflow, k: Kernel) -> int:
    """The beat of the kernel feeding k's first input, looking through forks."""
    producer = df.kernels[df.streams[k.inputs[0]].producer]
    while isinstance(producer, Fork):
        producer = df.kernels[df.streams[producer.inputs[0]].producer]
    return producer.out_width()


def fold_elementwise(k: Kernel, df: Dataflow, target: int) -> bool:
    """The smallest PE dividing the channels that meets `target`, or the feeding unit's beat when
    that is wider and divides them (no width converter in between)."""
    c = k.channels()
    pixels = df.streams[k.inputs[0]].elements // c
    least = next((d for d in divisors(c) if pixels * c // d <= target), c)
    feed = feeding_width(df, k)
    k.pe = feed if (feed >= least and c % feed == 0) else least
    return True


@dataclass(frozen=True)
class AddGeometry:
    shape: tuple[int, int, int]
    qmin: int
    qmax: int

    @property
    def channels(self) -> int:
        return self.shape[-1]


@register
class Add(Kernel):
    """Integer add of two streams, saturated to [qmin, qmax]."""

    kind = "add"
    Geometry = AddGeometry
    ir_ops = ("add",)
    folded = True

    @classmethod
    def from_ir(cls, b: Builder, node) -> Kernel:
        geometry = cls.Geometry(
            tuple(b.graph.tensors[node.outputs[0]].shape[1:]), node.attrs.qmin, node.attrs.qmax
        )
        return b.add(cls, geometry, [node.name], inputs=node.inputs, output=node.outputs[0])

    def fold(self, df: Dataflow, target: int) -> bool:
        return fold_elementwise(self, df, target)


@dataclass(frozen=True)
class ElementsGeometry:
    elements: int  # per frame

    @property
    def channels(self) -> int:
        return self.elements


@register
class Fork(Kernel):
    """Duplicates a stream: inserted by the dataflow builder for a tensor with two consumers."""

    kind = "fork"
    Geometry = ElementsGeometry

    def follow(self, df: Dataflow) -> None:
        """It takes its producer's beat (no width converter in front of it)."""
        self.pe = df.kernels[df.streams[self.inputs[0]].producer].out_width()


@dataclass(frozen=True)
class GlobalPoolGeometry:
    ifm: tuple[int, int, int]

    @property
    def channels(self) -> int:
        return self.ifm[2]


@register
class GlobalSumPool(Kernel):
    """Sums every pixel of each channel; writes the sums during the frame's last pixel."""

    kind = "global_sum_pool"
    Geometry = GlobalPoolGeometry
    ir_ops = ("global_sum_pool",)
    folded = True

    @classmethod
    def from_ir(cls, b: Builder, node) -> Kernel:
        geometry = cls.Geometry(tuple(b.graph.tensors[node.inputs[0]].shape[1:]))
        return b.add(cls, geometry, [node.name], inputs=node.inputs[:1], output=node.outputs[0])

    def fold(self, df: Dataflow, target: int) -> bool:
        return fold_elementwise(self, df, target)

    def logic_features(self, df: Dataflow) -> dict[str, float]:
        """hdl/bireal_global_sum_pool.v: PE sums of VW bits per channel group (a register file of
        C/PE words), their adders (`sumb`)."""
        h, w, c = self.geometry.ifm
        vw = df.input_streams(self)[0].bits + clog2(h * w) + 1
        return {"sumb": self.pe * vw, **kept_beats(self.pe * vw, c // self.pe)}

    def latency(self, f_in, l_in, rate, ins, outs, cycles):
        return l_in, l_in + outs[0].beats - 1
