"""Weights in DRAM (compiler/hw/external.py): the weight DMA's read schedule never exceeds its
share of the DRAM's rate, designs whose matrix units stream their weights compute the IR on every
stream and run at the rate the model gives them, the folding search streams weights only where
the design does not fit on chip and within the DRAM's bandwidth, and the board file, folding file
and command line refuse what cannot be built in one line."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction

import numpy as np
import pytest

from bireal_hw.errors import UserError
from compiler.build import main as build_main
from compiler.hw.boards import BOARDS, board_from_file
from compiler.hw.cost import design_cost
from compiler.hw.design import make_design
from compiler.hw.external import attach_weight_dmas, dram_bytes_per_cycle, stream_bytes
from compiler.hw.kernels import MatrixVector, WeightDMA
from compiler.hw.kernels.dma import WeightStreamGeometry, matrix_beats
from compiler.ir import execute
from sim.functional import run_functional
from sim.simulate import simulate
from tests.conftest import run_cli
from tests.hls.designs import SHAPES, bireal_like, images, random_folding


def test_the_read_schedule_keeps_to_the_rate_and_a_word_a_cycle():
    """Over random geometries (words of 1 to 3,000 bits, every bus, rates from a trickle to the
    bus's width): a word is written no earlier than the op that issues its last beat, one word per
    op at most, and by op t at most (t + 1) x rate bytes have been issued."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        word = int(rng.integers(1, 3000))
        bus = int(rng.choice([64, 128, 256, 512]))
        rate = Fraction(int(rng.integers(1, 1000)), int(rng.integers(1, 200)))
        rate = min(rate, Fraction(bus, 8))
        g = WeightStreamGeometry("u", word, int(rng.integers(1, 40)), int(rng.integers(1, 5)), bus,
                                 rate.numerator, rate.denominator, 7)  # fmt: skip
        ops = WeightDMA("w", [], [], g).write_ops()
        assert len(ops) == g.tiles * g.pixels and (np.diff(ops) >= 1).all()
        per_matrix = matrix_beats(word, g.tiles, bus)
        assert g.bytes_per_frame == g.pixels * per_matrix * bus // 8
        # the beat holding each word's last bit, and the bytes issued once it is
        j = np.arange(g.tiles)
        last = j // (bus // word) if word <= bus else (j + 1) * -(-word // bus) - 1
        beats = (np.arange(g.pixels)[:, None] * per_matrix + last).ravel() + 1
        assert (Fraction(1) * beats[-1] == per_matrix * g.pixels) or word > bus
        issued_bytes = beats * (bus // 8)
        assert all(Fraction(int(b)) <= (int(t) + 1) * rate for b, t in zip(issued_bytes, ops, strict=True))
        # and no later than that: the first op whose rate covers the beat, after the previous word's
        want, prev = [], -1
        for b in issued_bytes:
            first = next(t for t in range(prev + 1, 10**9) if Fraction(int(b)) <= (t + 1) * rate)
            want.append(prev := first)
        assert ops.tolist() == want


@pytest.mark.parametrize("index", range(len(SHAPES)))
@pytest.mark.parametrize("name", ["pynq-z2", "ultra96", "zcu104"])
def test_streamed_weights_compute_the_ir_and_run_at_the_modelled_rate(index, name):
    """Random Bi-Real-like designs, randomly folded, a random half of their matrix units streaming
    their weights from DRAM on each board: every activation stream equals the IR; each weight
    stream carries its unit's tiles in op order for every pixel; the simulated frame interval is
    the slowest kernel's analytical cycles where no weight DMA is the slowest, and where one is
    (the DRAM's share), the DMAs' blocked cycles make it at most 2% slower."""
    graph = bireal_like(SHAPES[index], seed=index)
    df = random_folding(graph, seed=300 + index)
    rng = np.random.default_rng(index)
    units = [k for k in df.order() if isinstance(k, MatrixVector)]
    for k in units:
        k.external = bool(rng.integers(2))
    units[int(rng.integers(len(units)))].external = True
    b = BOARDS[name]
    attach_weight_dmas(df, b, b.default_clock_mhz)
    dmas = [k for k in df.order() if isinstance(k, WeightDMA)]
    assert len(dmas) == sum(k.external for k in units) >= 1
    x = images(graph, 3, seed=index)
    q = next(n for n in graph.nodes if n.op == "quantize_input").attrs
    pixels = np.clip(np.round(x / float(q.scale)), q.qmin, q.qmax).astype(np.int64).transpose(0, 2, 3, 1)
    ir = execute(graph, x.transpose(0, 2, 3, 1), outputs=[t for n in graph.nodes for t in n.outputs])
    values = run_functional(df, pixels)
    for s in df.streams.values():
        if isinstance(df.kernels[s.producer], WeightDMA):
            unit = df.kernels[s.consumer]
            sf, nf = unit.folds()
            assert s.elements == unit.geometry.pixels * sf * nf and s.bits == unit.weight_word_bits()
            assert np.array_equal(values[s.name][0], np.tile(np.arange(sf * nf), unit.geometry.pixels))
        else:
            assert np.array_equal(values[s.name], ir[s.tensor].reshape(len(x), -1)), s.name
    cost = design_cost(df, b.resources())
    for kc in cost.kernels:  # no weight memory on chip for a streaming unit
        k = df.kernels[kc.name]
        if isinstance(k, MatrixVector):
            assert any(m.role.value == "weights" for m in kc.memories) != k.external
    analytical = cost.interval
    result = simulate(df, frames=3, per_kernel=False)
    slowest = df.kernels[cost.bottleneck]
    if isinstance(slowest, WeightDMA):
        assert analytical <= result.interval <= analytical * 1.02
    else:
        assert result.interval == analytical
    # every DMA's share: together no more than the DRAM gives, each no more than its bus
    rate = dram_bytes_per_cycle(b, b.default_clock_mhz)
    shares = [Fraction(d.geometry.rate_num, d.geometry.rate_den) for d in dmas]
    assert sum(shares) <= rate and all(
        s <= Fraction(d.geometry.bus_bits, 8) for s, d in zip(shares, dmas, strict=True)
    )


def small_board(tmp_path, **changes):
    spec = dataclasses.asdict(BOARDS["zcu104"]) | {
        "name": "tiny",
        "bram36": 1,
        "uram": 0,
        "lut": 6000,
        "ff": 12000,
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(spec | changes))
    return path


def test_the_search_streams_weights_only_where_the_chip_is_too_small(tmp_path):
    """LFC W1A1 (2.9 Mbit of weights) fits the zcu104 on chip: auto streams nothing. On a board of
    one block RAM and 6,000 LUTs it does not fit on chip; auto makes it fit by streaming the units
    with the fewest pixels (then the largest) first, within the DRAM's bandwidth at the design's
    frame interval."""
    from bireal_hw import bnn_pynq
    from compiler.frontend import load_model_graph
    from compiler.passes import PassManager, lowering_passes, streamline_passes

    path = bnn_pynq.export_model("lfc_w1a1", tmp_path / "lfc.onnx", seed=0)
    graph = PassManager(streamline_passes() + lowering_passes()).run(load_model_graph(path).graph)
    roomy = make_design(graph.copy(), BOARDS["zcu104"], 200.0, None, None, "auto")
    assert not any(isinstance(k, WeightDMA) for k in roomy.dataflow.order())
    tiny = board_from_file(small_board(tmp_path))
    with pytest.raises(UserError, match="--external-weights auto"):
        make_design(graph.copy(), tiny, 200.0, None, None, "none")
    d = make_design(graph.copy(), tiny, 200.0, None, None, "auto")
    assert d.fits()
    streamed = [k for k in d.dataflow.order() if isinstance(k, MatrixVector) and k.external]
    kept = [k for k in d.dataflow.order() if isinstance(k, MatrixVector) and not k.external]
    assert streamed
    order = sorted(streamed + kept, key=lambda k: (k.geometry.pixels, -k.geometry.mw * k.geometry.mh))
    assert order[: len(streamed)] == streamed or set(order[: len(streamed)]) == set(streamed)
    budget = dram_bytes_per_cycle(tiny, 200.0) * d.cost.interval
    assert sum(stream_bytes(k) for k in streamed) <= budget
    # with no DRAM on the board, the same design cannot be built
    no_dram = board_from_file(small_board(tmp_path, dram_gbs=0, dram_ports=0, port_bits=0))
    with pytest.raises(UserError, match="even fully folded; choose a larger board$"):
        make_design(graph.copy(), no_dram, 200.0, None, None, "auto")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"dram_gbs": -1}, "dram_gbs must be a number in"),
        ({"dram_gbs": "fast"}, "dram_gbs must be a number in"),
        ({"dram_latency_ns": float("nan")}, "not a readable JSON file|dram_latency_ns must be"),
        ({"dram_ports": 0}, "needs whole numbers dram_ports >= 1 and port_bits >= 8"),
        ({"port_bits": 4.5}, "port_bits must be|needs whole numbers"),
    ],
)
def test_a_board_file_with_a_bad_dram_description_is_refused(tmp_path, change, message):
    with pytest.raises(UserError, match=message):
        board_from_file(small_board(tmp_path, **change))


