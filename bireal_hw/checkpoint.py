"""Checkpoints: written atomically, loaded with `torch.load(weights_only=True)`, validated.

A checkpoint is a dict of plain types and tensors:
  format, version, config (BiRealConfig as a dict), model (state dict), optimizer (state dict or
  None), epoch (epochs completed), train_args (dict), history (per-epoch metrics).
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import torch

from bireal_hw.atomic import atomic_write  # noqa: F401  (re-exported)
from bireal_hw.errors import UserError
from bireal_hw.models import BiRealConfig, BiRealNet, build_model

FORMAT = "bireal-hw/checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, model: BiRealNet, **fields) -> None:
    state = {
        "format": FORMAT,
        "version": VERSION,
        "config": model.cfg.to_dict(),
        "model": model.state_dict(),
        "optimizer": None,
        "epoch": 0,
        "train_args": {},
        "history": [],
    }
    state.update(fields)
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def read_checkpoint(path: str | Path) -> dict:
    """Load and validate a checkpoint dict; any problem is one `UserError` line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about foreign pickle protocols
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path} is not a readable checkpoint ({first[:160]})") from None
    except Exception as exc:  # unpickling of foreign files raises arbitrary types
        raise UserError(f"{path} is not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path} is not a bireal-hw checkpoint (no '{FORMAT}' format tag)")
    if state.get("version") != VERSION:
        raise UserError(f"{path} has checkpoint version {state.get('version')}; this tool reads {VERSION}")
    for key in ("config", "model"):
        if not isinstance(state.get(key), dict):
            raise UserError(f"{path} lacks its '{key}' entry")
    return state


def load_model(path: str | Path) -> tuple[BiRealNet, dict]:
    """The model stored in a checkpoint (in eval mode) and the checkpoint dict."""
    state = read_checkpoint(path)
    try:
        cfg = BiRealConfig.from_dict(state["config"])
    except (TypeError, ValueError) as exc:
        raise UserError(f"{path}: invalid model config ({exc})") from None
    model = build_model(cfg)
    try:
        model.load_state_dict(state["model"], strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise UserError(f"{path}: weights do not fit model {cfg.name} ({first[:160]})") from None
    model.eval()
    return model, state
