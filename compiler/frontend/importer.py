"""QONNX -> IR. Walks the (already validated) ONNX graph in order and tracks what each ONNX tensor
is on the integer side:

- `Weights`: a quantized constant (integers, per-output-channel scales, type);
- `Scaled`: an IR integer tensor and its real scale (a Fraction, or one per channel);
- `Pending`: a real value not on any grid yet (BatchNorm output, Add output) that the next
  `Quant` puts on one (as `requantize` / `scaled_add`);
- `Padded`: a bipolar tensor with an explicit constant pad (plus_one / minus_one models);
- `RealInput`: the float image, with the pre-processing seen so far (`a * x + b` by scalar
  constants, a flatten), absorbed exactly into the input quantizer when the first Quant or
  BipolarQuant reads it (FINN's `2x - 1`);
- `OutputAffine`: an affine map of the logits by scalar constants (Brevitas' TensorNorm: Sub,
  Div, Mul, Add), folded into the output dequantizer; nothing else may read it.

A signed 1-bit Quant is read as qonnx reads it (+-1, the sign), never as {-1, 0}; a BatchNorm
before a BipolarQuant is the sign of an affine map of the accumulator (one threshold per channel).

Scales are exact `Fraction`s of the float32 parameters; they leave the IR only as attributes of
the edge ops and of `requantize` (which a pass folds into thresholds). Activations become NHWC.
IR names are generated (`t<k>`, `w<k>`): names from the file never reach the IR; the mapping
is kept in `ImportResult.names`. Anything the IR cannot express is one `UnsupportedModel` line.

Every number read from the file is checked where it enters (`Importer.array`: every initializer
and Constant is finite; the Quant bit widths, BatchNorm epsilon and variance, the one input's
N x C x H x W dims), and one image's largest tensor must fit the memory budget
(`check_image_memory`), before anything the size of an activation is allocated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import onnx
from onnx import numpy_helper

from bireal_hw import validate
from bireal_hw.errors import UserError
from compiler.ir import BIPOLAR, REAL, Graph, IntType, value_bounds
from compiler.ir.builder import GraphBuilder
from compiler.ir.ops.dequantize_output import DequantizeOutputAttrs
from compiler.ir.ops.max_pool import PoolAttrs
from compiler.ir.ops.quantize_input import QuantizeInputAttrs
from compiler.ir.ops.requantize import RequantizeAttrs
from compiler.ir.ops.scaled_add import ScaledAddAttrs
from compiler.ir.ops.sliding_window import WindowAttrs

QONNX_DOMAINS = {"qonnx.custom_op.general", "finn.custom_op.general"}
ACCUMULATOR = IntType(32, True)
MAX_BITS = 32  # a Quant's bit width: an integer in [1, MAX_BITS]
BYTES_PER_ELEMENT = 8  # the interpreter holds every tensor as int64 or float64
INPUT_AXES = ("batch (N)", "channel (C)", "height (H)", "width (W)")
_REDO = "re-export the model"


class UnsupportedModel(ValueError):
    """The model uses something the IR cannot express; the message is one line."""


Scale = Fraction | tuple[Fraction, ...]


@dataclass
class Weights:
    values: np.ndarray  # integers, ONNX layout
    scale: tuple[Fraction, ...]  # per output channel (axis 0)
    dtype: IntType


@dataclass
class Scaled:
    name: str  # IR tensor
    scale: Scale
    flattened_from: tuple[int, int, int] | None = None  # (C, H, W) of an NCHW map flattened in NHWC order


@dataclass
class Pending:
    source: str  # the ONNX op it comes from: "batchnorm" | "add"
    inputs: list[Scaled]
    params: list[np.ndarray] = field(default_factory=list)
    eps: float = 0.0
    relu: bool = False  # a Relu sits between the value and its Quant: the grid's qmin becomes >= 0


@dataclass
class Padded:
    value: Scaled
    pads: tuple[int, int, int, int]
    pad_value: int


@dataclass
class RealInput:
    name: str
    a: Fraction = Fraction(1)  # the image value the first quantizer sees: a * x + b
    b: Fraction = Fraction(0)
    flattened: bool = False  # a Reshape/Flatten to (N, C*H*W) came first (it commutes with the quantizer)


@dataclass
class OutputAffine:
    source: Scaled
    mul: Fraction  # the logits' real value is source * mul + add
    add: Fraction


Value = Weights | Scaled | Pending | Padded | RealInput | OutputAffine | np.ndarray


def _fraction(x) -> Fraction:
    return Fraction(float(x))


def _per_channel(scale: Scale, n: int) -> tuple[Fraction, ...]:
    return scale if isinstance(scale, tuple) else (scale,) * n


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _describe(node: onnx.NodeProto) -> str:
    return f"{node.op_type} node {node.name[:60]!r}"


def _checked(node: onnx.NodeProto, check, *args, **kwargs):
    """A bireal_hw.validate check whose UserError becomes this node's UnsupportedModel."""
    try:
        return check(*args, **kwargs)
    except UserError as exc:
        raise UnsupportedModel(f"{_describe(node)}: {exc}; {_REDO}") from None


