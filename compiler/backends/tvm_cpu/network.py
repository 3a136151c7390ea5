"""The streamlined IR as a sequence of TVM kernels in one shared library (issue 6, first part:
exact, not yet scheduled for speed).

Every IR op becomes one PrimFunc (`<op>_<index>`); a sign feeding a binary conv becomes a bit
packer (the conv then runs as XOR-popcount on 64-bit words). Tensors are int32 NHWC except the
packed maps (uint64). `plan.json` lists the calls in order with their buffers, `params.npz` the
constants; `compiler.runtime` runs them without the compiler.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bireal_hw.errors import UserError
from compiler.backends.tvm_cpu.kernels import (
    ConvShape,
    binary_conv,
    pack_weights,
    schedule,
    threshold_table,
    thresholds,
    words,
)
from compiler.ir import BIPOLAR, Graph
from compiler.ir.verify import value_bounds


@dataclass
class Call:
    kernel: str
    args: list[str]  # buffer names: inputs, params, then the output


@dataclass
class Program:
    funcs: dict = field(default_factory=dict)  # kernel name -> PrimFunc
    calls: list[Call] = field(default_factory=list)
    buffers: dict[str, tuple[list[int], str]] = field(default_factory=dict)  # name -> (shape, dtype)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    input: str = ""
    output: str = ""
    quantizer: dict = field(default_factory=dict)
    out_scale: float = 1.0

    def plan(self) -> dict:
        return {
            "calls": [{"kernel": c.kernel, "args": c.args} for c in self.calls],
            "buffers": {k: {"shape": s, "dtype": d} for k, (s, d) in self.buffers.items()},
            "params": sorted(self.params),
            "input": self.input,
            "output": self.output,
            "quantizer": self.quantizer,
            "out_scale": self.out_scale,
        }


def _func(tensors, name: str):
    from tvm import te

    return te.create_prim_func(list(tensors)).with_attr("global_symbol", name)


class _Compiler:
    def __init__(self, graph: Graph, batch: int) -> None:
        self.g = graph
        self.batch = batch
        self.p = Program()
        self.packed: dict[str, str] = {}  # sign output tensor -> packed buffer
        self.consumers = graph.consumers()
        self.bounds = value_bounds(graph)

    def shape(self, tensor: str) -> list[int]:
        return [self.batch, *self.g.tensors[tensor].shape[1:]]

    def buffer(self, name: str, shape, dtype: str = "int32") -> str:
        self.p.buffers[name] = (list(shape), dtype)
        return name

    def param(self, name: str, value: np.ndarray) -> str:
        self.p.params[name] = value
        self.p.buffers[name] = (list(value.shape), str(value.dtype))
        return name

    def add(self, name: str, tensors, args: list[str]) -> None:
        self.p.funcs[name] = schedule(_func(tensors, name)).with_attr("global_symbol", name)
        self.p.calls.append(Call(name, args))

    def compile(self) -> Program:
        g = self.g
        for tensor, b in self.bounds.items():
            if b is not None and max(abs(int(min(b.lo))), abs(int(max(b.hi)))) >= 1 << 31:
                raise UserError(
                    f"--target cpu: tensor {tensor} needs more than 32 bits; its kernels compute in int32"
                )
        for i, node in enumerate(g.nodes):
            op, a = node.op, node.attrs
            name = f"{op}_{i}"
            out = node.outputs[0]
            if op == "quantize_input":
                self.p.input = self.buffer(out, self.shape(out))
                self.p.quantizer = {"scale": float(a.scale), "qmin": int(a.qmin), "qmax": int(a.qmax)}
            elif op == "sign":
                self.sign(node, name)
            elif op == "conv":
                self.conv(node, name)
            elif op == "multi_threshold":
                t, d = g.consts[node.inputs[1]], g.consts[node.inputs[2]]
                b = self.g_bounds_abs(node.inputs[0], d)
                full, levels = threshold_table(t.astype(np.int64), b)
                acc, tt, dd, y = thresholds(
                    tuple(self.shape(node.inputs[0])), t.shape[0], t.shape[1], levels, a.qmin
                )
                self.add(
                    name,
                    [acc, tt, dd, y],
                    [
                        node.inputs[0],
                        self.param(f"{name}.t", full),
                        self.param(f"{name}.d", d.astype(np.int64)),
                        self.buffer(out, self.shape(out)),
                    ],
                )
            elif op == "add":
                self.saturating_add(node, name)
            elif op in ("sum_pool", "max_pool"):
                self.pool(node, name)
            elif op == "global_sum_pool":
                self.global_sum_pool(node, name)
            elif op == "flatten":
                src = self.p.buffers[node.inputs[0]]
                self.p.buffers[out] = ([self.batch, int(np.prod(src[0][1:]))], src[1])
                self.p.calls.append(Call("reshape", [node.inputs[0], out]))
            elif op == "matmul":
                self.matmul(node, name)
            elif op == "dequantize_output":
                self.p.output = node.inputs[0]
                self.p.out_scale = float(a.scale)
            else:
                raise UserError(f"--target cpu: no kernel for {node.name} ({op})")
        return self.p

    def sign(self, node, name: str) -> None:
        """A bit packer when every consumer is a binary conv, else +-1 integers."""
        from tvm import te, tirx

        out, users = node.outputs[0], self.consumers.get(node.outputs[0], [])
        x = te.placeholder(self.shape(node.inputs[0]), "int32", name="x")
        *lead, c = self.shape(node.inputs[0])
        if users and all(u.op == "conv" and self.g.tensors[u.inputs[1]].dtype == BIPOLAR for u in users):
            rb = te.reduce_axis((0, 64), "b")

            def word(*i):
                channel = i[-1] * 64 + rb
                positive = x[(*i[:-1], tirx.min(channel, c - 1))] >= 0
                bit = tirx.const(1, "uint64") << rb.astype("uint64")
                return te.sum(
                    tirx.if_then_else(tirx.all(channel < c, positive), bit, tirx.const(0, "uint64")), axis=rb
                )

            packed = te.compute((*lead, words(c)), word, name="packed")
            self.packed[out] = self.buffer(out, (*lead, words(c)), "uint64")
            self.add(name, [x, packed], [node.inputs[0], out])
        else:
            y = te.compute(x.shape, lambda *i: tirx.if_then_else(x[i] >= 0, 1, -1), name="sign")
            self.add(name, [x, y], [node.inputs[0], self.buffer(out, self.shape(out))])

    def saturating_add(self, node, name: str) -> None:
        from tvm import te, tirx

        a = node.attrs
        x0 = te.placeholder(self.shape(node.inputs[0]), "int32", name="a")
        x1 = te.placeholder(self.shape(node.inputs[1]), "int32", name="b")
        y = te.compute(x0.shape, lambda *i: tirx.max(tirx.min(x0[i] + x1[i], a.qmax), a.qmin), name="add")
        self.add(name, [x0, x1, y], [*node.inputs, self.buffer(node.outputs[0], self.shape(node.outputs[0]))])

    def global_sum_pool(self, node, name: str) -> None:
        from tvm import te

        n, h, w, c = self.shape(node.inputs[0])
        x = te.placeholder((n, h, w, c), "int32", name="x")
        ry, rx = te.reduce_axis((0, h), "y"), te.reduce_axis((0, w), "x")
        y = te.compute((n, 1, 1, c), lambda b, i, j, k: te.sum(x[b, ry, rx, k], axis=[ry, rx]), name="gsp")
        self.add(name, [x, y], [node.inputs[0], self.buffer(node.outputs[0], self.shape(node.outputs[0]))])

    def g_bounds_abs(self, tensor: str, d: np.ndarray) -> int:
        b = self.bounds[tensor]
        return int(max(abs(int(min(b.lo))), abs(int(max(b.hi))))) + 1

    def conv(self, node, name: str) -> None:
        from tvm import te, tirx

        g, a = self.g, node.attrs
        x, wname = node.inputs
        w = g.consts[wname].astype(np.int64)
        o, kh, kw, c = w.shape
        n, h, wd_, _ = self.shape(x)
        s = ConvShape(n, h, wd_, c, o, tuple(a.kernel), tuple(a.stride), tuple(a.pads), a.pad_value)
        out = node.outputs[0]
        if x in self.packed:
            xp, wp, wsum, acc = binary_conv(s)
            args = [
                self.packed[x],
                self.param(f"{name}.w", pack_weights(w)),
                self.param(f"{name}.wsum", w.sum(axis=3).astype(np.int32)),
                self.buffer(out, self.shape(out)),
            ]
            self.add(name, [xp, wp, wsum, acc], args)
            return
        oh, ow = s.out_hw
        xt = te.placeholder((n, h, wd_, c), "int32", name="x")
        wt = te.placeholder((kh, kw, c, o), "int32", name="w")
        ry, rx, rc = te.reduce_axis((0, kh), "ky"), te.reduce_axis((0, kw), "kx"), te.reduce_axis((0, c), "c")

        def tap(b, oy, ox, k):
            iy = oy * s.stride[0] - s.pads[0] + ry
            ix = ox * s.stride[1] - s.pads[1] + rx
            inside = tirx.all(iy >= 0, iy < h, ix >= 0, ix < wd_)
            value = tirx.if_then_else(
                inside,
                xt[b, tirx.max(tirx.min(iy, h - 1), 0), tirx.max(tirx.min(ix, wd_ - 1), 0), rc],
                a.pad_value,
            )
            return te.sum(value * wt[ry, rx, rc, k], axis=[ry, rx, rc])

        y = te.compute((n, oh, ow, o), tap, name="conv")
        self.add(
            name,
            [xt, wt, y],
            [
                x,
                self.param(f"{name}.w", np.ascontiguousarray(w.transpose(1, 2, 3, 0).astype(np.int32))),
                self.buffer(out, self.shape(out)),
            ],
        )

    def pool(self, node, name: str) -> None:
        from tvm import te, tirx

        a = node.attrs
        n, h, w, c = self.shape(node.inputs[0])
        oh = (h + a.pads[0] + a.pads[2] - a.kernel[0]) // a.stride[0] + 1
        ow = (w + a.pads[1] + a.pads[3] - a.kernel[1]) // a.stride[1] + 1
        x = te.placeholder((n, h, w, c), "int32", name="x")
        ry, rx = te.reduce_axis((0, a.kernel[0]), "ky"), te.reduce_axis((0, a.kernel[1]), "kx")
        is_max = node.op == "max_pool"

        def f(b, oy, ox, k):
            iy, ix = oy * a.stride[0] - a.pads[0] + ry, ox * a.stride[1] - a.pads[1] + rx
            inside = tirx.all(iy >= 0, iy < h, ix >= 0, ix < w)
            v = x[b, tirx.max(tirx.min(iy, h - 1), 0), tirx.max(tirx.min(ix, w - 1), 0), k]
            if is_max:
                return te.max(tirx.if_then_else(inside, v, tirx.min_value("int32")), axis=[ry, rx])
            return te.sum(tirx.if_then_else(inside, v, 0), axis=[ry, rx])

        y = te.compute((n, oh, ow, c), f, name="pool")
        self.add(name, [x, y], [node.inputs[0], self.buffer(node.outputs[0], self.shape(node.outputs[0]))])

    def matmul(self, node, name: str) -> None:
        from tvm import te

        x_name, w_name = node.inputs[0], node.inputs[1]
        w = self.g.consts[w_name].astype(np.int32)  # (O, K)
        n, k = self.p.buffers[x_name][0]
        x = te.placeholder((n, k), "int32", name="x")
        wt = te.placeholder(w.shape, "int32", name="w")
        rk = te.reduce_axis((0, k), "k")
        args = [x_name, self.param(f"{name}.w", w)]
        tensors = [x, wt]
        if len(node.inputs) == 3:
            bias = self.g.consts[node.inputs[2]].astype(np.int32)
            bt = te.placeholder(bias.shape, "int32", name="bias")
            dot = te.compute((n, w.shape[0]), lambda i, j: te.sum(x[i, rk] * wt[j, rk], axis=rk), name="dot")
            y = te.compute((n, w.shape[0]), lambda i, j: dot[i, j] + bt[j], name="fc")
            tensors.append(bt)
            args.append(self.param(f"{name}.bias", bias))
        else:
            y = te.compute((n, w.shape[0]), lambda i, j: te.sum(x[i, rk] * wt[j, rk], axis=rk), name="fc")
        out = node.outputs[0]
        self.add(name, [*tensors, y], [*args, self.buffer(out, [n, w.shape[0]])])


def compile_program(graph: Graph, batch: int = 1) -> Program:
    """The streamlined IR as TVM kernels and a call plan (UserError on an op without a kernel)."""
    return _Compiler(graph, batch).compile()
