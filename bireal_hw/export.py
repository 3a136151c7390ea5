"""Export a trained Bi-Real checkpoint to QONNX (BipolarQuant / Quant nodes).

    python -m bireal_hw.export --checkpoint C --out model.onnx

The file is self-contained (no external data), passes `onnx.checker` (full check) and qonnx's
cleanup, and carries the model config as metadata (`bireal_hw.config`, JSON). It is written to a
temp file in the output folder and renamed, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
from pathlib import Path

import onnx
import torch

from bireal_hw.checkpoint import atomic_write, load_model
from bireal_hw.errors import UserError, cli_main
from bireal_hw.models import BiRealNet
from bireal_hw.validate import Parser, check_output_path

METADATA_KEY = "bireal_hw.config"


def _brevitas_export(model: BiRealNet, path: str) -> None:
    from brevitas.export import export_qonnx

    cfg = model.cfg
    x = torch.zeros(1, cfg.in_channels, cfg.image_size, cfg.image_size)
    # The torch.onnx exporter prints progress lines on stdout and logs that torchvision's ops are
    # missing (we do not use them); keep our CLI's output clean.
    onnx_logger = logging.getLogger("torch.onnx")
    level = onnx_logger.level
    onnx_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            export_qonnx(model.eval(), x, export_path=path)
    finally:
        onnx_logger.setLevel(level)


def export_qonnx_model(model: BiRealNet) -> onnx.ModelProto:
    """Export to an in-memory QONNX model: cleaned up, shapes inferred, checked."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    if not model.cfg.quantized:
        raise UserError("this checkpoint holds a float twin; only quantized models export to QONNX")
    with tempfile.TemporaryDirectory(prefix="bireal-export-") as tmp:
        raw = os.path.join(tmp, "raw.onnx")
        _brevitas_export(model, raw)
        proto = onnx.load(raw, load_external_data=True)
    cleaned = cleanup_model(ModelWrapper(proto)).model
    meta = cleaned.metadata_props.add()
    meta.key, meta.value = METADATA_KEY, json.dumps(model.cfg.to_dict())
    onnx.checker.check_model(cleaned, full_check=True)
    return cleaned


def write_onnx(proto: onnx.ModelProto, out: str | Path) -> None:
    atomic_write(out, lambda tmp: onnx.save_model(proto, tmp, save_as_external_data=False))


@cli_main
def main(argv: list[str] | None = None) -> None:
    p = Parser(prog="python -m bireal_hw.export", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True, help="output .onnx path")
    args = p.parse_args(argv)
    if Path(args.out).is_dir():
        raise UserError(f"--out {args.out} is a folder; give a file path such as {args.out}/model.onnx")
    check_output_path("--out", args.out, folder=False)
    model, _ = load_model(args.checkpoint)
    proto = export_qonnx_model(model)
    write_onnx(proto, args.out)
    ops: dict[str, int] = {}
    for node in proto.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    print(json.dumps({"out": str(args.out), "nodes": len(proto.graph.node), "ops": ops}))


if __name__ == "__main__":
    main()