@dataclass
class ImportResult:
    graph: Graph
    names: dict[str, str]  # IR tensor -> ONNX tensor


class Importer:
    def __init__(self, model: onnx.ModelProto, name: str) -> None:
        self.model = model
        self.builder = GraphBuilder(name)
        self.graph = self.builder.graph
        self.values: dict[str, Value] = {}
        self.names: dict[str, str] = {}
        for prop in model.metadata_props:
            self.graph.metadata[prop.key] = prop.value
        self.handlers: dict[str, Callable[[onnx.NodeProto], Value]] = {
            "Quant": self.quant,
            "BipolarQuant": self.bipolar_quant,
            "Conv": self.conv,
            "BatchNormalization": self.batchnorm,
            "Add": self.add,
            "Sub": self.arithmetic,
            "Mul": self.arithmetic,
            "Div": self.arithmetic,
            "AveragePool": self.average_pool,
            "MaxPool": self.max_pool,
            "GlobalAveragePool": self.global_average_pool,
            "ReduceMean": self.reduce_mean,
            "Reshape": self.flatten,
            "Flatten": self.flatten,
            "Gemm": self.gemm,
            "MatMul": self.gemm,
            "Pad": self.pad,
            "Identity": lambda n: self.get(n.input[0], n),
            "Relu": self.relu,
        }

    # ---- bookkeeping ---------------------------------------------------------------------------

    def get(self, name: str, node: onnx.NodeProto) -> Value:
        if name not in self.values:
            raise UnsupportedModel(f"{_describe(node)} reads tensor {name[:60]!r}, which is not defined")
        return self.values[name]

    def const_or_none(self, name: str) -> np.ndarray | None:
        v = self.values.get(name)
        return v if isinstance(v, np.ndarray) else None

    def const(self, name: str, node: onnx.NodeProto) -> np.ndarray:
        v = self.get(name, node)
        if not isinstance(v, np.ndarray):
            raise UnsupportedModel(f"{_describe(node)} needs a constant for {name[:60]!r}")
        return v

    def scaled(self, name: str, node: onnx.NodeProto) -> Scaled:
        v = self.get(name, node)
        if not isinstance(v, Scaled):
            raise UnsupportedModel(
                f"{_describe(node)} takes a value that is not on an integer grid (insert a Quant before it)"
            )
        return v

    def emit(
        self, op: str, inputs: list[str], attrs, dtype: IntType | None = None, onnx_name: str = ""
    ) -> str:
        out = self.builder.node(op, inputs, attrs, dtype)
        if onnx_name:
            self.names[out] = onnx_name
        return out

    def add_const(self, prefix: str, value: np.ndarray, dtype) -> str:
        return self.builder.const(value, dtype, prefix)

    # ---- handlers ------------------------------------------------------------------------------

    def quant(self, node: onnx.NodeProto) -> Value:
        a = _attrs(node)
        scale = self.const(node.input[1], node)
        zero_point = self.const(node.input[2], node)
        bits = self.const(node.input[3], node)
        if np.any(zero_point != 0):
            raise UnsupportedModel(
                f"{_describe(node)} has a nonzero zero point; the IR needs symmetric grids"
            )
        if a.get("rounding_mode", b"ROUND") not in (b"ROUND", "ROUND"):
            raise UnsupportedModel(
                f"{_describe(node)} rounds with {a['rounding_mode']!r}; only ROUND (half to even)"
            )
        if bits.size != 1:
            raise UnsupportedModel(f"{_describe(node)} has {bits.size} bit widths; one integer 1..{MAX_BITS}")
        n = _checked(node, validate.check_integer, "its bit width", float(bits.reshape(-1)[0]), 1, MAX_BITS)
        if np.any(scale <= 0):
            raise UnsupportedModel(f"{_describe(node)} has a non-positive scale")
        signed, narrow = bool(a.get("signed", 1)), bool(a.get("narrow", 0))
        x = self.get(node.input[0], node)
        if n == 1 and signed:
            # qonnx (and FINN) read a signed 1-bit Quant as bipolar: +-1 by the sign
            return self.bipolar(node, x, scale)
        qmin = (-(2 ** (n - 1)) + (1 if narrow else 0)) if signed else 0
        qmax = 2 ** (n - 1) - 1 if signed else 2**n - 1 - (1 if narrow else 0)
        if isinstance(x, Pending) and x.relu:
            # clip(round(max(y, 0) / s), qmin, qmax) == clip(round(y / s), max(qmin, 0), qmax)
            qmin = max(qmin, 0)
        if isinstance(x, np.ndarray):
            return self.quant_weights(node, x, scale, qmin, qmax)
        if scale.size != 1:
            raise UnsupportedModel(f"{_describe(node)}: per-channel activation scales are not supported")
        s = float(scale.reshape(()))
        out_type = IntType.covering(qmin, qmax)
        if isinstance(x, RealInput):
            return self.quantize_input(node, x, s, qmin, qmax)
        if isinstance(x, Pending) and x.source == "add":
            a_, b_ = x.inputs
            s_out = _fraction(s)
            if isinstance(a_.scale, tuple) or isinstance(b_.scale, tuple):
                raise UnsupportedModel(
                    f"{_describe(node)}: an add of per-channel scaled tensors is not supported"
                )
            attrs = ScaledAddAttrs(a_.scale / s_out, b_.scale / s_out, qmin, qmax)
            return Scaled(self.emit("scaled_add", [a_.name, b_.name], attrs, out_type, node.output[0]), s_out)
        attrs = RequantizeAttrs(out_scale=s, qmin=qmin, qmax=qmax)
        return self.requantize(node, x, attrs, out_type, _fraction(s))

    def requantize(
        self, node, x: Value, attrs: RequantizeAttrs, out_type: IntType, scale: Fraction
    ) -> Scaled:
        """A requantize of an accumulator (with the BatchNorm between them, if any)."""
        if isinstance(x, Pending) and x.source == "batchnorm" and not (attrs.bipolar and x.relu):
            acc, params, eps = x.inputs[0], x.params, x.eps
        elif isinstance(x, Scaled):
            acc, params, eps = x, [], 0.0
        else:
            raise UnsupportedModel(f"{_describe(node)} quantizes a value the IR cannot requantize")
        channels = self.graph.tensors[acc.name].shape[-1]
        acc_scale = np.array([float(s_) for s_ in _per_channel(acc.scale, channels)], dtype=np.float64)
        inputs = [acc.name, self.add_const("p", acc_scale, REAL)]
        inputs += [self.add_const("p", p.astype(np.float64), REAL) for p in params]
        attrs = RequantizeAttrs(attrs.out_scale, attrs.qmin, attrs.qmax, eps, attrs.bipolar)
        return Scaled(self.emit("requantize", inputs, attrs, out_type, node.output[0]), scale)

    def quantize_input(self, node, x: RealInput, s: float, qmin: int, qmax: int) -> Scaled:
        """The first quantizer, with the float pre-processing a * x + b absorbed:
        round((a x + b) / s) = round(x / (s / a) + b / s) with b / s a whole number of steps."""
        if x.a <= 0:
            raise UnsupportedModel(
                f"{_describe(node)}: the input's pre-processing multiplies it by {float(x.a):g}; only a "
                "positive factor can be absorbed into the input quantizer"
            )
        step = _fraction(s)
        offset = x.b / step
        if offset.denominator != 1:
            raise UnsupportedModel(
                f"{_describe(node)}: the input's pre-processing adds {float(x.b):g}, which is not a whole "
                f"number of the quantizer's steps ({s:g}); the input grid cannot absorb it"
            )
        scale = float(step / x.a)
        if not (scale > 0 and np.isfinite(scale)):
            raise UnsupportedModel(
                f"{_describe(node)}: the input's grid step {scale:g} is not a positive float"
            )
        attrs = QuantizeInputAttrs(scale=scale, qmin=qmin, qmax=qmax, offset=int(offset))
        out = self.emit("quantize_input", [x.name], attrs, IntType.covering(qmin, qmax), node.output[0])
        return self.after_input(x, Scaled(out, step))

    def after_input(self, x: RealInput, q: Scaled) -> Scaled:
        """The quantized input, flattened where the model flattened the float image first."""
        if not x.flattened:
            return q
        _, h, w, c = self.graph.tensors[q.name].shape
        out = self.emit("flatten", [q.name], None, self.graph.tensors[q.name].dtype)
        return Scaled(out, q.scale, (c, h, w) if (h, w) != (1, 1) else None)

    def bipolar(self, node, x: Value, scale: np.ndarray) -> Value:
        """A BipolarQuant (or a signed 1-bit Quant) of weights, the input, a BatchNorm or a
        tensor on a grid: +-1 by the sign (sign(0) = +1), times `scale`."""
        if np.any(scale <= 0):
            raise UnsupportedModel(f"{_describe(node)} has a non-positive scale")
        if isinstance(x, np.ndarray):
            per = scale.reshape(-1) if scale.size != 1 else np.repeat(scale.reshape(-1), x.shape[0])
            if scale.size != 1 and scale.size != x.shape[0]:
                raise UnsupportedModel(
                    f"{_describe(node)}: weight scales must be per tensor or per output channel"
                )
            values = np.where(x >= 0, 1, -1).astype(np.int64)
            return Weights(values, tuple(_fraction(v) for v in per), BIPOLAR)
        if scale.size != 1:
            raise UnsupportedModel(
                f"{_describe(node)}: per-channel bipolar activation scales are not supported"
            )
        step = _fraction(scale.reshape(()))
        if isinstance(x, RealInput):
            if x.a <= 0:
                raise UnsupportedModel(
                    f"{_describe(node)}: the input's pre-processing multiplies it by {float(x.a):g}; only "
                    "a positive factor can be absorbed into the input's sign"
                )
            attrs = QuantizeInputAttrs(scale=1.0, qmin=-1, qmax=1, cut=_float_at_least(-x.b / x.a))
            return self.after_input(
                x, Scaled(self.emit("quantize_input", [x.name], attrs, BIPOLAR, node.output[0]), step)
            )
        if isinstance(x, Pending):
            attrs = RequantizeAttrs(out_scale=1.0, qmin=-1, qmax=1, bipolar=True)
            return self.requantize(node, x, attrs, BIPOLAR, step)
        src = self.scaled(node.input[0], node)
        return Scaled(self.emit("sign", [src.name], None, BIPOLAR, node.output[0]), step)

    def quant_weights(self, node, w: np.ndarray, scale: np.ndarray, qmin: int, qmax: int) -> Weights:
        w32 = w.astype(np.float32)
        s32 = np.broadcast_to(scale.astype(np.float32), w.shape if scale.size == 1 else scale.shape)
        if scale.size != 1 and (scale.shape[0] != w.shape[0] or scale.size != w.shape[0]):
            raise UnsupportedModel(
                f"{_describe(node)}: weight scales must be per tensor or per output channel"
            )
        # Brevitas quantizes in float32: round_half_even(w / s) there, so here too.
        q = np.clip(np.round(w32 / s32), qmin, qmax).astype(np.int64)
        per = scale.reshape(-1) if scale.size != 1 else np.repeat(scale.reshape(-1), w.shape[0])
        return Weights(q, tuple(_fraction(v) for v in per), IntType.covering(qmin, qmax))

    def bipolar_quant(self, node: onnx.NodeProto) -> Value:
        return self.bipolar(node, self.get(node.input[0], node), self.const(node.input[1], node))

    def pad(self, node: onnx.NodeProto) -> Value:
        src = self.scaled(node.input[0], node)
        a = _attrs(node)
        if a.get("mode", b"constant") not in (b"constant", "constant"):
            raise UnsupportedModel(f"{_describe(node)}: only constant padding is supported")
        pads = [int(p) for p in self.const(node.input[1], node).reshape(-1)]
        value = 0.0
        if len(node.input) > 2 and node.input[2]:
            fill = self.const(node.input[2], node)
            if fill.size != 1:
                raise UnsupportedModel(f"{_describe(node)}: the pad value must be one number")
            value = float(fill.reshape(-1)[0])
        if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or min(pads) < 0:
            raise UnsupportedModel(
                f"{_describe(node)}: only non-negative spatial padding of NCHW maps is supported"
            )
        grid = Fraction(value) / (src.scale if not isinstance(src.scale, tuple) else src.scale[0])
        if grid.denominator != 1 or isinstance(src.scale, tuple):
            raise UnsupportedModel(
                f"{_describe(node)}: pad value {value} is not on the tensor's integer grid"
            )
        return Padded(src, (pads[2], pads[3], pads[6], pads[7]), int(grid))

    def conv(self, node: onnx.NodeProto) -> Value:
        a = _attrs(node)
        x = self.get(node.input[0], node)
        w = self.get(node.input[1], node)
        if len(node.input) > 2 and node.input[2]:
            raise UnsupportedModel(f"{_describe(node)} has a bias; quantized convs without bias only")
        if not isinstance(w, Weights):
            raise UnsupportedModel(
                f"{_describe(node)}: weights must be a quantized constant (Quant/BipolarQuant)"
            )
        if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1])):
            raise UnsupportedModel(f"{_describe(node)}: grouped or dilated convs are not supported")
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise UnsupportedModel(f"{_describe(node)}: auto_pad is not supported; export explicit pads")
        pads4 = list(a.get("pads", [0, 0, 0, 0]))
        pads = (pads4[0], pads4[1], pads4[2], pads4[3])
        pad_value = 0
        if isinstance(x, Padded):
            if any(pads):
                raise UnsupportedModel(f"{_describe(node)}: a Pad followed by a padded Conv is not supported")
            x, pads, pad_value = x.value, x.pads, x.pad_value
        if not isinstance(x, Scaled):
            raise UnsupportedModel(f"{_describe(node)}: its input is not on an integer grid")
        if isinstance(x.scale, tuple):
            raise UnsupportedModel(f"{_describe(node)}: per-channel input scales cannot factor out of a conv")
        kernel = tuple(int(k) for k in w.values.shape[2:])
        strides = tuple(int(s) for s in a.get("strides", [1, 1]))
        attrs = WindowAttrs(kernel=kernel, stride=strides, pads=pads, pad_value=pad_value)
        weights = self.add_const("w", w.values.transpose(0, 2, 3, 1).astype(np.int8), w.dtype)
        out = self.emit("conv", [x.name, weights], attrs, ACCUMULATOR, node.output[0])
        return Scaled(out, _uniform(tuple(x.scale * s for s in w.scale)))

    def batchnorm(self, node: onnx.NodeProto) -> Value:
        src = self.scaled(node.input[0], node)
        if len(node.input) != 5:
            raise UnsupportedModel(f"{_describe(node)} needs scale, bias, mean and variance inputs")
        params = [self.const(i, node).astype(np.float64) for i in node.input[1:5]]
        eps = _checked(node, validate.check_number, "its epsilon", _attrs(node).get("epsilon", 1e-5), 0)
        channels = self.graph.tensors[src.name].shape[-1]
        for what, p in zip(("scale", "bias", "mean", "variance"), params, strict=True):
            if p.size != channels:
                raise UnsupportedModel(
                    f"{_describe(node)}: its {what} has {p.size} values for {channels} channels; {_REDO}"
                )
        params = [p.reshape(channels) for p in params]
        var = params[3]
        if np.any(var < 0):
            raise UnsupportedModel(
                f"{_describe(node)} has a negative variance ({float(var.min()):g}); a variance is >= 0, {_REDO}"
            )
        if np.any(var + eps <= 0):
            raise UnsupportedModel(
                f"{_describe(node)} has variance + epsilon = 0 (a division by zero); give it epsilon > 0, {_REDO}"
            )
        return Pending("batchnorm", [src], params, eps)

    def relu(self, node: onnx.NodeProto) -> Value:
        x = self.get(node.input[0], node)
        if not isinstance(x, Pending):
            raise UnsupportedModel(
                f"{_describe(node)}: a Relu is supported between a BatchNorm or Add and its Quant"
            )
        return Pending(x.source, x.inputs, x.params, x.eps, relu=True)

    def add(self, node: onnx.NodeProto) -> Value:
        if self.const_or_none(node.input[0]) is None and self.const_or_none(node.input[1]) is None:
            return Pending("add", [self.scaled(node.input[0], node), self.scaled(node.input[1], node)])
        return self.arithmetic(node)

    def arithmetic(self, node: onnx.NodeProto) -> Value:
        """Add, Sub, Mul, Div with a constant: folded when both are constants (float32, as the
        exporter computes), absorbed into the input quantizer on the float image, kept as a
        rescale of a grid (a positive factor), or an affine map of the logits."""
        op = node.op_type
        if len(node.input) != 2:
            raise UnsupportedModel(f"{_describe(node)} has {len(node.input)} inputs; {op} takes two")
        cx, cy = self.const_or_none(node.input[0]), self.const_or_none(node.input[1])
        if cx is not None and cy is not None:
            with np.errstate(all="ignore"):
                fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
                folded = fn(cx, cy)
            try:
                validate.require_finite(f"{_describe(node)} of two constants", folded)
            except UserError as exc:
                raise UnsupportedModel(f"{exc}; {_REDO}") from None
            return folded
        if cx is None and cy is None:
            raise UnsupportedModel(
                f"{_describe(node)} combines two tensors; only an Add of two tensors is supported"
            )
        const_first = cx is not None
        const = cx if const_first else cy
        if const.size != 1:
            raise UnsupportedModel(
                f"{_describe(node)}: an {op} by a constant of {const.size} values; only scalar constants "
                "(pre-processing of the input, an affine map of the logits) are supported"
            )
        c = _fraction(const.reshape(-1)[0])
        if op == "Div" and (const_first or c == 0):
            raise UnsupportedModel(
                f"{_describe(node)}: "
                + ("a division by a tensor" if const_first else "a division by zero")
                + " is not supported"
            )
        m, k = {
            "Add": (Fraction(1), c),
            "Sub": (Fraction(-1), c) if const_first else (Fraction(1), -c),
            "Mul": (c, Fraction(0)),
            "Div": (1 / c if c else Fraction(0), Fraction(0)),
        }[op]
        v = self.get(node.input[1] if const_first else node.input[0], node)
        if isinstance(v, RealInput):
            return RealInput(v.name, v.a * m, v.b * m + k, v.flattened)
        if isinstance(v, Scaled) and m > 0 and k == 0:
            scale = tuple(s_ * m for s_ in v.scale) if isinstance(v.scale, tuple) else v.scale * m
            return Scaled(v.name, scale, v.flattened_from)
        if isinstance(v, Scaled):
            return OutputAffine(v, m, k)
        if isinstance(v, OutputAffine):
            return OutputAffine(v.source, v.mul * m, v.add * m + k)
        raise UnsupportedModel(
            f"{_describe(node)}: an {op} by a constant is supported on the float input (pre-processing) "
            "and on the logits (an affine tail), not here"
        )

    def _pool_attrs(self, node: onnx.NodeProto) -> PoolAttrs:
        a = _attrs(node)
        if a.get("ceil_mode", 0) or any(d != 1 for d in a.get("dilations", [1, 1])):
            raise UnsupportedModel(f"{_describe(node)}: ceil_mode and dilations are not supported")
        kernel = tuple(int(k) for k in a["kernel_shape"])
        strides = tuple(int(s) for s in a.get("strides", kernel))
        p = list(a.get("pads", [0, 0, 0, 0]))
        return PoolAttrs(kernel, strides, (p[0], p[1], p[2], p[3]))

    def average_pool(self, node: onnx.NodeProto) -> Value:
        src = self.scaled(node.input[0], node)
        attrs = self._pool_attrs(node)
        if any(attrs.pads):
            raise UnsupportedModel(f"{_describe(node)}: padded average pools are not supported")
        window = attrs.kernel[0] * attrs.kernel[1]
        out = self.emit("sum_pool", [src.name], attrs, ACCUMULATOR, node.output[0])
        return Scaled(out, _divide(src.scale, window))

    def max_pool(self, node: onnx.NodeProto) -> Value:
        src = self.scaled(node.input[0], node)
        dtype = self.graph.tensors[src.name].dtype
        return Scaled(
            self.emit("max_pool", [src.name], self._pool_attrs(node), dtype, node.output[0]), src.scale
        )

    def global_average_pool(self, node: onnx.NodeProto) -> Value:
        src = self.scaled(node.input[0], node)
        _, h, w, _ = self.graph.tensors[src.name].shape
        out = self.emit("global_sum_pool", [src.name], None, ACCUMULATOR, node.output[0])
        return Scaled(out, _divide(src.scale, h * w))

    def reduce_mean(self, node: onnx.NodeProto) -> Value:
        a = _attrs(node)
        axes = a.get("axes")
        if axes is None and len(node.input) > 1:
            axes = [int(v) for v in self.const(node.input[1], node)]
        if sorted(int(v) % 4 for v in (axes or [])) != [2, 3] or not a.get("keepdims", 1):
            raise UnsupportedModel(f"{_describe(node)}: only a mean over H and W with keepdims is supported")
        return self.global_average_pool(node)

    def flatten(self, node: onnx.NodeProto) -> Value:
        v = self.get(node.input[0], node)
        if isinstance(v, RealInput):  # the float image, flattened before its quantizer
            _, h, w, c = self.graph.tensors[v.name].shape
            self.check_flatten_target(node, h * w * c)
            return RealInput(v.name, v.a, v.b, True)
        src = self.scaled(node.input[0], node)
        shape = self.graph.tensors[src.name].shape
        if len(shape) == 2:
            return src
        n, h, w, c = shape
        self.check_flatten_target(node, h * w * c)
        if isinstance(src.scale, tuple) and (h, w) != (1, 1):
            raise UnsupportedModel(f"{_describe(node)}: a flattened map needs one scale, not one per channel")
        dtype = self.graph.tensors[src.name].dtype
        out = self.emit("flatten", [src.name], None, dtype, node.output[0])
        # NHWC flattening orders the features (h, w, c); ONNX's NCHW order is (c, h, w). The next
        # matmul's weight columns are permuted to match (exact: a reordering of the same sum).
        return Scaled(out, src.scale, (c, h, w) if (h, w) != (1, 1) else None)

    def check_flatten_target(self, node: onnx.NodeProto, features: int) -> None:
        if node.op_type == "Reshape":
            target = [int(v) for v in self.const(node.input[1], node).reshape(-1)]
            if (
                len(target) != 2
                or target[0] not in (-1, 1)
                or target[1] not in (-1, features)
                or target == [-1, -1]
            ):
                raise UnsupportedModel(f"{_describe(node)}: only a reshape to (N, C*H*W) is supported")
        elif int(_attrs(node).get("axis", 1)) != 1:
            raise UnsupportedModel(f"{_describe(node)}: only Flatten with axis 1 is supported")

    def gemm(self, node: onnx.NodeProto) -> Value:
        a = _attrs(node)
        x = self.scaled(node.input[0], node)
        w = self.get(node.input[1], node)
        if not isinstance(w, Weights):
            raise UnsupportedModel(f"{_describe(node)}: weights must be a quantized constant")
        if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0):
            raise UnsupportedModel(f"{_describe(node)}: only alpha = beta = 1 without transA is supported")
        values = w.values if (node.op_type == "Gemm" and a.get("transB", 0)) else w.values.T
        scales = w.scale if values is w.values else (w.scale[0],) * values.shape[0]
        if values is not w.values and len(set(w.scale)) != 1:
            raise UnsupportedModel(f"{_describe(node)}: per-input-channel weight scales are not supported")
        if isinstance(x.scale, tuple):
            raise UnsupportedModel(
                f"{_describe(node)}: per-channel input scales cannot factor out of a matmul"
            )
        if x.flattened_from is not None:
            fc, fh, fw = x.flattened_from
            if values.shape[1] != fc * fh * fw:
                raise UnsupportedModel(
                    f"{_describe(node)}: weights do not match the flattened {fc}x{fh}x{fw} map"
                )
            values = values.reshape(-1, fc, fh, fw).transpose(0, 2, 3, 1).reshape(values.shape[0], -1)
        units = tuple(x.scale * s for s in scales)
        inputs = [x.name, self.add_const("w", np.ascontiguousarray(values).astype(np.int8), w.dtype)]
        if len(node.input) > 2 and node.input[2]:
            bias = self.const(node.input[2], node).reshape(-1)
            if bias.size != len(units):
                raise UnsupportedModel(f"{_describe(node)}: {bias.size} biases for {len(units)} outputs")
            ints = np.array([round(_fraction(b) / u) for b, u in zip(bias, units, strict=True)], dtype=object)
            if np.any(np.abs(ints) >= 2 ** (ACCUMULATOR.bits - 1)):
                raise UnsupportedModel(
                    f"{_describe(node)}: a bias is over 2**{ACCUMULATOR.bits - 1} steps of its "
                    f"accumulator's grid; it cannot be exact in {ACCUMULATOR}, {_REDO}"
                )
            bias_type = IntType.covering(int(ints.min()), int(ints.max()))
            inputs.append(self.add_const("b", ints.astype(np.int64), bias_type))
        out = self.emit("matmul", inputs, None, ACCUMULATOR, node.output[0])
        return Scaled(out, _uniform(units))

    # ---- driver --------------------------------------------------------------------------------

    def array(self, tensor: onnx.TensorProto, node: onnx.NodeProto | None) -> np.ndarray:
        """The values of an initializer or Constant `tensor` (read by `node`), checked finite."""
        where = f"tensor {tensor.name[:60]!r}" + (f" (read by {_describe(node)})" if node is not None else "")
        try:
            value = numpy_helper.to_array(tensor)
        except Exception as exc:  # an unusual data type onnx cannot convert
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
            raise UnsupportedModel(f"{where}: cannot read its values ({first}); {_REDO}") from None
        try:
            validate.require_finite(where, value)
        except UserError as exc:
            raise UnsupportedModel(str(exc)) from None
        return value

    def run(self) -> ImportResult:
        g = self.model.graph
        if len(g.output) != 1:
            raise UnsupportedModel(f"the model has {len(g.output)} outputs; the IR takes exactly one")
        reader: dict[str, onnx.NodeProto] = {}
        for node in g.node:
            for name in node.input:
                reader.setdefault(name, node)
        for init in g.initializer:
            self.values[init.name] = self.array(init, reader.get(init.name))
        for node in g.node:
            if node.op_type == "Constant":
                attrs = _attrs(node)
                if "value" not in attrs or len(node.output) != 1:
                    raise UnsupportedModel(
                        f"{_describe(node)}: only a Constant with a tensor value is supported"
                    )
                self.values[node.output[0]] = self.array(attrs["value"], reader.get(node.output[0], node))
        real_inputs = [i for i in g.input if i.name not in self.values]
        if len(real_inputs) != 1:
            raise UnsupportedModel(f"the model has {len(real_inputs)} data inputs; the IR takes exactly one")
        self.add_input(real_inputs[0])
        for node in g.node:
            if node.op_type == "Constant":
                continue
            if node.domain not in ("", "ai.onnx", *QONNX_DOMAINS):
                raise UnsupportedModel(f"op {node.op_type} of domain {node.domain!r} is not supported")
            handler = self.handlers.get(node.op_type)
            if handler is None or (node.domain in QONNX_DOMAINS) != (
                node.op_type in ("Quant", "BipolarQuant")
            ):
                supported = ", ".join(sorted(self.handlers))
                raise UnsupportedModel(
                    f"{_describe(node)} is not supported by the IR (supported: {supported})"
                )
            self.values[node.output[0]] = handler(node)
        result = self.values.get(g.output[0].name)
        offset = Fraction(0)
        if isinstance(result, OutputAffine):
            if isinstance(result.source.scale, tuple):
                raise UnsupportedModel("the model's output has per-channel scales; one output scale only")
            if result.mul <= 0:
                raise UnsupportedModel(
                    f"the model's output is multiplied by {float(result.mul):g} after its last layer; a "
                    "factor <= 0 reverses or erases the class order, only a positive one is supported"
                )
            offset = result.add
            result = Scaled(result.source.name, result.source.scale * result.mul)
        if not isinstance(result, Scaled):
            raise UnsupportedModel("the model's output is not an integer tensor with a known scale")
        if isinstance(result.scale, tuple):
            raise UnsupportedModel("the model's output has per-channel scales; one output scale only")
        out = self.emit(
            "dequantize_output",
            [result.name],
            DequantizeOutputAttrs(result.scale, offset),
            None,
            g.output[0].name,
        )
        self.builder.finish([out])
        check_image_memory(self.graph)
        value_bounds(self.graph, check=True)
        return ImportResult(self.graph, self.names)

    def add_input(self, vi: onnx.ValueInfoProto) -> None:
        """The one data input: 1 x C x H x W with fixed positive C, H, W (the batch may be symbolic);
        its size is checked against the memory budget before anything else is built."""
        label = f"the model input {vi.name[:60]!r}"
        if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
            raise UnsupportedModel(f"{label} declares no shape; {_REDO} with a fixed 1 x C x H x W input")
        shape = vi.type.tensor_type.shape.dim
        if len(shape) != 4:
            raise UnsupportedModel(
                f"{label} has {len(shape)} dimensions; the IR takes N x C x H x W images (N = 1)"
            )
        dims = []
        for axis, d in zip(INPUT_AXES, shape, strict=True):
            if not d.HasField("dim_value"):
                if axis == INPUT_AXES[0]:  # a dynamic batch: the IR compiles one image
                    dims.append(1)
                    continue
                raise UnsupportedModel(
                    f"{label} has a symbolic {axis} dimension {d.dim_param[:40]!r}; {_REDO} with a fixed "
                    "1 x C x H x W input shape"
                )
            if d.dim_value < 1:
                raise UnsupportedModel(
                    f"{label} has {axis} dimension {d.dim_value}; every size must be >= 1, {_REDO}"
                )
            dims.append(d.dim_value)
        n, c, h, w = dims
        if n != 1:
            raise UnsupportedModel(
                f"{label} has batch size {n}; the build compiles one image at a time: {_REDO} with batch "
                "size 1 (or a symbolic batch)"
            )
        _check_memory(
            f"{label} ({c} x {h} x {w}) at {BYTES_PER_ELEMENT} bytes per value",
            c * h * w * BYTES_PER_ELEMENT,
            f"{_REDO} with smaller images",
        )
        name = self.builder.input((1, h, w, c), REAL)
        self.names[name] = vi.name
        self.values[vi.name] = RealInput(name)


