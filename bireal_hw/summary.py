"""Parameters, weight memory and operations of a model, counted the way the Bi-Real paper does.

    python -m bireal_hw.summary bireal18            # one model
    python -m bireal_hw.summary --table             # bireal18, bireal34 and ResNet-18 (float twin)

OPs = FLOPs + BOPs / 64, where a binary conv's multiply-accumulates are BOPs and every other
conv/linear multiply-accumulate is a FLOP. Memory (paper): binary weights at 1 bit, every other
learned parameter (real weights, biases, BN gamma/beta) at 32 bits; Mbit = 10**6 bits. The
`deployed` column counts what the hardware stores: 1-bit and 8-bit weights, 32-bit the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bireal_hw.errors import UserError, cli_main
from bireal_hw.models import MODEL_CONFIGS, BiRealConfig, BiRealNet, build_model, model_config
from bireal_hw.models.config import MAX_IMAGE_SIZE
from bireal_hw.validate import Parser, integer

PAPER = {  # (OPs, Mbit) reported by the paper at 224x224
    "bireal18": (1.63e8, 33.6),
    "bireal34": (1.93e8, 43.7),
    "resnet18": (1.81e9, None),
}


@dataclass
class ModelSummary:
    name: str
    params: int
    binary_params: int
    int8_params: int
    flops: int
    bops: int

    @property
    def ops(self) -> float:
        return self.flops + self.bops / 64

    @property
    def memory_mbit(self) -> float:
        return (self.binary_params + 32 * (self.params - self.binary_params)) / 1e6

    @property
    def deployed_mbit(self) -> float:
        other = self.params - self.binary_params - self.int8_params
        return (self.binary_params + 8 * self.int8_params + 32 * other) / 1e6


def summarize(model: BiRealNet, image_size: int | None = None, name: str | None = None) -> ModelSummary:
    cfg = model.cfg
    size = image_size or cfg.image_size
    binary_convs = {id(c) for c in model.binary_convs()} if cfg.quantized else set()
    counts = {"flops": 0, "bops": 0}

    def hook(mod: nn.Module, inputs, output) -> None:
        if isinstance(mod, nn.Conv2d):
            k = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
        else:
            k = mod.in_features
        macs = output.numel() // output.shape[0] * k
        counts["bops" if id(mod) in binary_convs else "flops"] += macs

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, cfg.in_channels, size, size))
    finally:
        for h in handles:
            h.remove()
    binary_params = sum(c.weight.numel() for c in model.binary_convs()) if cfg.quantized else 0
    int8_params = 0
    if cfg.quantized:
        for m in model.modules():
            if isinstance(m, nn.Conv2d | nn.Linear) and id(m) not in binary_convs:
                int8_params += m.weight.numel()
    params = sum(p.numel() for p in model.parameters())
    return ModelSummary(name or cfg.name, params, binary_params, int8_params, counts["flops"], counts["bops"])


def format_table(rows: list[tuple[ModelSummary, tuple[float, float | None] | None]]) -> str:
    head = (
        f"{'model':<22}{'params':>12}{'FLOPs':>11}{'BOPs':>11}{'OPs':>11}{'Mbit':>8}{'deployed':>10}  paper"
    )
    lines = [head, "-" * len(head)]
    for s, paper in rows:
        ref = ""
        if paper:
            ops_ref, mbit_ref = paper
            ref = f"OPs {ops_ref:.3g} ({100 * (s.ops / ops_ref - 1):+.2f}%)"
            if mbit_ref:
                ref += f", {mbit_ref} Mbit ({100 * (s.memory_mbit / mbit_ref - 1):+.2f}%)"
        lines.append(
            f"{s.name:<22}{s.params:>12,}{s.flops:>11.3e}{s.bops:>11.3e}{s.ops:>11.3e}"
            f"{s.memory_mbit:>8.2f}{s.deployed_mbit:>10.2f}  {ref}"
        )
    return "\n".join(lines)


def paper_table() -> list[tuple[ModelSummary, tuple[float, float | None]]]:
    return [
        (summarize(build_model("bireal18")), PAPER["bireal18"]),
        (summarize(build_model("bireal34")), PAPER["bireal34"]),
        (
            summarize(build_model("bireal18", quantized=False), name="resnet18 (float twin)"),
            PAPER["resnet18"],
        ),
    ]


@cli_main
def main(argv: list[str] | None = None) -> None:
    p = Parser(prog="python -m bireal_hw.summary", description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", help=f"one of {', '.join(sorted(MODEL_CONFIGS))}")
    p.add_argument("--float", dest="float_twin", action="store_true", help="summarize the float twin")
    p.add_argument(
        "--image-size", type=integer(1, MAX_IMAGE_SIZE), help="default: the model's (224 for ImageNet models)"
    )
    p.add_argument("--table", action="store_true", help="the paper's table: bireal18, bireal34, ResNet-18")
    args = p.parse_args(argv)
    if args.table or not args.model:
        print(format_table(paper_table()))
        return
    if args.model not in MODEL_CONFIGS:
        raise UserError(f"unknown model {args.model!r}; choose one of {', '.join(sorted(MODEL_CONFIGS))}")
    overrides = {"quantized": not args.float_twin}
    if args.image_size is not None:
        overrides["image_size"] = args.image_size
    try:
        cfg = model_config(args.model, **overrides)
    except ValueError as exc:
        raise UserError(f"--image-size {args.image_size}: {exc}") from None
    model = build_model(BiRealConfig.from_dict(cfg.to_dict()))  # the size budget
    s = summarize(model)
    paper = PAPER.get(args.model) if not args.float_twin and (args.image_size in (None, 224)) else None
    print(format_table([(s, paper)]))


if __name__ == "__main__":
    main()
