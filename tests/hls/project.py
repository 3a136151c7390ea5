"""A small generated FPGA project (a random Bi-Real-like design, FIFOs sized by the simulator) for
tests that need one without building the default model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compiler.backends.hls import driver as host
from compiler.backends.hls.codegen import Project, generate
from compiler.backends.hls.csim import hls_include_dir, max_width
from compiler.backends.hls.kernels import element_bytes
from compiler.backends.hls.vendor import write_vendor_files
from compiler.hw.boards import board
from compiler.hw.cost import design_cost
from compiler.verification import graph_runner
from sim.simulate import size_fifos
from tests.hls.designs import SHAPES, bireal_like, images, random_folding


def small_project(
    out: Path, board_name: str = "zcu104", clock_mhz: float = 200.0, frames: int = 4
) -> Project:
    graph = bireal_like(SHAPES[1], seed=1)
    df = random_folding(graph, seed=7)
    depths, _, _ = size_fifos(df, 2)
    for name, depth in depths.items():
        df.streams[name].depth = depth
    b = board(board_name)
    project = generate(df, graph, out / "hls", design_cost(df, b.resources()))
    x = images(graph, frames, seed=3)
    q = next(n for n in graph.nodes if n.op == "quantize_input").attrs
    src, dst = df.input_kernel, df.output_kernel
    tb_in = host.pack_frames(
        host.quantize(x, q.scale, q.qmin, q.qmax),
        element_bytes(df.output_streams(src)[0].bits),
        project.in_words,
    )
    logits = graph_runner(graph)(x)
    tb_out = host.pack_frames(logits, element_bytes(df.input_streams(dst)[0].bits), project.out_words)
    units = project.sources + [project.csim]
    write_vendor_files(project, out, b, clock_mhz, tb_in, tb_out, hls_include_dir(), max_width(units))
    return project


def expected_logits(frames: int = 4) -> np.ndarray:
    graph = bireal_like(SHAPES[1], seed=1)
    return graph_runner(graph)(images(graph, frames, seed=3))
