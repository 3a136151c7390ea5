"""The logic (LUT, FF) of every kernel class and FIFO: linear formulas over a kernel's folding and
widths, their coefficients fitted (non-negative least squares) to Yosys' synthesis of the
generated RTL (`synth_xilinx -family xcup`) on the calibration designs of
benchmarks/cost_model_error.py (docs/hardware.md: the formulas and the error on held-out designs).
Memories are not in these formulas: each is placed and counted by compiler/hw/cost.py, and the
fits were made to the synthesized LUTs less the model's memory LUTs.

Features (all of a kernel's own):
    ag, agg, vt: a binary unit's registered agree bits and their counted groups of 6 that
        synthesis keeps (PE * SIMD and PE * leaves where the weights change from op to op; with
        one tile, per input its distinct weights over the lanes and per group its distinct
        patterns: `MatrixVector.agree_registers`) and its valid count's adder bits
        (`registers_agreement`, ternary inputs)
    PS = PE * SIMD            PA = PE * acc bits           PL = PE * L (threshold search stages)
    PLT = PE * L * t bits     lg = ceil(log2(SF * NF))      inb, outb = input / output beat bits
    mx, mn = max / min of inb, outb                           lgw = ceil(log2(mx))
    sfin = inb * ceil(SF / 32) if SF > 1 (the input beat kept for the neuron folds)
    accff, cnt, inbuf: a matrix unit's accumulators (SF > 1), counters, kept input beats (NF > 1)
    kff, klut: a register file (kept input beats, a global pool's sums) in flip-flops or its
        distributed RAM's LUTs (`kept_beats`)
    PSP = PE * SIMD * (in bits + 1 + weight bits): the product bits a DSP unit's adder tree sums
    tree = PE * the adder bits of a lane's tree (hdl/bireal_tree.v: a node of level l adds LB + l
        bits; `MatrixVector.tree_adder_bits`): popcount and adder trees, exact in their structure,
        so what extrapolates to SIMD beyond the random designs' 16
    macw: the adder bits of LUT MACs (`MatrixVector.mac_adders`)
    pipe: a matrix unit's pipeline registers before the accumulator (`MatrixVector.pipeline_bits`)
    lgmap = ceil(log2(H * W * C)) of a window's input map     kk = KH * KW * inb
    cw: a window's counter width; taddr, tword: per line-buffer read port its address adder and
        word bits; red: a pool's reduced value bits; ismax: 1 for a max pool
    pk = PE/2 * SIMD * (in + 1 + w): a packed DSP unit's sign corrections of the high products
    pkw = PE/2 * SIMD * (w + 1): its packed weights' adders, where the weights change from op to op
        (with one tile they are constants)
    PRQ = PE * the bits of d*M*acc + B: a matrix unit's multiply-add requantization (adder, clamp
        and registers; 0 with a threshold search; provisional coefficients until a refit); PRQn
        the same where NF > 1 (its constants read from a ROM per neuron fold)
    cap, place, counts, smux, held: a width converter's register bits, input bits times the
        counts it reads at (its multiplexer inputs), those counts' decoders, the 2:1 multiplexer
        bits of a scattering shift register, the register bits synthesis keeps; ctr: the bits of the
        count's states (`count_states`), wrap: those bits again where the states are not a power
        of two (the counter compares and resets)
"""

from __future__ import annotations

import math

