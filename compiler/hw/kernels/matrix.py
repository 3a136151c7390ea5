"""The matrix-vector unit, PE x SIMD folded (FINN's MVAU): XNOR-popcount for binary layers or
integer MACs (in LUTs for narrow products such as an 8-bit input with bipolar weights, in DSPs
otherwise), with fused thresholds (a multi_threshold after it) or integer outputs plus bias;
weights stored at their own width."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from compiler.hw.calibrated import beat_features, kept_beats
from compiler.hw.kernels.base import (
    TREE_LEVELS_PER_STAGE,
    Builder,
    Dataflow,
    Kernel,
    Memory,
    MemoryRole,
    clog2,
    divisors,
    live_columns,
    register,
    registered_levels,
    signed_bits,
    threshold_stage_columns,
    tree_levels,
    tree_stages,
    used_columns,
)
from compiler.hw.kernels.threshold import stored_thresholds
from compiler.hw.kernels.window import SlidingWindow
from compiler.ir import BIPOLAR, TERNARY, IntType
from compiler.ir.affine import IntegerAffine, integer_affine
from compiler.ir.ops.base import linear_bounds

LUT_MAC_BITS = 16  # partial-product bits up to which a MAC is cheaper in LUTs than in a DSP slice
AFFINE_MIN_STEPS = 15  # threshold sets this long (4-bit grids and wider) become a multiply-add where proven
REQUANT_STAGES = 2  # the multiply-add's registers: the product, the sum (hdl/bireal_mvu.v)
DSP_A, DSP_B = 27, 18  # a DSP48E2's signed multiplier operands
DSP_MIN_PRODUCT = 9  # Yosys' synth_xilinx maps a multiply with a product this wide or wider to DSPs
_LIVE: dict[bytes, dict] = {}  # ROM contents' digest -> {(PE, SIMD): live columns, ...}
PACK_FIELD = 18  # a packed DSP's low product field (bits); the high weight sits above it


def stored_bits(dtype) -> int:
    """Bits a value of this IR type takes in a stream or memory (bipolar: one)."""
    return 1 if dtype == BIPOLAR else dtype.bits


def weight_bits_of(dtype) -> int:
    """Bits a weight of this IR type takes in the weight memory. Every backend's multiplier takes
    weights as two's complement, so an unsigned type (a weight tensor with no negative value,
    e.g. a projection from one channel) takes a bit more."""
    if dtype == BIPOLAR or dtype.signed:
        return stored_bits(dtype)
    return dtype.bits + 1


def stored_bits_of(g) -> int:
    """Bits a weight of a unit of geometry `g` takes in its memory (binary units: one)."""
    return 1 if g.binary else g.weight_bits


@dataclass(frozen=True)
class MatrixGeometry:
    mw: int  # inputs per output (the matrix's width)
    mh: int  # outputs (its height)
    pixels: int  # matrix-vector products per frame
    binary: bool  # XNOR-popcount of +-1 inputs and weights
    acc_bits: int = 32  # the IR's accumulator width
    out_bits: int = 32
    ternary_input: bool = False  # padded taps are invalid (a valid plane beside the signs)
    qmin: int | None = None  # with thresholds: the output of "no threshold passed"
    threshold_bits: int | None = None
    weight_bits: int = 8  # stored bits per weight (1: bipolar)
    step: int = 1  # with thresholds: output = qmin + step * count (2: bipolar from one threshold)
    in_bits: int = 8  # bits per input element
    in_lo: int = -128  # the input elements' range (the accumulator's bounds follow)
    in_hi: int = 127

    @property
    def lut_macs(self) -> bool:
        """Integer MACs in LUTs (add/subtract of the inputs for bipolar weights, small LUT
        multipliers otherwise) rather than DSPs: where a product has at most LUT_MAC_BITS
        partial-product bits (8-bit x bipolar, 2-bit x 2-bit, 4-bit x 4-bit), as FINN does."""
        return not self.binary and self.in_bits * self.weight_bits <= LUT_MAC_BITS

    @property
    def channels(self) -> int:
        return self.mh


@register
class MatrixVector(Kernel):
    kind = "mvu"
    Geometry = MatrixGeometry
    ir_ops = ("matmul", "xnor_popcount_matmul")
    folded = True
    fold_order = 0  # before the element-wise kernels, which may take its beat
    external = False  # its weights stream from DRAM (a WeightDMA, its second input: compiler/hw/external.py)

    @classmethod
    def from_ir(cls, b: Builder, node) -> Kernel:
        graph = b.graph
        x, wname = node.inputs[0], node.inputs[1]
        weights = graph.consts[wname]
        mh, mw = weights.shape
        pixels = int(np.prod(graph.tensors[x].shape[1:-1]))
        consts = {"weights": weights}
        users = b.consumers.get(node.outputs[0], [])
        out_tensor = node.outputs[0]
        nodes = [node.name]
        qmin = threshold_bits = None
        step = 1
        if len(users) == 1 and users[0].op == "multi_threshold":
            thr = users[0]
            consts["thresholds"], step = stored_thresholds(
                graph.consts[thr.inputs[1]], thr.attrs.qmin, graph.tensors[thr.outputs[0]].dtype
            )
            consts["direction"] = graph.consts[thr.inputs[2]]
            qmin = thr.attrs.qmin
            threshold_bits = graph.tensors[thr.inputs[1]].dtype.bits
            out_tensor = thr.outputs[0]
            nodes.append(thr.name)
            b.done.add(thr.name)
        if len(node.inputs) == 3:
            consts["bias"] = graph.consts[node.inputs[2]]
        acc = b.bounds().get(node.outputs[0])
        if acc is not None:  # the IR's exact range of the accumulator (its thresholds are clipped to it)
            acc = acc.channels(mh)
            consts["acc_lo"], consts["acc_hi"] = (
                np.asarray(acc.lo, dtype=np.int64),
                np.asarray(acc.hi, dtype=np.int64),
            )
        out_type = graph.tensors[out_tensor].dtype
        geometry = cls.Geometry(
            mw=mw,
            mh=mh,
            pixels=pixels,
            binary=node.op == "xnor_popcount_matmul",
            acc_bits=graph.tensors[node.outputs[0]].dtype.bits,
            out_bits=out_type.bits if isinstance(out_type, IntType) else 64,
            ternary_input=graph.tensors[x].dtype == TERNARY,
            qmin=qmin,
            threshold_bits=threshold_bits,
            weight_bits=weight_bits_of(graph.tensors[wname].dtype),
            step=step,
            in_bits=2 if graph.tensors[x].dtype == TERNARY else stored_bits(graph.tensors[x].dtype),
            in_lo=graph.tensors[x].dtype.lo,
            in_hi=graph.tensors[x].dtype.hi,
        )
        return b.add(cls, geometry, nodes, consts, inputs=[x], output=out_tensor)

    def folds(self) -> tuple[int, int]:
        """(synapse folds MW/SIMD, neuron folds MH/PE)."""
        return math.ceil(self.geometry.mw / self.simd), math.ceil(self.geometry.mh / self.pe)

    def in_width(self) -> int:
        return self.simd

    def cycles(self, df: Dataflow) -> int:
        sf, nf = self.folds()
        return self.geometry.pixels * sf * nf

    def calibration_key(self) -> str:
        g = self.geometry
        return "mvu_binary" if g.binary else ("mvu_lut" if g.lut_macs else "mvu_dsp")

    def calibration_features(self, df: Dataflow) -> dict[str, float]:
        """As every kernel's, over its input vector's stream only (not an external weight stream)."""
        inb = self.in_beat_bits(df)
        outb = sum(s.width * s.bits for s in df.output_streams(self))
        return beat_features(inb, outb) | self.logic_features(df)

    def in_beat_bits(self, df: Dataflow) -> int:
        s = df.streams[self.inputs[0]]
        return s.width * s.bits

    def weight_tiles(self) -> np.ndarray:
        """(PE, NF * SF, SIMD) weights in the order the unit reads them: lane p, tile nf * SF + sf,
        SIMD lane i holds the weight of row nf * PE + p, column sf * SIMD + i."""
        sf, nf = self.folds()
        w = np.asarray(self.consts["weights"], dtype=np.int64)
        return (
            w.reshape(nf, self.pe, sf, self.simd).transpose(1, 0, 2, 3).reshape(self.pe, nf * sf, self.simd)
        )

    def weight_word_bits(self) -> int:
        """Bits of one tile's weights, every lane's: PE x SIMD stored weights."""
        return self.pe * self.simd * stored_bits_of(self.geometry)

    def logic_features(self, df: Dataflow) -> dict[str, float]:
        g = self.geometry
        levels = self.search_levels()
        t_bits = g.threshold_bits if g.threshold_bits is not None else g.acc_bits
        sf, nf = self.folds()
        inb = self.in_beat_bits(df)
        product = g.in_bits + 1 + (1 if g.binary else g.weight_bits)
        agree_bits, agree_groups = self.agree_registers()
        return {
            "PS": self.pe * self.simd,
            # a binary unit's registered agree bits (XNOR with the weights and the valid plane),
            # their groups of 6 counted, and the valid inputs' count, once for all lanes
            # (`registers_agreement`, `agree_registers`)
            "ag": agree_bits,
            "agg": agree_groups,
            "vt": self.tree_adder_bits() if self.registers_agreement() and g.ternary_input else 0,
            "PA": self.pe * g.acc_bits,
            "PL": self.pe * levels,
            "PLT": self.pe * levels * t_bits,
            "lg": clog2(sf * nf),
            "sfin": inb * math.ceil(sf / 32) if sf > 1 else 0,
            # registers of hdl/bireal_mvu.v that synthesis keeps: the accumulators (read back
            # only with SF > 1), the fold and tile counters, the input beat kept for NF > 1
            "accff": self.pe * g.acc_bits if sf > 1 else 0,
            "cnt": (clog2(sf) if sf > 1 else 0)
            + (clog2(nf) if nf > 1 else 0)
            + (clog2(sf * nf) if sf * nf > 1 else 0),
            "inbuf": inb * sf if nf > 1 else 0,
            "pipe": self.pipeline_bits(),
            # the kept input beats as Yosys maps them: flip-flops, or distributed RAM
            **kept_beats(inb, sf if nf > 1 else 0),
            # integer MACs: product bits summed per lane (SIMD products of in+1 x weight bits)
            "PSP": self.pe * self.simd * product,
            # the adder trees' bits (hdl/bireal_tree.v: level l adds LB + l bits), every lane
            "tree": self.pe * self.tree_adder_bits(),
            "macw": self.mac_adders() if g.lut_macs else 0,
            "PSacc": self.pe * self.simd * g.acc_bits,
            # the multiply-add requantization: per lane its sum's bits (adder, clamp, register)
            "PRQ": self.pe * self.requant().sum_bits if self.requant() is not None else 0,
            # ... where its constants change with the neuron fold (read from a ROM, not folded)
            "PRQn": self.pe * self.requant().sum_bits if self.requant() is not None and nf > 1 else 0,
            # packed DSPs: per pair and SIMD lane the high product's sign correction (pk) and the
            # packed weight's adder (pkw), a constant that synthesis folds with one tile
            "pk": self.pe // 2 * self.simd * product if self.packed() else 0,
            "pkw": self.pe // 2 * self.simd * (g.weight_bits + 1) if self.packed() and sf * nf > 1 else 0,
        }

    def logic(self, df: Dataflow) -> dict[str, int]:
        out = super().logic(df)
        g = self.geometry
        if not g.binary and not g.lut_macs:
            out["DSP"] = self.dsp_multipliers()
        if self.requant_dsps():
            out["DSP"] = out.get("DSP", 0) + self.requant_dsps()
        return out

    def dsp_multipliers(self) -> int:
        """One DSP48E2 per MAC, or per two MACs of a lane pair where they are packed (`packed`),
        but none in a lane (a pair) whose every channel has direction 0 (a constant output:
        synthesis removes its MACs), unless a multiply-add requantizes (its multiplier, reading
        from a ROM, keeps the lane)."""
        group = 2 if self.packed() else 1
        direction = self.consts.get("direction")
        if direction is None or self.requant() is not None:  # a multiply-add reads every lane's sum
            return self.pe // group * self.simd
        _, nf = self.folds()
        dead_lanes = (np.asarray(direction).reshape(nf, self.pe) == 0).all(axis=0)
        dead = dead_lanes.reshape(-1, group).all(axis=1).sum()
        return int((self.pe // group - dead) * self.simd)

    def packed(self) -> bool:
        """Two lanes' MACs in one DSP48E2 (hdl/bireal_mvu.v, PACK): lanes 2i and 2i + 1 multiply
        the same input, so one multiplier computes (w_{2i+1} 2**18 + w_{2i}) x and the two products
        are its low 18 bits (sign-extended) and the rest (plus the low field's sign). Exact where
        every product fits 18 signed bits, the packed weight the 27-bit port and the input the
        18-bit one: weights of 2 to 9 bits times inputs of up to 17 bits whose product is at most
        18 bits; PE even. Integer units on DSPs only (LUT MACs and binary units have none)."""
        g = self.geometry
        if g.binary or g.lut_macs or self.pe % 2 or not 2 <= g.weight_bits <= DSP_A - PACK_FIELD:
            return False
        xw = g.in_bits + 1  # the input as the RTL decodes it (signed)
        return xw <= DSP_B and xw + g.weight_bits - 1 <= PACK_FIELD

    def memories(self, df: Dataflow) -> list[Memory]:
        g = self.geometry
        w_bits = stored_bits_of(g)
        sf, nf = self.folds()
        live = self._live_bits()
        mems = []
        if not self.external:  # else in DRAM: the weight stream's FIFO is its only storage here
            mems.append(
                Memory(
                    MemoryRole.WEIGHTS,
                    self.pe * self.simd * w_bits,
                    sf * nf,
                    lanes=self.pe,
                    live_bits=live[0],
                )
            )
        fit = self.requant()
        if fit is not None:  # the multiply-add's constants: a word of d*M and B per lane and fold
            m, b = self.requant_words()
            live = live_columns(m, fit.mult_bits + 1) + live_columns(b, fit.offset_bits)
            width = self.pe * (fit.mult_bits + 1 + fit.offset_bits)
            mems.append(Memory(MemoryRole.REQUANT, width, nf, lanes=self.pe, live_bits=live))
        elif "thresholds" in self.consts:
            steps = len(self.consts["thresholds"][0])
            # pipelined binary search: stage L holds 2**L thresholds per channel
            for level in range(clog2(steps + 1)):
                mems.append(
                    Memory(
                        MemoryRole.THRESHOLDS,
                        self.pe * g.threshold_bits,
                        nf * 2**level,
                        level=level,
                        lanes=self.pe,
                        live_bits=live[1 + level],
                    )
                )
        if "bias" in self.consts:
            bias = np.asarray(self.consts["bias"], dtype=np.int64)
            bits = signed_bits(int(bias.min(initial=0)), int(bias.max(initial=0)))
            words = bias.reshape(nf, self.pe) if g.mh % self.pe == 0 else None
            live = None if words is None else live_columns(words, bits)
            mems.append(Memory(MemoryRole.BIAS, self.pe * bits, nf, live_bits=live))
        return mems

    def _live_bits(self) -> list[int]:
        """`live_columns` of the weight ROM (word nf*SF + sf: lane p's SIMD weights of row
        nf*PE + p) and of each threshold stage's ROM, for this folding (cached)."""
        cache = _LIVE.setdefault(self._content_key(), {})  # by content: a design search rebuilds kernels
        key = (self.pe, self.simd)
        if key not in cache:
            g = self.geometry
            sf, nf = self.folds()
            w = np.asarray(self.consts["weights"], dtype=np.int64)
            if g.mw % self.simd or g.mh % self.pe:
                return [None] * (1 + 16)
            if g.binary:
                w = (w > 0).astype(np.int64)
            words = w.reshape(nf, self.pe, sf, self.simd).transpose(0, 2, 1, 3).reshape(nf * sf, -1)
            live = [live_columns(words, 1 if g.binary else g.weight_bits)]
            if "thresholds" in self.consts and self.requant() is None:
                live += threshold_stage_columns(self.consts["thresholds"], self.pe, g.threshold_bits)
            cache[key] = live
            cache[key, "used"] = used_columns(words, 1 if g.binary else g.weight_bits)
        return cache[key]

    def _content_key(self) -> bytes:
        """A digest of what its ROMs hold (weights, thresholds) and how they are read."""
        if "_content" not in self.__dict__:
            h = hashlib.blake2b(digest_size=20)
            h.update(repr((self.geometry, self.requant() is not None)).encode())
            for name in ("weights", "thresholds"):
                if name in self.consts:
                    a = np.ascontiguousarray(np.asarray(self.consts[name], dtype=np.int64))
                    h.update(str(a.shape).encode() + a.tobytes())
            self.__dict__["_content"] = h.digest()
        return self.__dict__["_content"]

    def mac_adders(self) -> int:
        """Adder bits of the LUT MACs (hdl/bireal_mvu.v, LUTMAC): a sign-bit weight adds or
        subtracts each input (SIMD adders per lane); a wider weight adds a shifted input per weight
        bit that is 1 in some word of its ROM (a bit that is 0 everywhere has no adder)."""
        g = self.geometry
        if g.weight_bits == 1:
            return self.pe * self.simd * g.acc_bits
        self._live_bits()  # fills the cache, the weight ROM's used columns with it
        used = _LIVE[self._content_key()].get(((self.pe, self.simd), "used"))
        return (self.pe * self.simd * g.weight_bits if used is None else used) * g.acc_bits

    def tree_leaves(self) -> int:
        """Values its adder tree sums per lane: 6-bit XNOR-popcount groups, else one product per input."""
        return -(-self.simd // 6) if self.geometry.binary else self.simd

    def registers_agreement(self) -> bool:
        """hdl/bireal_mvu.v AGREE: a binary unit whose weights change from op to op (more than
        one tile) or whose inputs are ternary registers each lane's SIMD agree bits in place of
        its tree's leaves, and counts the valid inputs once for all lanes (ternary inputs)."""
        sf, nf = self.folds()
        return self.geometry.binary and (self.geometry.ternary_input or sf * nf > 1)

    def agree_registers(self) -> tuple[int, int]:
        """(agree bits, groups of 6) that synthesis keeps of a unit that `registers_agreement`:
        PE x SIMD bits and PE x leaves groups where the weights change from op to op; with one
        tile, lanes whose weight at an input is the same register the same bit (x & valid, or
        its complement) and count the same group where all its 6 weights are the same, and
        synthesis merges them: per input its distinct weights, per group its distinct patterns."""
        if not self.registers_agreement():
            return 0, 0
        sf, nf = self.folds()
        if sf * nf > 1:
            return self.pe * self.simd, self.pe * self.tree_leaves()
        w = self.weight_tiles()[:, 0, :] > 0  # (PE, SIMD)
        bits = sum(len(np.unique(w[:, i])) for i in range(self.simd))
        groups = sum(len(np.unique(w[:, q : q + 6], axis=0)) for q in range(0, self.simd, 6))
        return int(bits), int(groups)

    def pipeline_bits(self) -> int:
        """Flip-flops of hdl/bireal_mvu.v's pipeline before the accumulator: per lane the tree's
        leaves (LB bits; or its SIMD agree bits, `registers_agreement`) and registered levels
        (bireal_tree: LB + l bits a node of level l), the valid count's (ternary inputs) likewise,
        and the op's flags delayed to the accumulator."""
        leaves, lb = self.tree_leaves(), self.leaf_bits()
        registered = registered_levels(leaves, TREE_LEVELS_PER_STAGE, True)
        levels = sum(-(-leaves // 2**level) * (lb + level) for level in registered)
        agree = self.registers_agreement()
        lanes = self.agree_registers()[0] if agree else self.pe * leaves * lb
        shared = self.simd + levels if agree and self.geometry.ternary_input else 0
        _, nf = self.folds()
        flags = (clog2(nf) + 3) * (1 + len(registered) + int(self.packed()))
        return lanes + self.pe * levels + shared + flags

    def leaf_bits(self) -> int:
        """Bits of a leaf of its adder tree (hdl/bireal_mvu.v LB, signed): a 6-input XNOR-popcount
        group's 2 agree - valid, or one product."""
        g = self.geometry
        xw = g.in_bits + 1
        return 4 if g.binary else (xw + 1 if g.weight_bits == 1 else xw + g.weight_bits)

    def tree_adder_bits(self) -> int:
        """Adder bits of one lane's tree (hdl/bireal_tree.v): a node of level l adds LB + l bits."""
        leaves, lb = self.tree_leaves(), self.leaf_bits()
        levels = range(1, tree_levels(leaves) + 1)
        return sum((-(-leaves // 2 ** (level - 1)) // 2) * (lb + level) for level in levels)  # pairs x bits

    def pipeline_stages(self) -> int:
        """hdl/bireal_mvu.v: the leaves and the adder tree, accumulated in the cycle its sum is
        registered; then the threshold search, one register per level, or the multiply-add's
        REQUANT_STAGES."""
        stages = tree_stages(self.tree_leaves(), TREE_LEVELS_PER_STAGE, True) + self.search_levels()
        stages += int(self.packed())  # the packed product's register, split into the two leaves after it
        return stages + (REQUANT_STAGES if self.requant() is not None else 0)

    def search_levels(self) -> int:
        """Stages of its threshold search (0 without thresholds, or with them as a multiply-add)."""
        if "thresholds" not in self.consts or self.requant() is not None:
            return 0
        return clog2(len(self.consts["thresholds"][0]) + 1)

    def accumulator_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per output channel the accumulator's reachable range: over inputs in [in_lo, in_hi],
        within the IR's value-range analysis where the dataflow builder recorded it (tighter where
        the input's values are narrower than its type: the thresholds were clipped to that)."""
        g = self.geometry
        w = np.asarray(self.consts["weights"], dtype=np.int64)
        b = linear_bounds(w, np.full(g.mw, g.in_lo), np.full(g.mw, g.in_hi))
        lo = np.broadcast_to(np.asarray(b.lo, dtype=np.int64), (g.mh,))
        hi = np.broadcast_to(np.asarray(b.hi, dtype=np.int64), (g.mh,))
        if "acc_lo" in self.consts:
            lo, hi = np.maximum(lo, self.consts["acc_lo"]), np.minimum(hi, self.consts["acc_hi"])
        return lo, hi

    def requant(self) -> IntegerAffine | None:
        """Its thresholds as a multiply-add and shift per lane (compiler/ir/affine.py): where the
        set has AFFINE_MIN_STEPS or more steps and the integer form is proven equal to the count
        over the accumulator's whole reachable range; else None (the binary search). Cached."""
        if "_requant" not in self.__dict__:
            fit = None
            t = self.consts.get("thresholds")
            if t is not None and np.asarray(t).shape[1] >= AFFINE_MIN_STEPS:
                fit = integer_affine(t, self.consts["direction"], *self.accumulator_bounds())
            self.__dict__["_requant"] = fit
        return self.__dict__["_requant"]

    def requant_words(self) -> tuple[np.ndarray, np.ndarray]:
        """The multiply-add's constants as the units store them, (NF, PE) each (channel nf*PE + p):
        the multiplier with the direction folded in (d * M: the accumulator is multiplied as it
        is) and the offset; count = clamp((d M acc + B) >> S, 0, steps)."""
        fit = self.requant()
        _, nf = self.folds()
        d = np.asarray(self.consts["direction"], dtype=np.int64)
        return (d * fit.mult).reshape(nf, self.pe), fit.offset.reshape(nf, self.pe)

    def requant_dsps(self) -> int:
        """DSP48E2s of the multiply-add: per lane d*M (signed, mult_bits + 1) x the accumulator
        (signed, v_bits) on as many 27 x 18 multipliers as its operands need (none for a product
        narrower than DSP_MIN_PRODUCT bits, which synthesis builds in LUTs)."""
        fit = self.requant()
        if fit is None or fit.mult_bits + 1 + fit.v_bits < DSP_MIN_PRODUCT:
            return 0
        a, b = sorted((fit.mult_bits + 1, fit.v_bits), reverse=True)
        return self.pe * math.ceil(a / DSP_A) * math.ceil(b / DSP_B)

    def latency(self, f_in, l_in, rate, ins, outs, cycles):
        sf, nf = self.folds()
        return f_in + (sf - 1) * max(1.0, rate), max(l_in + (nf - 1) * sf, f_in + cycles - 1)

    # ---- folding ----------------------------------------------------------------------------------
    def simd_options(self, df: Dataflow) -> list[int]:
        """SIMD must divide MW; behind a sliding window it is a divisor of the input channels or
        a whole number of taps (C x m with m dividing kh*kw: a wider window per beat)."""
        producer = df.kernels[df.streams[self.inputs[0]].producer]
        if isinstance(producer, SlidingWindow):
            c = producer.geometry.ifm[2]
            kh, kw = producer.geometry.kernel
            return sorted(set(divisors(c)) | {c * m for m in divisors(kh * kw)})
        return divisors(self.geometry.mw)

    def legal(self, df: Dataflow) -> bool:
        return self.simd in self.simd_options(df) and self.geometry.mh % self.pe == 0

    def fold(self, df: Dataflow, target: int) -> bool:
        """The least PE x SIMD (ties: the larger SIMD) that meets `target` cycles."""
        g = self.geometry
        best = None
        for simd in self.simd_options(df):
            for pe in divisors(g.mh):
                cycles = g.pixels * math.ceil(g.mw / simd) * math.ceil(g.mh / pe)
                if cycles <= target:
                    key = (pe * simd, -simd)
                    if best is None or key < best[0]:
                        best = (key, pe, simd)
        if best is None:
            return False
        self.pe, self.simd = best[1], best[2]
        return True

    def fastest_cycles(self) -> int:
        return self.geometry.pixels

    def describe(self) -> str:
        g = self.geometry
        return f"{g.mh}x{g.mw} over {g.pixels} pixels"
