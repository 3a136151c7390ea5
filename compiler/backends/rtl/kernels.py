"""Per-kernel RTL: the parameterized Verilog module each kernel class instantiates (hdl/*.v), its
parameters from the kernel's geometry and its streams' elements, its ports, and its ROM files
($readmemh, one word per line, most significant digit first).

To add a kernel class: write its module in hdl/ and a function here, and enter the class in
MODULES (docs/extending.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from compiler.backends.hls.elements import Element, stream_element
from compiler.backends.hls.kernels import _accumulator_bits
from compiler.hw.cost import LUTRAM_MAX_DEPTH
from compiler.hw.dataflow import Dataflow
from compiler.hw.kernels import (
    Add,
    Fork,
    GlobalSumPool,
    InputDMA,
    Kernel,
    MatrixVector,
    MaxPool,
    OutputDMA,
    SlidingWindow,
    SumPool,
    Thresholding,
    WidthConverter,
    WindowKernel,
    clog2,
    lookup,
)
from compiler.hw.kernels.base import (
    POOL_LEVELS_PER_STAGE,
    TREE_LEVELS_PER_STAGE,
    signed_bits,
    threshold_stage_words,
)
from compiler.hw.kernels.dma import BUS_BYTES, element_bytes
from compiler.hw.kernels.width import read_counts
from compiler.ir import Graph

KIND = {"int": 0, "bipolar": 1, "ternary": 2}


@dataclass(frozen=True)
class Bits:
    """A sized constant parameter (`width'hvalue`: wider than Verilog's 32-bit integers)."""

    value: int
    width: int


@dataclass
class RtlKernel:
    """One kernel's instance in the top level."""

    kernel: Kernel
    module: str
    params: dict[str, int | str | Bits]
    in_ports: list[str]  # port prefix per input stream (in, a, b)
    out_ports: list[str]  # port prefix per output stream (out, out0, out1)
    roms: dict[str, tuple[int, list[int]]] = field(default_factory=dict)  # file -> (bits, words)

    @property
    def name(self) -> str:
        return self.kernel.name


def _element_params(prefix: str, e: Element) -> dict[str, int]:
    return {f"{prefix}KIND": KIND[e.kind], f"{prefix}BITS": e.bits, f"{prefix}SIGNED": int(e.signed)}


def _value_range(e: Element) -> tuple[int, int]:
    if e.kind != "int":
        return -1, 1
    return (-(1 << (e.bits - 1)), (1 << (e.bits - 1)) - 1) if e.signed else (0, (1 << e.bits) - 1)


def _words(fields: np.ndarray, bits: int) -> list[int]:
    """(words, lanes) integers -> one int per word: field j at bits [j*bits, (j+1)*bits), two's
    complement."""
    mask = (1 << bits) - 1
    out = []
    for row in np.asarray(fields, dtype=object).reshape(len(fields), -1):
        word = 0
        for j, v in enumerate(row):
            word |= (int(v) & mask) << (j * bits)
        out.append(word)
    return out


def _threshold_roms(rk: RtlKernel, groups: int, pe: int, value_bits: int, prefix: str) -> None:
    """Thresholds padded to 2**levels - 1 per channel above every input, as the ROMs of the
    binary search's stages, one set per lane (lane p: channels g*PE + p): stage s holds 2**s
    thresholds per channel (the probes of the HLS tables, compiler/backends/hls/kernels.py);
    directions as 2-bit fields, one word per group."""
    k = rk.kernel
    t = k.consts["thresholds"].astype(np.int64)
    d = k.consts["direction"].astype(np.int64)
    levels = clog2(t.shape[1] + 1)
    if pe > 999:
        raise ValueError(f"{k.name}: PE {pe} above 999 (the ROM files' lane numbers)")
    tb = max(signed_bits(int(t.min(initial=0)), int(t.max(initial=0))), value_bits + 2) + 1
    for s, words in enumerate(threshold_stage_words(t, pe, (1 << (tb - 1)) - 1)):
        for p in range(pe):
            stage = words[:, p].reshape(-1, 1)  # word g * 2**s + j
            rk.roms[f"{prefix}_thresholds_{p:03d}_l{s:02d}.mem"] = (tb, _words(stage, tb))
    rk.roms[f"{prefix}_directions.mem"] = (2 * pe, _words(d.reshape(groups, pe), 2))
    rk.params.update(
        LEVELS=levels, TB=tb, THRESHOLDS=f"mem/{prefix}_thresholds", DIRECTIONS=f"mem/{prefix}_directions.mem"
    )


def _out_value_bits(qmin: int, step: int, levels: int, out_bits: int) -> int:
    hi = qmin + step * ((1 << levels) - 1)
    return max(signed_bits(min(qmin, 0), max(hi, 0)), out_bits) + 1


ROM_STYLE = {
    "BRAM36": 1,
    "LUTRAM": 2,
}  # the cost model's placement -> bireal_rom's STYLE (else 0: the synthesizer's)
RAM_STYLE = {"LUTRAM": 1, "BRAM36": 2}  # -> bireal_ram's STYLE (line buffers, FIFOs; else 0)


def _mvu(k: MatrixVector, df: Dataflow, graph: Graph, placement: dict) -> RtlKernel:
    g = k.geometry
    (s_in,), (s_out,) = df.input_streams(k), df.output_streams(k)
    ie, oe = stream_element(graph, s_in), stream_element(graph, s_out)
    sf, nf = k.folds()
    if g.mw % k.simd or g.mh % k.pe:
        raise ValueError(f"{k.name}: SIMD {k.simd} must divide MW {g.mw} and PE {k.pe} MH {g.mh}")
    acc = _accumulator_bits(k, ie)
    wbits = 1 if g.binary else g.weight_bits
    rk = RtlKernel(k, "bireal_mvu", {}, ["in"], ["out"])
    w = k.consts["weights"].astype(np.int64)  # (MH, MW)
    if k.pe > 999:
        raise ValueError(f"{k.name}: PE {k.pe} above 999 (the ROM files' lane numbers)")
    # lane p, tile nf*SF + sf: row nf*PE + p, columns sf*SIMD ... + SIMD - 1
    tiles = k.weight_tiles()
    if wbits == 1:
        if not np.isin(w, (-1, 1)).all():
            raise ValueError(f"{k.name}: 1-bit weights must be -1 or +1")
        tiles = (tiles > 0).astype(np.int64)
    for p in range(k.pe):
        rk.roms[f"{k.name}_weights_{p:03d}.mem"] = (k.simd * wbits, _words(tiles[p], wbits))
    rk.params.update(
        PE=k.pe,
        SIMD=k.simd,
        SF=sf,
        NF=nf,
        PIXELS=g.pixels,
        BINARY=int(g.binary),
        **_element_params("I", ie),
        WBITS=wbits,
        LUTMAC=int(bool(g.lut_macs) and not g.binary),
        ACC=acc,
        THRESH=int("thresholds" in k.consts),
        BIAS=int("bias" in k.consts),
        OKIND=KIND[oe.kind],
        OBITS=oe.bits,
        WEIGHTS=f"mem/{k.name}_weights",
        WSTYLE=ROM_STYLE.get(placement.get((k.name, "weights"), ""), 0),
        TREE_PER=TREE_LEVELS_PER_STAGE,
        PACK=int(k.packed()),
    )
    out_value = max(acc, oe.bits) + 1
    fit = k.requant()
    if fit is not None:  # the thresholds as a proven multiply-add: a word {d*M, B} per lane and fold
        mult, offset = k.requant_words()
        mb, bb = fit.mult_bits + 1, fit.offset_bits
        for p in range(k.pe):
            fields = np.stack([offset[:, p], mult[:, p]], axis=1)  # B in the low bits, M above
            words = [(int(m) & ((1 << mb) - 1)) << bb | (int(b) & ((1 << bb) - 1)) for b, m in fields]
            rk.roms[f"{k.name}_requant_{p:03d}.mem"] = (mb + bb, words)
        rk.params.update(
            AFFINE=1, RQV=min(fit.v_bits, acc), RQM=mb, RQB=bb, RQW=fit.sum_bits + 1, RQS=fit.shift, RQN=fit.steps,
            RQSTYLE=ROM_STYLE.get(placement.get((k.name, "requant"), ""), 0), REQUANT=f"mem/{k.name}_requant",
            QMIN=g.qmin, STEP=g.step,
        )  # fmt: skip
        out_value = _out_value_bits(g.qmin, g.step, clog2(fit.steps + 1), oe.bits)
    elif "thresholds" in k.consts:
        _threshold_roms(rk, nf, k.pe, acc, k.name)
        rk.params.update(QMIN=g.qmin, STEP=g.step)
        out_value = _out_value_bits(g.qmin, g.step, rk.params["LEVELS"], oe.bits)
    if "bias" in k.consts:
        bias = k.consts["bias"].astype(np.int64)
        bb = signed_bits(int(bias.min(initial=0)), int(bias.max(initial=0)))
        rk.roms[f"{k.name}_bias.mem"] = (k.pe * bb, _words(bias.reshape(nf, k.pe), bb))
        # a deep bias ROM where the cost model placed it (shallow ones: the synthesizer's choice,
        # which is logic for them too)
        bstyle = ROM_STYLE.get(placement.get((k.name, "bias"), ""), 0) if nf > LUTRAM_MAX_DEPTH else 0
        rk.params.update(BB=bb, BIASES=f"mem/{k.name}_bias.mem", BSTYLE=bstyle)
        out_value = max(acc, bb, oe.bits) + 2
    rk.params["OW"] = out_value
    return rk


def _window_common(k: WindowKernel, inw: int) -> dict[str, int]:
    ih, iw, c, oh, ow, kh, kw, sy, sx, top, left = k.window()
    return dict(
        IH=ih, IW=iw, CG=c // inw, INW=inw, OH=oh, OW=ow, KH=kh, KW=kw, SY=sy, SX=sx, TOP=top, LEFT=left
    )


def _swu(k: SlidingWindow, df: Dataflow, graph: Graph) -> RtlKernel:
    (s_in,), (s_out,) = df.input_streams(k), df.output_streams(k)
    ie, oe = stream_element(graph, s_in), stream_element(graph, s_out)
    c, inw = k.geometry.ifm[2], s_in.width
    if s_out.width != k.simd or k.simd % inw or (k.simd < c and inw != k.simd) or c % inw:
        raise ValueError(f"{k.name}: SIMD {k.simd} with {inw}-element input beats over {c} channels")
    sign = bool(k.geometry.sign_input) and ie.kind == "int"
    sb = 1 if (sign or ie.kind == "bipolar") else ie.bits
    params = dict(
        MODE=0,
        **_window_common(k, inw),
        TPB=k.simd // inw,
        **_element_params("I", ie),
        SIGN_IN=int(sign),
        SB=sb,
        OKIND=KIND[oe.kind],
        OBITS=oe.bits,
        PAD=int(k.geometry.pad_value),
    )
    return RtlKernel(k, "bireal_window", params, ["in"], ["out"])


def _pool(k: MaxPool | SumPool, df: Dataflow, graph: Graph) -> RtlKernel:
    (s_in,), (s_out,) = df.input_streams(k), df.output_streams(k)
    ie, oe = stream_element(graph, s_in), stream_element(graph, s_out)
    if s_out.width != s_in.width:
        raise ValueError(f"{k.name}: {s_in.width}-element input beats, {s_out.width}-element output beats")
    kh, kw = k.geometry.kernel
    lo, hi = _value_range(ie)
    taps = kh * kw if isinstance(k, SumPool) else 1
    vw = max(signed_bits(lo * taps, hi * taps), oe.bits) + 1
    params = dict(
        MODE=2 if isinstance(k, SumPool) else 1,
        **_window_common(k, s_in.width),
        **_element_params("I", ie),
        SB=ie.bits,
        OKIND=KIND[oe.kind],
        OBITS=oe.bits,
        VW=vw,
        POOL_PER=POOL_LEVELS_PER_STAGE,
    )
    return RtlKernel(k, "bireal_window", params, ["in"], ["out"])


def _add(k: Add, df: Dataflow, graph: Graph) -> RtlKernel:
    a, b = df.input_streams(k)
    (s_out,) = df.output_streams(k)
    ea, eb, oe = stream_element(graph, a), stream_element(graph, b), stream_element(graph, s_out)
    if not (a.width == b.width == s_out.width == k.pe) or oe.kind != "int":
        raise ValueError(f"{k.name}: input beats of {a.width} and {b.width} elements, PE {k.pe}")
    g = k.geometry
    (alo, ahi), (blo, bhi) = _value_range(ea), _value_range(eb)
    vw = max(signed_bits(alo + blo, ahi + bhi), signed_bits(g.qmin, g.qmax), oe.bits) + 1
    params = dict(
        PE=k.pe,
        **_element_params("A", ea),
        **_element_params("B", eb),
        OBITS=oe.bits,
        VW=vw,
        QMIN=g.qmin,
        QMAX=g.qmax,
    )
    return RtlKernel(k, "bireal_add", params, ["a", "b"], ["out"])


def _thresholding(k: Thresholding, df: Dataflow, graph: Graph) -> RtlKernel:
    (s_in,), (s_out,) = df.input_streams(k), df.output_streams(k)
    ie, oe = stream_element(graph, s_in), stream_element(graph, s_out)
    c = k.channels()
    if s_in.width != k.pe or s_out.width != k.pe or c % k.pe:
        raise ValueError(f"{k.name}: {s_in.width}-element beats, PE {k.pe}, {c} channels")
    vw = signed_bits(*_value_range(ie)) + 1
    rk = RtlKernel(k, "bireal_thresholding", {}, ["in"], ["out"])
    rk.params.update(
        PE=k.pe,
        GROUPS=c // k.pe,
        **_element_params("I", ie),
        OKIND=KIND[oe.kind],
        OBITS=oe.bits,
        VW=vw,
        QMIN=k.geometry.qmin,
        STEP=k.geometry.step,
    )
    _threshold_roms(rk, c // k.pe, k.pe, vw, k.name)
    rk.params["OW"] = _out_value_bits(k.geometry.qmin, k.geometry.step, rk.params["LEVELS"], oe.bits)
    return rk


def _fork(k: Fork, df: Dataflow, graph: Graph) -> RtlKernel:
    (s_in,) = df.input_streams(k)
    return RtlKernel(k, "bireal_fork", {"W": s_in.width * s_in.bits}, ["in"], ["out0", "out1"])


def _dwc(k: WidthConverter, df: Dataflow, graph: Graph) -> RtlKernel:
    (s_in,), (s_out,) = df.input_streams(k), df.output_streams(k)
    if stream_element(graph, s_in).kind == "ternary":
        raise ValueError(f"{k.name}: a width converter of ternary beats (two planes) is not supported")
    a, b = s_in.width, s_out.width
    reach = sum(1 << v for v in read_counts(a, b))  # the counts it reads at (v <= B: B + 1 bits)
    params = {"A": a, "B": b, "BITS": s_in.bits, "REACH": Bits(reach, b + 1)}
    return RtlKernel(k, "bireal_dwc", params, ["in"], ["out"])


def _global_sum_pool(k: GlobalSumPool, df: Dataflow, graph: Graph) -> RtlKernel:
    (s_in,), (s_out,) = df.input_streams(k), df.output_streams(k)
    ie, oe = stream_element(graph, s_in), stream_element(graph, s_out)
    h, w, c = k.geometry.ifm
    if s_in.width != k.pe or s_out.width != k.pe or c % k.pe:
        raise ValueError(f"{k.name}: {s_in.width}-element beats, PE {k.pe}, {c} channels")
    lo, hi = _value_range(ie)
    vw = max(signed_bits(lo * h * w, hi * h * w), oe.bits) + 1
    params = dict(PE=k.pe, GROUPS=c // k.pe, PIXELS=h * w, **_element_params("I", ie), OBITS=oe.bits, VW=vw)
    return RtlKernel(k, "bireal_global_sum_pool", params, ["in"], ["out"])


def _input_dma(k: InputDMA, df: Dataflow, graph: Graph) -> RtlKernel:
    (s_out,) = df.output_streams(k)
    h, w, c = k.geometry.shape
    pb = c * element_bytes(s_out.bits)
    reach = sum(1 << v for v in read_counts(BUS_BYTES, pb))  # the byte counts it reads a word at
    params = dict(
        C=c,
        EB=element_bytes(s_out.bits),
        BITS=s_out.bits,
        PIXELS=h * w,
        WORDS=k.bus_words(df),
        REACH=Bits(reach, pb),
    )
    return RtlKernel(k, "bireal_input_dma", params, [], ["out"])


def _output_dma(k: OutputDMA, df: Dataflow, graph: Graph) -> RtlKernel:
    (s_in,) = df.input_streams(k)
    e = stream_element(graph, s_in)
    eb = element_bytes(e.bits)
    params = dict(
        PE=s_in.width,
        BITS=e.bits,
        SIGNED=int(e.signed),
        KIND=KIND[e.kind],
        EB=eb,
        BEATS=s_in.beats,
        WORDS=k.bus_words(df),
    )
    return RtlKernel(k, "bireal_output_dma", params, ["in"], [])


# kernel class -> its instance (module, parameters, ports, ROMs)
MODULES = {
    MatrixVector: _mvu,
    SlidingWindow: _swu,
    MaxPool: _pool,
    SumPool: _pool,
    Add: _add,
    Thresholding: _thresholding,
    Fork: _fork,
    WidthConverter: _dwc,
    GlobalSumPool: _global_sum_pool,
    InputDMA: _input_dma,
    OutputDMA: _output_dma,
}


def rtl_kernel(k: Kernel, df: Dataflow, graph: Graph, placement: dict | None = None) -> RtlKernel:
    """`placement`: (kernel, memory) -> where the cost model put it (`BRAM36`, `LUTRAM`, ...)."""
    make = lookup(MODULES, k, "RTL module")
    rk = make(k, df, graph, placement or {}) if make is _mvu else make(k, df, graph)
    where = placement or {}
    if isinstance(k, WindowKernel):
        rk.params["LBSTYLE"] = RAM_STYLE.get(where.get((k.name, "line buffer"), ""), 0)
    if "LEVELS" in rk.params:  # a threshold search: the stages placed in block RAM
        stages = range(rk.params["LEVELS"])
        rk.params["TSTYLE"] = sum(
            ROM_STYLE.get(where.get((k.name, f"thresholds[{s}]"), ""), 0) << (2 * s) for s in stages
        )
    return rk
