"""Single-kernel test benches: each kernel's generated C++ on its own, fed beats from Python and
read back, to check every template against its IR op's reference (tests/hls/test_kernels.py)."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compiler.backends.hls.codegen import STATIC, environment, render_kernel
from compiler.backends.hls.csim import compile_library, library_name
from compiler.backends.hls.elements import Element, pack_beats, stream_element, unpack_beats, words_per_beat
from compiler.backends.hls.kernels import BUS, kernel_spec
from compiler.hw.dataflow import Dataflow
from compiler.hw.kernels import InputDMA, Kernel, OutputDMA
from compiler.ir import Graph

_u64p = ctypes.POINTER(ctypes.c_uint64)


@dataclass
class Port:
    name: str
    index: int
    beats: int  # per frame
    width: int  # elements per beat
    bits: int  # bits per beat
    words: int  # uint64 words per beat
    bus: bool
    element: Element | None

    @property
    def ctype(self) -> str:
        return BUS if self.bus else f"ap_uint<{self.bits}>"


def _ports(k: Kernel, df: Dataflow, graph: Graph) -> tuple[list[Port], list[Port]]:
    def port(s, i, prefix):
        e = stream_element(graph, s)
        return Port(
            f"{prefix}{i}", i, s.beats, s.width, s.width * s.bits, words_per_beat(s.width, s.bits), False, e
        )

    ins = [port(s, i, "in") for i, s in enumerate(df.input_streams(k))]
    outs = [port(s, i, "out") for i, s in enumerate(df.output_streams(k))]
    return ins, outs


class Benches:
    """The compiled benches of `kernels`: run(kernel, inputs, frames) -> (outputs, leftover)."""

    def __init__(self, kernels: list[Kernel], df: Dataflow, graph: Graph, root: Path):
        env = environment()
        src = root / "src"
        (src / "params").mkdir(parents=True, exist_ok=True)
        self.ports: dict[str, tuple[list[Port], list[Port]]] = {}
        units, benches = [], []
        for k in kernels:
            spec = kernel_spec(k, df, graph)
            source, params = render_kernel(env, spec)
            (src / f"{k.name}.cpp").write_text(source)
            if params is not None:
                (src / "params" / f"{k.name}.h").write_text(params)
            units.append(src / f"{k.name}.cpp")
            ins, outs = _ports(k, df, graph)
            if isinstance(k, InputDMA):  # the bus side: 64-bit words, `words` per frame
                ins = [Port("in0", 0, spec.context["words"], 1, 64, 1, True, None)]
            if isinstance(k, OutputDMA):
                outs = [Port("out0", 0, spec.context["words"], 1, 64, 1, True, None)]
            self.ports[k.name] = (ins, outs)
            benches.append(
                {
                    "name": k.name,
                    "signature": spec.signature,
                    "call": spec.call([p.name for p in ins], [p.name for p in outs]),
                    "ins": ins,
                    "outs": outs,
                }
            )
        bench = root / "bench.cpp"
        bench.write_text(env.get_template("bench.cpp.j2").render(benches=benches))
        units.append(bench)
        library = compile_library(units, [src, STATIC], root / library_name(units))
        self.lib = ctypes.CDLL(str(library))

    def run(self, name: str, inputs: list[np.ndarray], frames: int) -> tuple[list[np.ndarray], list[int]]:
        """`inputs`: per input port, (frames, elements) values, or (frames, words) uint64 for a bus.
        Returns per output port (frames, elements) values (bus: words) and the beats left unread
        on each input."""
        ins, outs = self.ports[name]
        in_words = []
        for p, v in zip(ins, inputs, strict=True):
            w = np.ascontiguousarray(v, dtype=np.uint64) if p.bus else pack_beats(v, p.element, p.width)
            if w.size != frames * p.beats * p.words:
                raise ValueError(f"{name}.{p.name}: {w.size} words, expected {frames * p.beats * p.words}")
            in_words.append(np.ascontiguousarray(w.ravel()))
        out_words = [np.zeros(frames * p.beats * p.words, dtype=np.uint64) for p in outs]
        in_ptrs = (_u64p * max(1, len(ins)))(*[a.ctypes.data_as(_u64p) for a in in_words])
        out_ptrs = (_u64p * max(1, len(outs)))(*[a.ctypes.data_as(_u64p) for a in out_words])
        counts = np.zeros(len(ins) + len(outs), dtype=np.uint64)
        fn = getattr(self.lib, f"bench_{name}")
        fn.restype = ctypes.c_int
        status = fn(in_ptrs, out_ptrs, frames, counts.ctypes.data_as(_u64p))
        if status != 0:
            raise RuntimeError(f"{name}: bench status {status}")
        results = []
        for j, (p, w) in enumerate(zip(outs, out_words, strict=True)):
            if int(counts[j]) != frames * p.beats:
                raise RuntimeError(
                    f"{name}.{p.name}: wrote {int(counts[j])} beats, expected {frames * p.beats}"
                )
            results.append(
                w.reshape(frames, -1)
                if p.bus
                else unpack_beats(w.reshape(-1, p.words), p.element, p.width, frames)
            )
        return results, [int(c) for c in counts[len(outs) :]]
