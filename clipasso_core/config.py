"""Typed configuration: the optimisation presets and the per-run sketch settings."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .backbones import PROFILES
from .errors import InputError
from .masking import MASK_MODES

CANVAS = 224
"""Side (px) of the square working canvas, the CLIP input size."""


@dataclass(frozen=True)
class Preset:
    """How the optimisation runs. The loss function is the same in every preset.

    iterations: Adam steps; lr: initial learning rate (px); lr_end: final lr as a fraction of lr
    (cosine decay; 1.0 = constant); augmentations: augmented pairs per step (plus the clean pair);
    target_bank: 0 = augment and re-encode the target every step (the original), else the number of
    augmentations whose target features are computed once and drawn from; precision: "fp32" or
    "auto" (bfloat16 autocast where the device supports it); eval_every: evaluation period;
    reuse_eval: take the evaluation from the step's own clean pair instead of a separate forward;
    min_delta / patience: stop a seed after ``patience`` evaluations in a row within ``min_delta`` of
    its best; seeds: default number of seeds; prune_at: fraction of the steps after which only the
    best seed so far continues (0 = all seeds run to the end); seed_chunk: seeds per forward/backward
    batch (0 = all at once; smaller bounds peak memory).
    """

    name: str
    iterations: int
    lr: float = 1.0
    lr_end: float = 1.0
    augmentations: int = 4
    target_bank: int = 0
    precision: str = "fp32"
    eval_every: int = 10
    reuse_eval: bool = False
    min_delta: float = 1e-5
    patience: int = 2
    seeds: int = 3
    prune_at: float = 0.0
    seed_chunk: int = 0


PRESETS = {
    "paper": Preset("paper", iterations=2001),
    "default": Preset("default", iterations=600, lr=4.0, lr_end=0.05, target_bank=64, precision="auto",
                      reuse_eval=True, prune_at=0.25, seed_chunk=2),
    "fast": Preset("fast", iterations=90, lr=4.0, lr_end=0.05, augmentations=1, target_bank=16,
                   precision="auto", reuse_eval=True, seeds=1),
}


@dataclass
class SketchConfig:
    """Settings of one sketch run. ``None`` fields take the preset's value.

    width is the stroke width in px of the 224-px working canvas (3 = the paper); the output scales it
    to the image. color is "#rrggbb"; opacity in 0..1.
    """

    strokes: int = 16
    preset: str = "default"
    seeds: int | None = None
    iterations: int | None = None
    seed: int = 0
    width: float = 3.0
    color: str = "#000000"
    opacity: float = 1.0
    mask: str = "auto"
    mask_model: str = "u2net"
    device: str = "auto"
    backbone: str = "openai"
    clip_weights: str | None = None
    saliency_weights: str | None = None
    init: str | None = None
    preview_every: int = 20

    def validate(self) -> "SketchConfig":
        """Check every value; raise InputError with a clear message for the first bad one."""
        if self.preset not in PRESETS:
            raise InputError(f"unknown preset {self.preset!r} (choose from {', '.join(PRESETS)})")
        if not isinstance(self.strokes, int) or self.strokes < 1:
            raise InputError(f"strokes must be a whole number >= 1, got {self.strokes!r}")
        if self.seeds is not None and (not isinstance(self.seeds, int) or self.seeds < 1):
            raise InputError(f"seeds must be a whole number >= 1, got {self.seeds!r}")
        if self.iterations is not None and (not isinstance(self.iterations, int) or self.iterations < 1):
            raise InputError(f"iterations must be a whole number >= 1, got {self.iterations!r}")
        if not self.width > 0:
            raise InputError(f"stroke width must be > 0, got {self.width!r}")
        if not 0 < self.opacity <= 1:
            raise InputError(f"opacity must be in (0, 1], got {self.opacity!r}")
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", self.color or ""):
            raise InputError(f"colour must look like #rrggbb, got {self.color!r}")
        if self.mask not in MASK_MODES:
            raise InputError(f"unknown mask mode {self.mask!r} (choose from {', '.join(MASK_MODES)})")
        if self.device not in ("auto", "cpu", "cuda") and not re.fullmatch(r"cuda:\d+", self.device):
            raise InputError(f"unknown device {self.device!r} (choose from auto, cpu, cuda)")
        if self.backbone not in PROFILES:
            raise InputError(f"unknown backbone {self.backbone!r} (choose from {', '.join(PROFILES)})")
        if self.preview_every < 1:
            raise InputError("preview period must be >= 1")
        return self

    def resolved_preset(self) -> Preset:
        """The preset with this config's iteration count applied."""
        preset = PRESETS[self.preset]
        return replace(preset, iterations=self.iterations) if self.iterations else preset

    @property
    def seed_count(self) -> int:
        return self.seeds if self.seeds is not None else PRESETS[self.preset].seeds
