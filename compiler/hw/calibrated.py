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

COEFFICIENTS: dict[str, dict[str, dict[str, float]]] = {
    "mvu_binary": {"LUT": {"PS": 2.553, "PA": 1.72, "lg": 1.126, "sfin": 13.604},
                   "FF": {"PS": 0.154, "PA": 1.196, "PLT": 0.073, "lg": 1.7, "sfin": 1.515}},
    "mvu_lut": {"LUT": {"1": 106.5, "PL": 15.0, "PS": 4.787, "inb": 4.993, "sfin": 7.022},
                "FF": {"1": 41.7, "PA": 0.297, "PLT": 0.504, "sfin": 0.051}},
    "mvu_dsp": {"LUT": {"PS": 32.79, "inb": 2.168, "lg": 7.971},
                "FF": {"PLT": 0.26, "inb": 0.397, "lg": 10.98, "sfin": 0.547}},
    "swu": {"LUT": {"1": 116.9, "lgmap": 14.6, "outb": 1.921}, "FF": {"1": 65.5, "lgmap": 8.592}},
    "max_pool": {"LUT": {"1": 489.1, "kk": 3.426}, "FF": {"1": 71.2, "lgmap": 5.535}},
    "sum_pool": {"LUT": {"kk": 3.488, "lgmap": 48.97}, "FF": {"1": 91.4, "lgmap": 2.184}},
    "global_sum_pool": {"LUT": {"1": 67.3, "mx": 3.036}, "FF": {"1": 24.4, "mx": 1.144}},
    "thresholding": {"LUT": {"1": 4.9, "inb": 0.889}, "FF": {}},
    "add": {"LUT": {"1": 1.0, "inb": 0.875}, "FF": {}},
    "fork": {"LUT": {"1": 1.0}, "FF": {}},
    "dwc": {"LUT": {"inb": 1.653, "mx": 2.516}, "FF": {"1": 1.31, "lgw": 0.51, "mn": 0.927, "mx": 1.006}},
    "input_dma": {"LUT": {"1": 7.2, "lgw": 35.66}, "FF": {"1": 68.1, "lgw": 18.95}},
    "output_dma": {"LUT": {"1": 187.4, "inb": 11.47}, "FF": {"1": 229.2, "mx": 1.559}},
    # a FIFO: memory and pointers together (FFs up to depth 4, distributed RAM above)
    "fifo": {"LUT": {"1": 4.0, "Wsmall": 0.592, "Wrows": 0.672, "lgd": 6.59},
             "FF": {"1": 5.9, "Wrows": 0.101, "lgd": 2.88}},
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


def fifo_logic(width: int, depth: int) -> dict[str, int]:
    """LUT (memory included) and FF of a FIFO of `width` bits x `depth` beats."""
    f = {"Wsmall": width if depth <= 4 else 0, "Wrows": width * math.ceil(depth / 64) if depth > 4 else 0,
         "lgd": clog2(depth)}  # fmt: skip
    return evaluate("fifo", f)
