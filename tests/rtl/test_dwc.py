"""The width converter (hdl/bireal_dwc.v) alone, over many beat shapes (narrow and wide, A | B,
B | A, neither, equal, odd widths, 1 to 10 bits per element): one Verilated self-checking bench
with an instance per shape, fed a numbered element stream under pseudo-random input gaps and
output back-pressure; every output element must be the next number, none lost or repeated. It
reads only at the counts `read_counts` gives (the REACH parameter), so a missing count loses data
here; with no stalls it must also finish. (Its cycles against sim/'s schedule are checked inside
whole designs: tests/rtl/test_rtl.py.)"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from compiler.backends.rtl.codegen import HDL
from compiler.hw.kernels.width import read_counts

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(shutil.which("verilator") is None, reason="needs verilator"),
]

# (A, B, BITS): elements per input beat, per output beat, bits per element
SHAPES = [
    (1, 14, 1), (14, 1, 1), (42, 6, 1), (6, 42, 1), (6, 4, 2), (4, 6, 2), (3, 2, 4), (2, 3, 4),
    (5, 1, 4), (1, 5, 10), (7, 3, 3), (3, 7, 3), (2, 7, 1), (9, 6, 2), (64, 12, 1), (12, 64, 1),
    (13, 13, 1), (5, 8, 8), (8, 5, 8), (11, 4, 1), (36, 1, 1), (1, 36, 1), (10, 6, 5), (63, 9, 1),
]  # fmt: skip


def elements(a: int, b: int) -> int:
    """Elements instance (A, B) converts: whole periods of lcm(A, B), about 3,000."""
    period = math.lcm(a, b)
    return period * max(1, 3000 // period)


def bench(shapes) -> str:
    """A self-checking test bench: instance i converts a numbered stream of A-element beats (the
    element number modulo 2**BITS) and checks each output element against its own count; with
    +stall its input has gaps and its output back-pressure (an LFSR's bits)."""
    lines = ["`timescale 1ns/1ps", "module tb;", "    reg clk = 0, rst = 1, stall = 0;", "    integer cycle = 0;",
             "    initial stall = $test$plusargs(\"stall\");",
             "    reg [31:0] lfsr = 32'h1234567;", "    always @(posedge clk) lfsr <= {lfsr[30:0], lfsr[31] ^ lfsr[21] ^ lfsr[1] ^ lfsr[0]};"]  # fmt: skip
    for i, (a, b, bits) in enumerate(shapes):
        reach = sum(1 << v for v in read_counts(a, b))
        n = elements(a, b)
        gap = f"(!stall || lfsr[{i % 29}])"
        ready = f"(!stall || lfsr[{(i + 7) % 29 + 2}])"
        lines += [
            f"    // shape {i}: {a} -> {b} elements of {bits} bits",
            f"    reg [31:0] sent{i} = 0, got{i} = 0;",
            f"    wire [{a * bits - 1}:0] in{i};",
            f"    wire [{b * bits - 1}:0] out{i};",
            f"    wire iv{i} = !rst && sent{i} < {n} && {gap}, ir{i}, ov{i}, or{i} = {ready};",
            *[f"    assign in{i}[{e * bits} +: {bits}] = sent{i} + {e};" for e in range(a)],
            f"    bireal_dwc #(.A({a}), .B({b}), .BITS({bits}), .REACH({b + 1}'h{reach:x})) dut{i} (",
            f"        .clk(clk), .rst(rst), .in_data(in{i}), .in_valid(iv{i}), .in_ready(ir{i}),",
            f"        .out_data(out{i}), .out_valid(ov{i}), .out_ready(or{i}));",
            "    always @(posedge clk) if (!rst) begin",
            f"        if (ir{i}) sent{i} <= sent{i} + {a};",
            f"        if (ov{i}) begin",
            f"            got{i} <= got{i} + {b};",
            *[f"            if (out{i}[{e * bits} +: {bits}] != {bits}'(got{i} + {e})) begin"
              f" $display(\"MISMATCH shape {i} element %0d\", got{i} + {e}); $finish; end" for e in range(b)],
            "        end",
            "    end",
        ]  # fmt: skip
    done = " && ".join(f"got{i} == {elements(a, b)}" for i, (a, b, _) in enumerate(shapes))
    lines += [
        "    always #1 clk = !clk;",
        "    always @(posedge clk) begin",
        "        cycle <= cycle + 1;",
        "        if (cycle == 3) rst <= 0;",
        f'        if ({done}) begin $display("DONE %0d", cycle); $finish; end',
        '        if (cycle > 200000) begin $display("TIMEOUT"); $finish; end',
        "    end",
        "endmodule",
    ]
    return "\n".join(lines) + "\n"


def build_bench(tmp: Path) -> Path:
    tb = tmp / "tb.sv"
    tb.write_text(bench(SHAPES))
    build = subprocess.run(
        ["verilator", "--binary", "-j", "2", "--top-module", "tb", "-Wno-fatal", "-Wno-WIDTH",
         "--Mdir", str(tmp / "obj"), str(tb), str(HDL / "bireal_simple.v"), str(HDL / "bireal_unpack.v")],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    return tmp / "obj" / "Vtb"


def test_every_shape_passes_every_element_in_order(tmp_path):
    exe = build_bench(tmp_path)
    for args in ([], ["+stall"]):
        done = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=600, check=False)
        assert "MISMATCH" not in done.stdout and "TIMEOUT" not in done.stdout, (args, done.stdout[-500:])
        assert "DONE" in done.stdout, (args, done.stdout[-500:])


def test_read_counts_are_the_counts_where_it_reads():
    """read_counts against a direct walk of the converter's element count over a whole period."""
    rng = np.random.default_rng(0)
    for a, b in [(s[0], s[1]) for s in SHAPES] + [tuple(rng.integers(1, 40, 2)) for _ in range(200)]:
        a, b = int(a), int(b)
        n, reads = 0, set()
        for _ in range(4 * (a + b) * (a + b)):  # long enough to cover the cycle from any start
            read = a <= b or n < b
            if read:
                reads.add(n)
            total = n + (a if read else 0)
            n = total - b if total >= b else total
        assert set(read_counts(a, b)) == reads, (a, b)
        assert all(v + a <= a + b for v in reads)  # the beat fits the register where it is placed
