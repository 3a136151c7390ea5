"""Train a Bi-Real model with the paper's PyTorch recipe.

    python -m bireal_hw.train --model bireal_small --dataset fashion-mnist --epochs 8 --out runs/x

Recipe defaults (Bi-Real Net, PyTorch version): Adam, lr 1e-3 x batch/512 decayed linearly to 0
over the run (per step), label smoothing 0.1, no weight decay on binary weights, batch 512,
256 epochs for ImageNet. `--two-step` trains with binary activations and real weights for the
first half of the epochs, then binarizes the weights (each half has its own linear decay).

Multi-process data parallel: `torchrun --nproc-per-node N -m bireal_hw.train ...` (gloo on CPU,
nccl on GPU). Checkpoints are written atomically after every epoch; `--resume` continues exactly.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from bireal_hw.checkpoint import (
    atomic_write,
    load_optimizer_state,
    load_weights,
    read_checkpoint,
    save_checkpoint,
)
from bireal_hw.data import DATASETS, Dataset, load_dataset
from bireal_hw.errors import UserError, cli_main
from bireal_hw.models import MODEL_CONFIGS, BiRealConfig, BiRealNet, build_model, model_config
from bireal_hw.models.config import MAX_BLOCKS, MAX_IMAGE_SIZE, MAX_STAGES, MAX_WIDTH, memory_estimate
from bireal_hw.quantizers import set_binary_weights
from bireal_hw.validate import (
    Parser,
    check_allocation,
    check_integer,
    check_output_path,
    integer,
    integer_list,
    number,
)

DEFAULT_EPOCHS = {"imagenet": 256}


MAX_BATCH = 1 << 20


def build_parser() -> Parser:
    p = Parser(prog="python -m bireal_hw.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="bireal_small", choices=sorted(MODEL_CONFIGS))
    widths, blocks = integer_list(1, MAX_WIDTH, MAX_STAGES), integer_list(1, MAX_BLOCKS, MAX_STAGES)
    p.add_argument("--widths", type=widths, help="channels per stage, e.g. 32,64,128")
    p.add_argument("--blocks", type=blocks, help="Bi-Real blocks per stage, e.g. 2,2,2")
    p.add_argument("--residual-bits", type=integer(2, 16), help="bit width of the residual stream's grid")
    p.add_argument("--padding", choices=["zero", "plus_one", "minus_one"], help="binary conv padding")
    p.add_argument("--float", dest="float_twin", action="store_true", help="train the float twin")
    p.add_argument("--dataset", default="fashion-mnist", choices=DATASETS)
    p.add_argument("--data-dir", help="dataset folder (default: the dataset's standard location)")
    p.add_argument(
        "--image-size", type=integer(1, MAX_IMAGE_SIZE), help="input size for imagenet (default 224)"
    )
    p.add_argument("--epochs", type=integer(1, 10**6), help="default: 256 for imagenet, 8 otherwise")
    p.add_argument(
        "--batch-size",
        type=integer(1, MAX_BATCH),
        help="global batch size (all processes; default 512, --recipe caffe: 128, bireal34 1024)",
    )
    p.add_argument(
        "--lr",
        type=number(0, lo_open=True),
        default=1e-3,
        help="learning rate at batch 512 (scaled linearly)",
    )
    p.add_argument(
        "--weight-decay",
        type=number(0),
        default=0.0,
        help="on real-valued weights only (default: %(default)s)",
    )
    p.add_argument(
        "--label-smoothing",
        type=number(0, 1, hi_open=True),
        default=0.1,
        help="of the cross-entropy, in [0, 1)",
    )
    p.add_argument("--two-step", action="store_true", help="real weights first, then binary")
    p.add_argument(
        "--recipe",
        choices=["pytorch", "caffe"],
        default="pytorch",
        help="pytorch (default): Adam with linear decay; caffe: the original recipe's five phases "
        "(ReLU, leaky-clip and clip pre-training of the float twin, the binary step with SGD, BatchNorm "
        "retrained on +-1 weights): bireal_hw/caffe_recipe.py",
    )
    p.add_argument(
        "--pretrain-epochs",
        type=integer(1, 10**6),
        help="--recipe caffe: the ReLU pre-training's epochs (default: 90 for imagenet, else --epochs)",
    )
    p.add_argument(
        "--finetune-epochs",
        type=integer(1, 10**6),
        help="--recipe caffe: the leaky-clip and the clip fine-tuning's epochs, each (default: 10 for "
        "imagenet, else a quarter of --pretrain-epochs, at least 1)",
    )
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--train-samples", type=integer(1), help="use only the first N training samples")
    p.add_argument(
        "--seed",
        type=integer(0, 2**32 - 1),
        default=0,
        help="of the initialization, shuffling and augmentation (default: %(default)s)",
    )
    p.add_argument("--threads", type=integer(1, 4096), help="torch intra-op threads per process")
    p.add_argument("--workers", type=integer(0, 256), default=4, help="data loader workers (image folders)")
    p.add_argument("--out", required=True, help="output folder: checkpoint.pt, metrics.jsonl/csv")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--stop-after", type=integer(1), help="stop after this many epochs (resume later)")
    p.add_argument(
        "--eval-every",
        type=integer(0),
        default=1,
        help="test accuracy every N epochs; 0: after the last epoch only",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the training forward (2x on CPU)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def model_config_from_args(args: argparse.Namespace, data: Dataset) -> BiRealConfig:
    overrides = {
        "num_classes": data.num_classes,
        "in_channels": data.in_channels,
        "image_size": data.image_size,
    }
    if args.widths:
        overrides["widths"] = args.widths
    if args.blocks:
        overrides["stage_blocks"] = args.blocks
    if args.residual_bits:
        overrides["residual_bits"] = args.residual_bits
    if args.padding:
        overrides["padding"] = args.padding
    if args.float_twin:
        overrides["quantized"] = False
    for field in ("float_activation", "weight_scale"):  # set by a recipe's phases
        if getattr(args, field, None):
            overrides[field] = getattr(args, field)
    try:
        cfg = model_config(args.model, **overrides)
    except ValueError as exc:
        raise UserError(f"invalid model options: {exc}") from None
    return BiRealConfig.from_dict(cfg.to_dict())  # the rules and size budget of every config


def check_training_memory(cfg: BiRealConfig, images: int, batch: int) -> None:
    """Refuse (before allocating) a batch whose forward and backward exceed the size budget: the
    weights with their gradient and Adam's two moments, the activations kept for the backward and
    their gradients."""
    weights = memory_estimate(cfg, images=0)
    activations = memory_estimate(cfg, images=min(batch, images)) - weights
    check_allocation(
        f"training {cfg.name} on batches of {min(batch, images)} images",
        4 * weights + 2 * activations,
        "use a smaller --batch-size, narrower --widths or a smaller --image-size",
    )


def parameter_groups(model: BiRealNet, weight_decay: float) -> list[dict]:
    """Binary conv weights, BN parameters, biases and scales: no decay; other weights: decay."""
    binary = {id(c.weight) for c in model.binary_convs()}
    decay, no_decay = [], []
    for _name, p in model.named_parameters():
        if p.dim() > 1 and id(p) not in binary:
            decay.append(p)
        else:
            no_decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class Distributed:
    """Rank/world from torchrun's environment; a no-op for one process."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.device = torch.device("cpu")
        if self.world > 1:
            if torch.cuda.is_available():
                local = int(os.environ.get("LOCAL_RANK", "0"))
                self.device = torch.device("cuda", local)
                torch.cuda.set_device(self.device)
            # A bounded collective timeout: a rank that dies or stalls makes the others fail with an error
            # instead of hanging until the job's own limit.
            dist.init_process_group(
                backend="nccl" if self.device.type == "cuda" else "gloo",
                timeout=datetime.timedelta(seconds=int(os.environ.get("BIREAL_DIST_TIMEOUT_S", "600"))),
            )
        elif torch.cuda.is_available():
            self.device = torch.device("cuda")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, values: list[float]) -> list[float]:
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.world > 1:
            dist.all_reduce(t)
        return t.tolist()

    def close(self) -> None:
        if self.world > 1:
            dist.barrier()
            dist.destroy_process_group()


