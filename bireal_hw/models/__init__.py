"""Model registry: `build_model(name, **overrides)` and the named configurations."""

from __future__ import annotations

from bireal_hw.models.bireal import BinaryBranch, BiRealBlock, BiRealBottleneck, BiRealNet, Downsample
from bireal_hw.models.config import BiRealConfig, Block, FloatActivation, Padding, Stem, WeightScale

_IMAGENET_WIDTHS = (64, 128, 256, 512)

MODEL_CONFIGS: dict[str, BiRealConfig] = {
    "bireal18": BiRealConfig("bireal18", (4, 4, 4, 4), _IMAGENET_WIDTHS),
    "bireal34": BiRealConfig("bireal34", (6, 8, 12, 6), _IMAGENET_WIDTHS),
    # The IJCV paper's 50-layer net: ResNet-50's bottleneck stages, a shortcut around every binary conv.
    "bireal50": BiRealConfig("bireal50", (3, 4, 6, 3), (256, 512, 1024, 2048), block=Block.BOTTLENECK),
    # Small-image variant: 3x3 stem, no maxpool; width and depth are overridable.
    "bireal_small": BiRealConfig(
        "bireal_small",
        (2, 2, 2),
        (32, 64, 128),
        stem=Stem.SMALL,
        in_channels=1,
        num_classes=10,
        image_size=28,
    ),
    # ResNet-18 shaped float reference (for the OPs table): bireal18's float twin.
}


def model_config(name: str, **overrides) -> BiRealConfig:
    """The named configuration with `overrides` applied (e.g. widths=(16, 32), quantized=False)."""
    if name not in MODEL_CONFIGS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(MODEL_CONFIGS))}")
    return MODEL_CONFIGS[name].replace(**overrides)


def build_model(cfg_or_name: BiRealConfig | str, **overrides) -> BiRealNet:
    cfg = model_config(cfg_or_name, **overrides) if isinstance(cfg_or_name, str) else cfg_or_name
    return BiRealNet(cfg)


__all__ = [
    "MODEL_CONFIGS",
    "BiRealBlock",
    "BiRealBottleneck",
    "BinaryBranch",
    "Block",
    "FloatActivation",
    "WeightScale",
    "BiRealConfig",
    "BiRealNet",
    "Downsample",
    "Padding",
    "Stem",
    "build_model",
    "model_config",
]
