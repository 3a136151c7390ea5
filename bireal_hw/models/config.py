"""Model configuration: one dataclass describes every Bi-Real variant and its float twin."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

from bireal_hw.errors import UserError
from bireal_hw.validate import check_allocation, check_integer


class Padding(StrEnum):
    """How a binary 3x3 conv pads its bipolar input.

    ZERO: PyTorch semantics (the paper's): padded taps contribute 0, which no single bit encodes,
    so hardware counts only the valid taps. PLUS_ONE / MINUS_ONE: a constant +1 / -1 pad, which
    hardware encodes as a constant bit.
    """

    ZERO = "zero"
    PLUS_ONE = "plus_one"
    MINUS_ONE = "minus_one"

    @property
    def value_after_sign(self) -> float:
        return {"zero": 0.0, "plus_one": 1.0, "minus_one": -1.0}[self.value]


class Stem(StrEnum):
    """IMAGENET: 7x7/2 conv + BN + 3x3/2 maxpool. SMALL: 3x3/1 conv + BN, no maxpool."""

    IMAGENET = "imagenet"
    SMALL = "small"


class Block(StrEnum):
    """BASIC: one binary 3x3 conv per block with its shortcut (Bi-Real-18/34). BOTTLENECK: a
    ResNet-50 bottleneck with a shortcut around each of its three binary convs (Bi-Real-50); the
    stage width is the wide stream's, the 1x1 reduce and the 3x3 have a quarter of it."""

    BASIC = "basic"
    BOTTLENECK = "bottleneck"


class FloatActivation(StrEnum):
    """The float twin's activation where the quantized model has its sign: RELU (the PyTorch
    recipe's twin), or the Caffe recipe's pre-training steps LEAKY_CLIP (x on [-1, 1], slope 0.1
    outside) and CLIP (clip(-1, x, 1))."""

    RELU = "relu"
    LEAKY_CLIP = "leaky_clip"
    CLIP = "clip"


class WeightScale(StrEnum):
    """A binary conv's weights: MEAN_ABS sign(W) * mean|W| per output channel (the paper's
    magnitude-aware weights), or ONE, sign(W) alone (the Caffe recipe's last step, where
    BatchNorm absorbs the scale)."""

    MEAN_ABS = "mean_abs"
    ONE = "one"


@dataclass(frozen=True)
class BiRealConfig:
    """Everything that defines a Bi-Real network.

    stage_blocks: number of Bi-Real blocks (one binary 3x3 conv each, or a bottleneck) per stage.
    widths: channels per stage; every stage after the first halves the resolution.
    block: basic or bottleneck (whose widths must be multiples of 4).
    residual_bits: bit width of the shared integer grid of the residual stream.
    quantized: False builds the float twin: same topology, real weights, ReLU where the sign was.
    """

    name: str
    stage_blocks: tuple[int, ...]
    widths: tuple[int, ...]
    stem: Stem = Stem.IMAGENET
    in_channels: int = 3
    num_classes: int = 1000
    image_size: int = 224
    residual_bits: int = 8
    padding: Padding = Padding.ZERO
    quantized: bool = True
    stem_width: int = 0
    block: Block = Block.BASIC
    float_activation: FloatActivation = FloatActivation.RELU
    weight_scale: WeightScale = WeightScale.MEAN_ABS

    def __post_init__(self) -> None:
        if len(self.stage_blocks) != len(self.widths) or not self.widths:
            raise ValueError("stage_blocks and widths must be non-empty and of equal length")
        if any(b < 1 for b in self.stage_blocks) or any(w < 1 for w in self.widths):
            raise ValueError("every stage needs at least one block and one channel")
        if not 2 <= self.residual_bits <= 16:
            raise ValueError(f"residual_bits must be in [2, 16], got {self.residual_bits}")
        object.__setattr__(self, "stem", Stem(self.stem))
        object.__setattr__(self, "padding", Padding(self.padding))
        object.__setattr__(self, "block", Block(self.block))
        object.__setattr__(self, "float_activation", FloatActivation(self.float_activation))
        object.__setattr__(self, "weight_scale", WeightScale(self.weight_scale))
        if self.block is Block.BOTTLENECK and any(w % 4 for w in self.widths):
            raise ValueError(
                f"a bottleneck model needs widths that are multiples of 4, got {list(self.widths)}"
            )
        object.__setattr__(self, "stage_blocks", tuple(self.stage_blocks))
        object.__setattr__(self, "widths", tuple(self.widths))
        self.feature_sizes()

    def feature_sizes(self) -> list[int]:
        """Spatial size entering each stage; every resolution-halving stage needs an even size
        (its 3x3/2 conv and its AvgPool2d(2) shortcut must agree)."""
        if self.stem is Stem.IMAGENET:
            size = (self.image_size + 2 * 3 - 7) // 2 + 1
            size = (size + 2 - 3) // 2 + 1
        else:
            size = self.image_size
        sizes = []
        for stage in range(len(self.widths)):
            if stage > 0:
                if size % 2:
                    raise ValueError(
                        f"{self.name}: stage {stage + 1} gets an odd {size}x{size} map from a "
                        f"{self.image_size}x{self.image_size} input; use fewer stages or another size"
                    )
                size //= 2
            sizes.append(size)
        return sizes

    @property
    def stem_channels(self) -> int:
        """Output channels of the stem: `stem_width`, or when 0 the first stage's width (its
        narrow width, a quarter, for a bottleneck model)."""
        if self.stem_width:
            return self.stem_width
        return self.widths[0] // 4 if self.block is Block.BOTTLENECK else self.widths[0]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["stem"] = self.stem.value
        d["padding"] = self.padding.value
        d["block"] = self.block.value
        d["float_activation"] = self.float_activation.value
        d["weight_scale"] = self.weight_scale.value
        d["stage_blocks"] = list(self.stage_blocks)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> BiRealConfig:
        """The config a dict read from a file describes; every field is checked (type, range) and
        the model must fit the size budget (`memory_estimate` for one image). Bad input raises
        UserError (one line naming the field)."""
        cfg = _checked_config(cls, d)
        check_allocation(
            f"model config {cfg.name!r} (its weights and one image's activations)",
            memory_estimate(cfg),
            "use fewer or narrower stages, or a smaller image_size",
        )
        return cfg

    def replace(self, **changes) -> BiRealConfig:
        return dataclasses.replace(self, **changes)


# ------------------------------------------------------------------- from_dict's field rules

MAX_STAGES = 8
MAX_BLOCKS = 64  # per stage
MAX_WIDTH = 16384
MAX_CHANNELS = 4096  # input channels
MAX_CLASSES = 1_000_000
MAX_IMAGE_SIZE = 4096
_INT_FIELDS = {  # field: (lo, hi)
    "in_channels": (1, MAX_CHANNELS),
    "num_classes": (1, MAX_CLASSES),
    "image_size": (1, MAX_IMAGE_SIZE),
    "residual_bits": (2, 16),
    "stem_width": (0, MAX_WIDTH),
}
_LIST_FIELDS = {"stage_blocks": (1, MAX_BLOCKS), "widths": (1, MAX_WIDTH)}


def _checked_config(cls, d) -> BiRealConfig:
    """The config of a dict, every field type- and range-checked (UserError naming the field)."""
    if not isinstance(d, dict):
        raise UserError(f"model config must be a dict of fields, got {type(d).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(str(k) for k in d if k not in fields)
    if unknown:
        raise UserError(f"unknown model config fields: {unknown}; known: {', '.join(fields)}")
    required = [n for n, f in fields.items() if f.default is dataclasses.MISSING]
    missing = [n for n in required if n not in d]
    if missing:
        raise UserError(f"model config lacks the fields {missing}")
    out = dict(d)
    if not isinstance(d["name"], str) or not 0 < len(d["name"]) <= 100:
        raise UserError(f"model config 'name' must be a string of 1-100 characters, got {d['name']!r:.60}")
    for name, (lo, hi) in _LIST_FIELDS.items():
        value = d[name]
        if not isinstance(value, list | tuple) or not 1 <= len(value) <= MAX_STAGES:
            raise UserError(
                f"model config {name!r} must be a list of 1-{MAX_STAGES} integers, got {value!r:.60}"
            )
        out[name] = tuple(check_integer(f"model config {name}[{i}]", v, lo, hi) for i, v in enumerate(value))
    if len(out["widths"]) != len(out["stage_blocks"]):
        raise UserError("model config 'widths' and 'stage_blocks' must have one entry per stage each")
    for name, (lo, hi) in _INT_FIELDS.items():
        if name in d:
            out[name] = check_integer(f"model config {name}", d[name], lo, hi)
    enums = (
        ("stem", Stem),
        ("padding", Padding),
        ("block", Block),
        ("float_activation", FloatActivation),
        ("weight_scale", WeightScale),
    )
    for name, enum in enums:
        if name in d and (not isinstance(d[name], str) or d[name] not in {e.value for e in enum}):
            choices = ", ".join(e.value for e in enum)
            raise UserError(f"model config {name!r} must be one of {choices}, got {d[name]!r:.60}")
    if "quantized" in d and not isinstance(d["quantized"], bool):
        raise UserError(f"model config 'quantized' must be true or false, got {d['quantized']!r:.60}")
    try:
        return cls(**out)  # and the rules between fields (stage sizes)
    except (TypeError, ValueError) as exc:
        raise UserError(f"invalid model config: {exc}") from None


def memory_estimate(cfg: BiRealConfig, images: int = 1) -> int:
    """Bytes (float32) of a model's parameters plus the activations `images` images make in one
    forward: a generous bound, used to refuse a config before anything is allocated."""
    imagenet = cfg.stem is Stem.IMAGENET
    k, s, c = (7 if imagenet else 3), cfg.image_size, cfg.stem_channels
    stem_out = (s + 2 * 3 - 7) // 2 + 1 if imagenet else s
    params = cfg.in_channels * c * k * k + 4 * c
    acts = 2 * cfg.in_channels * s * s + 4 * c * stem_out * stem_out
    cin = c
    bottleneck = cfg.block is Block.BOTTLENECK
    for n, width, size in zip(cfg.stage_blocks, cfg.widths, cfg.feature_sizes(), strict=True):
        for i in range(n):
            params += cin * width * 9 + 4 * width
            if cin != width or i == 0:
                params += cin * width + 4 * width
            acts += 8 * width * size * size  # sign, conv, BN, quantize, shortcut, add, requantize
            if bottleneck:  # the 1x1 reduce at the input's size, the narrow stream, its shortcut
                params += cin * width // 4 + width * width // 16 + 8 * width
                acts += 8 * max(cin, width) * (2 * size) ** 2 // 4 + 16 * width * size * size
            cin = width
    params += cin * cfg.num_classes + cfg.num_classes
    return 4 * (params + images * acts)
