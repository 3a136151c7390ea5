"""The thresholding unit (FINN's `Thresholding`): a multi_threshold that no matrix-vector unit
absorbs, e.g. on a network's input; per channel, the count of thresholds the input reaches
(direction -1 flips the comparison), plus qmin. PE channels per beat, a binary search of the
ascending thresholds in clog2(steps + 1) pipelined stages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.hw.kernels.base import (
    Builder,
    Dataflow,
    Kernel,
    Memory,
    MemoryRole,
    clog2,
    register,
    signed_bits,
    threshold_stage_columns,
)
from compiler.hw.kernels.elementwise import fold_elementwise
from compiler.ir import BIPOLAR


def stored_thresholds(thresholds: np.ndarray, qmin: int, out_dtype) -> tuple[np.ndarray, int]:
    """The thresholds a unit stores and its output step (output = qmin + step * count): a bipolar
    output (the IR's qmin -1 with each channel's threshold twice) keeps one threshold per
    channel with step 2, as FINN's single-threshold sign units do."""
    t = np.asarray(thresholds)
    if out_dtype == BIPOLAR and qmin == -1 and t.ndim == 2 and t.shape[1] == 2 and (t[:, 0] == t[:, 1]).all():
        return t[:, :1], 2
    return t, 1


@dataclass(frozen=True)
class ThresholdGeometry:
    shape: tuple[int, ...]  # the tensor's shape without the batch (channels last)
    qmin: int
    threshold_bits: int
    step: int = 1  # output = qmin + step * count (2: a bipolar output from one threshold)

    @property
    def channels(self) -> int:
        return self.shape[-1]


@register
class Thresholding(Kernel):
    kind = "thresholding"
    Geometry = ThresholdGeometry
    ir_ops = ("multi_threshold",)
    folded = True

    @classmethod
    def from_ir(cls, b: Builder, node) -> Kernel:
        graph = b.graph
        thresholds, step = stored_thresholds(
            graph.consts[node.inputs[1]], node.attrs.qmin, graph.tensors[node.outputs[0]].dtype
        )
        geometry = cls.Geometry(
            tuple(graph.tensors[node.outputs[0]].shape[1:]),
            node.attrs.qmin,
            graph.tensors[node.inputs[1]].dtype.bits,
            step,
        )
        consts = {"thresholds": thresholds, "direction": graph.consts[node.inputs[2]]}
        return b.add(cls, geometry, [node.name], consts, inputs=node.inputs[:1], output=node.outputs[0])

    @classmethod
    def from_sign(cls, b: Builder, node) -> Kernel:
        """A `sign` that no sliding-window unit takes on the way in (one feeding a matrix unit,
        a pool or the output): -1 + 2 * [x >= 0], one threshold 0 with step 2."""
        graph = b.graph
        shape = tuple(graph.tensors[node.outputs[0]].shape[1:])
        c = shape[-1]
        consts = {"thresholds": np.zeros((c, 1), dtype=np.int64), "direction": np.ones(c, dtype=np.int64)}
        geometry = cls.Geometry(shape, -1, 2, 2)
        return b.add(cls, geometry, [node.name], consts, inputs=node.inputs[:1], output=node.outputs[0])

    def levels(self) -> int:
        return clog2(self.consts["thresholds"].shape[1] + 1)

    def logic_features(self, df: Dataflow) -> dict[str, float]:
        """The search's pipeline registers: per lane and level a value as wide as the RTL's
        comparison (the thresholds' range and the input's, plus a sign: compiler/backends/rtl)."""
        t = self.consts["thresholds"]
        in_bits = df.input_streams(self)[0].bits
        tb = max(signed_bits(int(t.min(initial=0)), int(t.max(initial=0))), in_bits + 4) + 1
        return {"PLT": self.pe * self.levels() * tb}

    def pipeline_stages(self) -> int:
        """hdl/bireal_threshold.v: direction * x registered, then one register per search level
        but the last."""
        return self.levels()

    def memories(self, df: Dataflow) -> list[Memory]:
        groups = self.channels() // self.pe
        t = self.consts["thresholds"].reshape(-1, self.consts["thresholds"].shape[-1])
        live = threshold_stage_columns(t, self.pe, self.geometry.threshold_bits)
        return [
            Memory(
                MemoryRole.THRESHOLDS,
                self.pe * self.geometry.threshold_bits,
                groups * 2**level,
                level=level,
                lanes=self.pe,
                live_bits=live[level],
            )
            for level in range(self.levels())
        ]

    def fold(self, df: Dataflow, target: int) -> bool:
        return fold_elementwise(self, df, target)