def largest_image_tensor(graph: Graph) -> tuple[str, int]:
    """The largest tensor one image makes, as a phrase, and its bytes: every activation, and the
    window a conv's lowering makes of its input (kernel area x channels per output pixel)."""
    best, nbytes = "", 0
    for name, info in graph.tensors.items():
        if name not in graph.consts:
            size = int(np.prod(info.shape, dtype=object)) * BYTES_PER_ELEMENT
            if size > nbytes:
                best, nbytes = f"tensor of shape {'x'.join(map(str, info.shape))}", size
    for node in graph.nodes:
        if node.op == "conv":
            c_in = graph.tensors[node.inputs[0]].shape[-1]
            out = graph.tensors[node.outputs[0]].shape
            kh, kw = node.attrs.kernel
            size = int(np.prod(out[:-1], dtype=object)) * kh * kw * c_in * BYTES_PER_ELEMENT
            if size > nbytes:
                best, nbytes = f"{kh}x{kw} window of a conv over {c_in} channels", size
    return best, nbytes


def _check_memory(what: str, nbytes: int, hint: str) -> None:
    try:
        validate.check_allocation(what, nbytes, hint)
    except UserError as exc:
        raise UnsupportedModel(str(exc)) from None


def check_image_memory(graph: Graph) -> None:
    """UnsupportedModel when one image's largest tensor does not fit the memory budget."""
    what, nbytes = largest_image_tensor(graph)
    _check_memory(
        f"one image's largest tensor (the {what}, at {BYTES_PER_ELEMENT} bytes per value)",
        nbytes,
        f"{_REDO} with smaller images or fewer channels",
    )


def _uniform(scales: tuple[Fraction, ...]) -> Scale:
    """One scale where every channel's is the same (a model may end in such a layer)."""
    return scales[0] if len(set(scales)) == 1 else scales


def _float_at_least(value: Fraction) -> float:
    """The least float64 >= value (a float64 x satisfies x >= value exactly when x >= it)."""
    f = float(value)
    return math.nextafter(f, math.inf) if Fraction(f) < value else f


def _divide(scale: Scale, k: int) -> Scale:
    return tuple(s / k for s in scale) if isinstance(scale, tuple) else scale / k


def import_qonnx(model: onnx.ModelProto, name: str = "model") -> ImportResult:
    """Build the IR of a validated QONNX model; raises UnsupportedModel (one line)."""
    return Importer(model, name).run()


__all__ = ["ImportResult", "UnsupportedModel", "check_image_memory", "import_qonnx", "largest_image_tensor"]
