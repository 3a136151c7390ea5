"""Weights in external memory (FINN's `external` weights): a matrix unit whose weights are not
stored on chip reads them from DRAM through its own DMA (`WeightDMA`), one weight word (PE x SIMD
weights) per op, the whole matrix again for every pixel.

The DRAM model (docs/hardware.md, "Weights in DRAM"): the fabric reads at most
`DRAM_EFFICIENCY` x the board's peak DRAM rate and at most its ports' width per cycle
(`dram_bytes_per_cycle`); every external unit's DMA gets a share of that rate in proportion to
the bytes it reads per frame, so that all of them take the same cycles per frame (the total
bytes over the rate), and no more than one beat of its own bus per cycle. A read arrives
`dram_latency_ns` after it is issued. The simulator (sim/schedule.py) issues each DMA's reads at
that rate and stalls its unit when the word it needs has not arrived.

Which units stream (`choose_external`): none where the design fits on chip; otherwise, while it
does not fit, the unit that reads the fewest bytes per stored weight bit (the fewest pixels:
the classifier first, then the last stage's convolutions), as long as the DRAM can deliver all
the streaming units' bytes within the frame interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from compiler.hw.dataflow import Dataflow, Stream
from compiler.hw.kernels import MatrixVector, WeightDMA
from compiler.hw.kernels.dma import matrix_beats

DRAM_EFFICIENCY = Fraction(7, 10)  # of the peak, what long sequential bursts sustain (docs/hardware.md)
WEIGHT_BUS_BITS = (
    64,
    128,
    256,
    512,
)  # a DMA's bus: the narrowest of these that holds a word, else the widest
MODES = ("auto", "none", "all")  # --external-weights


def has_dram(board) -> bool:
    return bool(getattr(board, "dram_gbs", 0)) and board.dram_ports > 0 and board.port_bits > 0


def dram_bytes_per_cycle(board, clock_mhz: float) -> Fraction:
    """Bytes per fabric cycle the design can read from DRAM: the sustained share of the peak
    rate, at most the ports' width."""
    peak = Fraction(board.dram_gbs).limit_denominator(1000) * 10**9 * DRAM_EFFICIENCY
    per_cycle = peak / (Fraction(clock_mhz).limit_denominator(1000) * 10**6)
    ports = Fraction(board.dram_ports * board.port_bits, 8)
    return min(per_cycle, ports).limit_denominator(1 << 16)


def latency_cycles(board, clock_mhz: float) -> int:
    return math.ceil(board.dram_latency_ns * clock_mhz / 1000)


def bus_bits(word_bits: int) -> int:
    return next((b for b in WEIGHT_BUS_BITS if word_bits <= b), WEIGHT_BUS_BITS[-1])


def stream_bytes(k: MatrixVector) -> int:
    """Bytes per frame a unit's weights take streamed (`matrix_beats` per pixel)."""
    word = k.weight_word_bits()
    bus = bus_bits(word)
    sf, nf = k.folds()
    return k.geometry.pixels * matrix_beats(word, sf * nf, bus) * bus // 8


def remove_weight_dmas(df: Dataflow) -> None:
    for name in [n for n, k in df.kernels.items() if isinstance(k, WeightDMA)]:
        dma = df.kernels.pop(name)
        (s,) = dma.outputs
        unit = df.kernels[df.streams.pop(s).consumer]
        unit.inputs.remove(s)


def attach_weight_dmas(df: Dataflow, board, clock_mhz: float) -> None:
    """A WeightDMA and its stream for every matrix unit marked `external` (any DMAs already
    there are replaced: the shares depend on all of them)."""
    remove_weight_dmas(df)
    units = [k for k in df.kernels.values() if isinstance(k, MatrixVector) and k.external]
    if not units:
        return
    if not has_dram(board):
        raise ValueError(f"board {board.name} has no external memory for {units[0].name}'s weights")
    rate = dram_bytes_per_cycle(board, clock_mhz)
    total = sum(stream_bytes(k) for k in units)
    latency = latency_cycles(board, clock_mhz)
    for k in units:
        word = k.weight_word_bits()
        bus = bus_bits(word)
        share = min(rate * stream_bytes(k) / total, Fraction(bus, 8)).limit_denominator(1 << 16)
        sf, nf = k.folds()
        g = WeightDMA.Geometry(
            k.name, word, sf * nf, k.geometry.pixels, bus, share.numerator, share.denominator, latency
        )
        dma = WeightDMA(f"{WeightDMA.kind}_{len(df.kernels)}", [], [], g)
        while dma.name in df.kernels:
            dma.name += "_"
        name = f"w{len(df.streams)}"
        while name in df.streams:
            name += "_"
        df.streams[name] = Stream(name, dma.name, k.name, g.pixels * g.tiles, word, width=1)
        dma.outputs.append(name)
        k.inputs.append(name)
        df.kernels[dma.name] = dma


