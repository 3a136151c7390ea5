"""Model configuration: one dataclass describes every Bi-Real variant and its float twin."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum


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


@dataclass(frozen=True)
class BiRealConfig:
    """Everything that defines a Bi-Real network.

    stage_blocks: number of Bi-Real blocks (one binary 3x3 conv each) per stage.
    widths: channels per stage; every stage after the first halves the resolution.
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

    def __post_init__(self) -> None:
        if len(self.stage_blocks) != len(self.widths) or not self.widths:
            raise ValueError("stage_blocks and widths must be non-empty and of equal length")
        if any(b < 1 for b in self.stage_blocks) or any(w < 1 for w in self.widths):
            raise ValueError("every stage needs at least one block and one channel")
        if not 2 <= self.residual_bits <= 16:
            raise ValueError(f"residual_bits must be in [2, 16], got {self.residual_bits}")
        object.__setattr__(self, "stem", Stem(self.stem))
        object.__setattr__(self, "padding", Padding(self.padding))
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
        """Output channels of the stem: `stem_width`, or the first stage's width when 0."""
        return self.stem_width or self.widths[0]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["stem"] = self.stem.value
        d["padding"] = self.padding.value
        d["stage_blocks"] = list(self.stage_blocks)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> BiRealConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown model config fields: {sorted(unknown)}")
        return cls(**d)

    def replace(self, **changes) -> BiRealConfig:
        return dataclasses.replace(self, **changes)
