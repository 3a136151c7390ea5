"""Per-kernel op schedules: what each kernel does in each cycle it is allowed to run.

Every kernel is one or two pipelined processes with an initiation interval of 1: a process runs
its ops in order, one per cycle at most, and an op fires only when each stream item it reads has
been pushed in an earlier cycle, each item it writes has room in its FIFO (the item `depth`
places before it was popped in an earlier cycle), and the op of a sibling process it waits on
has fired in an earlier cycle. An op pushes (reserves its FIFO slot) when it fires; the item is
written, and readable from the next cycle, `latency` cycles later (the kernel's register stages). A schedule lists, per process and for `frames` frames, the op
index at which each stream item is read or written and the sibling op each op waits on.

  input_dma                one pixel or bus word per op
  output_dma               a taker (one beat per op) and a sender (one bus word per op)
  fork, add, thresholding  one beat in (from each input) and one out per op
  dwc                      per group of lcm(in, out) elements: reads and writes as the buffer allows
  mvu                      ops (pixel, neuron fold, synapse fold): reads on neuron fold 0, writes on
                           the last synapse fold (FINN's MVAU loop order); with its weights in
                           DRAM it also reads a weight word every op
  weight_dma               one op per cycle; a word is written at the op that issues the read of
                           its last byte (its share of the DRAM's rate), `latency` cycles later
  global_sum_pool          reads every op, writes the channel groups during the last pixel
  swu, max_pool, sum_pool  a reader (one input beat per op, into a kh-row line buffer) and a writer
                           (one output beat per op); the writer waits until the bottom-right pixel
                           of its window has been read, the reader until the beat it overwrites is
                           no longer needed by the writer
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from compiler.hw.dataflow import Dataflow
from compiler.hw.kernels import (
    Add,
    Fork,
    GlobalSumPool,
    InputDMA,
    Kernel,
    MatrixVector,
    OutputDMA,
    Thresholding,
    WeightDMA,
    WidthConverter,
    WindowKernel,
    lookup,
)
from compiler.hw.kernels.dma import BUS_BYTES


@dataclass
class Process:
    name: str
    kernel: str
    ops: int  # total over all frames
    reads: dict[str, np.ndarray] = field(default_factory=dict)  # stream -> op index of each item
    writes: dict[str, np.ndarray] = field(default_factory=dict)
    wait: tuple[str, np.ndarray] | None = None  # (sibling process, op it waits on per op; -1: none)
    latency: int = 0  # cycles from an op to the write of its beats (the kernel's pipeline_stages)


def _tile(local: np.ndarray, frames: int, ops_per_frame: int) -> np.ndarray:
    """Op indices of one frame's items repeated for `frames` frames."""
    return (local[None, :] + ops_per_frame * np.arange(frames)[:, None]).ravel()


def _simple(k: Kernel, df: Dataflow, frames: int) -> list[Process]:
    ins, outs = df.input_streams(k), df.output_streams(k)
    beats = (ins or outs)[0].beats
    every = np.arange(beats)
    p = Process(k.name, k.name, beats * frames)
    for s in ins:
        p.reads[s.name] = _tile(every, frames, beats)
    for s in outs:
        p.writes[s.name] = _tile(every, frames, beats)
    return [p]


def _dwc(k: Kernel, df: Dataflow, frames: int) -> list[Process]:
    (s_in,), (s_out,) = df.input_streams(k), df.output_streams(k)
    a, b = s_in.width, s_out.width
    group = math.lcm(a, b)
    n_in, n_out = group // a, group // b
    reads, writes, buffered, op = [], [], 0, 0
    read_left, write_left = n_in, n_out
    while write_left:
        if read_left and (buffered < b or n_in >= n_out):
            reads.append(op)
            buffered += a
            read_left -= 1
        if buffered >= b:
            writes.append(op)
            buffered -= b
            write_left -= 1
        op += 1
    groups = s_in.elements // group
    per_frame = op * groups
    local_r = _tile(np.array(reads), groups, op)
    local_w = _tile(np.array(writes), groups, op)
    p = Process(k.name, k.name, per_frame * frames)
    p.reads[s_in.name] = _tile(local_r, frames, per_frame)
    p.writes[s_out.name] = _tile(local_w, frames, per_frame)
    return [p]


def _mvu(k: Kernel, df: Dataflow, frames: int) -> list[Process]:
    s_in, (s_out,) = df.input_streams(k)[0], df.output_streams(k)
    sf, nf = k.folds()
    pixels = k.geometry.pixels
    per_pixel = sf * nf
    pix = np.arange(pixels)[:, None] * per_pixel
    reads = (pix + np.arange(sf)[None, :]).ravel()  # neuron fold 0, synapse folds 0..sf-1
    writes = (pix + np.arange(nf)[None, :] * sf + sf - 1).ravel()
    per_frame = pixels * per_pixel
    p = Process(k.name, k.name, per_frame * frames)
    p.reads[s_in.name] = _tile(reads, frames, per_frame)
    p.writes[s_out.name] = _tile(writes, frames, per_frame)
    for s_w in df.input_streams(k)[1:]:  # weights from DRAM: a word every op
        p.reads[s_w.name] = np.arange(per_frame * frames)
    return [p]