FORMULAS: dict[str, dict[str, list[str]]] = {
    "mvu_binary": {
        "LUT": ["PS", "ag", "agg", "tree", "vt", "PA", "PLT", "lg", "sfin", "inbuf", "PRQ"],
        "FF": ["accff", "cnt", "kff", "PLT", "pipe", "PRQ"],
    },
    "mvu_lut": {
        "LUT": ["1", "macw", "PS", "tree", "PA", "PLT", "inb", "sfin", "inbuf", "PRQ"],
        "FF": ["accff", "cnt", "kff", "PLT", "pipe", "PRQ"],
    },
    "mvu_dsp": {
        "LUT": ["1", "tree", "PLT", "PL", "lg", "sfin", "inbuf", "PRQ", "pk", "pkw"],
        "FF": ["accff", "cnt", "kff", "PLT", "pipe", "PRQ", "PRQn", "pk", "pkw"],
    },
    "swu": {"LUT": ["1", "cw", "taddr", "tword", "rmux"], "FF": ["1", "cw", "taddr"]},
    "pool": {"LUT": ["cw", "taddr", "tword", "red", "rmux"], "FF": ["1", "cw", "ismax", "taddr", "red"]},
    "global_sum_pool": {"LUT": ["1", "mx"], "FF": ["1", "kff"]},
    "thresholding": {"LUT": ["1", "inb", "PLT"], "FF": ["1", "PLT"]},
    "add": {"LUT": ["1", "inb"], "FF": []},
    "fork": {"LUT": ["1"], "FF": []},
    "dwc": {"LUT": ["1", "cap", "place", "counts", "smux", "lgw", "ctr", "wrap"], "FF": ["1", "lgw", "held"]},
    "input_dma": {"LUT": ["1", "outb", "buf", "wplace"], "FF": ["1", "buf"]},
    "output_dma": {"LUT": ["1", "buf", "bshift"], "FF": ["1", "buf"]},
    "fifo": {"LUT": ["1", "ffmem", "ram", "deep", "lgd"], "FF": ["ffmem", "ptr"]},
}  # the terms of each class's formulas (benchmarks/fit_cost_model.py fits their coefficients)

COEFFICIENTS: dict[str, dict[str, dict[str, float]]] = {
    "mvu_binary": {"LUT": {"PS": 1.011, "ag": 1.486, "agg": 0.576, "vt": 2.447, "PA": 1.159, "PLT": 1.256, "lg": 6.462, "inbuf": 0.152, "PRQ": 0.286}, "FF": {"accff": 0.757, "cnt": 1.411, "kff": 0.62, "PLT": 1.914, "pipe": 1.092, "PRQ": 1.567}},
    "mvu_lut": {"LUT": {"1": 52.355, "macw": 0.158, "tree": 1.394, "PA": 0.048, "PLT": 3.779, "inb": 1.956}, "FF": {"accff": 0.478, "cnt": 1.525, "PLT": 2.288, "pipe": 0.937}},
    "mvu_dsp": {"LUT": {"1": 74.484, "tree": 1.017, "sfin": 1.313, "inbuf": 0.022, "PRQ": 1.195, "pk": 0.111, "pkw": 1.289}, "FF": {"accff": 0.601, "cnt": 2.104, "kff": 0.885, "pipe": 1.033, "PRQ": 1.35, "PRQn": 0.728, "pk": 1.975}},
    "swu": {"LUT": {"cw": 16.362, "taddr": 4.385, "tword": 0.835, "rmux": 1.288}, "FF": {"1": 48.664, "cw": 9.554, "taddr": 1.102}},
    "pool": {"LUT": {"taddr": 6.657, "red": 0.506, "rmux": 0.35}, "FF": {"1": 25.602, "cw": 7.807, "taddr": 1.953, "red": 0.552}},
    "global_sum_pool": {"LUT": {"1": 23.937, "mx": 2.269}, "FF": {"1": 8.47, "kff": 0.895}},
    "thresholding": {"LUT": {"1": 0.01, "PLT": 0.423}, "FF": {"1": 2.0, "PLT": 0.577}},
    "add": {"LUT": {"1": 1.0, "inb": 0.875}, "FF": {}},
    "fork": {"LUT": {"1": 1.0}, "FF": {}},
    "dwc": {"LUT": {"1": 2.381, "place": 0.711, "smux": 0.955, "lgw": 0.057, "ctr": 1.399, "wrap": 7.329}, "FF": {"1": 1.046, "lgw": 0.07, "held": 1.097}},
    "input_dma": {"LUT": {"1": 11.098, "outb": 0.562, "buf": 0.394, "wplace": 0.603}, "FF": {"1": 24.239, "buf": 0.667}},
    "output_dma": {"LUT": {"buf": 8.38, "bshift": 0.849}, "FF": {"1": 10.161, "buf": 7.865}},
    "fifo": {"LUT": {"1": 4.479, "ffmem": 0.48, "ram": 0.983, "deep": 0.512, "lgd": 6.917}, "FF": {"ffmem": 0.695, "ptr": 1.091}},
}  # fmt: skip


