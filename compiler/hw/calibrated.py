"""The logic (LUT, FF) of every kernel class and FIFO: linear formulas over a kernel's folding and
widths, their coefficients fitted (non-negative least squares) to Yosys' synthesis of the
generated RTL (`synth_xilinx -family xcup`) on the calibration designs of
benchmarks/cost_model_error.py (docs/hardware.md: the formulas and the error on held-out designs).
Memories are not in these formulas: each is placed and counted by compiler/hw/cost.py, and the
fits were made to the synthesized LUTs less the model's memory LUTs.

Features (all of a kernel's own):
    PS = PE * SIMD            PA = PE * acc bits           PL = PE * L (threshold search stages)
    PLT = PE * L * t bits     lg = ceil(log2(SF * NF))      inb, outb = input / output beat bits
    mx, mn = max / min of inb, outb                           lgw = ceil(log2(mx))
    sfin = inb * ceil(SF / 32) if SF > 1 (the input beat kept for the neuron folds)
    lgmap = ceil(log2(H * W * C)) of a window's input map     kk = KH * KW * inb
"""

from __future__ import annotations

import math

FORMULAS: dict[str, dict[str, list[str]]] = {
    "mvu_binary": {"LUT": ["PS", "PA", "PLT", "lg", "sfin", "inbuf"], "FF": ["accff", "cnt", "inbuf", "PLT"]},
    "mvu_lut": {
        "LUT": ["1", "PL", "PS", "PA", "PLT", "inb", "sfin", "inbuf"],
        "FF": ["accff", "cnt", "inbuf", "PLT"],
    },
    "mvu_dsp": {"LUT": ["PS", "PA", "PLT", "inb", "lg", "inbuf"], "FF": ["accff", "cnt", "inbuf", "PLT"]},
    "swu": {"LUT": ["1", "lgmap", "outb"], "FF": ["1", "lgmap"]},
    "max_pool": {"LUT": ["1", "kk"], "FF": ["1", "lgmap"]},
    "sum_pool": {"LUT": ["kk", "lgmap"], "FF": ["1", "lgmap"]},
    "global_sum_pool": {"LUT": ["1", "mx"], "FF": ["1", "mx"]},
    "thresholding": {"LUT": ["1", "inb"], "FF": []},
    "add": {"LUT": ["1", "inb"], "FF": []},
    "fork": {"LUT": ["1"], "FF": []},
    "dwc": {"LUT": ["1", "inb", "mx", "cap", "shift"], "FF": ["1", "lgw", "mn", "mx"]},
    "input_dma": {"LUT": ["1", "lgw"], "FF": ["1", "lgw"]},
    "output_dma": {"LUT": ["1", "inb"], "FF": ["1", "mx"]},
    "fifo": {"LUT": ["1", "ffmem", "ram", "deep", "lgd"], "FF": ["ffmem", "ptr"]},
}  # the terms of each class's formulas (benchmarks/fit_cost_model.py fits their coefficients)

COEFFICIENTS: dict[str, dict[str, dict[str, float]]] = {
    "mvu_binary": {"LUT": {"PS": 2.806, "PA": 1.132, "PLT": 0.365, "lg": 7.169, "sfin": 2.392, "inbuf": 0.181}, "FF": {"accff": 0.992, "cnt": 1.466, "inbuf": 0.03, "PLT": 0.108}},
    "mvu_lut": {"LUT": {"1": 34.527, "PS": 6.739, "PLT": 3.609, "inb": 9.128, "sfin": 3.751}, "FF": {"accff": 1.123, "cnt": 1.829, "PLT": 0.217}},
    "mvu_dsp": {"LUT": {"PS": 25.844, "PLT": 0.621, "inb": 1.077, "lg": 5.372, "inbuf": 0.376}, "FF": {"accff": 1.199, "inbuf": 0.565, "PLT": 0.0}},
    "swu": {"LUT": {"1": 67.206, "lgmap": 17.583, "outb": 1.791}, "FF": {"1": 59.943, "lgmap": 8.82}},
    "max_pool": {"LUT": {"1": 383.239, "kk": 2.671}, "FF": {"1": 75.702, "lgmap": 4.92}},
    "sum_pool": {"LUT": {"kk": 2.807, "lgmap": 53.51}, "FF": {"1": 86.132, "lgmap": 2.532}},
    "global_sum_pool": {"LUT": {"1": 76.251, "mx": 2.727}, "FF": {"1": 26.24, "mx": 0.902}},
    "thresholding": {"LUT": {"1": 2.907, "inb": 0.887}, "FF": {}},
    "add": {"LUT": {"1": 1.0, "inb": 0.875}, "FF": {}},
    "fork": {"LUT": {"1": 1.0}, "FF": {}},
    "dwc": {"LUT": {"1": 3.732, "cap": 0.125, "shift": 0.443}, "FF": {"1": 1.432, "lgw": 0.513, "mn": 0.861, "mx": 1.015}},
    "input_dma": {"LUT": {"1": 10.593, "lgw": 31.784}, "FF": {"1": 63.555, "lgw": 20.078}},
    "output_dma": {"LUT": {"1": 212.767, "inb": 9.257}, "FF": {"1": 228.09, "mx": 1.503}},
    "fifo": {"LUT": {"1": 3.952, "ffmem": 0.511, "ram": 0.955, "lgd": 4.944}, "FF": {"ffmem": 0.998, "ptr": 1.003}},
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


def fifo_features(width: int, depth: int) -> dict[str, float]:
    """A FIFO (hdl/bireal_fifo.v) as Yosys maps it: up to 16 bits in flip-flops, deeper in
    distributed RAM (RAM32M16: 14 bits x 32 per 8 LUTs; RAM64M8: 7 bits x 64 per 8 LUTs),
    pointers wp, rp (and a registered read address) of AW bits and the count of CW."""
    aw = clog2(depth) if depth > 1 else 1
    cw = math.ceil(math.log2(depth + 1))
    small = width * depth <= 16
    per8 = 14 if depth <= 32 else 7
    return {"ffmem": width * depth if small else 0, "ptr": 3 * aw + cw, "lgd": aw,
            "ram": 0 if small else 8 * math.ceil(width / per8) * math.ceil(depth / 64),
            "deep": width if depth > 64 else 0}  # fmt: skip


def fifo_logic(width: int, depth: int) -> dict[str, int]:
    """LUT (memory included) and FF of a FIFO of `width` bits x `depth` beats."""
    return evaluate("fifo", fifo_features(width, depth))
