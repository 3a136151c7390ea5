"""Weights in DRAM through the HLS backend: seeded random designs, randomly folded, every matrix unit
streaming its weights through its weight DMA from the DRAM image the generator wrote (narrow words
packed in a bus beat, wide ones over several beats; binary, ternary-input, integer and packed-DSP
units). The whole accelerator's C-simulation equals the IR's logits with ==, its FIFO traffic
equals the simulator's schedule, a corrupted DRAM image is caught, and a missing one refused."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from compiler.backends.hls import driver as host
from compiler.backends.hls.codegen import generate
from compiler.backends.hls.csim import CSim, build_csim, dram_images
from compiler.backends.hls.kernels import element_bytes
from compiler.build import main as build_main
from compiler.fpga_steps import predicted_traffic
from compiler.hw.boards import BOARDS
from compiler.hw.cost import design_cost
from compiler.hw.external import attach_weight_dmas
from compiler.hw.kernels import MatrixVector, WeightDMA
from compiler.verification import graph_runner
from sim.simulate import size_fifos
from tests.conftest import run_cli
from tests.hls.designs import SHAPES, bireal_like, images, packed_design, random_folding

STUB = Path(__file__).with_name("vendor_stub.tcl")

pytestmark = pytest.mark.hls
FRAMES = 4


def streaming_design(case):
    if case == "packed":  # even channels, PE = MH: the integer units share DSPs by lane pairs
        graph, df = packed_design()
    else:
        graph = bireal_like(SHAPES[case], seed=case)
        df = random_folding(graph, seed=400 + case)
    for k in df.order():
        if isinstance(k, MatrixVector):
            k.external = True
    b = BOARDS["zcu104"]
    attach_weight_dmas(df, b, b.default_clock_mhz)
    depths, _, _ = size_fifos(df, 2)
    for name, depth in depths.items():
        df.streams[name].depth = depth
    return graph, df


CASES = [1, 3, 4, "packed"]


def test_the_cases_cover_every_word_layout():
    """Words packed several to a beat, one to a beat, and over several beats."""
    layouts = set()
    for case in CASES:
        for d in streaming_design(case)[1].order():
            if isinstance(d, WeightDMA):
                g = d.geometry
                layouts.add(
                    "wide"
                    if g.word_bits > g.bus_bits
                    else ("packed" if 2 * g.word_bits <= g.bus_bits else "one")
                )
    assert layouts == {"wide", "packed", "one"}


@pytest.mark.parametrize("case", CASES)
def test_the_accelerator_streaming_every_weight_equals_the_ir(case, tmp_path):
    graph, df = streaming_design(case)
    dmas = [k for k in df.order() if isinstance(k, WeightDMA)]
    assert dmas and all(df.kernels[d.geometry.unit].external for d in dmas)
    project = generate(df, graph, tmp_path / "hls", design_cost(df, BOARDS["zcu104"].resources()))
    assert len(project.drams) == len(dmas)
    library = build_csim(project)
    sim = CSim(library, project.stream_names, dram_images(project))
    x = images(graph, FRAMES, seed=11)
    q = next(n for n in graph.nodes if n.op == "quantize_input").attrs
    src, dst = df.input_kernel, df.output_kernel
    words = host.pack_frames(
        host.quantize(x, q.scale, q.qmin, q.qmax, q.offset), element_bytes(df.output_streams(src)[0].bits),
        sim.in_words,
    )  # fmt: skip
    out, traffic, leftover = sim.run(words, FRAMES)
    got = host.unpack_frames(out, element_bytes(df.input_streams(dst)[0].bits), dst.geometry.elements)
    assert np.array_equal(got, graph_runner(graph)(x))
    predicted = predicted_traffic(df)
    assert {s: t for s, t in traffic.items()} == {s: predicted[s] * FRAMES for s in traffic}
    assert not any(leftover.values())
    # a DRAM image with its words reversed (every unit reads other weights): other logits
    wrong = [image[::-1].copy() for image in dram_images(project)]
    bad = CSim(library, project.stream_names, wrong).run(words, FRAMES)[0]
    assert not np.array_equal(bad, out)
    with pytest.raises(ValueError, match="DRAM images"):
        CSim(library, project.stream_names, dram_images(project)[1:])
    with pytest.raises(ValueError, match="is not its size"):
        CSim(
            library,
            project.stream_names,
            [np.zeros(len(i) + 1, dtype=np.uint64) for i in dram_images(project)],
        )


@pytest.mark.skipif(
    shutil.which("tclsh") is None or shutil.which("make") is None, reason="needs tclsh and make"
)
def test_the_fpga_build_packages_the_dram_images_for_its_driver_and_the_vendor_flows(tmp_path, capsys):
    """TFC W1A1 with every weight in DRAM, end to end: the build's C-simulation and its deploy
    driver (loading deploy/dram/*.bin into the simulated board) equal the golden; the Vitis test
    bench, compiled with g++ (`make csim-gcc`), reads the images from tb_data/; the Vivado block
    design connects every weight DMA's m_axi master to a PS port (the tcl run with stubbed tools)."""
    out = tmp_path / "build"
    code, stdout, err = run_cli(build_main, capsys, "--model", "tfc_w1a1", "--target", "fpga", "--out", str(out),
                                "--external-weights", "all", "--verify-images", "20")  # fmt: skip
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["csim"] == {"images": 20, "mismatches": 0}
    design = json.loads((out / "deploy" / "design.json").read_text())
    assert len(design["dram"]) == 4 and all((out / "deploy" / d["file"]).is_file() for d in design["dram"])
    report = json.loads((out / "report.json").read_text())
    assert report["deploy"]["driver_check"]["mismatches"] == 0 and report["csim"]["traffic_equal_to_sim"]
    make = subprocess.run(["make", "csim-gcc"], cwd=out, capture_output=True, text=True, timeout=600)
    assert make.returncode == 0 and "0 mismatching words" in make.stdout, make.stdout + make.stderr
    log = tmp_path / "vivado.log"
    subprocess.run(["tclsh", str(STUB), str(log), "-source", "bitstream.tcl", "-mode", "batch"],
                   cwd=out / "vivado", check=True, capture_output=True, timeout=60)  # fmt: skip
    ports = [
        line
        for line in log.read_text().splitlines()
        if "m_axi_gmem" in line and "apply_bd_automation" in line
    ]
    assert len(ports) == 4 and all("S_AXI_HP" in line for line in ports)