def clog2(x: int) -> int:
    return max(1, math.ceil(math.log2(max(x, 2))))


def evaluate(key: str, features: dict[str, float]) -> dict[str, int]:
    """LUT and FF of class `key` from its features (rounded up)."""
    out = {}
    for resource, terms in COEFFICIENTS[key].items():
        out[resource] = math.ceil(
            sum(c * features.get(f, 1.0 if f == "1" else 0.0) for f, c in terms.items())
        )
    return out


def beat_features(inb: int, outb: int) -> dict[str, float]:
    mx = max(inb, outb)
    return {"inb": inb, "outb": outb, "mx": mx, "mn": min(inb, outb), "lgw": clog2(mx)}


def lutram_shape(width: int, depth: int) -> tuple[int, int]:
    """(cells, blocks) of a width x depth RAM with one read port as Yosys maps it: RAM32M16 cells
    (8 LUTs: 14 bits x 32 words) or RAM64M8 (7 bits x 64), whichever takes fewer; `blocks` of
    32 or 64 words side by side in depth, their read data multiplexed."""
    if depth <= 32:
        return math.ceil(width / 14), 1
    if 64 < depth <= 96:  # three 32-word blocks rather than two of 64 (as Yosys maps them)
        return 3 * math.ceil(width / 14), 3
    options = [(math.ceil(depth / 64) * math.ceil(width / 7), math.ceil(depth / 64)),
               (math.ceil(depth / 32) * math.ceil(width / 14), math.ceil(depth / 32))]  # fmt: skip
    return min(options)


def ram_luts(width: int, depth: int, read_ports: int = 1) -> int:
    """LUTs of a RAM read at `read_ports` addresses per cycle: Yosys makes one copy per read port."""
    return 8 * read_ports * lutram_shape(width, depth)[0]


def ram_in_ffs(width: int, depth: int) -> bool:
    """Yosys keeps a RAM of at most 16 bits in flip-flops (cheaper than a distributed RAM cell)."""
    return width * depth <= 16


def kept_beats(width: int, depth: int) -> dict[str, float]:
    """A register file of `depth` beats (a matrix unit's kept input beats, a global pool's sums):
    `kff` its bits where they are flip-flops, `klut` the LUTs of its distributed RAM otherwise."""
    if depth == 0:
        return {"kff": 0, "klut": 0}
    if depth == 1 or ram_in_ffs(width, depth):
        return {"kff": width * depth, "klut": 0}
    return {"kff": 0, "klut": ram_luts(width, depth)}


def fifo_features(width: int, depth: int) -> dict[str, float]:
    """A FIFO (hdl/bireal_fifo.v) as Yosys maps it: up to 16 bits in flip-flops, deeper in
    distributed RAM (RAM32M16: 14 bits x 32 per 8 LUTs; RAM64M8: 7 bits x 64 per 8 LUTs),
    pointers wp, rp (and a registered read address) of AW bits and two counts of CW (slots
    reserved, beats stored)."""
    aw = clog2(depth) if depth > 1 else 1
    cw = math.ceil(math.log2(depth + 1))
    small = ram_in_ffs(width, depth)
    per8 = 14 if depth <= 32 else 7
    return {"ffmem": width * depth if small else 0, "ptr": 3 * aw + 2 * cw, "lgd": aw,
            "ram": 0 if small else 8 * math.ceil(width / per8) * math.ceil(depth / 64),
            "deep": width if depth > 64 else 0}  # fmt: skip


def fifo_logic(width: int, depth: int) -> dict[str, int]:
    """LUT (memory included) and FF of a FIFO of `width` bits x `depth` beats."""
    return evaluate("fifo", fifo_features(width, depth))
