"""The vendor side, checked as far as it can be without Vitis HLS and Vivado: the generated tcl
runs under tclsh with every vendor command stubbed and recorded, the Makefile drives both flows
with stub tools, and `make csim-gcc` runs the Vitis test bench with g++."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

from compiler.backends.hls.csim import CompileError, compile_library
from compiler.backends.hls.vendor import processing_system, zynq_boards
from compiler.hw.boards import board
from tests.hls.project import small_project

pytestmark = [pytest.mark.hls, pytest.mark.skipif(shutil.which("tclsh") is None, reason="needs tclsh")]
STUB = Path(__file__).with_name("vendor_stub.tcl")


def run_stubbed(cwd: Path, log: Path, *args: str) -> list[str]:
    subprocess.run(
        ["tclsh", str(STUB), str(log), *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=60
    )
    return log.read_text().splitlines()


def index_of(lines: list[str], prefix: str) -> int:
    hits = [i for i, line in enumerate(lines) if line.startswith(prefix)]
    assert hits, f"no vendor command {prefix!r} in {lines}"
    return hits[0]


@pytest.mark.parametrize("name", zynq_boards())
def test_vitis_hls_and_vivado_scripts_under_stubbed_tools(name, tmp_path):
    clock = board(name).default_clock_mhz
    project = small_project(tmp_path, name, clock)
    hls = run_stubbed(
        project.root, tmp_path / "hls.log", "-f", "vitis_hls.tcl", "-tclargs", "csim", "csynth", "export"
    )
    assert index_of(hls, f"set_part {board(name).part}") < index_of(hls, "csim_design")
    assert index_of(hls, "set_top bireal_accel") < index_of(hls, "csim_design")
    assert f"create_clock -period {1000 / clock:.4g} -name default" in hls
    added = {line.split()[1] for line in hls if line.startswith("add_files src/")}
    assert added == {f"src/{p.name}" for p in project.sources}
    assert (
        index_of(hls, "csim_design")
        < index_of(hls, "csynth_design")
        < index_of(hls, "export_design -format ip_catalog")
    )
    only_csim = run_stubbed(project.root, tmp_path / "csim.log", "-f", "vitis_hls.tcl", "-tclargs", "csim")
    assert not any(line.startswith(("csynth_design", "export_design")) for line in only_csim)

    bd = run_stubbed(
        tmp_path / "vivado", tmp_path / "vivado.log", "-mode", "batch", "-source", "bitstream.tcl"
    )
    ps = processing_system(board(name))
    assert f"create_project -force bireal_vivado bireal_vivado -part {board(name).part}" in bd
    assert any(line.startswith("create_bd_cell") and ps.vlnv in line and line.endswith(" ps") for line in bd)
    assert any("xilinx.com:ip:axi_dma:7.1 axi_dma_0" in line for line in bd)
    assert any("bireal-hw:hls:bireal_accel:1.0 bireal_accel_0" in line for line in bd)
    assert "connect_bd_intf_net axi_dma_0/M_AXIS_MM2S bireal_accel_0/input_bus" in bd
    assert "connect_bd_intf_net bireal_accel_0/output_bus axi_dma_0/S_AXIS_S2MM" in bd
    clock_config = next(line for line in bd if line.startswith("set_property -dict") and "FREQMHZ" in line)
    assert f"{clock:g}" in clock_config
    for port in (f"/ps/{ps.master}", f"/ps/{ps.slave}", f"/ps/{ps.clock}"):
        assert any(line.startswith("apply_bd_automation") and port in line for line in bd), port
    assert index_of(bd, "launch_runs impl_1 -to_step write_bitstream") < index_of(bd, "file copy -force")
    copies = [line for line in bd if line.startswith("file copy")]
    assert any(line.endswith("../deploy/bitfile/bireal.bit") for line in copies)
    assert any(line.endswith("../deploy/bitfile/bireal.hwh") for line in copies)


def test_makefile_drives_both_flows_with_stub_tools(tmp_path):
    small_project(tmp_path)
    log = tmp_path / "tools.log"
    tools = {}
    for tool in ("vitis_hls", "vivado"):
        path = tmp_path / f"stub_{tool}"
        path.write_text(f'#!/bin/sh\necho {tool} >> "{log}"\nexec tclsh "{STUB}" "{log}" "$@"\n')
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
        tools[tool] = path
    dry = subprocess.run(
        ["make", "-n", "bitstream"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert "vitis_hls -f vitis_hls.tcl -tclargs csim csynth export" in dry
    assert "vivado -mode batch -source bitstream.tcl" in dry
    subprocess.run(
        ["make", "bitstream", f"VITIS_HLS={tools['vitis_hls']}", f"VIVADO={tools['vivado']}"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = log.read_text().splitlines()
    assert (
        lines.index("vitis_hls")
        < index_of(lines, "export_design")
        < lines.index("vivado")
        < index_of(lines, "launch_runs")
    )


def test_make_csim_gcc_runs_the_vitis_testbench_with_gcc(tmp_path):
    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    small_project(tmp_path)
    ok = subprocess.run(["make", "csim-gcc"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert ok.returncode == 0, ok.stderr[-800:]
    assert "4 frames, 0 mismatching words" in ok.stdout
    expected = tmp_path / "hls" / "tb_data" / "expected.bin"
    words = np.fromfile(expected, dtype="<u8")
    words[3] ^= 1
    words.tofile(expected)
    bad = subprocess.run(
        ["./tb/testbench.gcc", "tb_data"], cwd=tmp_path / "hls", capture_output=True, text=True
    )
    assert bad.returncode == 1 and "1 mismatching words" in bad.stdout


def test_compiler_errors_are_one_line_with_the_error_tail(tmp_path):
    broken = tmp_path / "broken.cpp"
    broken.write_text("int f() { return undefined_name; }\n")
    with pytest.raises(CompileError) as err:
        compile_library([broken], [], tmp_path / "libx.so")
    message = str(err.value)
    assert "\n" not in message and "undefined_name" in message and "g++ failed" in message
    assert not (tmp_path / "libx.so").exists()
    slow = tmp_path / "slow.cpp"
    slow.write_text('#include "ap_int.h"\nap_uint<512> f(ap_uint<512> x) { return x * x; }\n')
    with pytest.raises(CompileError, match="timed out after"):
        compile_library([slow], [], tmp_path / "liby.so", timeout=0.05)
    assert not list(tmp_path.glob("bireal-csim-*")), "the compiler's temporary folder was left behind"
