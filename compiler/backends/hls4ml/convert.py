"""--target hls4ml: the streamlined integer IR as an hls4ml project (Vitis backend, io_stream),
for users who want hls4ml's flows. Every layer is expressed exactly in hls4ml's integer types:

  quantize_input           the input layer: the host quantizes with the IR's own `quantize` (offset,
                           bipolar cut); a bipolar map is ap_int<2> holding -1 / +1, like every
                           bipolar tensor here
  conv                     Conv2D, integer weights (bipolar as ap_int<2> +-1), integer accumulator;
                           zero padding only (hls4ml pads with zeros)
  matmul                   Dense, integer weights and accumulator (+ integer bias)
  flatten                  Reshape to 1-D, which hls4ml io_stream makes an in-place flatten: the
                           stream keeps its (h, w, c) order, the IR's NHWC flatten order; exact
                           when Dense layers read it (they gather the whole vector) or the map is
                           1x1
  max_pool (unpadded,      MaxPooling2D (line buffer), accumulator and result the input's type:
    stride = pool)         the maximum of integers, bipolar ones included (-1 < +1)
  sum_pool -> 1x1 conv     one Conv2D with the pool's kernel and stride, the weights repeated per tap
  global_sum_pool -> flatten -> matmul
                           one Conv2D over the whole map, the weights repeated per pixel, + bias
  multi_threshold, sign    BirealThreshold, an hls4ml extension layer (threshold_layer.py)
  add                      Merge add into ap_fixed<B,B,AP_TRN,AP_SAT> (saturation = the IR's clip)

A layer hls4ml cannot express exactly is a one-line UserError naming it and why. hls4ml's own
C-simulation (`ModelGraph.compile()` + `predict()`, g++) is compared with the reference using ==.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bireal_hw.errors import UserError
from compiler.backends.hls4ml.threshold_layer import padded_thresholds, register
from compiler.ir import BIPOLAR, Graph, IntType
from compiler.ir.verify import value_bounds

PROJECT = "bireal_hls4ml"


def _bits(lo: int, hi: int) -> int:
    """Signed bits holding [lo, hi]."""
    return max(2, max(int(lo).bit_length(), int(hi).bit_length()) + 1)


def _int_type(bits: int, signed: bool = True) -> str:
    return f"ap_{'' if signed else 'u'}int<{bits}>"


def _storage(dtype: IntType) -> str:
    """The hls4ml type of an IR integer tensor: a bipolar value is ap_int<2> holding -1 / +1."""
    if dtype.bipolar:
        return _int_type(2)
    return _int_type(dtype.bits, dtype.signed)


@dataclass
class Converted:
    layers: list[dict]
    precision: dict[str, dict]
    input_layer: str
    output_layer: str


class _Converter:
    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.bounds = value_bounds(graph)
        self.producer: dict[str, str] = {}  # IR tensor -> hls4ml layer name
        self.layers: list[dict] = []
        self.precision: dict[str, dict] = {}
        self.consumers = graph.consumers()
        self.done: set[str] = set()

    def tensor_bits(self, tensor: str) -> int:
        b = self.bounds[tensor]
        return _bits(min(b.lo), max(b.hi))

    def refuse(self, node, why: str) -> None:
        raise UserError(
            f"--target hls4ml: {node.name} ({node.op}) cannot be expressed exactly in hls4ml: {why}"
        )

    def add(self, layer: dict, tensor: str, precision: dict) -> None:
        layer["name"] = f"{layer['class_name'].lower()}_{len(self.layers)}"
        self.layers.append(layer)
        self.producer[tensor] = layer["name"]
        self.precision[layer["name"]] = precision

    def only_consumer(self, tensor: str, op: str):
        users = self.consumers.get(tensor, [])
        return users[0] if len(users) == 1 and users[0].op == op else None

    def conv_layer(self, node, x: str, weights: np.ndarray, kernel, stride, pads, bias, out: str) -> None:
        """weights (O, KH, KW, C)."""
        _, ih, iw, c = self.g.tensors[x].shape
        o = weights.shape[0]
        oh = (ih + pads[0] + pads[2] - kernel[0]) // stride[0] + 1
        ow = (iw + pads[1] + pads[3] - kernel[1]) // stride[1] + 1
        wtype = self.g.tensors[node.inputs[1]].dtype
        wbits = 2 if wtype == BIPOLAR else max(2, _bits(int(weights.min()), int(weights.max())))
        bias_data = np.zeros(o) if bias is None else bias.astype(np.float64)
        layer = {
            "class_name": "Conv2D",
            "inputs": [self.producer[x]],
            "data_format": "channels_last",
            "in_height": ih,
            "in_width": iw,
            "n_chan": c,
            "out_height": oh,
            "out_width": ow,
            "n_filt": o,
            "filt_height": kernel[0],
            "filt_width": kernel[1],
            "stride_height": stride[0],
            "stride_width": stride[1],
            "pad_top": pads[0],
            "pad_left": pads[1],
            "pad_bottom": pads[2],
            "pad_right": pads[3],
            "weight_data": weights.transpose(1, 2, 3, 0).astype(np.float64),
            "bias_data": bias_data,
        }
        self.add_weighted(layer, out, wbits)

    def add_weighted(self, layer: dict, out: str, wbits: int) -> None:
        """A Conv2D or Dense layer in integer types: its weights', its bias', and an accumulator
        (and result) one bit wider than the exact range of `out`."""
        bias = layer["bias_data"]
        acc = self.tensor_bits(out) + 1
        precision = {
            "weight": _int_type(wbits),
            "bias": _int_type(_bits(int(bias.min(initial=0)), int(bias.max(initial=0)))),
            "accum": _int_type(acc),
            "result": _int_type(acc),
        }
        self.add(layer, out, precision)

    def threshold_layer(
        self,
        x: str,
        out: str,
        t: np.ndarray,
        d: np.ndarray,
        qmin: int,
        step: int,
        bits: int,
        signed: bool = True,
    ) -> None:
        accum = self.tensor_bits(x) + 2
        flat, levels, tbits = padded_thresholds(t.astype(np.int64), accum)
        _, *spatial, c = self.g.tensors[x].shape
        layer = {
            "class_name": "BirealThreshold",
            "inputs": [self.producer[x]],
            "n_pixels": int(np.prod(spatial)),
            "n_chan": c,
            "levels": levels,
            "qmin": qmin,
            "step": step,
            "threshold_bits": tbits,
            "accum_bits": accum,
            "thresholds_data": flat.astype(np.float64),
            "directions_data": d.astype(np.float64),
        }
        self.add(layer, out, {"result": _int_type(bits, signed)})

    def dense_layer(self, x: str, weights: np.ndarray, bias, out: str) -> None:
        """weights (O, K): out = x @ weights.T + bias."""
        o, k = weights.shape
        wbits = _bits(int(weights.min(initial=0)), int(weights.max(initial=0)))
        bias_data = np.zeros(o) if bias is None else bias.astype(np.float64)
        layer = {
            "class_name": "Dense",
            "inputs": [self.producer[x]],
            "n_in": k,
            "n_out": o,
            "weight_data": np.ascontiguousarray(weights.T).astype(np.float64),
            "bias_data": bias_data,
        }
        self.add_weighted(layer, out, wbits)

    def convert(self) -> Converted:
        g = self.g
        for node in g.nodes:
            if node.name in self.done:
                continue
            op, a = node.op, node.attrs
            if op == "quantize_input":
                h, w, c = g.tensors[node.inputs[0]].shape[1:]
                t = g.tensors[node.outputs[0]].dtype
                layer = {"class_name": "InputLayer", "input_shape": [h, w, c]}
                self.add(layer, node.outputs[0], {"result": _storage(t)})
            elif op == "conv":
                if a.pad_value != 0:
                    self.refuse(node, f"padding with {a.pad_value} (hls4ml pads convolutions with zeros)")
                w = g.consts[node.inputs[1]].astype(np.int64)
                self.conv_layer(node, node.inputs[0], w, a.kernel, a.stride, a.pads, None, node.outputs[0])
            elif op == "sum_pool":
                conv = self.only_consumer(node.outputs[0], "conv")
                if conv is None or tuple(conv.attrs.kernel) != (1, 1) or any(a.pads) or any(conv.attrs.pads):
                    self.refuse(
                        node, "a sum pool is exact in hls4ml only folded into the 1x1 conv that follows it"
                    )
                w = g.consts[conv.inputs[1]].astype(np.int64)  # (O, 1, 1, C)
                kh, kw = a.kernel
                wide = np.repeat(np.repeat(w, kh, axis=1), kw, axis=2)
                self.conv_layer(
                    conv, node.inputs[0], wide, a.kernel, a.stride, (0, 0, 0, 0), None, conv.outputs[0]
                )
                self.done.add(conv.name)
            elif op == "global_sum_pool":
                flat = self.only_consumer(node.outputs[0], "flatten")
                mm = flat and self.only_consumer(flat.outputs[0], "matmul")
                if mm is None:
                    self.refuse(
                        node, "a global sum pool is exact in hls4ml only folded into the classifier after it"
                    )
                _, h, w, c = g.tensors[node.inputs[0]].shape
                weights = g.consts[mm.inputs[1]].astype(np.int64)  # (O, C)
                wide = np.broadcast_to(weights[:, None, None, :], (weights.shape[0], h, w, c))
                bias = g.consts[mm.inputs[2]].astype(np.int64) if len(mm.inputs) > 2 else None
                self.conv_layer(
                    mm,
                    node.inputs[0],
                    np.ascontiguousarray(wide),
                    (h, w),
                    (1, 1),
                    (0, 0, 0, 0),
                    bias,
                    mm.outputs[0],
                )
                self.done.update({flat.name, mm.name})
                self.producer[mm.outputs[0]] = self.layers[-1]["name"]
            elif op == "multi_threshold":
                t, d = g.consts[node.inputs[1]], g.consts[node.inputs[2]]
                out_type = g.tensors[node.outputs[0]].dtype  # unsigned maps (qmin >= 0) stay unsigned
                if out_type.bipolar and a.qmin == -1 and t.shape[1] == 2 and np.array_equal(t[:, 0], t[:, 1]):
                    # each threshold twice: -1 + 2 * #{T <= d x}, one comparison per channel
                    self.threshold_layer(node.inputs[0], node.outputs[0], t[:, :1], d, -1, 2, 2)
                else:
                    bits, signed = (2, True) if out_type.bipolar else (out_type.bits, out_type.signed)
                    self.threshold_layer(node.inputs[0], node.outputs[0], t, d, a.qmin, 1, bits, signed)
            elif op == "sign":
                c = g.tensors[node.inputs[0]].shape[-1]
                self.threshold_layer(node.inputs[0], node.outputs[0], np.zeros((c, 1)), np.ones(c), -1, 2, 2)
            elif op == "add":
                t = g.tensors[node.outputs[0]].dtype
                if not (
                    isinstance(t, IntType)
                    and t.signed
                    and a.qmin == -(1 << (t.bits - 1))
                    and a.qmax == (1 << (t.bits - 1)) - 1
                ):
                    self.refuse(
                        node, f"saturation to [{a.qmin}, {a.qmax}] is not the full range of an hls4ml type"
                    )
                layer = {
                    "class_name": "Merge",
                    "op": "add",
                    "inputs": [self.producer[i] for i in node.inputs],
                }
                self.add(layer, node.outputs[0], {"result": f"ap_fixed<{t.bits},{t.bits},AP_TRN,AP_SAT>"})
            elif op == "max_pool":
                if any(a.pads):
                    self.refuse(
                        node,
                        "a padded max pool (hls4ml pads pools with zeros, which would beat negative maxima)",
                    )
                if tuple(a.kernel) != tuple(a.stride):
                    self.refuse(
                        node,
                        f"a {a.kernel[0]}x{a.kernel[1]} max pool with stride {a.stride[0]}x{a.stride[1]} "
                        "(hls4ml's io_stream MaxPooling2D takes only a stride equal to the pool size)",
                    )
                x = node.inputs[0]
                _, ih, iw, c = g.tensors[x].shape
                _, oh, ow, _ = g.tensors[node.outputs[0]].shape
                layer = {
                    "class_name": "MaxPooling2D",
                    "inputs": [self.producer[x]],
                    "data_format": "channels_last",
                    "in_height": ih,
                    "in_width": iw,
                    "n_filt": c,
                    "out_height": oh,
                    "out_width": ow,
                    "pool_height": a.kernel[0],
                    "pool_width": a.kernel[1],
                    "stride_height": a.stride[0],
                    "stride_width": a.stride[1],
                    "pad_top": 0,
                    "pad_bottom": 0,
                    "pad_left": 0,
                    "pad_right": 0,
                }
                kind = _storage(g.tensors[x].dtype)  # the maximum of integers of this type is one of them
                self.add(layer, node.outputs[0], {"accum": kind, "result": kind})
            elif op == "flatten":
                x = node.inputs[0]
                _, h, w, c = g.tensors[x].shape
                users = self.consumers.get(node.outputs[0], [])
                if h * w != 1 and (not users or any(u.op != "matmul" for u in users)):
                    self.refuse(
                        node,
                        "hls4ml io_stream flattens a map in place (packs of its channels), which only "
                        "dense layers read whole",
                    )
                layer = {"class_name": "Reshape", "inputs": [self.producer[x]], "target_shape": [h * w * c]}
                self.add(layer, node.outputs[0], {"result": self.precision[self.producer[x]]["result"]})
            elif op == "matmul":
                if len(g.tensors[node.inputs[0]].shape) != 2:
                    self.refuse(node, "a matmul over a map (hls4ml's Dense takes a vector)")
                w = g.consts[node.inputs[1]].astype(np.int64)
                bias = g.consts[node.inputs[2]].astype(np.int64) if len(node.inputs) > 2 else None
                self.dense_layer(node.inputs[0], w, bias, node.outputs[0])
            elif op == "dequantize_output":
                pass  # the host applies the output scale and offset; hls4ml outputs the integer logits
            else:
                self.refuse(node, "no exact hls4ml layer for this op")
        last = self.producer[g.producers()[g.outputs[0]].inputs[0]]
        return Converted(self.layers, self.precision, self.layers[0]["name"], last)


def convert(graph: Graph) -> Converted:
    """The streamlined IR as hls4ml layers (UserError on a layer hls4ml cannot express exactly)."""
    return _Converter(graph).convert()


def hls4ml_model(graph: Graph, out: Path, part: str, clock_mhz: float, reuse_factor: int = 1):
    """An hls4ml ModelGraph of `graph` writing its project to `out`."""
    register()
    from hls4ml.model import ModelGraph

    c = convert(graph)
    config = {
        "Backend": "Vitis",
        "IOType": "io_stream",
        "ProjectName": PROJECT,
        "OutputDir": str(out),
        "Part": part,
        "ClockPeriod": round(1000.0 / clock_mhz, 3),
        "HLSConfig": {
            "Model": {"Precision": "ap_int<32>", "ReuseFactor": reuse_factor, "Strategy": "Latency"},
            "LayerName": {name: {"Precision": p} for name, p in c.precision.items()},
        },
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ModelGraph.from_layer_list(config, c.layers, inputs=[c.input_layer], outputs=[c.output_layer])
