"""The host's side of the design: the input DMA (pixels from the host, which applies the input
quantizer; one pixel per beat, gathered from several 64-bit bus words where it is wider than one)
and the output DMA (integer logits to the host, which applies the
output dequantizer)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.hw.kernels.base import Builder, Dataflow, Kernel, clog2, register
from compiler.hw.kernels.elementwise import ElementsGeometry
from compiler.hw.kernels.width import read_counts

BUS_BYTES = 8  # the AXI-Stream data bus: one 64-bit word per cycle


def element_bytes(bits: int) -> int:
    """Bytes an input element of `bits` takes on the bus."""
    return next(n for n in (1, 2, 4, 8) if bits <= 8 * n)


@dataclass(frozen=True)
class PixelGeometry:
    shape: tuple[int, int, int]  # H, W, C

    @property
    def channels(self) -> int:
        return self.shape[2]


class DMA(Kernel):
    host_port = True


@register
class InputDMA(DMA):
    kind = "input_dma"
    Geometry = PixelGeometry
    ir_ops = ("quantize_input",)

    @classmethod
    def from_ir(cls, b: Builder, node) -> Kernel:
        shape = tuple(b.graph.tensors[b.graph.inputs[0]].shape[1:])
        return b.add(cls, cls.Geometry(shape), [node.name], output=node.outputs[0])

    def out_width(self) -> int:
        return self.geometry.shape[2]

    def pixel_bytes(self, df: Dataflow) -> int:
        """Bytes of one pixel (one output beat) on the bus, each element in 1, 2, 4 or 8 bytes."""
        s = df.output_streams(self)[0]
        return s.width * element_bytes(s.bits)

    def bus_words(self, df: Dataflow) -> int:
        """64-bit bus words per frame (every frame starts on a new word)."""
        return -(-df.output_streams(self)[0].beats * self.pixel_bytes(df) // BUS_BYTES)

    def cycles(self, df: Dataflow) -> int:
        """One pixel per cycle, or one bus word per cycle where a pixel is wider than a word
        (the DMA's width converter gathers it)."""
        return max(df.output_streams(self)[0].beats, self.bus_words(df))

    def logic_features(self, df: Dataflow) -> dict[str, float]:
        """hdl/bireal_dma.v's input DMA gathers a pixel's bytes (`pb`) from bus words in a buffer of
        pb + 8 bytes (`buf`): each 64-bit word placed at the byte counts where it reads
        (`wplace`: 64 bits times those counts, `read_counts` of a width converter); both counted
        in the bits a pixel uses (synthesis drops the rest: a 1-bit element uses 1 bit a byte)."""
        pb = self.pixel_bytes(df)
        s = df.output_streams(self)[0]
        used = s.width * s.bits / (8 * pb)  # of each buffered byte's bits, those a pixel uses
        return {
            "pb": pb,
            "buf": 8 * (pb + 8) * used,
            "wplace": 64 * len(read_counts(BUS_BYTES, pb)) * used,
        }

    def pixel_ready_ops(self, df: Dataflow) -> np.ndarray:
        """Per pixel of a frame, the cycle (op) at which it is written: after its last byte's word
        has arrived, and at most one pixel per cycle."""
        i = np.arange(df.output_streams(self)[0].beats)
        last_word = ((i + 1) * self.pixel_bytes(df) - 1) // BUS_BYTES
        return np.maximum(i, last_word)


@register
class OutputDMA(DMA):
    """Logits to the host: takes a beat when its byte buffer has room and sends one 64-bit bus
    word per cycle; every frame starts on a new word (its last word zero-padded). A beat wider
    than a word takes several cycles to send."""

    kind = "output_dma"
    Geometry = ElementsGeometry
    ir_ops = ("dequantize_output",)

    @classmethod
    def from_ir(cls, b: Builder, node) -> Kernel:
        elements = int(np.prod(b.graph.tensors[node.inputs[0]].shape[1:]))
        return b.add(cls, cls.Geometry(elements), [node.name], inputs=node.inputs[:1])

    def follow(self, df: Dataflow) -> None:
        """It reads its producer's beat."""
        self.pe = df.kernels[df.streams[self.inputs[0]].producer].out_width()

    def beat_bytes(self, df: Dataflow) -> int:
        s = df.input_streams(self)[0]
        return s.width * element_bytes(s.bits)

    def bus_words(self, df: Dataflow) -> int:
        """64-bit bus words per frame."""
        return -(-df.input_streams(self)[0].beats * self.beat_bytes(df) // BUS_BYTES)

    def buffer_bytes(self, df: Dataflow) -> int:
        """Its byte buffer: two words beyond a beat and a frame's padding, so that a beat of up to
        a word is taken every cycle while the previous one is sent."""
        pad = self.bus_words(df) * BUS_BYTES - df.input_streams(self)[0].beats * self.beat_bytes(df)
        return self.beat_bytes(df) + pad + 2 * BUS_BYTES

    def cycles(self, df: Dataflow) -> int:
        return max(df.input_streams(self)[0].beats, self.bus_words(df))

    def logic_features(self, df: Dataflow) -> dict[str, float]:
        """hdl/bireal_dma.v's output DMA places each beat's bytes (`pb`) in a byte buffer (`buf`
        bytes) at any count it holds: a shifter of 8 pb bits over the buffer's count bits."""
        pb, cap = self.beat_bytes(df), self.buffer_bytes(df)
        return {"pb": pb, "buf": cap, "bshift": 8 * pb * clog2(cap + 1)}


def matrix_beats(word_bits: int, tiles: int, bus_bits: int) -> int:
    """Bus beats of one copy of a matrix unit's weights in DRAM: words narrower than the bus
    packed `bus // word` to a beat (none straddles two), wider ones over whole beats."""
    if word_bits <= bus_bits:
        return -(-tiles // (bus_bits // word_bits))
    return tiles * -(-word_bits // bus_bits)


@dataclass(frozen=True)
class WeightStreamGeometry:
    """A matrix unit's weights streamed from DRAM (compiler/hw/external.py): `tiles` words of
    `word_bits` (one per op of the unit: PE x SIMD weights, tile nf * SF + sf) for each of
    `pixels` matrix-vector products per frame, read `bus_bits` at a time (`matrix_beats`) at
    `rate_num / rate_den` bytes per cycle, each read arriving `latency` cycles after it is
    issued."""

    unit: str  # the matrix unit it feeds
    word_bits: int
    tiles: int
    pixels: int
    bus_bits: int
    rate_num: int
    rate_den: int
    latency: int

    @property
    def channels(self) -> int:
        return 1

    @property
    def bytes_per_frame(self) -> int:
        return self.pixels * matrix_beats(self.word_bits, self.tiles, self.bus_bits) * self.bus_bits // 8


@register
class WeightDMA(DMA):
    """A matrix unit's weights from DRAM (FINN's `external` weights): it reads the unit's weight
    words in the unit's op order, the whole matrix again for every pixel (the unit keeps none),
    issuing bus reads at its share of the DRAM's rate and writing at most a word per cycle; a
    word is in the stream `latency` cycles after the read of its last beat was issued
    (`pipeline_stages`: the stream's FIFO reserves its slot at the issue, so the FIFO is the
    DMA's buffer of outstanding reads)."""

    kind = "weight_dma"
    Geometry = WeightStreamGeometry

    def out_width(self) -> int:
        return 1

    def write_ops(self) -> np.ndarray:
        """Per word of a frame, the op (cycle of the DMA's frame) at which it is written: not
        before the read of its last beat is issued (beat b's bytes are issued by op
        ceil((b + 1) bus_bytes rate_den / rate_num) - 1), and one word per op."""
        g = self.geometry
        per_matrix = matrix_beats(g.word_bits, g.tiles, g.bus_bits)
        j = np.arange(g.tiles, dtype=np.int64)
        if g.word_bits <= g.bus_bits:
            last = j // (g.bus_bits // g.word_bits)
        else:
            span = -(-g.word_bits // g.bus_bits)
            last = j * span + span - 1
        beat = (np.arange(g.pixels, dtype=np.int64)[:, None] * per_matrix + last[None, :]).ravel()
        issued = -(-((beat + 1) * (g.bus_bits // 8) * g.rate_den) // g.rate_num) - 1
        n = np.arange(len(issued), dtype=np.int64)
        return n + np.maximum.accumulate(issued - n)

    def cycles(self, df: Dataflow) -> int:
        return int(self.write_ops()[-1]) + 1

    def pipeline_stages(self) -> int:
        return self.geometry.latency

    def logic(self, df: Dataflow) -> dict[str, int]:
        """Not calibrated (no RTL of it yet): an AXI4 read master (address and burst counters,
        `ADDRESS_BITS` each) and the register gathering a word from bus beats; see
        docs/hardware.md."""
        g = self.geometry
        beats = -(-g.word_bits // g.bus_bits)
        gather = g.word_bits if beats > 1 else 0
        return {
            "LUT": 2 * ADDRESS_BITS + g.bus_bits // 4 + gather // 2 + 3 * clog2(g.pixels * g.tiles),
            "FF": 3 * ADDRESS_BITS + g.bus_bits + gather + 3 * clog2(g.pixels * g.tiles),
            "DSP": 0,
        }

    def describe(self) -> str:
        g = self.geometry
        return f"{g.unit}'s weights: {g.bytes_per_frame:,} bytes per frame"


ADDRESS_BITS = 32  # the AXI read master's address and its burst counter (WeightDMA.logic)