def evaluate_accuracy(
    model: torch.nn.Module, data: Dataset, batch_size: int, ddp: Distributed, workers: int = 0
) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in data.batches(batch_size, train=False, rank=ddp.rank, world=ddp.world, workers=workers):
            pred = model(x.to(ddp.device)).argmax(1).cpu()
            correct += int((pred == y).sum())
            total += len(y)
    correct, total = ddp.sum([correct, total])
    return correct / max(total, 1)


def lr_at(step: int, total: int, base: float, milestones: tuple[float, ...] = ()) -> float:
    """Linear decay from `base` to 0 over `total` steps; with `milestones` (fractions of the run),
    steps instead: `base` times 0.1 for each milestone passed (the Caffe recipe)."""
    if milestones:
        return base * 0.1 ** sum(step >= m * total for m in milestones)
    return base * max(0.0, 1.0 - step / max(total, 1))


def make_optimizer(model: torch.nn.Module, args: argparse.Namespace) -> torch.optim.Optimizer:
    """Adam (the PyTorch recipe) or SGD with momentum (the Caffe recipe's phases); with
    `bn_only`, over the BatchNorm parameters alone (the other parameters are frozen)."""
    if getattr(args, "bn_only", False):
        groups = [{"params": bn_parameters(model), "weight_decay": 0.0}]
    else:
        groups = parameter_groups(model, args.weight_decay)
    if getattr(args, "optimizer", "adam") == "sgd":
        return torch.optim.SGD(groups, lr=args.lr, momentum=getattr(args, "momentum", 0.9))
    return torch.optim.Adam(groups, lr=args.lr)


