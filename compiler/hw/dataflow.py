"""The streaming dataflow design of a lowered IR graph: one hardware kernel per layer, FINN style,
connected by bounded FIFO streams.

Kernels (`Kernel.kind`):
  input_dma        pixels from the host (the host applies the input quantizer), one pixel per beat
  swu              sliding-window unit with line buffers; `sign_input` takes the sign of its
                   8-bit input on the way in (the Bi-Real sign costs nothing in hardware);
                   zero padding of a bipolar map emits invalid taps (ternary elements, 2 bits)
  mvu              matrix-vector unit, PE x SIMD folded: XNOR-popcount (binary) or 8-bit MACs,
                   with fused thresholds (multi_threshold) or integer output (+ bias)
  add              integer add of two streams with saturation
  fork             duplicates a stream (a residual map feeding the block and its shortcut)
  max_pool, sum_pool, global_sum_pool
  dwc              width converter between a producer's PE and a consumer's SIMD
  output_dma       integer logits to the host (the host applies the output dequantizer)

Every stream carries a tensor in NHWC order (an swu's output: per output pixel, taps (ky, kx)
then channels, the IR's im2col order); a beat holds `width` consecutive elements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from compiler.ir import BIPOLAR, TERNARY, Graph, IntType, RealType


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
class Kernel:
    name: str
    kind: str
    inputs: list[str]
    outputs: list[str]
    geometry: dict[str, Any]
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    pe: int = 1
    simd: int = 1
    ir_nodes: list[str] = field(default_factory=list)


@dataclass
class Dataflow:
    name: str
    kernels: dict[str, Kernel]
    streams: dict[str, Stream]
    input_shape: tuple[int, int, int]  # H, W, C of the pixels
    output_elements: int

    def order(self) -> list[Kernel]:
        return list(self.kernels.values())

    def input_streams(self, kernel: Kernel) -> list[Stream]:
        return [self.streams[s] for s in kernel.inputs]

    def output_streams(self, kernel: Kernel) -> list[Stream]:
        return [self.streams[s] for s in kernel.outputs]


class Window(NamedTuple):
    """A window kernel's geometry: input map, output map, kernel, stride, top/left padding."""

    ih: int
    iw: int
    c: int
    oh: int
    ow: int
    kh: int
    kw: int
    sy: int
    sx: int
    top: int
    left: int


def window_of(k: Kernel) -> Window:
    g = k.geometry
    return Window(*g["ifm"], *g["ofm"], *g["kernel"], *g["stride"], g["pads"][0], g["pads"][1])


def _bits(dtype) -> int:
    if dtype == BIPOLAR:
        return 1
    if isinstance(dtype, RealType):
        raise ValueError("real tensors do not stream")
    return dtype.bits


