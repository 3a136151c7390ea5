"""Simulate a folded dataflow design: FIFO sizing, cycle-level timing, per-kernel cycle checks and
bit-exact values.

FIFO sizing: every stream starts at depth 2 plus its writer's pipeline stages (`least_depth`) except the two outputs of each fork (a residual map
feeding a block and its shortcut), which start deep enough never to block. After simulating
`frames` frames, each fork output gets the largest number of items it ever held (counting an item
from the cycle it is pushed through the cycle before it is popped): with that depth no write ever
waits. A shallower shortcut FIFO can deadlock the block (`sim.timing.Deadlock` names it). The
input of a matrix unit with several neuron folds holds one more input vector
(`input_vector_buffers`), so that the unit before it never waits while it computes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from compiler.hw.dataflow import Dataflow, Stream
from compiler.hw.kernels import Fork, InputDMA, Kernel, MatrixVector, OutputDMA
from sim.schedule import build_processes
from sim.timing import Timing, solve


@dataclass
class SimResult:
    interval: int  # steady-state cycles between frames at the output
    latency: int  # cycles from the first input beat to the last output beat of frame 0
    frame_ends: list[int]
    fifo_depths: dict[str, int]
    occupancy: dict[str, int]
    kernel_intervals: dict[str, int] = field(default_factory=dict)  # each kernel alone
    seconds: float = 0.0
    cycles_simulated: int = 0


def fork_outputs(df: Dataflow) -> list[str]:
    return [s for k in df.order() if isinstance(k, Fork) for s in k.outputs]


def frame_ends(df: Dataflow, timing: Timing, frames: int) -> list[int]:
    out = df.output_kernel
    times = timing.times[out.name].reshape(frames, -1)
    return [int(t) for t in times[:, -1]]


def size_fifos(df: Dataflow, frames: int = 2) -> tuple[dict[str, int], dict[str, int], Timing]:
    """Depths for every stream (see the module docstring), the observed fork-output occupancy, and
    the timing with those depths."""
    procs = build_processes(df, frames)
    deep = {s: least_depth(df, s) for s in df.streams}
    for s in fork_outputs(df):
        deep[s] = df.streams[s].beats * frames + 2
    unbounded = solve(procs, deep)
    occupancy = {s: unbounded.occupancy_max(s) for s in fork_outputs(df)}
    depths = dict(deep)
    for s, occ in occupancy.items():
        depths[s] = max(least_depth(df, s), occ)
    for s, depth in input_vector_buffers(df).items():
        depths[s] = max(depths[s], depth)
    timing = solve(
        procs, depths, start_from=unbounded
    )  # more constraints: the unbounded times are lower bounds
    return depths, occupancy, timing


def least_depth(df: Dataflow, stream: str) -> int:
    """Two beats plus those its writer's pipeline has in flight (each reserved when its op fires):
    a writer that can fire every cycle never waits on a reader that takes a beat every cycle."""
    return 2 + df.kernels[df.streams[stream].producer].pipeline_stages()


def input_vector_buffers(df: Dataflow) -> dict[str, int]:
    """A matrix unit reads a pixel's input vector (its SF beats) during its first neuron fold and
    computes the other NF - 1 folds without reading: its input FIFO holds one more vector (SF + 2
    beats), so that the producer delivers the next pixel's vector meanwhile instead of stalling
    (double buffering; without it a chain of FC layers runs at the sum of two layers' cycles)."""
    out = {}
    for k in df.kernels.values():
        if isinstance(k, MatrixVector):
            sf, nf = k.folds()
            if nf > 1:
                out[k.inputs[0]] = sf + 2
    return out


class BeatSource(InputDMA):
    """The test bench's source: a beat every cycle, whatever its width (no bus to gather from)."""

    def cycles(self, df: Dataflow) -> int:
        return df.output_streams(self)[0].beats

    def pixel_ready_ops(self, df: Dataflow) -> np.ndarray:
        return np.arange(df.output_streams(self)[0].beats)


class BeatSink(OutputDMA):
    """The test bench's sink: takes a beat every cycle, whatever its width (no bus to send on)."""

    def bus_words(self, df: Dataflow) -> int:
        return df.input_streams(self)[0].beats

    def beat_bytes(self, df: Dataflow) -> int:
        return 1


def isolated(df: Dataflow, kernel: Kernel) -> Dataflow:
    """`kernel` alone between sources that offer a beat every cycle and sinks that take one every
    cycle (the hardware-queue test bench)."""
    kernels = {kernel.name: kernel}
    streams: dict[str, Stream] = {}
    for i, s in enumerate(df.input_streams(kernel)):
        src = BeatSource(f"source{i}", [], [s.name], InputDMA.Geometry((1, 1, s.width)))
        kernels[src.name] = src
        streams[s.name] = Stream(s.name, src.name, kernel.name, s.elements, s.bits, s.width)
    for i, s in enumerate(df.output_streams(kernel)):
        sink = BeatSink(f"sink{i}", [s.name], [], OutputDMA.Geometry(s.elements))
        kernels[sink.name] = sink
        streams[s.name] = Stream(s.name, kernel.name, sink.name, s.elements, s.bits, s.width)
    return Dataflow(kernel.name, kernels, streams, df.input_shape, 0)


def isolated_interval(df: Dataflow, kernel: Kernel, frames: int = 3) -> int:
    """Steady-state cycles per frame of one kernel on the `isolated` bench (FIFOs of depth 2 plus
    the beats its pipeline has in flight)."""
    mini = isolated(df, kernel)
    procs = build_processes(mini, frames)
    timing = solve(procs, {s: least_depth(mini, s) for s in mini.streams})
    last = [p for p in procs if p.kernel == kernel.name][-1]
    ends = timing.times[last.name].reshape(frames, -1)[:, -1]
    return int(ends[-1] - ends[-2])


def simulate(df: Dataflow, frames: int = 2, per_kernel: bool = True) -> SimResult:
    """FIFO sizing and timing of `frames` frames; with `per_kernel`, every kernel alone too."""
    start = time.perf_counter()
    depths, occupancy, timing = size_fifos(df, frames)
    for name, depth in depths.items():
        df.streams[name].depth = depth
    ends = frame_ends(df, timing, frames)
    result = SimResult(
        interval=ends[-1] - ends[-2] if frames > 1 else ends[0] + 1,
        latency=ends[0] + 1,
        frame_ends=ends,
        fifo_depths=depths,
        occupancy=occupancy,
        cycles_simulated=ends[-1] + 1,
    )
    if per_kernel:
        result.kernel_intervals = {k.name: isolated_interval(df, k) for k in df.order() if not k.host_port}
    result.seconds = time.perf_counter() - start
    return result


def cycle_errors(df: Dataflow, result: SimResult) -> dict[str, float]:
    """Relative difference of each kernel's simulated interval from its analytical cycles."""
    out = {}
    for name, simulated in result.kernel_intervals.items():
        analytical = df.kernels[name].cycles(df)
        out[name] = (simulated - analytical) / analytical
    return out


def host_pixels(images: np.ndarray, quantizer) -> np.ndarray:
    """The host side of the input DMA: images (N, C, H, W) in [0, 1] -> NHWC integers on the
    grid of the IR's `quantize_input` attributes (offset and bipolar cut included)."""
    from compiler.ir.ops.quantize_input import quantize

    return quantize(quantizer, images).transpose(0, 2, 3, 1)
