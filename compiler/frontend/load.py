"""Model loading: a QONNX file (untrusted: `safe_load`) or a bireal_hw checkpoint (exported to
QONNX in memory), then imported into the IR."""

from __future__ import annotations

from pathlib import Path

from bireal_hw.errors import UserError
from compiler.frontend.importer import ImportResult, UnsupportedModel, import_qonnx
from compiler.frontend.safe_load import load_untrusted_onnx
from compiler.ir import IRError

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


def load_model_graph(path: str | Path) -> ImportResult:
    """The IR of the model in `path` (.onnx, or a checkpoint .pt); UserError on bad input."""
    path = Path(path)
    if path.suffix.lower() in CHECKPOINT_SUFFIXES:
        from bireal_hw.checkpoint import load_model
        from bireal_hw.export import export_qonnx_model

        model, _ = load_model(path)
        proto = export_qonnx_model(model)
        name = model.cfg.name
    else:
        proto = load_untrusted_onnx(path)
        name = path.stem
    try:
        return import_qonnx(proto, safe_graph_name(name))
    except (UnsupportedModel, IRError) as exc:
        raise UserError(f"{path}: {exc}") from None


def safe_graph_name(name: str) -> str:
    """A model name usable as the IR graph's name (and in generated file names)."""
    cleaned = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in name)[:64]
    return cleaned or "model"
