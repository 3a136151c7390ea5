"""The build's FPGA steps (--target fpga), after `simulate`:

codegen   the Vitis HLS C++ project of the simulated design (compiler/backends/hls), its
          C-simulation test bench, the Vitis HLS and Vivado tcl and the Makefile
csim      g++ C-simulation of the generated C++: outputs against the reference with `==` on N
          images, and the items written to every FIFO against what sim/ predicts
package   deploy/ (driver.py, design.json, the bitstream slot, the C-simulation library as a
          simulated board), checked by running the driver on a few images, and deploy.zip
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from bireal_hw.errors import CheckFailed
from compiler.backends.hls import driver as host
from compiler.backends.hls.codegen import TOP, generate
from compiler.backends.hls.csim import CSim, build_csim, dram_images, hls_include_dir, max_width
from compiler.backends.hls.kernels import element_bytes
from compiler.backends.hls.vendor import write_vendor_files
from compiler.hw.design import dataflow_from_graph
from compiler.ir import Graph
from compiler.verify_build import compare, images_for, reference_for, require
from sim.schedule import build_processes
from sim.simulate import size_fifos

TESTBENCH_FRAMES = 8  # images in the Vitis HLS test bench (tb_data/input.bin)
DRIVER_CHECK_IMAGES = 16  # images the packaged driver runs in the package step


def _design(graph: Graph, state):
    """The simulated design; a resumed build rebuilds it from the IR's folding and re-sizes its
    FIFOs (deterministic)."""
    if state.design is None:
        cfg = state.cfg
        state.design = dataflow_from_graph(graph, cfg.chosen_board(), cfg.clock_mhz)
        depths, _, _ = size_fifos(state.design.dataflow, cfg.sim_frames)
        for name, depth in depths.items():
            state.design.dataflow.streams[name].depth = depth
    return state.design


def design_info(graph: Graph, state) -> dict:
    """What the host needs to talk to the accelerator (deploy/design.json)."""
    quantizer = next(n for n in graph.nodes if n.op == "quantize_input").attrs
    dequantizer = next(n for n in graph.nodes if n.op == "dequantize_output").attrs
    df = state.design.dataflow
    src, dst = df.input_kernel, df.output_kernel
    h, w, c = src.geometry.shape
    project = state.project
    return {
        "top": TOP,
        "board": state.design.board.name,
        "part": state.design.board.part,
        "clock_mhz": state.design.clock_mhz,
        "input_chw": [c, h, w],
        "in_scale": float(quantizer.scale),
        "in_qmin": int(quantizer.qmin),
        "in_qmax": int(quantizer.qmax),
        "in_offset": int(quantizer.offset),
        "in_cut": float(quantizer.cut) if quantizer.bipolar else None,
        "in_bytes": element_bytes(df.output_streams(src)[0].bits),
        "in_words": project.in_words,
        "classes": dst.geometry.elements,
        "out_bytes": element_bytes(df.input_streams(dst)[0].bits),
        "out_words": project.out_words,
        "out_scale": float(dequantizer.scale),
        "out_offset": float(dequantizer.offset),
        "frames_offset": 0x10,  # the `frames` argument's AXI-Lite register (Vitis HLS s_axilite map)
        # the streaming units' weights: each image in a DRAM buffer whose address the host writes
        # into the pointer's registers (by name from the overlay's register map; else at `offset`,
        # Vitis HLS's s_axilite layout: a 64-bit pointer after `frames`, 12 bytes apart)
        "dram": [
            {
                "port": d["port"],
                "file": f"dram/{Path(d['file']).name}",
                "words": d["words"],
                "offset": 0x18 + 12 * i,
            }
            for i, d in enumerate(project.drams)
        ],
    }


def _bus_words(info: dict, images: np.ndarray) -> np.ndarray:
    """Images -> the input bus words the host sends (the driver's own packing)."""
    return host.input_words(info, images)


def _expected_words(info: dict, logits: np.ndarray) -> np.ndarray:
    return host.pack_frames(logits, info["out_bytes"], info["out_words"])


def run_codegen(graph: Graph, state) -> None:
    cfg = state.cfg
    design = _design(graph, state)
    out = state.stage
    project = generate(design.dataflow, graph, out / "hls", design.cost, state.names)
    state.project = project
    images, _ = images_for(graph, TESTBENCH_FRAMES, cfg.seed)
    ref = reference_for(graph, state)
    info = design_info(graph, state)
    tb_in = _bus_words(info, images)
    tb_out = _expected_words(info, ref.run(images))
    units = project.sources + [project.csim]
    write_vendor_files(
        project, out, design.board, design.clock_mhz, tb_in, tb_out, hls_include_dir(), max_width(units)
    )
    kernels = len(design.dataflow.kernels)
    state.report["hls"] = {
        "kernels": kernels,
        "fifos": len(design.dataflow.streams),
        "top": TOP,
        "part": design.board.part,
        "clock_mhz": design.clock_mhz,
        "testbench_frames": len(images),
    }
    print(
        f"generated {kernels} HLS kernels and {len(design.dataflow.streams)} FIFOs in hls/", file=sys.stderr
    )


CSIM_MEMORY = 1 << 30  # bytes of FIFO contents one C-simulation call may hold


def csim_batch(df, limit: int) -> int:
    """Frames per C-simulation call: the kernels run one after another, so every FIFO holds all
    of a call's frames at once; keep that under CSIM_MEMORY."""
    per_frame = sum(s.beats * (-(-s.width * s.bits // 64) * 8 + 16) for s in df.streams.values())
    return max(1, min(limit, CSIM_MEMORY // max(1, per_frame)))


def predicted_traffic(df) -> dict[str, int]:
    """Items written to each FIFO per frame in the simulator's schedule (sim/schedule.py)."""
    writes: dict[str, int] = {}
    for p in build_processes(df, 1):
        for s, ops in p.writes.items():
            writes[s] = writes.get(s, 0) + len(ops)
    return writes


def run_csim(graph: Graph, state) -> None:
    cfg = state.cfg
    if getattr(state, "project", None) is None:
        run_codegen(graph, state)
    project = state.project
    start = time.perf_counter()
    library = build_csim(project)
    compile_seconds = time.perf_counter() - start
    sim = CSim(library, project.stream_names, dram_images(project))
    state.csim_library = library
    images, source = images_for(graph, cfg.verify_images, cfg.seed)
    ref = reference_for(graph, state)
    info = design_info(graph, state)
    batch = csim_batch(state.design.dataflow, cfg.batch)
    traffic = dict.fromkeys(project.stream_names, 0)
    leftover = dict.fromkeys(project.stream_names, 0)
    start = time.perf_counter()

    def run(x: np.ndarray) -> np.ndarray:
        words, t, left = sim.run(_bus_words(info, x), len(x))
        for s in traffic:
            traffic[s] += t[s]
            leftover[s] += left[s]
        return host.unpack_frames(words, info["out_bytes"], info["classes"])

    check = compare("csim: the HLS C++ (g++ C-simulation)", run, ref, images, batch, source)
    frames, mismatches = check.images, check.mismatches
    run_seconds = time.perf_counter() - start
    predicted = predicted_traffic(state.design.dataflow)
    differ = {
        s: {"csim": traffic[s] / frames, "sim": predicted[s]}
        for s in traffic
        if frames and traffic[s] != predicted[s] * frames
    }
    state.report["csim"] = {
        **check.as_dict(),
        "fifos": len(traffic),
        "traffic_equal_to_sim": not differ and not any(leftover.values()),
        "traffic_differences": differ,
        "items_left_unread": {s: v for s, v in leftover.items() if v},
        "compile_seconds": round(compile_seconds, 2),
        "run_seconds": round(run_seconds, 2),
        "images_per_second": round(len(images) / run_seconds, 1) if run_seconds > 0 else None,
        "library": str(library.relative_to(state.stage)),
    }
    print(
        f"C-simulation: {len(images)} images, {mismatches} mismatches; FIFO traffic "
        f"{'equals' if not differ else 'DIFFERS from'} the simulator's on {len(traffic)} FIFOs "
        f"(compile {compile_seconds:.1f} s, run {run_seconds:.1f} s)",
        file=sys.stderr,
    )
    require(check)
    if differ or any(leftover.values()):
        name = next(iter(differ)) if differ else next(s for s, v in leftover.items() if v)
        raise CheckFailed(
            f"csim: FIFO traffic differs from the simulator's on {len(differ)} FIFOs, "
            f"{sum(1 for v in leftover.values() if v)} left items unread (first: {name}, "
            f"{differ.get(name, {'csim': traffic[name] / max(1, frames), 'sim': predicted.get(name)})})"
        )


BITFILE_README = """# Bitstream slot

`make bitstream` in the build folder (needs Vivado and Vitis HLS) writes `bireal.bit` and
`bireal.hwh` here: the PYNQ overlay that `driver.py` loads on the board.
"""


def load_driver(folder: Path):
    """Import a deploy package's driver.py as a module (how a user on the board would)."""
    spec = importlib.util.spec_from_file_location(
        f"bireal_deploy_driver_{abs(hash(folder))}", folder / "driver.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_package(graph: Graph, state) -> None:
    cfg = state.cfg
    if getattr(state, "csim_library", None) is None:
        run_csim(graph, state)
    deploy = state.stage / "deploy"
    (deploy / "bitfile").mkdir(parents=True, exist_ok=True)
    (deploy / "sim").mkdir(exist_ok=True)
    shutil.copy(host.__file__, deploy / "driver.py")
    (deploy / "design.json").write_text(json.dumps(design_info(graph, state), indent=1))
    (deploy / "bitfile" / "README.md").write_text(BITFILE_README)
    shutil.copy(state.csim_library, deploy / "sim" / state.csim_library.name)
    if state.project.drams:
        (deploy / "dram").mkdir(exist_ok=True)
        for d in state.project.drams:
            shutil.copy(state.project.root / d["file"], deploy / "dram" / Path(d["file"]).name)
    # the packaged driver, run as a user would, against the simulated board
    images, source = images_for(graph, DRIVER_CHECK_IMAGES, cfg.seed + 1)
    accel = load_driver(deploy).BirealAccelerator(deploy, simulated=True)
    driver = compare(
        "package: the deploy driver on the simulated board",
        lambda x: accel.execute_integer(x, batch_size=8),
        reference_for(graph, state),
        images,
        DRIVER_CHECK_IMAGES,
        source,
    )
    driver_mismatches = require(driver)["mismatches"]
    archive = state.stage / "deploy.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(deploy.rglob("*")):
            if path.is_file():
                z.write(path, Path("deploy") / path.relative_to(deploy))
    state.report["deploy"] = {"driver_check": {"images": len(images), "mismatches": driver_mismatches}}
    state.report["artifacts"] = sorted(
        str(p.relative_to(state.stage))
        for p in [
            state.stage / "hls" / "src",
            state.stage / "hls" / "kernels.json",
            state.stage / "hls" / "vitis_hls.tcl",
            state.stage / "hls" / "tb",
            state.stage / "hls" / "tb_data",
            state.stage / "vivado" / "bitstream.tcl",
            state.stage / "Makefile",
            deploy,
            archive,
        ]
    )
    print(
        f"deploy package: deploy/ and deploy.zip; driver check {len(images)} images, {driver_mismatches} mismatches",
        file=sys.stderr,
    )