class _Builder:
    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.kernels: dict[str, Kernel] = {}
        self.streams: dict[str, Stream] = {}
        self.source: dict[str, tuple[str, int, int]] = {}  # IR tensor -> (kernel, elements, bits)
        self.sign_of: dict[str, str] = {}  # IR tensor (sign output) -> its input tensor
        self.alias: dict[str, str] = {}  # IR tensor (flatten output) -> tensor it renames
        self.pending: dict[str, list[tuple[str, int]]] = {}  # tensor -> consumers (kernel, port)

    def kernel(self, kind: str, geometry: dict, ir_nodes: list[str], consts=None) -> Kernel:
        k = Kernel(f"{kind}_{len(self.kernels)}", kind, [], [], geometry, consts or {}, ir_nodes=ir_nodes)
        self.kernels[k.name] = k
        return k

    def produce(self, kernel: Kernel, tensor: str) -> None:
        info = self.g.tensors[tensor]
        self.source[tensor] = (kernel.name, int(np.prod(info.shape[1:])), _bits(info.dtype))

    def consume(self, kernel: Kernel, tensor: str) -> None:
        tensor = self.alias.get(tensor, tensor)
        kernel.inputs.append("")
        self.pending.setdefault(tensor, []).append((kernel.name, len(kernel.inputs) - 1))

    def connect(self) -> None:
        """Create the streams, inserting a fork for every tensor with two consumers."""
        for tensor, users in self.pending.items():
            producer, elements, bits = self.source[tensor]
            if len(users) > 2:
                raise ValueError(f"tensor {tensor} has {len(users)} consumers; forks of two only")
            source = producer
            if len(users) == 2:
                fork = self.kernel("fork", {"elements": elements}, [])
                fork.inputs = [self.stream(producer, fork.name, elements, bits, tensor)]
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
    b = _Builder(graph)
    consumers = graph.consumers()
    done: set[str] = set()
    h, w, c = graph.tensors[graph.inputs[0]].shape[1:]
    for node in graph.nodes:
        if node.name in done:
            continue
        op = node.op
        if op == "quantize_input":
            k = b.kernel("input_dma", {"shape": (h, w, c)}, [node.name])
            b.produce(k, node.outputs[0])
        elif op == "sign":
            b.sign_of[node.outputs[0]] = node.inputs[0]
        elif op == "flatten":
            b.alias[node.outputs[0]] = b.alias.get(node.inputs[0], node.inputs[0])
        elif op == "sliding_window":
            src = node.inputs[0]
            sign = src in b.sign_of
            base = b.sign_of.get(src, src)
            ih, iw, ic = graph.tensors[src].shape[1:]
            oh, ow = graph.tensors[node.outputs[0]].shape[1:3]
            a = node.attrs
            geometry = {
                "ifm": (ih, iw, ic),
                "ofm": (oh, ow),
                "kernel": tuple(a.kernel),
                "stride": tuple(a.stride),
                "pads": tuple(a.pads),
                "pad_value": a.pad_value,
                "sign_input": sign,
                "ternary": graph.tensors[node.outputs[0]].dtype == TERNARY,
            }
            k = b.kernel("swu", geometry, [node.name])
            b.consume(k, base)
            b.produce(k, node.outputs[0])
        elif op in ("matmul", "xnor_popcount_matmul"):
            k = _matrix_vector(b, graph, node, consumers, done)
        elif op == "add":
            k = b.kernel(
                "add",
                {
                    "shape": graph.tensors[node.outputs[0]].shape[1:],
                    "qmin": node.attrs.qmin,
                    "qmax": node.attrs.qmax,
                },
                [node.name],
            )
            for i in node.inputs:
                b.consume(k, i)
            b.produce(k, node.outputs[0])
        elif op in ("max_pool", "sum_pool"):
            a = node.attrs
            geometry = {
                "ifm": graph.tensors[node.inputs[0]].shape[1:],
                "ofm": graph.tensors[node.outputs[0]].shape[1:3],
                "kernel": tuple(a.kernel),
                "stride": tuple(a.stride),
                "pads": tuple(a.pads),
            }
            k = b.kernel(op, geometry, [node.name])
            b.consume(k, node.inputs[0])
            b.produce(k, node.outputs[0])
        elif op == "global_sum_pool":
            k = b.kernel(op, {"ifm": graph.tensors[node.inputs[0]].shape[1:]}, [node.name])
            b.consume(k, node.inputs[0])
            b.produce(k, node.outputs[0])
        elif op == "dequantize_output":
            k = b.kernel(
                "output_dma", {"elements": int(np.prod(graph.tensors[node.inputs[0]].shape[1:]))}, [node.name]
            )
            b.consume(k, node.inputs[0])
        elif op == "multi_threshold":
            raise ValueError(f"{node.name}: a multi_threshold must follow a matrix-vector product")
        else:
            raise ValueError(f"{node.name}: op {op} has no hardware kernel; lower the graph first")
        done.add(node.name)
    b.connect()
    out = next(k for k in b.kernels.values() if k.kind == "output_dma")
    return Dataflow(graph.name, b.kernels, b.streams, (h, w, c), out.geometry["elements"])


def _matrix_vector(b: _Builder, graph: Graph, node, consumers, done: set[str]) -> Kernel:
    x, wname = node.inputs[0], node.inputs[1]
    weights = graph.consts[wname]
    mh, mw = weights.shape
    pixels = int(np.prod(graph.tensors[x].shape[1:-1]))
    binary = node.op == "xnor_popcount_matmul"
    consts = {"weights": weights}
    users = consumers.get(node.outputs[0], [])
    out_tensor = node.outputs[0]
    nodes = [node.name]
    geometry: dict[str, Any] = {
        "mw": mw,
        "mh": mh,
        "pixels": pixels,
        "binary": binary,
        "acc_bits": graph.tensors[out_tensor].dtype.bits,
    }
    if len(users) == 1 and users[0].op == "multi_threshold":
        thr = users[0]
        consts["thresholds"] = graph.consts[thr.inputs[1]]
        consts["direction"] = graph.consts[thr.inputs[2]]
        geometry["qmin"] = thr.attrs.qmin
        geometry["threshold_bits"] = graph.tensors[thr.inputs[1]].dtype.bits
        out_tensor = thr.outputs[0]
        nodes.append(thr.name)
        done.add(thr.name)
    if len(node.inputs) == 3:
        consts["bias"] = graph.consts[node.inputs[2]]
    out_type = graph.tensors[out_tensor].dtype
    geometry["out_bits"] = out_type.bits if isinstance(out_type, IntType) else 64
    geometry["ternary_input"] = graph.tensors[x].dtype == TERNARY
    k = b.kernel("mvu", geometry, nodes, consts)
    b.consume(k, x)
    b.produce(k, out_tensor)
    return k
