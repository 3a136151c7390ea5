"""The dataflow design of the embedded model: folding to a target, the board table, the cost
model's memory mapping, FIFO sizing, every kernel's simulated cycles against the analytical model,
and the design's outputs against the integer golden with ==."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest

from bireal_hw.errors import UserError
from compiler.build import DEFAULT_MODEL
from compiler.frontend import load_model_graph
from compiler.hw.boards import BOARDS, board
from compiler.hw.cost import bram36_count, bram_mux_luts, uram_count
from compiler.hw.design import make_design
from compiler.hw.folding import folding_dict
from compiler.hw.kernels import MatrixVector
from compiler.hw.latency import first_frame_latency
from compiler.passes import PassManager, lowering_passes, streamline_passes
from compiler.verification import golden_reference, verification_images
from sim.functional import run_functional
from sim.schedule import build_processes
from sim.simulate import cycle_errors, host_pixels, simulate
from sim.timing import Deadlock, solve


@pytest.fixture(scope="module")
def graph():
    return PassManager(streamline_passes() + lowering_passes()).run(load_model_graph(DEFAULT_MODEL).graph)


def design(graph, fps=20_000.0, name="zcu104"):
    return make_design(graph.copy(), board(name), 200.0, fps, None)


def test_board_table():
    assert set(BOARDS) == {"pynq-z1", "pynq-z2", "ultra96", "kv260", "zcu104", "u250", "ecp5-85f"}
    assert board("zcu104").resources() == {
        "LUT": 230_400,
        "FF": 460_800,
        "BRAM36": 312,
        "URAM": 96,
        "DSP": 1_728,
    }
    with pytest.raises(UserError, match="unknown board 'vc707'"):
        board("vc707")


def test_memory_shapes():
    assert bram36_count(72, 512) == 1 and bram36_count(36, 1024) == 1 and bram36_count(1, 32768) == 1
    # RAMB18 halves: 73 x 512 is three 512 x 36 RAMB18s, 2048 x 96 is 57 of them
    assert bram36_count(73, 512) == 1.5 and bram36_count(2048, 96) == 28.5
    assert bram36_count(36, 512) == 0.5
    # 1 x 16,385: nine 2048-word address blocks, their 1-bit slices side by side in one RAMB18's
    # 9-bit words (cost 129 + a 9-way mux of 1 bit, 4), not a RAMB36 of 32768 x 1 (257)
    assert bram36_count(1, 16385) == 0.5
    # 4 x 12,544: two RAMB36 of 8192 x 4 cost 514, three RAMB18 of 1024 x 18 holding 13 address
    # blocks' 4-bit slices side by side cost 387 plus a 13-way read mux of 4 bits (24): Yosys
    # takes the RAMB18s
    assert bram36_count(4, 12544) == 1.5
    # deeper than a cell: address blocks packed side by side (Yosys 0.23's memory_libmap, measured)
    assert bram36_count(512, 4608) == 64 and bram36_count(16, 256000) == 112
    assert bram_mux_luts(512, 512) == 0 and 1600 < bram_mux_luts(512, 4608) < 2000
    assert uram_count(72, 4096) == 1 and uram_count(144, 4097) == 4


def test_folding_meets_the_target_with_the_least_parallelism(graph):
    d = design(graph, fps=20_000)
    target = int(200e6 // 20_000)
    df = d.dataflow
    assert all(k.cycles(df) <= target for k in df.order())
    for k in df.order():
        if isinstance(k, MatrixVector):  # one step less parallel would miss the target
            g = k.geometry
            assert g.pixels * (g.mw // k.simd) * (g.mh // k.pe) <= target
    assert d.fits() and d.fps >= 20_000


def test_impossible_targets_are_one_line(graph):
    with pytest.raises(UserError, match="needs .* even fully parallel") as exc:
        design(graph, fps=1e9)
    assert "\n" not in str(exc.value)
    with pytest.raises(UserError, match="does not fit pynq-z2"):
        design(graph, fps=200_000, name="pynq-z2")


def test_fastest_fitting_design(graph):
    d = make_design(graph.copy(), board("pynq-z2"), 100.0, None, None)
    assert d.fits()
    faster = int(d.cost.interval * 0.9)
    # 10% faster: over the whole board (refused) or over the search's 85% (a warning)
    with contextlib.suppress(UserError):
        assert not make_design(graph.copy(), board("pynq-z2"), 100.0, 100e6 / faster, None).fits()


def test_folding_file_round_trip(graph, tmp_path):
    d = design(graph)
    path = tmp_path / "folding.json"
    path.write_text(json.dumps(folding_dict(d.dataflow)))
    again = make_design(graph.copy(), board("zcu104"), 200.0, None, path)
    assert folding_dict(again.dataflow) == folding_dict(d.dataflow)
    assert again.cost.interval == d.cost.interval
    path.write_text(json.dumps({"mvu_2": {"pe": 7, "simd": 1}}))
    with pytest.raises(UserError, match="not legal"):
        make_design(graph.copy(), board("zcu104"), 200.0, None, path)
    for bad in (
        {"mvu_2": {"pe": "x"}},
        {"mvu_2": {"pe": 0}},
        {"mvu_2": {"simd": True}},
        {"../x;y": {"pe": 1}},
    ):
        path.write_text(json.dumps(bad))
        with pytest.raises(UserError, match="positive integer|unknown kernel"):
            make_design(graph.copy(), board("zcu104"), 200.0, None, path)
    path.write_text("{not json")
    with pytest.raises(UserError, match="not a readable JSON"):
        make_design(graph.copy(), board("zcu104"), 200.0, None, path)


@pytest.mark.parametrize("fps", [3_000.0, 20_000.0])
def test_simulated_cycles_match_the_analytical_model(graph, fps):
    d = design(graph, fps=fps)
    result = simulate(d.dataflow, frames=2)
    errors = cycle_errors(d.dataflow, result)
    assert len(errors) > 30 and max(abs(e) for e in errors.values()) <= 0.02
    assert abs(result.interval - d.cost.interval) <= 0.02 * d.cost.interval
    assert result.latency > result.interval  # the first frame fills the pipeline
    estimate = first_frame_latency(d.dataflow)
    assert abs(estimate - result.latency) <= 0.1 * result.latency


def test_shortcut_fifos_sized_from_simulation_and_too_small_deadlocks(graph):
    d = design(graph)
    result = simulate(d.dataflow, frames=2, per_kernel=False)
    shortcuts = {s: depth for s, depth in result.fifo_depths.items() if s in result.occupancy}
    assert max(shortcuts.values()) > 100  # the identity shortcuts wait for a whole conv pipeline
    deepest = max(shortcuts, key=shortcuts.get)
    depths = {s.name: s.depth for s in d.dataflow.streams.values()}
    depths[deepest] = shortcuts[deepest] // 4
    with pytest.raises(Deadlock) as exc:
        solve(build_processes(d.dataflow, 1), depths)
    assert exc.value.fifo == deepest and "deadlock at cycle" in str(exc.value)


def test_design_outputs_equal_the_golden(graph):
    d = design(graph, fps=5_000)
    images, _ = verification_images("fashion-mnist", (1, 28, 28), 100, seed=0)
    quantizer = graph.nodes[0].attrs
    got = run_functional(d.dataflow, host_pixels(images, quantizer))
    want = golden_reference(DEFAULT_MODEL).run(images)
    assert np.array_equal(got["output"], want)


@pytest.mark.slow
def test_design_outputs_equal_the_golden_on_all_test_images(graph):
    d = design(graph, fps=5_000)
    images, _ = verification_images("fashion-mnist", (1, 28, 28), 10_000, seed=0)
    quantizer = graph.nodes[0].attrs
    reference = golden_reference(DEFAULT_MODEL)
    for s in range(0, len(images), 500):
        x = images[s : s + 500]
        got = run_functional(d.dataflow, host_pixels(x, quantizer))
        assert np.array_equal(got["output"], reference.run(x)), s


@pytest.mark.slow
def test_bireal18_on_zcu104_at_2000_fps(tmp_path):
    """bireal18 at 224x224 (4-bit residual grid: 8 bits needs 17x more threshold memory than the
    zcu104 has) folded for 2,000 fps at 200 MHz: fits, simulates at >= 2,000 fps within 2% of the
    analytical model, and its outputs equal the golden on seeded images."""
    import torch

    from bireal_hw.checkpoint import save_checkpoint
    from bireal_hw.models import build_model, model_config
    from tests.conftest import randomize_batchnorm

    torch.manual_seed(0)
    model = build_model(model_config("bireal18").replace(residual_bits=4)).eval()
    randomize_batchnorm(model, torch.Generator().manual_seed(1))
    ckpt = tmp_path / "bireal18.pt"
    save_checkpoint(ckpt, model)
    graph = PassManager(streamline_passes() + lowering_passes()).run(load_model_graph(ckpt).graph)
    d = make_design(graph.copy(), board("zcu104"), 200.0, 2000.0, None)
    assert d.fits()
    result = simulate(d.dataflow, frames=2)
    assert 200e6 / result.interval >= 2000
    assert abs(result.interval - d.cost.interval) <= 0.02 * d.cost.interval
    assert max(abs(e) for e in cycle_errors(d.dataflow, result).values()) <= 0.02
    images, _ = verification_images(None, (3, 224, 224), 2, seed=0)
    quantizer = graph.nodes[0].attrs
    got = run_functional(d.dataflow, host_pixels(images, quantizer))
    assert np.array_equal(got["output"], golden_reference(ckpt).run(images))


@pytest.mark.slow
def test_bireal50_fastest_fitting_u250_design_equals_the_golden(tmp_path):
    """bireal50 at 224x224 (8-bit grid, named model: randomized BatchNorm) through `--target sim`
    on the u250, the one board that holds its 62 Mbit of weights on chip: the fastest fitting
    folding, the simulated cycles, and == the golden on seeded images."""
    from compiler.build import BuildConfig, Target, build

    cfg = BuildConfig(
        model="bireal50", out=tmp_path / "out", target=Target.SIM, board="u250", verify_images=2
    )
    report = build(cfg, progress=lambda msg: None)
    assert report["bit_exact"]["images"] == 2 and report["bit_exact"]["mismatches"] == 0
    assert report["fits"] and report["fps"] > 1000