def last_line(err: str) -> str:
    """The error line, which must be the last one, and no traceback."""
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_folding_files_and_targets_that_cannot_stream_are_refused_in_one_line(tmp_path, capsys):
    folding = tmp_path / "f.json"
    folding.write_text(json.dumps({"mvu_1": {"pe": 1, "simd": 1, "weights": "ddr"}}))
    code, _, err = run_cli(build_main, capsys, "--model", "tfc_w1a1", "--target", "sim", "--out",
                           str(tmp_path / "o1"), "--folding", str(folding))  # fmt: skip
    assert code == 2 and "weights 'ddr'; only chip or dram" in last_line(err)
    folding.write_text(json.dumps({"mvu_1": {"weights": "dram"}}))
    code, _, err = run_cli(build_main, capsys, "--model", "tfc_w1a1", "--target", "sim", "--out",
                           str(tmp_path / "o2"), "--folding", str(folding), "--board", "ecp5-85f")  # fmt: skip
    assert code == 2 and "no external memory" in last_line(err)
    code, _, err = run_cli(build_main, capsys, "--model", "tfc_w1a1", "--target", "rtl", "--out",
                           str(tmp_path / "o3"), "--external-weights", "all")  # fmt: skip
    assert code == 2 and "keeps every weight on chip" in last_line(err)
    assert not (tmp_path / "o3").exists()