def bn_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters()]


def retrain_batchnorm_only(model: torch.nn.Module) -> None:
    """Freeze everything but BatchNorm, whose running statistics restart as a cumulative average
    over the epoch (momentum None): after one epoch they are the population's, however few the
    batches (the Caffe recipe's last step, where BatchNorm absorbs the weights' scale)."""
    for p in model.parameters():
        p.requires_grad_(False)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
            for p in m.parameters():
                p.requires_grad_(True)


def load_initial_weights(model: torch.nn.Module, path: Path) -> None:
    """Start from another checkpoint's weights (the previous phase of a recipe): every tensor of
    the same name and shape is copied; each conv, BatchNorm and classifier of `model` must find
    its own (quantizer scales may be new)."""
    state = read_checkpoint(path)["model"]
    own = model.state_dict()
    missing = [
        name
        for name, value in own.items()
        if any(name.endswith(k) for k in ("conv.weight", "bn.weight", "bn.running_var", "fc.weight"))
        and (name not in state or tuple(state[name].shape) != tuple(value.shape))
    ]
    if missing:
        raise UserError(f"{path} does not hold this model's {missing[0]} (another architecture?)")
    with torch.no_grad():
        for name, value in own.items():
            if name in state and tuple(state[name].shape) == tuple(value.shape):
                value.copy_(state[name])


def _write_metrics(out: Path, history: list[dict]) -> None:
    atomic_write(
        out / "metrics.jsonl", lambda t: Path(t).write_text("".join(json.dumps(h) + "\n" for h in history))
    )
    keys = list(history[0]) if history else []
    csv = ",".join(keys) + "\n" + "".join(",".join(str(h[k]) for k in keys) + "\n" for h in history)
    atomic_write(out / "metrics.csv", lambda t: Path(t).write_text(csv))


