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
from bireal_hw.validate import check_integer, check_number, require_finite

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
    try:
        _check_fields(state)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    return state


def _check_fields(state: dict) -> None:
    """The types of a checkpoint's entries; every float tensor of the weights is finite."""
    state["epoch"] = check_integer("its 'epoch' (epochs completed)", state.get("epoch"), 0, 10**9)
    for key, kind in (("train_args", dict), ("history", list), ("optimizer", dict)):
        if state.get(key) is not None and not isinstance(state[key], kind):
            raise UserError(f"its '{key}' entry is a {type(state[key]).__name__}, not a {kind.__name__}")
    train_args = state.get("train_args") or {}
    for key in ("dataset", "data_dir"):
        if train_args.get(key) is not None and not isinstance(train_args[key], str):
            raise UserError(f"its train_args {key!r} is not a string: {train_args[key]!r:.60}")
    if not all(isinstance(h, dict) for h in state.get("history") or []):
        raise UserError("its 'history' entry holds something other than per-epoch dicts")
    for name, value in state["model"].items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise UserError(f"its weights hold {name!r:.60}, which is not a named tensor")
        if value.is_floating_point() or value.is_complex():
            require_finite(
                f"weight tensor {name!r}", value.float() if value.dtype == torch.bfloat16 else value
            )


def load_weights(model: BiRealNet, weights: dict, path: str | Path) -> None:
    """`model.load_state_dict(weights, strict=True)`; a mismatch is one UserError line."""
    try:
        model.load_state_dict(weights, strict=True)
    except (RuntimeError, TypeError, ValueError, KeyError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: weights do not fit model {model.cfg.name} ({first[:160]})") from None


def load_model(path: str | Path) -> tuple[BiRealNet, dict]:
    """The model stored in a checkpoint (in eval mode) and the checkpoint dict."""
    state = read_checkpoint(path)
    try:
        cfg = BiRealConfig.from_dict(state["config"])
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    model = build_model(cfg)
    load_weights(model, state["model"], path)
    model.eval()
    return model, state


_ADAM_TENSORS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")


def load_optimizer_state(optimizer: torch.optim.Optimizer, saved, path: str | Path) -> None:
    """Continue `optimizer` from a checkpoint's optimizer state: only the per-parameter state (Adam's
    moments and step) is taken from the file; the hyperparameters stay the ones this run built. A
    state of another model or optimizer, or a malformed one, is one UserError line."""
    if saved is None:
        return

    def refuse(why: str):
        raise UserError(f"{path}: its optimizer state {why}; it belongs to another model or run")

    if not isinstance(saved, dict) or not isinstance(saved.get("state"), dict):
        refuse("is not an optimizer state dict (no 'state' dict)")
    groups = saved.get("param_groups")
    if not isinstance(groups, list) or not all(
        isinstance(g, dict) and isinstance(g.get("params"), list) for g in groups
    ):
        refuse("has no list of parameter groups")
    if [len(g["params"]) for g in groups] != [len(g["params"]) for g in optimizer.param_groups]:
        refuse("has parameter groups of other sizes than this model's")
    for entry in saved["state"].values():
        if not isinstance(entry, dict):
            refuse("holds a per-parameter entry that is not a dict")
        for key, value in entry.items():
            if key == "step":
                number = isinstance(value, int | float) and not isinstance(value, bool)
                if not number and not (isinstance(value, torch.Tensor) and value.numel() == 1):
                    refuse(f"holds a step that is not a number ({type(value).__name__})")
                check_number("its optimizer step", float(value), 0)
            elif key in _ADAM_TENSORS:
                if not isinstance(value, torch.Tensor) or not value.is_floating_point():
                    refuse(f"holds a {key!r} that is not a float tensor")
                require_finite(f"its optimizer state {key!r}", value)
            else:
                refuse(f"holds an unknown entry {key!r:.40}")
    hyper = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    try:
        optimizer.load_state_dict(saved)
    except (ValueError, KeyError, TypeError, RuntimeError, IndexError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        refuse(f"does not load ({first})")
    for group, kept in zip(optimizer.param_groups, hyper, strict=True):
        group.update(kept)
    for group in optimizer.param_groups:
        for p in group["params"]:
            st = optimizer.state.get(p, {})
            if st and not {"step", "exp_avg", "exp_avg_sq"} <= set(st):
                refuse("lacks Adam's step, exp_avg or exp_avg_sq for a parameter")
            for key in _ADAM_TENSORS:
                if key in st and st[key].shape != p.shape:
                    refuse(
                        f"holds a {key!r} of shape {tuple(st[key].shape)} for a parameter of {tuple(p.shape)}"
                    )