def choose_external(
    df: Dataflow, board, clock_mhz: float, target: int, mode: str, fits: Callable[[], bool]
) -> None:
    """Mark the matrix units whose weights stream from DRAM (see the module docstring) and attach
    their DMAs: `mode` "none" keeps every weight on chip, "all" streams every unit's, "auto"
    streams units, fewest pixels first, while `fits()` is false and the DRAM delivers their bytes
    within `target` cycles per frame."""
    units = [k for k in df.order() if isinstance(k, MatrixVector)]
    if mode == "all":
        if not has_dram(board):
            raise ValueError(f"board {board.name} has no external memory (dram_gbs 0)")
        for k in units:
            k.external = True
        attach_weight_dmas(df, board, clock_mhz)
        return
    if mode == "none" or not has_dram(board) or fits():
        return
    budget = dram_bytes_per_cycle(board, clock_mhz) * target
    chosen, streamed = [], 0
    for k in sorted(units, key=lambda k: (k.geometry.pixels, -k.geometry.mw * k.geometry.mh)):
        sf, nf = k.folds()
        bus = bus_bits(k.weight_word_bits())
        slow = stream_bytes(k) * 8 > bus * target or k.geometry.pixels * sf * nf > target  # its DMA
        if streamed + stream_bytes(k) > budget or slow:  # or the DRAM would be too slow
            continue
        chosen.append(k)
        streamed += stream_bytes(k)
    for k in chosen:  # all of them first: where even that does not fit, stop (one evaluation)
        k.external = True
    attach_weight_dmas(df, board, clock_mhz)
    if not chosen or not fits():
        return
    for k in chosen:
        k.external = False
    for k in chosen:  # then the fewest that fit, in that order
        k.external = True
        attach_weight_dmas(df, board, clock_mhz)
        if fits():
            return


def weight_words(k: MatrixVector) -> list[int]:
    """The unit's weight words in op order (tile nf * SF + sf), each an integer of
    `weight_word_bits` bits: lane p's SIMD weights at bits p SIMD w + i w (w bits each, two's
    complement, so a 1-bit bipolar weight is its sign bit, 1 for -1; but a binary unit's bit 1
    is +1, the XNOR convention)."""
    tiles = k.weight_tiles()  # (PE, tiles, SIMD)
    g = k.geometry
    w = 1 if g.binary else g.weight_bits
    if g.binary:
        fields = (tiles > 0).astype(np.int64)
    elif w == 1:  # bipolar weights of an integer unit: the sign bit (1: -1), as a 1-bit two's complement
        fields = (tiles < 0).astype(np.int64)
    else:
        fields = tiles & ((1 << w) - 1)
    flat = fields.transpose(1, 0, 2).reshape(tiles.shape[1], -1)  # (tiles, PE*SIMD): lane-major
    bits = ((flat[:, :, None] >> np.arange(w)) & 1).astype(np.uint8).reshape(len(flat), -1)
    packed = np.packbits(bits, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def dram_image(dma: WeightDMA, words: list[int]) -> np.ndarray:
    """One copy of a unit's weights as its DMA reads them (`matrix_beats` beats of `bus_bits`,
    `dma.geometry`), as little-endian uint64 words: narrow words packed `bus // word` to a beat
    from bit 0, a wide word over `ceil(word / bus)` beats."""
    g = dma.geometry
    beats = matrix_beats(g.word_bits, g.tiles, g.bus_bits)
    image = [0] * beats
    if g.word_bits <= g.bus_bits:
        per = g.bus_bits // g.word_bits
        for j, word in enumerate(words):
            image[j // per] |= word << (g.word_bits * (j % per))
    else:
        span = -(-g.word_bits // g.bus_bits)
        mask = (1 << g.bus_bits) - 1
        for j, word in enumerate(words):
            for s in range(span):
                image[j * span + s] = (word >> (g.bus_bits * s)) & mask
    per64 = g.bus_bits // 64
    out = np.zeros(beats * per64, dtype=np.uint64)
    for b, beat in enumerate(image):
        for q in range(per64):
            out[b * per64 + q] = (beat >> (64 * q)) & 0xFFFF_FFFF_FFFF_FFFF
    return out
