"""Refit the cost model's logic formulas (compiler/hw/calibrated.py) to Yosys' counts.

    python benchmarks/cost_model_error.py --split both --rows rows.json     # synthesis (minutes)
    python benchmarks/fit_cost_model.py rows.json [--write] [--classes mvu_dsp,...]

Per kernel class and resource (LUT, FF) the formula's terms are `FORMULAS` of calibrated.py; the
coefficients are fitted by non-negative least squares on the relative error
(estimate - synthesized) / max(synthesized, 1) over the calibration split only: LUTs less the
LUTs the model gives the instance's memories; where kernel classes share a formula (its key,
`Kernel.calibration_key`: the max and sum pools) each class weighs alike. Printed: the median absolute error per class on
each split (held-out: designs the fit never saw); --write puts the coefficients into
calibrated.py; with --classes only those classes' (rows of cost_model_error.py --classes), the
others' coefficients kept.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.hw.calibrated import COEFFICIENTS, FORMULAS  # noqa: E402

WIDE_WEIGHT = 3.0  # the weight of a wide matrix unit's row against a random design's


def target(row: dict, resource: str) -> float:
    synthesized = row["synthesized"][resource]
    return synthesized - row["fit"]["memory_lut"] if resource == "LUT" else synthesized


def design_matrix(rows: list[dict], terms: list[str]) -> np.ndarray:
    return np.array(
        [[1.0 if t == "1" else float(r["fit"]["features"].get(t, 0.0)) for t in terms] for r in rows]
    )


def fit(rows: list[dict], terms: list[str], resource: str) -> dict[str, float]:
    if not terms or not rows:
        return {}
    y = np.array([target(r, resource) for r in rows])
    weight = 1.0 / np.maximum(np.array([r["synthesized"][resource] for r in rows], dtype=float), 1.0)
    # kernel classes sharing a formula (the two pools) weigh alike, however many instances each has
    per_class = Counter(r["class"] for r in rows)
    weight /= np.sqrt(np.array([per_class[r["class"]] for r in rows], dtype=float))
    # a wide unit (cost_model_error.py --wide) is one of few, each thousands of LUTs: weigh it more
    weight *= np.array([WIDE_WEIGHT if r.get("wide") else 1.0 for r in rows])
    coef, _ = nnls(design_matrix(rows, terms) * weight[:, None], y * weight)
    return {t: round(float(c), 3) for t, c in zip(terms, coef, strict=True) if c > 0}


def estimate(row: dict, coefficients: dict[str, float], resource: str) -> int:
    f = row["fit"]["features"]
    logic = math.ceil(sum(c * (1.0 if t == "1" else f.get(t, 0.0)) for t, c in coefficients.items()))
    return logic + (row["fit"]["memory_lut"] if resource == "LUT" else 0)


def median_error(rows: list[dict], coefficients: dict[str, float], resource: str) -> float:
    rel = [abs(estimate(r, coefficients, resource) - r["synthesized"][resource]) / max(r["synthesized"][resource], 1)
           for r in rows]  # fmt: skip
    return statistics.median(rel) if rel else 0.0


def render(coefficients: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = ["COEFFICIENTS: dict[str, dict[str, dict[str, float]]] = {"]
    for cls, per in coefficients.items():
        body = ", ".join(f'"{r}": {json.dumps(c)}' for r, c in per.items())
        lines.append(f'    "{cls}": {{{body}}},')
    lines.append("}  # fmt: skip")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("rows", help="the --rows file of benchmarks/cost_model_error.py --split both")
    p.add_argument("--write", action="store_true", help="write the coefficients into calibrated.py")
    p.add_argument("--classes", default="", help="refit only these formulas (comma-separated keys)")
    args = p.parse_args()
    classes = {c for c in args.classes.split(",") if c}
    unknown = classes - set(FORMULAS)
    if unknown:
        sys.exit(
            f"fit_cost_model: no formula {', '.join(sorted(unknown))}; the keys are {', '.join(FORMULAS)}"
        )
    splits = json.loads(Path(args.rows).read_text())
    if "calibration" not in splits:
        sys.exit(
            "fit_cost_model: the rows file has no calibration split; run cost_model_error.py --split both"
        )
    coefficients = {}
    print(
        f"{'class':18}{'n':>4}{'LUT cal':>9}{'LUT held':>10}{'FF cal':>8}{'FF held':>9}   wide: n, LUT/FF cal, held"
    )
    for cls, per in FORMULAS.items():
        if classes and cls not in classes:
            coefficients[cls] = COEFFICIENTS[cls]
            continue
        cal = [r for r in splits["calibration"] if r["fit"]["key"] == cls]
        held = [r for r in splits.get("held-out", []) if r["fit"]["key"] == cls]
        coefficients[cls] = {res: fit(cal, terms, res) for res, terms in per.items()}
        e = {(res, name): median_error(sub, coefficients[cls][res], res)
             for res in per for name, sub in (("cal", cal), ("held", held),
                                              ("wcal", [r for r in cal if r.get("wide")]),
                                              ("wheld", [r for r in held if r.get("wide")]))}  # fmt: skip
        wide = sum(r.get("wide", False) for r in cal + held)
        print(f"{cls:18}{len(cal):>4}{e['LUT', 'cal']:>9.1%}{e['LUT', 'held']:>10.1%}"
              f"{e['FF', 'cal']:>8.1%}{e['FF', 'held']:>9.1%}"
              + (f"   {wide}: {e['LUT', 'wcal']:.1%}/{e['FF', 'wcal']:.1%}, {e['LUT', 'wheld']:.1%}/{e['FF', 'wheld']:.1%}"
                 if wide else ""))  # fmt: skip
    text = render(coefficients)
    print(text)
    if args.write:
        path = ROOT / "compiler" / "hw" / "calibrated.py"
        source = path.read_text()
        pattern = re.compile(r"COEFFICIENTS: dict\[.*?\n\}  # fmt: skip", re.S)
        path.write_text(pattern.sub(lambda _: text, source, count=1))


if __name__ == "__main__":
    main()
