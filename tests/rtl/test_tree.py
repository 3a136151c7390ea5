"""The reduction tree (hdl/bireal_tree.v) alone, over its parameter space: leaf counts from 1 to
192 (powers of two, one more, one less, odd), leaf widths 1 to 7, sums and maxima, a register
every 1, 2 or 4 levels, with and without the last level's register, results as wide as the tree
or sign-extended. One Verilated self-checking bench with an instance per shape, fed pseudo-random
leaves and valid flags every cycle: each instance's result must equal a behavioral sum (or max)
of the valid leaves, `tree_stages` cycles later (the latency the simulator gives the kernels that
use it). The cost model's adder bits (`MatrixVector.tree_adder_bits`) are checked against the
same structure."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from compiler.backends.rtl.codegen import HDL
from compiler.hw.kernels.base import tree_levels, tree_stages

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(shutil.which("verilator") is None, reason="needs verilator"),
]

# (N, W, MAX, PER, LAST_REG, extra output bits[, LEAF_REG (sums only), 1 if not given[, CHAIN, 0 if
# not given]])
SHAPES = [
    (1, 1, 0, 4, 1, 0), (1, 5, 1, 4, 0, 0), (2, 1, 0, 1, 1, 0), (2, 4, 1, 1, 0, 0), (3, 2, 0, 2, 1, 3),
    (3, 3, 1, 4, 1, 0), (5, 4, 0, 1, 0, 0), (5, 7, 1, 2, 1, 0), (6, 1, 0, 4, 1, 2), (7, 3, 0, 2, 0, 0),
    (7, 6, 1, 1, 1, 0), (8, 4, 0, 4, 1, 0), (8, 2, 1, 2, 0, 0), (9, 5, 0, 1, 1, 1), (9, 4, 1, 4, 0, 0),
    (13, 4, 0, 2, 1, 0), (16, 1, 0, 4, 0, 4), (16, 8, 1, 4, 1, 0), (17, 3, 0, 4, 1, 0), (25, 6, 0, 2, 0, 0),
    (25, 4, 1, 2, 1, 0), (31, 2, 0, 1, 1, 0), (33, 4, 0, 4, 1, 0), (49, 7, 1, 4, 0, 0), (64, 3, 0, 4, 1, 0),
    (96, 4, 0, 4, 1, 2), (192, 4, 0, 4, 1, 0),
    # without the leaf register (LEAF_REG 0: a binary unit registers its agree bits instead; N 1
    # would have no register at all, latency 0)
    (3, 4, 0, 4, 1, 0, 0), (2, 4, 0, 4, 1, 0, 0), (7, 4, 0, 2, 1, 0, 0), (13, 3, 0, 1, 0, 0, 0),
    (48, 4, 0, 4, 1, 0, 0), (96, 4, 0, 4, 0, 1, 0), (192, 4, 0, 4, 1, 0, 0),
    # every add a module of its own (CHAIN 1: a DSP unit's products, bireal_chain_add)
    (2, 5, 0, 1, 1, 0, 1, 1), (3, 11, 0, 4, 0, 2, 1, 1), (9, 19, 0, 4, 1, 0, 1, 1), (13, 17, 0, 2, 1, 0, 1, 1),
    (27, 9, 0, 4, 1, 0, 1, 1), (5, 1, 0, 4, 1, 3, 1, 1),
]  # fmt: skip
CYCLES = 400


def bench(shapes, skew: int = 0) -> str:
    """Instance i's leaves and valid flags come from a running 64-bit xorshift word per instance;
    its expected result is computed behaviorally and delayed by tree_stages (+ skew) cycles."""
    lines = ["`timescale 1ns/1ps", "module tb;", "    reg clk = 0;", "    integer cycle = 0, i;"]
    for k, (n, w, mx, per, last, extra, *rest) in enumerate(shapes):
        leaf_reg = rest[0] if rest else 1
        chain = rest[1] if len(rest) > 1 else 0
        levels = tree_levels(n)
        tw = w + (0 if mx else levels)
        ow = tw + extra
        lat = tree_stages(n, per, bool(last)) - (1 - leaf_reg) + skew
        words = -(-(n * w + n) // 64)
        lines += [
            f"    // shape {k}: N {n}, W {w}, MAX {mx}, PER {per}, LAST_REG {last}, OW {ow}, latency {lat}",
            f"    reg [63:0] r{k} [0:{words - 1}];",
            f"    initial for (i = 0; i < {words}; i = i + 1) r{k}[i] = 64'h9E3779B97F4A7C15 * ({k + 1} * 64 + i + 1);",
            f"    wire [{words * 64 - 1}:0] bits{k};",
            *[f"    assign bits{k}[{j * 64} +: 64] = r{k}[{j}];" for j in range(words)],
            f"    wire [{n * w - 1}:0] leaves{k} = bits{k}[{n * w - 1}:0];",
            f"    wire [{n - 1}:0] valid{k} = bits{k}[{n * w} +: {n}] | {n}'(cycle % 3 == 0 ? {{{n}{{1'b1}}}} : 0);",
            f"    wire [{ow - 1}:0] y{k};",
            f"    bireal_tree #(.N({n}), .W({w}), .OW({ow}), .MAX({mx}), .PER({per}), .LAST_REG({last}),"
            f" .LEAF_REG({leaf_reg}), .CHAIN({chain})) dut{k} (",
            f"        .clk(clk), .leaves(leaves{k}), .valid(valid{k}), .result(y{k}));",
            f"    reg signed [{ow - 1}:0] want{k}; reg any{k};",
            "    always @* begin",
            f"        want{k} = 0; any{k} = 0;",
            f"        for (i = 0; i < {n}; i = i + 1) if (valid{k}[i]) begin",
            f"            if ({mx}) begin if (!any{k} || $signed(leaves{k}[i*{w} +: {w}]) > want{k})"
            f" want{k} = $signed(leaves{k}[i*{w} +: {w}]); end",
            f"            else want{k} = want{k} + $signed(leaves{k}[i*{w} +: {w}]);",
            f"            any{k} = 1;",
            "        end",
            "    end",
            f"    reg [{ow}:0] line{k} [0:{lat - 1}];  // {{any, want}} of the cycles before, {lat} back last",
            "    always @(posedge clk) begin",
            f"        line{k}[0] <= {{any{k}, want{k}}};",
            f"        for (i = {lat - 1}; i > 0; i = i - 1) line{k}[i] <= line{k}[i - 1];",
            "    end",
            "    always @(posedge clk) begin",
            f"        for (i = 0; i < {words}; i = i + 1)",
            f"            r{k}[i] <= r{k}[i] ^ (r{k}[i] << 13) ^ (r{k}[i] >> 7) ^ (r{k}[i] << 17) ^ {k + 1};",
            f"        if (cycle > {lat} && (!{mx} || line{k}[{lat - 1}][{ow}]) && y{k} != line{k}[{lat - 1}][{ow - 1}:0]) begin",
            f'            $display("MISMATCH shape {k} cycle %0d: %0d, expected %0d", cycle, $signed(y{k}),'
            f" $signed(line{k}[{lat - 1}][{ow - 1}:0])); $finish;",
            "        end",
            "    end",
        ]
    lines += [
        "    always #1 clk = !clk;",
        "    always @(posedge clk) begin",
        "        cycle <= cycle + 1;",
        f'        if (cycle == {CYCLES}) begin $display("DONE"); $finish; end',
        "    end",
        "endmodule",
    ]
    return "\n".join(lines) + "\n"


def run_bench(tmp_path, shapes, skew: int = 0) -> str:
    """Verilate the bench of `shapes` and run it; its output."""
    tb = tmp_path / "tb.sv"
    tb.write_text(bench(shapes, skew))
    build = subprocess.run(
        ["verilator", "--binary", "-j", "2", "--top-module", "tb", "-Wno-fatal", "-Wno-WIDTH",
         "--Mdir", str(tmp_path / "obj"), str(tb), str(HDL / "bireal_tree.v")],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    done = subprocess.run(
        [str(tmp_path / "obj" / "Vtb")], capture_output=True, text=True, timeout=600, check=False
    )
    return done.stdout


def test_every_shape_sums_or_maxes_the_valid_leaves_at_its_latency(tmp_path):
    out = run_bench(tmp_path, SHAPES)
    assert "MISMATCH" not in out, out[-1000:]
    assert "DONE" in out, out[-1000:]


@pytest.mark.parametrize("leaf_reg", [1, 0])
@pytest.mark.parametrize("skew", [-1, 1])
def test_the_bench_catches_a_wrong_latency(tmp_path, skew, leaf_reg):
    """The bench is not vacuous: told a latency one cycle off, it reports a mismatch."""
    out = run_bench(tmp_path, [(8, 4, 0, 4, 1, 0, leaf_reg), (5, 3, 1, 1, 1, 0)], skew)
    assert "MISMATCH shape 0" in out, out[-1000:]


def test_tree_adder_bits_follow_the_rtl_structure():
    """A node of level l adds two values of LB + l - 1 bits into LB + l; an odd one passes on."""
    from compiler.hw.kernels.matrix import MatrixVector

    rng = np.random.default_rng(0)
    for leaves in [1, 2, 3, 5, 6, 7, 8, 9, 13, 16, 17, 63, 64, 65, 192, 193] + list(rng.integers(1, 500, 40)):
        leaves, lb = int(leaves), int(rng.integers(1, 9))
        count, bits, level = leaves, 0, 0
        while count > 1:
            level += 1
            bits += (count // 2) * (lb + level)
            count = -(-count // 2)
        k = MatrixVector.__new__(MatrixVector)
        k.tree_leaves = lambda leaves=leaves: leaves  # type: ignore[method-assign]
        k.leaf_bits = lambda lb=lb: lb  # type: ignore[method-assign]
        assert k.tree_adder_bits() == bits, (leaves, lb)
