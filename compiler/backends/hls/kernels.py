"""Per-kernel code: the template context of each kernel class (one function per class, one Jinja2
template per class in templates/), the constants as bit-packed arrays, and the pragmas that bind
memories where the resource estimate placed them.

To add a kernel class: write `templates/<kind>.cpp.j2` and a context function here, and enter
the class in CONTEXTS (docs/extending.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from compiler.backends.hls.elements import Element, stream_element
from compiler.hw.cost import KernelCost
from compiler.hw.dataflow import Dataflow
from compiler.hw.kernels import (
    Add,
    Fork,
    GlobalSumPool,
    InputDMA,
    Kernel,
    MatrixVector,
    MaxPool,
    MemoryRole,
    OutputDMA,
    SlidingWindow,
    SumPool,
    Thresholding,
    WeightDMA,
    WidthConverter,
    WindowKernel,
    clog2,
    lookup,
)
from compiler.hw.kernels.dma import element_bytes, matrix_beats
from compiler.ir import Graph

BUS = "bireal::bus_t"
IMPL = {"LUTRAM": "lutram", "BRAM36": "bram", "URAM": "uram", "SRL": "srl"}
# A URAM has no initial contents on UltraScale+: the cost model never places a constant there
# (compiler/hw/cost.py, docs/decisions.md).
ROM_IMPL = {"LUTRAM": "lutram", "BRAM36": "bram"}


@dataclass
class ParamArray:
    name: str
    ctype: str
    dims: str
    init: str
    doc: str


@dataclass
class KernelSpec:
    """Everything the templates need about one kernel."""

    kernel: Kernel
    template: str
    context: dict
    arrays: list[ParamArray] = field(default_factory=list)
    pragmas: list[str] = field(default_factory=list)
    in_types: list[str] = field(default_factory=list)  # C++ type of each input stream's items
    out_types: list[str] = field(default_factory=list)
    mem_bits: int = 0  # a weight DMA: the width of its DRAM pointer's words (an m_axi port)

    @property
    def name(self) -> str:
        return self.kernel.name

    @property
    def signature(self) -> str:
        ports = [f"const ap_uint<{self.mem_bits}> *mem"] if self.mem_bits else []
        ports += [f"hls::stream<{t}> &in{i}" for i, t in enumerate(self.in_types)]
        ports += [f"hls::stream<{t}> &out{i}" for i, t in enumerate(self.out_types)]
        return f"void {self.name}({', '.join(ports + ['unsigned frames'])})"

    def call(self, ins: list[str], outs: list[str], frames: str = "frames") -> str:
        mem = [dram_port(self.name)] if self.mem_bits else []
        return f"{self.name}({', '.join(mem + ins + outs + [frames])})"


def dram_port(dma: str) -> str:
    """The top level's pointer argument (an m_axi port) of a weight DMA's DRAM image."""
    return f"dram_{dma}"


def beat_type(bits: int) -> str:
    return f"ap_uint<{bits}>"


def hex_word(bits: np.ndarray) -> str:
    """A little-endian bit vector as a C++ hex string literal."""
    padded = np.zeros(-(-len(bits) // 8) * 8, dtype=bool)
    padded[: len(bits)] = bits
    return "0x" + np.packbits(padded, bitorder="little")[::-1].tobytes().hex()


def const_int(bits: int) -> str:
    """A signed constant of `bits` bits: ap_int<bits> in synthesis, the smallest C integer holding
    it in C-simulation (same values; g++ compiles plain integer tables ~5x faster)."""
    ctype = next(f"int{n}_t" for n in (8, 16, 32, 64) if bits <= n)
    return f"BIREAL_CONST_INT({bits}, {ctype})"


def c_array(values, fmt=str) -> str:
    if (
        isinstance(values, np.ndarray)
        and values.ndim == 1
        or isinstance(values, list)
        and not isinstance(values[0], list | np.ndarray)
    ):
        return "{" + ", ".join(fmt(v) for v in values) + "}"
    return "{" + ", ".join(c_array(v, fmt) for v in values) + "}"


def _memory_impl(
    cost: KernelCost | None, role: MemoryRole, rom: bool, level: int | None = None
) -> str | None:
    if cost is None:
        return None
    for m in cost.memories:
        if m.role is role and m.level == level and m.kind:
            return (ROM_IMPL if rom else IMPL).get(m.kind)  # CONST: no storage binding
    return None


def _common(k: Kernel, df: Dataflow, graph: Graph) -> dict:
    ins, outs = df.input_streams(k), df.output_streams(k)
    ctx = {
        "k": k,
        "pe": k.pe,
        "simd": k.simd,
        "inputs": [f"in{i}" for i in range(len(ins))],
        "outputs": [f"out{i}" for i in range(len(outs))],
    }
    if ins and not isinstance(k, InputDMA):
        ctx["in_elem"] = stream_element(graph, ins[0])
        ctx["in_beat"] = ins[0].width * ins[0].bits
    if outs and not isinstance(k, OutputDMA | WeightDMA):  # a weight word is no IR tensor's element
        ctx["out_elem"] = stream_element(graph, outs[0])
        ctx["out_beat"] = outs[0].width * outs[0].bits
    return ctx


def _accumulator_bits(k: Kernel, in_elem: Element) -> int:
    """A signed width that holds every partial sum over the synapse folds (a wider accumulator
    than the IR's exact range never changes the result)."""
    w = k.consts["weights"].astype(np.int64)
    if k.geometry.binary:
        bound = w.shape[1]
    else:
        lo, hi = (
            (-(1 << (in_elem.bits - 1)), (1 << (in_elem.bits - 1)) - 1)
            if in_elem.signed
            else (0, (1 << in_elem.bits) - 1)
        )
        bound = int((np.abs(w) * max(abs(lo), abs(hi))).sum(axis=1).max(initial=0))
    return max(2, int(bound).bit_length() + 1)


def _threshold_tables(spec: KernelSpec, cost: KernelCost | None, nf: int, pe: int, width: int) -> int:
    """The thresholds as one array per binary-search stage ([PE][NF][2**s], padded to 2**levels - 1
    per channel with a value above every input) and the directions ([PE][NF]); channel nf*PE + p
    in lane p. Returns the number of stages."""
    k = spec.kernel
    t = k.consts["thresholds"].astype(np.int64)  # (channels, steps), ascending
    d = k.consts["direction"].astype(np.int64)
    levels = clog2(t.shape[1] + 1)
    pad = (1 << (width - 1)) - 1  # above every d * x: never counted
    full = np.full((t.shape[0], 2**levels - 1), pad, dtype=np.int64)
    full[:, : t.shape[1]] = t
    by_lane = full.reshape(nf, pe, -1).transpose(1, 0, 2)  # [PE][NF][steps]
    for s in range(levels):
        b = levels - 1 - s
        probes = np.arange(2**s) * 2 ** (b + 1) + 2**b - 1
        name = f"thresholds_{s}"
        spec.arrays.append(
            ParamArray(
                name,
                const_int(width),
                f"[{pe}][{nf}][{2**s}]",
                c_array(by_lane[:, :, probes]),
                f"binary-search stage {s}: thresholds {probes[0]}, {probes[0] + 2 ** (b + 1)}, ... of each channel (padded with {pad})",
            )
        )
        spec.pragmas.append(f"ARRAY_PARTITION variable={k.name}_{name} complete dim=1")
        impl = _memory_impl(cost, MemoryRole.THRESHOLDS, rom=True, level=s)
        if impl:
            spec.pragmas.append(f"BIND_STORAGE variable={k.name}_{name} type=rom_2p impl={impl}")
    spec.arrays.append(
        ParamArray(
            "direction",
            const_int(2),
            f"[{pe}][{nf}]",
            c_array(d.reshape(nf, pe).T),
            "comparison direction per channel (the sign of the folded BatchNorm scale)",
        )
    )
    spec.pragmas.append(f"ARRAY_PARTITION variable={k.name}_direction complete dim=1")
    return levels


def _mvu(spec: KernelSpec, df: Dataflow, graph: Graph, cost: KernelCost | None) -> None:
    k, ctx = spec.kernel, spec.context
    g = k.geometry
    sf, nf = math.ceil(g.mw / k.simd), math.ceil(g.mh / k.pe)
    if g.mw % k.simd or g.mh % k.pe:
        raise ValueError(f"{k.name}: SIMD {k.simd} must divide MW {g.mw} and PE {k.pe} MH {g.mh}")
    in_elem, out_elem = ctx["in_elem"], ctx["out_elem"]
    binary = g.binary
    acc = _accumulator_bits(k, in_elem)
    w_bits = 1 if binary else g.weight_bits
    ctx.update(
        mw=g.mw,
        mh=g.mh,
        pixels=g.pixels,
        sf=sf,
        nf=nf,
        binary=binary,
        w_bits=w_bits,
        sign_weights=not binary and g.weight_bits == 1,
        lut_macs=g.lut_macs,
        packed=k.packed(),
        acc=acc,
        ternary=in_elem.kind == "ternary",
        thresholds="thresholds" in k.consts,
        bias="bias" in k.consts,
    )
    weights = k.consts["weights"].astype(np.int64)  # (MH, MW)
    # tile (nf, sf) of lane p holds row nf*PE + p, columns sf*SIMD ... + SIMD - 1
    tiles = k.weight_tiles()
    words = -(-k.simd // 64)
    # the weights of an op: lane p's row of the ROM, or unpacked from the word its DMA streams
    ctx.update(external=k.external,
               word_bits=k.weight_word_bits(), w_ctype=const_int(w_bits))  # fmt: skip
    if k.external:
        if g.weight_bits == 1 and not binary and not np.isin(weights, (-1, 1)).all():
            raise ValueError(f"{k.name}: bipolar weights must be -1 or +1")
    elif binary:
        padded = np.zeros((k.pe, nf * sf, words * 64), dtype=bool)
        padded[..., : k.simd] = tiles > 0
        packed = np.packbits(padded, axis=2, bitorder="little").view("<u8")  # (PE, tiles, words)
        init = c_array(packed, lambda v: f"0x{int(v):016x}ull")
        spec.arrays.append(
            ParamArray(
                "weights",
                "uint64_t",
                f"[{k.pe}][{nf * sf}][{words}]",
                init,
                "binary weights, bit 1: +1; [PE][neuron fold * synapse folds + synapse fold][64-bit word]",
            )
        )
    elif g.weight_bits == 1:
        # bipolar weights as their sign bit (ap_int<1>: -1 for a weight of -1, 0 for +1); the
        # MACs add or subtract the inputs (no multipliers, no DSPs)
        if not np.isin(weights, (-1, 1)).all():
            raise ValueError(f"{k.name}: bipolar weights must be -1 or +1")
        spec.arrays.append(
            ParamArray(
                "weights",
                const_int(1),
                f"[{k.pe}][{nf * sf}][{k.simd}]",
                c_array(np.where(tiles < 0, -1, 0)),
                "bipolar weights as sign bits (-1: weight -1, 0: weight +1), [PE][tile][SIMD lane]",
            )
        )
    else:
        lo, hi = -(1 << (g.weight_bits - 1)), (1 << (g.weight_bits - 1)) - 1
        if weights.min(initial=0) < lo or weights.max(initial=0) > hi:
            raise ValueError(f"{k.name}: weights outside int{g.weight_bits}")
        spec.arrays.append(
            ParamArray(
                "weights",
                const_int(g.weight_bits),
                f"[{k.pe}][{nf * sf}][{k.simd}]",
                c_array(tiles),
                f"int{g.weight_bits} weights, [PE][neuron fold * synapse folds + synapse fold][SIMD lane]",
            )
        )
    if not k.external:  # one memory per PE, its SIMD lanes (words) side by side in one wide word
        spec.pragmas.append(f"ARRAY_PARTITION variable={k.name}_weights complete dim=1")
        spec.pragmas.append(f"ARRAY_RESHAPE variable={k.name}_weights complete dim=3")
        impl = _memory_impl(cost, MemoryRole.WEIGHTS, rom=True)
        if impl:
            spec.pragmas.append(f"BIND_STORAGE variable={k.name}_weights type=rom_2p impl={impl}")
    ctx.update(words=words if binary else -(-ctx["in_beat"] // 64), out_words=-(-ctx["out_beat"] // 64))
    out_calc = max(out_elem.bits, acc) + 2
    fit = k.requant()
    ctx["affine"] = fit is not None
    if fit is not None:  # the thresholds as a proven multiply-add (compiler/ir/affine.py)
        mult, offset = k.requant_words()
        for name, values, bits, what in (
            ("rq_mult", mult, fit.mult_bits + 1, "d * M: the multiplier, the direction folded in"),
            ("rq_offset", offset, fit.offset_bits, "B: the offset"),
        ):
            spec.arrays.append(ParamArray(name, const_int(bits), f"[{k.pe}][{nf}]", c_array(values.T), what))
            spec.pragmas.append(f"ARRAY_PARTITION variable={k.name}_{name} complete dim=1")
        ctx.update(qmin=g.qmin, step=g.step, shift=fit.shift, steps=fit.steps, rq_bits=fit.sum_bits + 1)
        out_calc = max(out_calc, fit.steps.bit_length() + 2, int(abs(g.qmin)).bit_length() + 2)
    elif ctx["thresholds"]:
        t_bits = g.threshold_bits if g.threshold_bits is not None else acc
        levels = _threshold_tables(spec, cost, nf, k.pe, max(int(t_bits), acc + 2) + 1)
        ctx.update(levels=levels, qmin=g.qmin, step=g.step)
        out_calc = max(out_calc, levels + 2, int(abs(g.qmin)).bit_length() + 2)
    if ctx["bias"]:
        bias = k.consts["bias"].astype(np.int64)
        bb = max(2, int(np.abs(bias).max(initial=0)).bit_length() + 1)
        spec.arrays.append(
            ParamArray(
                "bias",
                const_int(bb),
                f"[{k.pe}][{nf}]",
                c_array(bias.reshape(nf, k.pe).T),
                "integer bias per output",
            )
        )
        spec.pragmas.append(f"ARRAY_PARTITION variable={k.name}_bias complete dim=1")
        out_calc = max(out_calc, bb) + 1
    ctx["out_calc"] = out_calc


def _window_geometry(
    k: WindowKernel,
    df: Dataflow,
    ctx: dict,
    inw: int,
    taps_per_beat: int,
    out_per_pixel: int,
    stored_bits: int,
) -> None:
    ih, iw, c, oh, ow, kh, kw, sy, sx, top, left = k.window()
    cg = c // inw
    ctx.update(
        ih=ih,
        iw=iw,
        c=c,
        oh=oh,
        ow=ow,
        kh=kh,
        kw=kw,
        sy=sy,
        sx=sx,
        top=top,
        left=left,
        inw=inw,
        cg=cg,
        rows=kh + sy,
        taps_per_beat=taps_per_beat,
        out_per_pixel=out_per_pixel,
        stored_bits=stored_bits,
        in_total=ih * iw * cg,
        out_total=oh * ow * out_per_pixel,
        tw=-(-inw * stored_bits // 64),
    )


def _swu(spec: KernelSpec, df: Dataflow, graph: Graph, cost: KernelCost | None) -> None:
    k, ctx = spec.kernel, spec.context
    (s_in,), (s_out,) = df.input_streams(k), df.output_streams(k)
    in_elem, out_elem = ctx["in_elem"], ctx["out_elem"]
    c = k.geometry.ifm[2]
    inw = s_in.width
    if s_out.width != k.simd or k.simd % inw or (k.simd < c and inw != k.simd):
        raise ValueError(f"{k.name}: SIMD {k.simd} with {inw}-element input beats over {c} channels")
    sign = bool(k.geometry.sign_input) and in_elem.kind == "int"
    stored = 1 if (sign or in_elem.kind == "bipolar") else in_elem.bits
    taps = k.simd // inw
    kh, kw = k.geometry.kernel
    _window_geometry(k, df, ctx, inw, taps, kh * kw * (c // inw) // taps, stored)
    pad = k.geometry.pad_value
    if out_elem.kind == "ternary":
        pad_word = 0
    elif out_elem.kind == "bipolar":
        pad_word = (1 << inw) - 1 if pad > 0 else 0
    else:
        one = pad & ((1 << stored) - 1)
        pad_word = sum(one << (stored * i) for i in range(inw))
    tw = ctx["tw"]
    pad_words = [f"0x{(pad_word >> (64 * j)) & ((1 << 64) - 1):016x}ull" for j in range(tw)]
    ctx.update(
        sign_input=sign,
        pad_value=pad,
        pad_word=str(pad_word),
        pad_words=pad_words,
        buffer_impl=_memory_impl(cost, MemoryRole.LINE_BUFFER, rom=False),
    )


def _pool(spec: KernelSpec, df: Dataflow, graph: Graph, cost: KernelCost | None) -> None:
    k, ctx = spec.kernel, spec.context
    (s_in,) = df.input_streams(k)
    c = k.geometry.ifm[2]
    in_elem, out_elem = ctx["in_elem"], ctx["out_elem"]
    _window_geometry(k, df, ctx, s_in.width, 1, c // s_in.width, in_elem.bits)
    is_max = isinstance(k, MaxPool)
    red = in_elem.bits + 2 if is_max else out_elem.bits + 1
    ctx.update(
        sign_input=False,
        is_max=is_max,
        red_bits=red,
        buffer_impl=_memory_impl(cost, MemoryRole.LINE_BUFFER, rom=False),
    )


def _add(spec: KernelSpec, df: Dataflow, graph: Graph, cost: KernelCost | None) -> None:
    k, ctx = spec.kernel, spec.context
    a, b = df.input_streams(k)
    ea, eb = stream_element(graph, a), stream_element(graph, b)
    if not (a.width == b.width == k.pe):
        raise ValueError(f"{k.name}: input beats of {a.width} and {b.width} elements, PE {k.pe}")
    ctx.update(
        a_elem=ea,
        b_elem=eb,
        a_beat=a.width * a.bits,
        b_beat=b.width * b.bits,
        beats=a.beats,
        elements=a.elements,
        qmin=k.geometry.qmin,
        qmax=k.geometry.qmax,
        sum_bits=max(ea.bits, eb.bits, ctx["out_elem"].bits) + 2,
    )


def _thresholding(spec: KernelSpec, df: Dataflow, graph: Graph, cost: KernelCost | None) -> None:
    k, ctx = spec.kernel, spec.context
    (s_in,) = df.input_streams(k)
    c = k.channels()
    if s_in.width != k.pe or c % k.pe:
        raise ValueError(f"{k.name}: {s_in.width}-element beats, PE {k.pe}, {c} channels")
    in_elem = ctx["in_elem"]
    value_bits = in_elem.bits + 2  # direction * x, signed
    width = max(k.geometry.threshold_bits, value_bits) + 1
    levels = _threshold_tables(spec, cost, c // k.pe, k.pe, width)
    ctx.update(
        beats=s_in.beats,
        groups=c // k.pe,
        elements=s_in.elements,
        c=c,
        levels=levels,
        steps=k.consts["thresholds"].shape[1],
        qmin=k.geometry.qmin,
        step=k.geometry.step,
        value_bits=value_bits,
        out_calc=max(levels + 2, int(abs(k.geometry.qmin)).bit_length() + 2) + 1,
    )


def _fork(spec: KernelSpec, df: Dataflow, graph: Graph, cost: KernelCost | None) -> None:
    (s_in,) = df.input_streams(spec.kernel)
    spec.context.update(beats=s_in.beats)


def _dwc(spec: KernelSpec, df: Dataflow, graph: Graph, cost: KernelCost | None) -> None:
    (s_in,), (s_out,) = df.input_streams(spec.kernel), df.output_streams(spec.kernel)
    spec.context.update(
        a=s_in.width,
        b=s_out.width,
        bits=s_in.bits,
        elements=s_in.elements,
        in_beats=s_in.beats,
        out_beats=s_out.beats,
    )


def _global_sum_pool(spec: KernelSpec, df: Dataflow, graph: Graph, cost: KernelCost | None) -> None:
    k = spec.kernel
    (s_in,) = df.input_streams(k)
    h, w, c = k.geometry.ifm
    if s_in.width != k.pe or c % k.pe:
        raise ValueError(f"{k.name}: {s_in.width}-element beats, PE {k.pe}, {c} channels")
    spec.context.update(pixels=h * w, c=c, groups=c // k.pe)


def _input_dma(spec: KernelSpec, df: Dataflow, graph: Graph, cost: KernelCost | None) -> None:
    k, ctx = spec.kernel, spec.context
    h, w, c = k.geometry.shape
    eb = element_bytes(ctx["out_elem"].bits)
    pops = -(-c * eb // 8)  # bus words a pixel may need (a pixel wider than a word is gathered)
    ctx.update(
        pixels=h * w, c=c, elem_bytes=eb, words=-(-h * w * c * eb // 8), pops=pops, acc_bits=64 * (pops + 1)
    )


def _output_dma(spec: KernelSpec, df: Dataflow, graph: Graph, cost: KernelCost | None) -> None:
    k, ctx = spec.kernel, spec.context
    (s_in,) = df.input_streams(k)
    eb = element_bytes(ctx["in_elem"].bits)
    n = k.geometry.elements
    ctx.update(elements=n, pe=s_in.width, elem_bytes=eb, words=-(-n * eb // 8))


def _weight_dma(spec: KernelSpec, df: Dataflow, graph: Graph, cost: KernelCost | None) -> None:
    g = spec.kernel.geometry
    spec.mem_bits = g.bus_bits
    narrow = g.word_bits <= g.bus_bits
    spec.context.update(
        unit=g.unit,
        word=g.word_bits,
        bus=g.bus_bits,
        tiles=g.tiles,
        pixels=g.pixels,
        narrow=narrow,
        per_beat=g.bus_bits // g.word_bits if narrow else 1,
        span=1 if narrow else -(-g.word_bits // g.bus_bits),
        beats=matrix_beats(g.word_bits, g.tiles, g.bus_bits),
    )


# kernel class -> (template, context function)
CONTEXTS = {
    MatrixVector: ("mvu.cpp.j2", _mvu),
    SlidingWindow: ("swu.cpp.j2", _swu),
    MaxPool: ("pool.cpp.j2", _pool),
    SumPool: ("pool.cpp.j2", _pool),
    Add: ("add.cpp.j2", _add),
    Thresholding: ("thresholding.cpp.j2", _thresholding),
    Fork: ("fork.cpp.j2", _fork),
    WidthConverter: ("dwc.cpp.j2", _dwc),
    GlobalSumPool: ("global_sum_pool.cpp.j2", _global_sum_pool),
    InputDMA: ("input_dma.cpp.j2", _input_dma),
    OutputDMA: ("output_dma.cpp.j2", _output_dma),
    WeightDMA: ("weight_dma.cpp.j2", _weight_dma),
}


def kernel_spec(k: Kernel, df: Dataflow, graph: Graph, cost: KernelCost | None = None) -> KernelSpec:
    template, fill = lookup(CONTEXTS, k, "HLS template")
    ins, outs = df.input_streams(k), df.output_streams(k)
    spec = KernelSpec(k, template, _common(k, df, graph))
    from_bus, to_bus = isinstance(k, InputDMA), isinstance(k, OutputDMA)
    spec.in_types = [BUS if from_bus else beat_type(s.width * s.bits) for s in ins]
    if not ins and not isinstance(k, WeightDMA):  # the input DMA reads the bus
        spec.in_types = [BUS]
    spec.out_types = [BUS if to_bus else beat_type(s.width * s.bits) for s in outs] or [BUS]
    if from_bus:
        spec.context["inputs"] = ["in0"]
    if to_bus:
        spec.context["outputs"] = ["out0"]
    fill(spec, df, graph, cost)
    spec.context.update(params=bool(spec.arrays), pragmas=spec.pragmas, signature=spec.signature)
    return spec