def _weight_dma(k: WeightDMA, df: Dataflow, frames: int) -> list[Process]:
    per_frame = k.cycles(df)
    p = Process(k.name, k.name, per_frame * frames)
    (s_out,) = df.output_streams(k)
    p.writes[s_out.name] = _tile(k.write_ops(), frames, per_frame)
    return [p]


def _input_dma(k: InputDMA, df: Dataflow, frames: int) -> list[Process]:
    """One op per cycle of the DMA (a pixel, or a bus word where pixels are wider than one); each
    pixel is written once its last word has arrived."""
    per_frame = k.cycles(df)
    p = Process(k.name, k.name, per_frame * frames)
    (s_out,) = df.output_streams(k)
    p.writes[s_out.name] = _tile(k.pixel_ready_ops(df), frames, per_frame)
    return [p]


def _output_dma(k: OutputDMA, df: Dataflow, frames: int) -> list[Process]:
    """A taker (one beat per op into the byte buffer) and a sender (one bus word per op): a word
    waits for the beat holding its last byte; a beat waits until enough words have left for it
    to fit the buffer."""
    (s_in,) = df.input_streams(k)
    beats, words, pb = s_in.beats, k.bus_words(df), k.beat_bytes(df)
    take = Process(k.name, k.name, beats * frames)
    take.reads[s_in.name] = np.arange(beats * frames)
    if k.cycles(df) == beats and pb <= BUS_BYTES:  # one word per beat at most: never waits
        return [take]
    send = Process(f"{k.name}.send", k.name, words * frames)
    holding = np.minimum((BUS_BYTES * np.arange(words) + BUS_BYTES - 1) // pb, beats - 1)
    send.wait = (take.name, _tile(holding, frames, beats))
    i = np.arange(beats)
    ends = (i + 1) * pb + np.where(i == beats - 1, words * BUS_BYTES - beats * pb, 0)  # bytes through beat i
    total = (ends[None, :] + words * BUS_BYTES * np.arange(frames)[:, None]).ravel()
    sent = -(-(total - k.buffer_bytes(df)) // BUS_BYTES) - 1  # the word that must have left
    take.wait = (send.name, np.maximum.accumulate(np.where(sent >= 0, sent, -1)))
    return [take, send]


def _global_sum_pool(k: Kernel, df: Dataflow, frames: int) -> list[Process]:
    (s_in,), (s_out,) = df.input_streams(k), df.output_streams(k)
    groups = s_out.beats
    per_frame = s_in.beats
    p = Process(k.name, k.name, per_frame * frames)
    p.reads[s_in.name] = _tile(np.arange(per_frame), frames, per_frame)
    p.writes[s_out.name] = _tile(np.arange(per_frame - groups, per_frame), frames, per_frame)
    return [p]


def _window(k: Kernel, df: Dataflow, frames: int) -> list[Process]:
    (s_in,), (s_out,) = df.input_streams(k), df.output_streams(k)
    need, last_use, capacity = k.window_dependencies(s_in.width, s_out.width)
    n_in, n_out = s_in.beats, s_out.beats
    reader = Process(f"{k.name}.read", k.name, n_in * frames)
    writer = Process(f"{k.name}.write", k.name, n_out * frames)
    reader.reads[s_in.name] = np.arange(n_in * frames)
    writer.writes[s_out.name] = np.arange(n_out * frames)
    frame_of_out = np.repeat(np.arange(frames), n_out)
    # waiting for the largest need so far changes nothing (the reader reads in order) and keeps
    # the waits ascending, which the fast engine's change tracking relies on
    writer.wait = (reader.name, np.maximum.accumulate(np.tile(need, frames) + frame_of_out * n_in))
    # reader beat J may overwrite beat J - capacity once the writer no longer needs it
    freed = np.arange(n_in * frames) - capacity
    frame_freed, local_freed = np.divmod(np.maximum(freed, 0), n_in)
    wait = np.where(freed >= 0, last_use[local_freed] + frame_freed * n_out, -1)
    wait = np.where((freed >= 0) & (last_use[local_freed] < 0), -1, wait)
    reader.wait = (writer.name, np.maximum.accumulate(wait))
    return [reader, writer]


# kernel class -> its processes: f(kernel, dataflow, frames) -> [Process]
BUILDERS = {
    InputDMA: _input_dma,
    OutputDMA: _output_dma,
    WeightDMA: _weight_dma,
    Fork: _simple,
    Add: _simple,
    Thresholding: _simple,
    WidthConverter: _dwc,
    MatrixVector: _mvu,
    GlobalSumPool: _global_sum_pool,
    WindowKernel: _window,  # the sliding-window unit and the pools
}


def build_processes(df: Dataflow, frames: int) -> list[Process]:
    procs: list[Process] = []
    for k in df.order():
        for p in lookup(BUILDERS, k, "schedule")(k, df, frames):
            if p.writes:
                p.latency = k.pipeline_stages()
            procs.append(p)
    return procs
