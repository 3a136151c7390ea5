"""The streamlined IR as a sequence of TVM kernels in one shared library.

Fusion groups (fused.py), found on the IR by the `fuse` step (compiler/passes/cpu_fusion.py,
recorded on the nodes and shown in the IR dumps) and lowered here one group to one kernel:
  conv [-> multi_threshold [-> add]] [-> sign packed]   one kernel: a binary conv (XOR-popcount on
                                                        a packed map) or an integer conv, with its
                                                        thresholds, residual add and re-packing
  multi_threshold -> max_pool [-> sign packed]          one kernel: pool d*acc, then threshold
A sign whose consumers are all binary convs is never a kernel of its own unless nothing before it
can pack (then a packer). Every other op is one TE kernel. A group is emitted at its last node's
place in the IR order, so every operand is ready. Tensors are int32 NHWC except the packed maps
(uint64, with a zero halo for the consumer convs' padding). `plan.json` lists the calls in order
with their buffers, `params.npz` the constants; `compiler.runtime` runs them without the compiler.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bireal_hw.errors import UserError
from compiler.backends.tvm_cpu import fused, isa
from compiler.backends.tvm_cpu.fused import VALUE_LIMIT, Epilogue, threshold_operand, words
from compiler.backends.tvm_cpu.kernels import pack_weights, schedule, threshold_table, thresholds
from compiler.ir import BIPOLAR, Graph
from compiler.ir.verify import value_bounds


@dataclass
class Call:
    kernel: str
    args: list[str]  # buffer names: inputs, params, then the output
    binary_macs: int = 0  # XOR-popcount MACs (one bit each) of a binary conv, for its rate


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
    cpu: dict = field(default_factory=dict)  # isa.build_record: the path and features it was built for

    def plan(self) -> dict:
        return {
            "calls": [
                {
                    "kernel": c.kernel,
                    "args": c.args,
                    **({"binary_macs": c.binary_macs} if c.binary_macs else {}),
                }
                for c in self.calls
            ],
            "buffers": {k: {"shape": s, "dtype": d} for k, (s, d) in self.buffers.items()},
            "params": sorted(self.params),
            "input": self.input,
            "output": self.output,
            "quantizer": self.quantizer,
            "out_scale": self.out_scale,
            "cpu": self.cpu,
        }


def _func(tensors, name: str):
    from tvm import te

    return te.create_prim_func(list(tensors)).with_attr("global_symbol", name)


@dataclass
class Group:
    """IR nodes run as one fused kernel: `kind` "conv" (conv [-> multi_threshold [-> add]]) or
    "pool" (multi_threshold -> max_pool); `pack` is the absorbed sign whose packed map it writes."""

    kind: str
    nodes: list = field(default_factory=list)
    pack: object = None
    pooled: tuple = ()  # an integer conv's (multi_threshold, max_pool) after it (fused.HPOOL)

    @property
    def last(self):
        return self.nodes[-1]


class _Compiler:
    def __init__(self, graph: Graph, batch: int, target) -> None:
        self.g = graph
        self.batch = batch
        self.target = target
        self.isa = isa.path_of(target)
        self.p = Program(cpu=isa.build_record(target))
        self.consumers = graph.consumers()
        self.producers = graph.producers()
        self.bounds = value_bounds(graph)
        self.halo: dict[str, tuple[int, int, int, int]] = {}  # packed sign output -> halo
        self.signs: dict[str, np.ndarray] = {}  # conv output -> the threshold signs folded in it
        self.summed: dict[str, object] = {}  # sum_pool output -> the node, summed by a conv's copy

    # ---- buffers and kernels ----
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

    def add_func(self, name: str, func, args: dict[str, str]) -> None:
        """A fused PrimFunc; `args` maps its parameter names to buffers."""
        self.p.funcs[name] = func
        self.p.calls.append(Call(name, [args[prm.name] for prm in func.params]))

    def magnitude(self, tensor: str) -> int:
        b = self.bounds[tensor]
        return int(max(abs(int(np.min(b.lo))), abs(int(np.max(b.hi)))))

    # ---- fusion groups: recorded on the IR by compiler.passes.cpu_fusion ----
    def groups(self) -> dict[int, Group]:
        """Node id -> its group, for every node that runs inside a fused kernel, from the nodes'
        "cpu" records (GroupCPUKernels)."""
        by_name = {n.name: n for n in self.g.nodes}
        groups: dict[str, Group] = {}
        member: dict[int, Group] = {}
        for node in self.g.nodes:
            rec = node.hw.get("cpu", {})
            if "group" not in rec:
                continue
            grp = groups.setdefault(rec["group"], Group(rec["kind"]))
            if rec["role"] == "pack":
                grp.pack = node
            else:
                grp.nodes.append(node)
            if "pooled" in rec:
                grp.pooled = tuple(by_name[n] for n in rec["pooled"])
            member[id(node)] = grp
        return member

    # ---- the program ----
    def compile(self) -> Program:
        g = self.g
        for tensor, b in self.bounds.items():
            if b is not None and max(abs(int(np.min(b.lo))), abs(int(np.max(b.hi)))) >= VALUE_LIMIT:
                raise UserError(
                    f"--target cpu: tensor {tensor} needs more than 31 bits; its kernels compute in int32"
                )
        if any(n.op == "conv" for n in g.nodes) and not any("cpu" in n.hw for n in g.nodes):
            raise ValueError(
                "the IR carries no CPU fusion records: run compiler.passes.GroupCPUKernels first"
            )
        for node in g.nodes:
            if node.hw.get("cpu", {}).get("packed"):
                self.halo[node.outputs[0]] = self.halo_of(node.outputs[0])
        member = self.groups()
        for i, node in enumerate(g.nodes):
            op, a = node.op, node.attrs
            name = f"{op}_{i}"
            grp = member.get(id(node))
            if grp is not None:
                if node is grp.last:
                    self.group(grp, name)
                continue
            if op == "quantize_input":
                self.quantize_input(node, name)
            elif op == "sign":
                self.sign(node, name)
            elif op == "multi_threshold":
                self.multi_threshold(node, name)
            elif op == "add":
                self.saturating_add(node, name)
            elif op == "sum_pool" and self.pools_into_copy(node):
                self.summed[node.outputs[0]] = node  # summed by the conv's input copy
            elif op in ("sum_pool", "max_pool"):
                self.pool(node, name)
            elif op == "global_sum_pool":
                self.global_sum_pool(node, name)
            elif op == "flatten":
                self.flatten(node)
            elif op == "matmul":
                self.matmul(node, name)
            elif op == "dequantize_output":
                self.p.output = node.inputs[0]
                self.p.out_scale = float(a.scale)
            else:
                raise UserError(f"--target cpu: no kernel for {node.name} ({op})")
        return self.p

    def halo_of(self, tensor: str) -> tuple[int, int, int, int]:
        pads = [u.attrs.pads for u in self.consumers[tensor]]
        return tuple(max(p[k] for p in pads) for k in range(4))

    def packed_buffer(self, sign) -> tuple[str, Epilogue]:
        """The halo'd packed buffer of `sign`'s output and the epilogue fields that write it."""
        out = sign.outputs[0]
        n, h, w, c = self.shape(out)
        top, left, bottom, right = self.halo[out]
        hw = (h + top + bottom, w + left + right)
        self.buffer(out, (n, *hw, words(c)), "uint64")
        return out, Epilogue(pack=(top, left), packed_hw=hw)

    def epilogue(self, grp: Group, args: dict, shift: np.ndarray | None = None) -> Epilogue:
        """The epilogue of a conv group (thresholds, add, pack), filling `args` with buffers;
        `shift` (per channel) is what the kernel's accumulator carries above the IR's."""
        fields: dict = {}
        nodes = grp.nodes[1:]
        if nodes and nodes[0].op == "multi_threshold":
            args["t"], args["d"] = self.threshold_params(nodes[0], fields, shift=shift)
        if len(nodes) == 2:
            add = nodes[1]
            fields["add"] = (add.attrs.qmin, add.attrs.qmax)
            args["res"] = next(t for t in add.inputs if t != nodes[0].outputs[0])
        out = grp.last.outputs[0]
        args["out"] = self.buffer(out, self.shape(out))
        if grp.pack is not None:
            args["packed"], pk = self.packed_buffer(grp.pack)
            fields.update(pack=pk.pack, packed_hw=pk.packed_hw)
        return Epilogue(**fields)

    def threshold_params(
        self, thr, fields: dict, fold_d: bool = True, shift=None, sign=None
    ) -> tuple[str, str]:
        """Parameters t, d of a fused multi_threshold; its Epilogue fields go into `fields`. With
        `shift`, the kernel's accumulator is the IR's + shift: t <= d * acc becomes
        t + d * shift <= d * (acc + shift), and the bounds move with it. With `sign` (per
        channel, +-1), it is sign * the IR's: t <= (sign * d) * (sign * acc)."""
        t, d = self.g.consts[thr.inputs[1]].astype(np.int64), self.g.consts[thr.inputs[2]].astype(np.int64)
        b = self.bounds[thr.inputs[0]]
        lo = np.broadcast_to(np.asarray(b.lo, dtype=np.int64), d.shape)
        hi = np.broadcast_to(np.asarray(b.hi, dtype=np.int64), d.shape)
        if sign is not None:
            d, lo, hi = d * sign, np.where(sign < 0, -hi, lo), np.where(sign < 0, -lo, hi)
        if shift is not None:
            t, lo, hi = t + (d * shift)[:, None], lo + shift, hi + shift
        table, found = threshold_operand(t, d, lo, hi, fold_d)
        fields.update(found, qmin=thr.attrs.qmin)
        return self.param(f"{thr.name}.t", table), self.param(f"{thr.name}.d", d.astype(np.int32))

    def group(self, grp: Group, name: str) -> None:
        if grp.kind == "pool":
            self.pool_threshold(grp, name)
        elif grp.nodes[0].inputs[0] in self.halo:
            self.binary_conv(grp, name)
        else:
            self.int_conv(grp, name)

    def binary_conv(self, grp: Group, name: str) -> None:
        conv = grp.nodes[0]
        a, (x, wname) = conv.attrs, conv.inputs
        w = self.g.consts[wname].astype(np.int64)
        o, kh, kw, c = w.shape
        n, h, wd, _ = self.shape(x)
        top, left, _, _ = self.halo[x]
        xshape = self.p.buffers[x][0]
        corr, rows, cols = fused.correction_table(w, a.kernel, a.stride, a.pads, a.pad_value, (h, wd))
        oh, ow = self.shape(conv.outputs[0])[1:3]
        spec = fused.BinaryConv(
            n,
            xshape[1],
            xshape[2],
            c,
            o,
            (oh, ow),
            tuple(a.kernel),
            tuple(a.stride),
            (top - a.pads[0], left - a.pads[1]),
            corr.shape[:2],
            self.isa.name,
            self.isa.harley_seal,
        )
        tiled, pairs = fused.binary_weights(pack_weights(w), spec.tile)
        args = {
            "xp": x,
            "wp": self.param(f"{name}.w", tiled),
            "wq": self.param(f"{name}.wq", pairs),
            "corr": self.param(f"{name}.corr", corr),
            "rows": self.param(f"{name}.rows", rows),
            "cols": self.param(f"{name}.cols", cols),
        }
        epi = self.epilogue(grp, args)
        self.add_func(name, fused.binary_conv_kernel(spec, epi, name), args)
        self.p.calls[-1].binary_macs = n * oh * ow * o * kh * kw * c

    def pooled_conv(self, grp: Group, w: np.ndarray) -> tuple[np.ndarray, tuple | None]:
        """For a conv feeding thresholds and a max pool whose columns it can pool (fused.HPOOL):
        its weights with the thresholds' signs folded in, and its `hpool`; else (w, None)."""
        if not grp.pooled:
            return w, None
        thr, pool = grp.pooled
        a = pool.attrs
        ow, pw = self.shape(grp.nodes[0].outputs[0])[2], self.shape(pool.outputs[0])[2]
        if not fused.hpool_applies(a.kernel[1], a.stride[1], a.pads[1], ow, pw):
            return w, None
        sign = np.where(self.g.consts[thr.inputs[2]] < 0, -1, 1).astype(np.int64)
        self.signs[grp.nodes[0].outputs[0]] = sign
        return w * sign[:, None, None, None], (a.kernel[1], a.stride[1], a.pads[1])

    def conv_out(self, grp: Group, args: dict, hpool) -> None:
        """A conv that pools its columns writes (N, OH, OW / 2, O)."""
        if hpool is not None:
            n, oh, ow, o = self.shape(grp.nodes[0].outputs[0])
            args["out"] = self.buffer(grp.nodes[0].outputs[0], (n, oh, ow // 2, o))

    def pools_into_copy(self, node) -> bool:
        """A sum pool whose only reader is an integer conv is summed by that conv's input copy
        (fused.pad_input_kernel): one kernel and one map less (the downsample shortcuts)."""
        users = self.consumers.get(node.outputs[0], [])
        a = node.attrs
        return (
            len(users) == 1
            and users[0].op == "conv"
            and users[0].inputs[0] == node.outputs[0]
            and self.g.tensors[users[0].inputs[1]].dtype != BIPOLAR
            and not any(a.pads)
            and a.kernel[0] * a.kernel[1] <= 16
        )

    def pool_of(self, x: str):
        """(kernel, stride, input shape) of the sum pool the copy of `x` sums, or None."""
        node = self.summed.get(x)
        if node is None:
            return None
        return tuple(node.attrs.kernel), tuple(node.attrs.stride), tuple(self.shape(node.inputs[0]))

    def copy_source(self, x: str) -> str:
        """The map an input copy of `x` reads: the pool's input when it sums the pool."""
        return self.summed[x].inputs[0] if x in self.summed else x

    def int_conv(self, grp: Group, name: str) -> None:
        conv = grp.nodes[0]
        a, x = conv.attrs, conv.inputs[0]
        w, hpool = self.pooled_conv(grp, self.g.consts[conv.inputs[1]].astype(np.int64))  # (O, KH, KW, C)
        o, kh, kw, c = w.shape
        n, h, wd, _ = self.shape(x)
        oh, ow = self.shape(conv.outputs[0])[1:3]
        b = self.bounds[x]
        lo, hi = min(int(np.min(b.lo)), a.pad_value), max(int(np.max(b.hi)), a.pad_value)
        # bytes for VNNI: x + offset in 0..255; the accumulator then carries offset * (weight
        # sum) more, which the thresholds absorb (a conv without thresholds takes no offset)
        offset = -lo if lo < 0 and len(grp.nodes) > 1 else 0
        if fused.vnni_applies(self.target, w, lo + offset, hi + offset):
            self.int_conv_vnni(grp, name, w, offset, hpool)
            return
        # int16 pairs on vpdpwssd where they fit: half the multiply-adds of float32 FMAs
        pairs16 = fused.pairs16_applies(self.target, w, max(self.magnitude(x), abs(a.pad_value)))
        exact = not pairs16 and fused.exact_in_float(w, self.magnitude(x), a.pad_value)
        padded = any(a.pads) or exact or pairs16 or x in self.summed  # (a copy summing the pool)
        if padded:  # a (padded) copy in the accumulator's type: no border test, no conversion
            h, wd = h + a.pads[0] + a.pads[2], wd + a.pads[1] + a.pads[3]
            dtype = "int16" if pairs16 else "float32" if exact else "int32"
            prep = fused.pad_input_kernel(
                tuple(self.shape(x)), tuple(a.pads), a.pad_value, dtype, f"pad_{name}", pool=self.pool_of(x)
            )
            xp = self.buffer(f"{x}.padded", (n, h, wd, c), dtype)
            self.add_func(f"pad_{name}", prep, {"x": self.copy_source(x), "padded": xp})
            x = xp
        # weights larger than a core's L2 share stream in from memory on every image: stored in
        # their narrowest type they cost a quarter of the bytes (measured, 7x7x256 -> 512
        # downsample with caches flushed: 0.24 -> 0.15 ms); smaller ones stay in the
        # accumulator's type (their conversion costs more than it saves: 0.14 vs 0.16 ms)
        narrow = np.dtype(narrowest_int(w))
        w_dtype = str(narrow) if narrow.itemsize < 4 and w.size * 4 > NARROW_WEIGHT_BYTES else ""
        spec = fused.IntConv(
            n,
            h,
            wd,
            c,
            o,
            (oh, ow),
            tuple(a.kernel),
            tuple(a.stride),
            exact,
            padded,
            w_dtype,
            pairs16,
            hpool,
            fused.ACC_LANES_512 if fused.has_avx512(self.target) else fused.ACC_LANES_256,
        )
        args = {"x": x, "w": self.param(f"{name}.w", fused.int_conv_weights(spec, w))}
        epi = self.epilogue(grp, args)
        self.conv_out(grp, args, hpool)
        self.add_func(name, fused.int_conv_kernel(spec, epi, name), args)

    def int_conv_vnni(self, grp: Group, name: str, w: np.ndarray, offset: int, hpool) -> None:
        """Bytes times int8 weights on AVX512-VNNI, from a padded uint8 copy of x + offset whose
        rows carry enough extra zero columns for the last window's 4-byte words."""
        conv = grp.nodes[0]
        a, x = conv.attrs, conv.inputs[0]
        o, kh, kw, c = w.shape
        n, h, wd, _ = self.shape(x)
        oh, ow = self.shape(conv.outputs[0])[1:3]
        groups = -(-kw * c // 4)
        extra = max(0, -(-groups * 4 // c) - kw)
        pads = (a.pads[0], a.pads[1], a.pads[2], a.pads[3] + extra)
        hp, wp = h + pads[0] + pads[2], wd + pads[1] + pads[3]
        prep = fused.pad_input_kernel(
            tuple(self.shape(x)),
            pads,
            a.pad_value,
            "uint8",
            f"pad_{name}",
            flat_rows=True,
            offset=offset,
            pool=self.pool_of(x),
        )
        xp = self.buffer(f"{x}.bytes", (n, hp, wp * c), "uint8")
        self.add_func(f"pad_{name}", prep, {"x": self.copy_source(x), "padded": xp})
        spec = fused.VnniConv(n, hp, wp * c, c, o, (oh, ow), tuple(a.kernel), tuple(a.stride), hpool)
        args = {"x": xp, "w": self.param(f"{name}.w", fused.int_conv_weights(spec, w))}
        epi = self.epilogue(grp, args, shift=offset * w.reshape(o, -1).sum(axis=1))
        self.conv_out(grp, args, hpool)
        self.add_func(name, fused.int_conv_kernel(spec, epi, name), args)

    def pool_threshold(self, grp: Group, name: str) -> None:
        thr, pool = grp.nodes
        a = pool.attrs
        n, h, w, c = self.shape(thr.inputs[0])
        oh, ow = self.shape(pool.outputs[0])[1:3]
        fields: dict = {}
        args = {"acc": thr.inputs[0], "out": self.buffer(pool.outputs[0], self.shape(pool.outputs[0]))}
        sign = self.signs.get(thr.inputs[0])  # the conv pooled the rows (fused.HPOOL)
        args["t"], args["d"] = self.threshold_params(thr, fields, fold_d=False, sign=sign)  # d * acc
        if grp.pack is not None:
            args["packed"], pk = self.packed_buffer(grp.pack)
            fields.update(pack=pk.pack, packed_hw=pk.packed_hw)
        if sign is None:
            spec = fused.PoolThreshold(
                n, h, w, c, (oh, ow), tuple(a.kernel), tuple(a.stride), (a.pads[0], a.pads[1])
            )
        else:  # the columns are pooled: a (KH, 1) window over (N, H, OW, C), the max alone
            window = ((a.kernel[0], 1), (a.stride[0], 1), (a.pads[0], 0))
            spec = fused.PoolThreshold(n, h, ow, c, (oh, ow), *window, max_only=True)
        self.add_func(name, fused.pool_threshold_kernel(spec, Epilogue(**fields), name), args)

    def sign(self, node, name: str) -> None:
        """A packer when every consumer is a binary conv (and no kernel before packed it), else
        +-1 integers."""
        from tvm import te, tirx

        out = node.outputs[0]
        if out in self.halo:
            buf, epi = self.packed_buffer(node)
            func = fused.packer_kernel(tuple(self.shape(node.inputs[0])), epi.pack, epi.packed_hw, name)
            self.add_func(name, func, {"x": node.inputs[0], "packed": buf})
            return
        x = te.placeholder(self.shape(node.inputs[0]), "int32", name="x")
        y = te.compute(x.shape, lambda *i: tirx.if_then_else(x[i] >= 0, 1, -1), name="sign")
        self.add(name, [x, y], [node.inputs[0], self.buffer(out, self.shape(out))])

    def multi_threshold(self, node, name: str) -> None:
        g, a = self.g, node.attrs
        t, d = g.consts[node.inputs[1]], g.consts[node.inputs[2]]
        full, levels = threshold_table(t.astype(np.int64), self.magnitude(node.inputs[0]) + 1)
        acc, tt, dd, y = thresholds(tuple(self.shape(node.inputs[0])), t.shape[0], t.shape[1], levels, a.qmin)
        out = node.outputs[0]
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

    def quantize_input(self, node, name: str) -> None:
        """Float NCHW images in [0, 1] -> int32 NHWC pixels: clip(round-half-even(x / scale)), the
        float64 arithmetic of the golden's quantizer (the runtime feeds the images as they are)."""
        a, out = node.attrs, node.outputs[0]
        n, h, w, c = self.shape(out)
        self.p.input = self.buffer("images", (n, c, h, w), "float64")
        self.p.quantizer = {"scale": float(a.scale), "qmin": int(a.qmin), "qmax": int(a.qmax), "pixels": out}
        func = fused.quantize_kernel(
            (n, c, h, w),
            float(a.scale),
            int(a.qmin),
            int(a.qmax),
            name,
            int(a.offset),
            float(a.cut) if a.bipolar else None,
        )
        self.add_func(name, func, {"images": "images", "pixels": self.buffer(out, (n, h, w, c))})

    def flatten(self, node) -> None:
        src = self.p.buffers[node.inputs[0]]
        self.p.buffers[node.outputs[0]] = ([self.batch, int(np.prod(src[0][1:]))], src[1])
        self.p.calls.append(Call("reshape", [node.inputs[0], node.outputs[0]]))

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
        x_name, w_name = node.inputs[0], node.inputs[1]
        wo = self.g.consts[w_name]  # (O, K)
        o, k = wo.shape
        w = fused.fc_weights(wo, narrowest_int(wo))  # 8-bit weights stay bytes
        n = self.p.buffers[x_name][0][0]
        args = {"x": x_name, "w": self.param(f"{name}.w", w)}
        if len(node.inputs) == 3:
            args["b"] = self.param(f"{name}.bias", self.g.consts[node.inputs[2]].astype(np.int32))
        args["out"] = self.buffer(node.outputs[0], [n, o])
        func = fused.fc_kernel(n, k, o, str(w.dtype), len(node.inputs) == 3, name)
        self.add_func(name, func, args)


NARROW_WEIGHT_BYTES = 256 << 10  # int conv weights above this are stored narrow (see int_conv)


def narrowest_int(a: np.ndarray):
    """The smallest numpy integer type holding every value of `a`."""
    lo, hi = int(a.min(initial=0)), int(a.max(initial=0))
    return next(t for t in (np.int8, np.int16, np.int32) if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max)


def compile_program(graph: Graph, batch: int = 1, target=None) -> Program:
    """The streamlined IR as TVM kernels for `target` (default: this host) and a call plan
    (UserError on an op without a kernel)."""
    from compiler.backends.tvm_cpu.target import host_target

    return _Compiler(graph, batch, target or host_target()).compile()
