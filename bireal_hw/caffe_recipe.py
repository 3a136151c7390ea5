"""The original Caffe recipe of Bi-Real Net, as `python -m bireal_hw.train --recipe caffe ...`.

From the authors' Caffe release (its README's "Training Procedure"), in five phases, each a run of
`bireal_hw.train.train` in a folder of its own under --out, each starting from the previous
phase's weights:

  1 relu        the float twin with ReLU from scratch, ResNet's settings: SGD momentum 0.9, weight
                decay 1e-4, lr 0.1 at batch 256 divided by 10 at 1/3 and 2/3 of the epochs
                (--pretrain-epochs; ImageNet: 90)
  2 leaky_clip  fine-tuned with leaky-clip (x on [-1, 1], slope 0.1 outside) instead of ReLU
  3 clip        fine-tuned with clip(-1, x, 1) (--finetune-epochs each; lr 0.01 at batch 256,
                divided by 10 at 1/2 and 3/4)
  4 binary      binary activations and weights (sign(W) * mean|W|): SGD momentum 0.9, no weight
                decay, lr 0.01 at batch 128 (bireal34: 0.08 at batch 1024, the same rate per
                image), divided by 10 at 1/2 and 3/4 of --epochs (18 layers: 20; 34: 40)
  5 bn          weights constrained to +-1 (the scale dropped), every conv's learning rate 0:
                only BatchNorm trains, one epoch, its statistics re-estimated over that epoch,
                so that it absorbs the scale

No label smoothing (the Caffe solver has none). The last phase's checkpoint is --out's
checkpoint.pt, a quantized model with `weight_scale: one` that every target builds; recipe.json
lists each phase's final metrics. Choices the README leaves open (the fine-tuning's rates and
epochs, the BatchNorm phase's rate) are in docs/decisions.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from bireal_hw.atomic import atomic_write
from bireal_hw.errors import UserError
from bireal_hw.validate import check_output_path


@dataclass(frozen=True)
class Phase:
    name: str
    quantized: bool
    lr_per_image: float  # the learning rate divided by the batch it was given for
    milestones: tuple[float, ...]
    weight_decay: float = 0.0
    float_activation: str | None = None
    weight_scale: str | None = None
    bn_only: bool = False


PHASES = (
    Phase("relu", False, 0.1 / 256, (1 / 3, 2 / 3), 1e-4, "relu"),
    Phase("leaky_clip", False, 0.01 / 256, (0.5, 0.75), 1e-4, "leaky_clip"),
    Phase("clip", False, 0.01 / 256, (0.5, 0.75), 1e-4, "clip"),
    Phase("binary", True, 0.01 / 128, (0.5, 0.75), 0.0, None, "mean_abs"),
    # the binary step's last rate, constant (no milestone within the run)
    Phase("bn", True, 0.01 / 128 * 0.01, (2.0,), 0.0, None, "one", bn_only=True),
)


def phase_epochs(args: argparse.Namespace) -> dict[str, int]:
    imagenet = args.dataset == "imagenet"
    binary = args.epochs if args.epochs is not None else (40 if args.model == "bireal34" else 20)
    pretrain = args.pretrain_epochs or (90 if imagenet else binary)
    finetune = args.finetune_epochs or (10 if imagenet else max(1, pretrain // 4))
    return {"relu": pretrain, "leaky_clip": finetune, "clip": finetune, "binary": binary, "bn": 1}


def run_caffe_recipe(args: argparse.Namespace, train) -> dict:
    """The five phases, each `train(phase_args)` (bireal_hw.train.train, passed in)."""
    for flag, value in (
        ("--resume", args.resume),
        ("--stop-after", args.stop_after),
        ("--two-step", args.two_step),
        ("--float", args.float_twin),
    ):
        if value:
            raise UserError(f"{flag} does not go with --recipe caffe (its five phases run in one go)")
    out = check_output_path("--out", args.out, folder=True)
    if (out / "checkpoint.pt").exists():
        raise UserError(f"{out / 'checkpoint.pt'} exists; choose another --out")
    batch = args.batch_size or (1024 if args.model == "bireal34" else 128)
    epochs = phase_epochs(args)
    previous, summary, metrics = None, [], {}
    for i, phase in enumerate(PHASES, 1):
        a = copy.copy(args)
        folder = out / f"{i}_{phase.name}"
        a.out, a.resume, a.batch_size, a.epochs = str(folder), False, batch, epochs[phase.name]
        a.float_twin = not phase.quantized
        a.float_activation, a.weight_scale = phase.float_activation, phase.weight_scale
        a.optimizer, a.momentum, a.lr_milestones = "sgd", 0.9, phase.milestones
        a.lr = phase.lr_per_image * 512  # train() scales its --lr from batch 512 to the batch
        a.weight_decay, a.label_smoothing, a.bn_only = phase.weight_decay, 0.0, phase.bn_only
        a.init_from = None if previous is None else str(previous)
        a.two_step = False
        metrics = train(a)  # (it refuses a folder that holds a checkpoint already)
        previous = folder / "checkpoint.pt"
        summary.append({"phase": phase.name, "epochs": a.epochs, **metrics})
    if int(os.environ.get("RANK", "0")) == 0:  # (under torchrun, rank 0 writes, as train() does)
        atomic_write(out / "checkpoint.pt", lambda tmp: shutil.copyfile(previous, tmp))
        atomic_write(out / "recipe.json", lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=1)))
    return metrics
