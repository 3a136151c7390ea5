"""The streaming dataflow design of a lowered IR graph: one hardware kernel per layer, FINN style,
connected by bounded FIFO streams.

The kernels are the classes of `compiler.hw.kernels` (input and output DMA, sliding-window unit,
matrix-vector unit, thresholding, add, fork, pools, width converter); each IR op maps to the class that
implements it (`IR_OP_KERNELS`); a `sign` maps to none where sliding-window units take it on the
way in (Bi-Real), else to a thresholding unit (thresholds 0, 0: -1 or +1); a `flatten` renames a
stream.

Every stream carries a tensor in NHWC order (a sliding window's output: per output pixel, taps
(ky, kx) then channels, the IR's im2col order); a beat holds `width` consecutive elements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.hw.kernels import IR_OP_KERNELS, Fork, InputDMA, Kernel, OutputDMA, Thresholding
from compiler.ir import BIPOLAR, Graph, RealType, value_bounds


@dataclass
class Stream:
    name: str
    producer: str
    consumer: str
    elements: int  # per frame
    bits: int  # per element
    width: int = 1  # elements per beat
    depth: int = 2  # FIFO depth in beats
    tensor: str = ""  # the IR tensor it carries (an swu with the Bi-Real sign reads the sign's input)

    @property
    def beats(self) -> int:
        return self.elements // self.width


@dataclass
class Dataflow:
    name: str
    kernels: dict[str, Kernel]
    streams: dict[str, Stream]
    input_shape: tuple[int, int, int]  # H, W, C of the pixels
    output_elements: int

    def order(self) -> list[Kernel]:
        """The kernels in topological order (producers first; among kernels that are ready
        together, the order they were made). A stream from outside the design counts as ready."""
        done: set[str] = set()
        order: list[Kernel] = []
        pending = list(self.kernels.values())
        while pending:
            rest = []
            for k in pending:
                if all(
                    self.streams[s].producer in done or self.streams[s].producer not in self.kernels
                    for s in k.inputs
                ):
                    order.append(k)
                    done.add(k.name)
                else:
                    rest.append(k)
            if len(rest) == len(pending):
                raise ValueError("the dataflow graph has a cycle")
            pending = rest
        return order

    def input_streams(self, kernel: Kernel) -> list[Stream]:
        return [self.streams[s] for s in kernel.inputs]

    def output_streams(self, kernel: Kernel) -> list[Stream]:
        return [self.streams[s] for s in kernel.outputs]

    @property
    def input_kernel(self) -> InputDMA:
        return next(k for k in self.kernels.values() if isinstance(k, InputDMA))

    @property
    def output_kernel(self) -> OutputDMA:
        return next(k for k in self.kernels.values() if isinstance(k, OutputDMA))


def _bits(dtype) -> int:
    if dtype == BIPOLAR:
        return 1
    if isinstance(dtype, RealType):
        raise ValueError("real tensors do not stream")
    return dtype.bits


class DataflowBuilder:
    """What a kernel class's `from_ir` uses to enter itself and its streams."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.consumers = graph.consumers()
        self.done: set[str] = set()  # IR nodes already implemented (a multi_threshold fused into its unit)
        self.kernels: dict[str, Kernel] = {}
        self.streams: dict[str, Stream] = {}
        self.source: dict[str, tuple[str, int, int]] = {}  # IR tensor -> (kernel, elements, bits)
        self.sign_of: dict[str, str] = {}  # IR tensor (sign output) -> its input tensor
        self.alias: dict[str, str] = {}  # IR tensor (flatten output) -> tensor it renames
        self.pending: dict[str, list[tuple[str, int]]] = {}  # tensor -> consumers (kernel, port)
        self._bounds: dict | None = None

    def bounds(self) -> dict:
        """The IR's exact value ranges of every tensor (computed once)."""
        if self._bounds is None:
            self._bounds = value_bounds(self.graph)
        return self._bounds

    def add(
        self,
        cls: type[Kernel],
        geometry,
        ir_nodes: list[str],
        consts=None,
        inputs=(),
        output: str | None = None,
    ) -> Kernel:
        """A new kernel of `cls` reading the IR tensors `inputs` and producing `output`."""
        k = cls(f"{cls.kind}_{len(self.kernels)}", [], [], geometry, consts or {}, ir_nodes=ir_nodes)
        self.kernels[k.name] = k
        for tensor in inputs:
            self.consume(k, tensor)
        if output is not None:
            self.produce(k, output)
        return k

    def produce(self, kernel: Kernel, tensor: str) -> None:
        info = self.graph.tensors[tensor]
        self.source[tensor] = (kernel.name, int(np.prod(info.shape[1:])), _bits(info.dtype))

    def consume(self, kernel: Kernel, tensor: str) -> None:
        tensor = self.alias.get(tensor, tensor)
        kernel.inputs.append("")
        self.pending.setdefault(tensor, []).append((kernel.name, len(kernel.inputs) - 1))

    def connect(self) -> None:
        """Create the streams, inserting a fork for every tensor with two consumers, and a chain
        of forks for more (each passes one copy on and forks the other again: one Fork kernel
        kind for every backend)."""
        for tensor, users in self.pending.items():
            producer, elements, bits = self.source[tensor]
            source, users = producer, list(users)
            while len(users) > 2:
                fork = self.add(Fork, Fork.Geometry(elements), [])
                fork.inputs = [self.stream(source, fork.name, elements, bits, tensor)]
                kname, port = users.pop(0)
                self.kernels[kname].inputs[port] = self.stream(fork.name, kname, elements, bits, tensor)
                source = fork.name
            if len(users) == 2:
                fork = self.add(Fork, Fork.Geometry(elements), [])
                fork.inputs = [self.stream(source, fork.name, elements, bits, tensor)]
                source = fork.name
            for kname, port in users:
                self.kernels[kname].inputs[port] = self.stream(source, kname, elements, bits, tensor)

    def stream(self, producer: str, consumer: str, elements: int, bits: int, tensor: str) -> str:
        name = f"s{len(self.streams)}"
        self.streams[name] = Stream(name, producer, consumer, elements, bits, tensor=tensor)
        self.kernels[producer].outputs.append(name)
        return name


def build_dataflow(graph: Graph) -> Dataflow:
    """The dataflow design of a lowered, width-minimized IR graph (see the module docstring)."""
    b = DataflowBuilder(graph)
    h, w, c = graph.tensors[graph.inputs[0]].shape[1:]
    for node in graph.nodes:
        if node.name in b.done:
            continue
        op = node.op
        if op == "sign":
            users = b.consumers.get(node.outputs[0], [])
            if users and all(u.op == "sliding_window" for u in users):
                b.sign_of[node.outputs[0]] = node.inputs[0]  # taken on the way in
            else:
                Thresholding.from_sign(b, node)
        elif op == "flatten":
            b.alias[node.outputs[0]] = b.alias.get(node.inputs[0], node.inputs[0])
        elif op in IR_OP_KERNELS:
            IR_OP_KERNELS[op].from_ir(b, node)
        else:
            raise ValueError(f"{node.name}: op {op} has no hardware kernel; lower the graph first")
        b.done.add(node.name)
    b.connect()
    out = next(k for k in b.kernels.values() if isinstance(k, OutputDMA))
    return Dataflow(graph.name, b.kernels, b.streams, (h, w, c), out.geometry.elements)
