"""The RTL backend (--target rtl) on the seeded Bi-Real-like designs of tests/hls/designs.py
(odd channels, +-1 and zero padding, strides 1 and 2, pools, a thresholded input, 11-byte pixels)
under random foldings: the Verilated design's outputs == the IR on every frame, streamed back to
back; every stream's last push of every frame and every FIFO's largest occupancy equal to sim/'s
cycle for cycle; the same outputs under random bus gaps and back-pressure; a FIFO made too shallow
on purpose deadlocks and is named, as sim/ names it; the Vivado flow under stubbed tools."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from compiler.backends.hls.elements import pack_beats, stream_element
from compiler.backends.rtl import verilator as vl
from compiler.backends.rtl.codegen import generate
from compiler.backends.rtl.vivado import write_vivado_flow
from compiler.hw.boards import board
from compiler.hw.folding import connect_widths, follow_neighbours
from compiler.hw.kernels import Fork, MatrixVector
from compiler.ir import execute
from compiler.rtl_steps import compare_timing, deadlock_message, logits, pixel_words, stall_limit
from sim.functional import run_functional
from sim.schedule import build_processes
from sim.simulate import host_pixels, size_fifos
from sim.timing import Deadlock, solve
from tests.hls.designs import SHAPES, Shape, bireal_like, images, random_folding, sign_pool_fc_graph

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(shutil.which("verilator") is None, reason="needs verilator"),
]
FRAMES = 4


def sized(graph, seed: int):
    df = random_folding(graph, seed)
    depths, _, _ = size_fifos(df, FRAMES)
    for name, depth in depths.items():
        df.streams[name].depth = depth
    return df


def ir_logits(graph, x: np.ndarray) -> np.ndarray:
    """The IR's integer logits (the dequantizer's input)."""
    last = graph.nodes[-1].inputs[0]
    return np.asarray(execute(graph, x.transpose(0, 2, 3, 1), outputs=[last])[last]).reshape(len(x), -1)


def check_design(graph, df, x, root: Path) -> dict:
    q = next(n for n in graph.nodes if n.op == "quantize_input").attrs
    project = generate(df, graph, root)
    exe, _ = vl.build(project)
    words = pixel_words(df, project, host_pixels(x, q))
    want = ir_logits(graph, x)
    exact = vl.run(exe, project, words, log=True)
    assert not exact.deadlock
    assert np.array_equal(logits(df, exact.outputs), want)
    # every kernel against its IR op: each stream carries its IR tensor (NHWC; a window's output
    # in im2col order), compared by the checksum of its beats
    ir = execute(graph, x.transpose(0, 2, 3, 1), outputs=[t for n in graph.nodes for t in n.outputs])
    values = run_functional(df, host_pixels(x, q))
    for s in df.streams.values():
        e = stream_element(graph, s)
        assert np.array_equal(values[s.name], np.asarray(ir[s.tensor]).reshape(len(x), -1)), s.name
        beats = pack_beats(values[s.name], e, s.width)
        assert exact.checksums[s.name] == vl.stream_checksum(beats), (
            f"{s.name} ({s.producer} -> {s.consumer})"
        )
    timing = compare_timing(df, exact, len(x))
    assert timing["frame_ends_rtl"] == timing["frame_ends_sim"]
    assert timing["streams_differing"] == {}
    assert {s: exact.fifos[s][2] for s in df.streams} == timing["occupancy_sim"]
    # random gaps on the input and refusals on the output: the same values; seeds until the sink
    # has refused a word at least once (a design with few output words may see none in one run)
    assert exact.input_gaps == exact.backpressure == 0
    for seed in range(7, 15):
        stress = vl.run(exe, project, words, mode=vl.STRESS, seed=seed)
        assert np.array_equal(logits(df, stress.outputs), want)
        assert stress.input_gaps > 0 and stress.cycles >= exact.cycles
        if stress.backpressure > 0:
            break
    assert stress.backpressure > 0
    return timing


@pytest.mark.parametrize("folding", [0, 1])
@pytest.mark.parametrize("index", range(len(SHAPES)))
def test_random_designs_are_exact_in_values_and_cycles(index, folding, tmp_path):
    graph = bireal_like(SHAPES[index], seed=index)
    df = sized(graph, seed=300 + 10 * index + folding)
    x = images(graph, FRAMES, seed=index + folding)
    timing = check_design(graph, df, x, tmp_path / "rtl")
    assert timing["streams_compared"] == len(df.streams) >= 10


@pytest.mark.parametrize("seed", [0, 1])
def test_a_sign_pool_fc_design_over_11_byte_pixels(seed, tmp_path):
    """A sign that no sliding window takes (a thresholding unit), a bipolar max pool, a binary FC
    read from a stream, and pixels of 11 bytes gathered from the bus words by the input DMA."""
    graph = sign_pool_fc_graph(seed)
    df = sized(graph, seed)
    x = images(graph, FRAMES, seed)
    check_design(graph, df, x, tmp_path / "rtl")


def test_a_too_shallow_shortcut_fifo_deadlocks_and_is_named(tmp_path):
    graph = bireal_like(SHAPES[0], seed=0)
    df = sized(graph, seed=300)
    fork = next(k for k in df.order() if isinstance(k, Fork))
    shortcut = max(fork.outputs, key=lambda s: df.streams[s].depth)
    df.streams[shortcut].depth = 2
    with pytest.raises(Deadlock) as sim_deadlock:
        solve(build_processes(df, 2), {s: st.depth for s, st in df.streams.items()})
    project = generate(df, graph, tmp_path / "rtl")
    exe, _ = vl.build(project)
    q = next(n for n in graph.nodes if n.op == "quantize_input").attrs
    run = vl.run(
        exe,
        project,
        pixel_words(df, project, host_pixels(images(graph, 2, 0), q)),
        stall_limit=stall_limit(df),
    )
    assert run.deadlock
    message = deadlock_message(df, run)
    assert f"FIFO {shortcut} " in message and "is full at depth 2" in message
    assert sim_deadlock.value.fifo == shortcut


def test_the_vivado_flow_uses_the_rtl_under_stubbed_tools(tmp_path):
    if shutil.which("tclsh") is None:
        pytest.skip("needs tclsh")
    graph = bireal_like(SHAPES[4], seed=4)
    df = sized(graph, seed=3)
    project = generate(df, graph, tmp_path / "rtl")
    script = write_vivado_flow(project, project.root / "vivado", board("zcu104"), 200.0)
    stub = Path(__file__).parents[1] / "hls" / "vendor_stub.tcl"
    log = tmp_path / "vivado.log"
    subprocess.run(
        ["tclsh", str(stub), str(log), "-mode", "batch", "-source", script.name],
        cwd=script.parent,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = log.read_text().splitlines()
    added = {line.split()[-1] for line in lines if line.startswith("add_files -norecurse ../")}
    assert added == {f"../{p.relative_to(project.root).as_posix()}" for p in project.sources} | {
        f"../mem/{name}" for rk in project.kernels for name in rk.roms
    }
    assert all((script.parent / a).exists() for a in added)
    assert any(line.startswith("create_bd_cell -type module -reference bireal_top") for line in lines)
    assert any("zynq_ultra_ps_e" in line for line in lines)
    assert not any(
        "hls" in line.lower() for line in lines if line.startswith(("create_bd_cell", "set_property ip_repo"))
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_output_beats_wider_than_the_bus_word(seed, tmp_path):
    """Beats of 5 x 4-byte accumulators every cycle: the output DMA sends 2.5 words per beat and
    limits the design; the RTL's taker and sender keep the cycles of sim/'s two processes."""
    from tests.hls.designs import pixel_classifier_graph

    graph = pixel_classifier_graph(seed)
    df = sized(graph, seed)
    x = images(graph, FRAMES, seed)
    check_design(graph, df, x, tmp_path / "rtl")


YOSYS_CHECK = (
    "read_verilog -defer hdl/*.v bireal_top.v; hierarchy -check -top bireal_top; proc; flatten; "
    "check -assert; opt -fast; select -assert-none t:$dlatch t:$adlatch t:$dlatchsr"
)


@pytest.mark.skipif(shutil.which("yosys") is None, reason="needs yosys")
@pytest.mark.parametrize("index", [0, 3, 5])
def test_the_rtl_elaborates_in_yosys_without_latches_or_loops(index, tmp_path):
    """Plain Verilog-2005 for synthesis (the simulation log is under `ifndef SYNTHESIS`): Yosys
    elaborates the whole design with its ROM files and finds no combinational loop, no undriven or
    multiply driven net, and no latch."""
    graph = bireal_like(SHAPES[index], seed=index)
    project = generate(sized(graph, seed=index), graph, tmp_path / "rtl")
    done = subprocess.run(
        ["yosys", "-q", "-p", YOSYS_CHECK], cwd=project.root, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_the_widest_folding_is_exact_through_every_pipeline_register(tmp_path):
    """Every matrix unit at its largest SIMD and PE, so that each tree has registers inside it:
    the binary conv's 144-input XNOR tree (24 leaves, 5 levels), the stem's 27 DSP products
    (5 levels), the 3x3 max pool's 9 taps (4 levels, a register every 2); 4-bit requantization
    (a 4-stage threshold search). Values == the IR and every stream's cycles == sim/'s."""
    graph = bireal_like(Shape(6, 3, 16, 16, 1, 0, True), seed=5)
    df = random_folding(graph, 0)
    for k in df.order():
        if isinstance(k, MatrixVector):
            k.simd, k.pe = max(k.simd_options(df)), k.geometry.mh
    follow_neighbours(df)
    connect_widths(df)
    stages = {type(k).__name__: k.pipeline_stages() for k in df.order()}
    assert max(k.simd for k in df.order() if isinstance(k, MatrixVector)) == 144
    assert stages["MaxPool"] == 1 + 2 and stages["SlidingWindow"] == 1
    for name, depth in size_fifos(df, FRAMES)[0].items():
        df.streams[name].depth = depth
    timing = check_design(graph, df, images(graph, FRAMES, seed=5), tmp_path / "rtl")
    assert timing["streams_compared"] == len(df.streams)