def test_a_folding_file_streams_the_units_it_names(tmp_path, capsys):
    folding = tmp_path / "f.json"
    folding.write_text(
        json.dumps({"mvu_1": {"weights": "dram"}, "mvu_4": {"pe": 2, "simd": 8, "weights": "dram"}})
    )
    out = tmp_path / "o"
    code, stdout, err = run_cli(build_main, capsys, "--model", "tfc_w1a1", "--target", "sim", "--out", str(out),
                                "--folding", str(folding), "--verify-images", "20")  # fmt: skip
    assert code == 0, err
    assert json.loads(stdout)["bit_exact"]["mismatches"] == 0
    saved = json.loads((out / "folding.json").read_text())
    assert {k for k, f in saved.items() if f.get("weights") == "dram"} == {"mvu_1", "mvu_4"}
    report = json.loads((out / "report.json").read_text())
    kinds = [layer["kind"] for layer in report["layers"]]
    assert kinds.count("weight_dma") == 2


def test_the_rtl_target_refuses_a_folding_that_streams_weights(tmp_path, capsys):
    folding = tmp_path / "f.json"
    folding.write_text(json.dumps({"mvu_2": {"weights": "dram"}}))
    out = tmp_path / "o"
    code, _, err = run_cli(build_main, capsys, "--model", "tfc_w1a1", "--target", "rtl", "--out", str(out),
                           "--folding", str(folding))  # fmt: skip
    assert code == 2 and "--target rtl keeps every weight on chip" in last_line(err)
    assert not (out / "rtl").exists()