def train(args: argparse.Namespace) -> dict:
    """Run training; returns the final metrics dict (also written to OUT/metrics.jsonl)."""
    if args.batch_size is None:
        args.batch_size = 512
    ddp = Distributed()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = check_output_path("--out", args.out, folder=True)
    epochs = args.epochs if args.epochs is not None else DEFAULT_EPOCHS.get(args.dataset, 8)
    epochs = check_integer("--epochs", epochs, 1)  # (also when `args` does not come from the parser)
    if args.batch_size < ddp.world:
        raise UserError(f"--batch-size {args.batch_size} is less than the {ddp.world} processes")
    image_size = args.image_size if args.image_size is not None else 224
    train_data = load_dataset(args.dataset, "train", args.data_dir, image_size=image_size)
    test_data = load_dataset(args.dataset, "test", args.data_dir, image_size=image_size)
    if args.train_samples is not None:
        train_data.images = train_data.images[: args.train_samples] if train_data.images is not None else None
        train_data.labels = train_data.labels[: args.train_samples]
        if train_data.files is not None:
            train_data.files = train_data.files[: args.train_samples]
    shapes = [(d.num_classes, d.in_channels, d.image_size) for d in (train_data, test_data)]
    if shapes[0] != shapes[1]:
        raise UserError(
            f"{args.dataset}: the train split has (classes, channels, size) {shapes[0]} but the test split "
            f"{shapes[1]}; both splits must agree"
        )
    cfg = model_config_from_args(args, train_data)
    check_training_memory(cfg, len(train_data), args.batch_size // ddp.world)
    model = build_model(cfg)
    start_epoch, history, optimizer_state = 0, [], None
    ckpt_path = out / "checkpoint.pt"
    if args.resume:
        state = read_checkpoint(ckpt_path)
        if BiRealConfig.from_dict(state["config"]).to_dict() != cfg.to_dict():
            raise UserError(
                f"{ckpt_path} was trained with another model config; drop --resume or change --out"
            )
        # Brevitas re-creates quantizer modules (and their parameters) when loading a state dict:
        # load the model first, then build the optimizer over the parameters that now exist.
        load_weights(model, state["model"], ckpt_path)
        optimizer_state = state.get("optimizer")
        start_epoch, history = state["epoch"], list(state.get("history") or [])
    elif ckpt_path.exists():
        raise UserError(f"{ckpt_path} exists; pass --resume to continue it or choose another --out")
    if getattr(args, "init_from", None) and not args.resume:
        load_initial_weights(model, Path(args.init_from))
    if getattr(args, "bn_only", False):
        retrain_batchnorm_only(model)
    model = model.to(ddp.device)
    optimizer = make_optimizer(model, args)
    load_optimizer_state(optimizer, optimizer_state, ckpt_path)
    net = torch.nn.parallel.DistributedDataParallel(model) if ddp.world > 1 else model
    if args.compile:
        net = torch.compile(net, dynamic=False)
    base_lr = args.lr * args.batch_size / 512
    local_batch = args.batch_size // ddp.world
    steps_per_epoch = max(1, (len(train_data) // ddp.world) // local_batch)
    phase_epochs = [epochs // 2, epochs - epochs // 2] if args.two_step and cfg.quantized else [epochs]

    metrics: dict = history[-1] if history else {}
    last_epoch = min(epochs, args.stop_after) if args.stop_after is not None else epochs
    for epoch in range(start_epoch, last_epoch):
        phase = 0 if len(phase_epochs) == 1 or epoch < phase_epochs[0] else 1
        phase_start = 0 if phase == 0 else phase_epochs[0]
        phase_steps = phase_epochs[phase] * steps_per_epoch
        if len(phase_epochs) == 2:
            set_binary_weights(model, enabled=phase == 1)
            if epoch == phase_epochs[0]:  # step 2 starts with a fresh Adam
                optimizer = make_optimizer(model, args)
        net.train()
        t0 = time.time()
        loss_sum = correct = seen = 0.0
        batches = train_data.batches(
            local_batch,
            train=True,
            seed=args.seed,
            epoch=epoch,
            rank=ddp.rank,
            world=ddp.world,
            workers=args.workers,
            augment=not args.no_augment,
        )
        bar = tqdm(
            batches,
            total=steps_per_epoch,
            desc=f"epoch {epoch + 1}/{epochs}",
            disable=args.quiet or not ddp.main or not sys.stderr.isatty(),
            leave=False,
            file=sys.stderr,
        )
        for i, (x, y) in enumerate(bar):
            step = (epoch - phase_start) * steps_per_epoch + i
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, phase_steps, base_lr, getattr(args, "lr_milestones", ()))
            x, y = x.to(ddp.device), y.to(ddp.device)
            logits = net(x)
            loss = F.cross_entropy(logits, y, label_smoothing=args.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
        loss_sum, correct, seen = ddp.sum([loss_sum, correct, seen])
        last = epoch + 1 == last_epoch
        due = args.eval_every > 0 and (epoch + 1) % args.eval_every == 0
        test_acc = (
            evaluate_accuracy(model, test_data, local_batch, ddp, args.workers) if (due or last) else None
        )
        metrics = {
            "epoch": epoch + 1,
            "train_loss": round(loss_sum / seen, 6),
            "train_acc": round(correct / seen, 6),
            "test_acc": None if test_acc is None else round(test_acc, 6),
            "lr_end": optimizer.param_groups[0]["lr"],
            "epoch_seconds": round(time.time() - t0, 2),
            "binary_weights": cfg.quantized and (len(phase_epochs) == 1 or phase == 1),
        }
        history.append(metrics)
        if ddp.main:
            save_checkpoint(
                ckpt_path,
                model,
                optimizer=optimizer.state_dict(),
                epoch=epoch + 1,
                train_args=_plain_args(args),
                history=history,
            )
            _write_metrics(out, history)
            if not args.quiet:
                print(json.dumps(metrics), file=sys.stderr, flush=True)
    ddp.close()
    return metrics


def _plain_args(args: argparse.Namespace) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()}


@cli_main
def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.recipe == "caffe":
        from bireal_hw.caffe_recipe import run_caffe_recipe

        metrics = run_caffe_recipe(args, train)
    else:
        metrics = train(args)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(metrics))


if __name__ == "__main__":
    main()
