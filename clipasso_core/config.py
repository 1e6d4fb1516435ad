"""Typed configuration: the optimisation presets and the per-run sketch settings."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from .backbones import PROFILES
from .contract.formats import FormatError
from .contract.options import CANVAS_PX, MAX_ITERATIONS, MAX_SEEDS, RUN_OPTIONS, parse_levels
from .errors import InputError
from .masking import MASK_MODES

_DEFAULT = {name: option.default for name, option in RUN_OPTIONS.items()}
SEED_STRIDE = 1000
"""Seed k of a run with --seed s uses s + k x 1000 (the original's 0, 1000, 2000)."""
MAX_SEED = 2 ** 31 - 1 - SEED_STRIDE * MAX_SEEDS
"""Largest --seed: every seed of the run stays a valid 32-bit seed."""

CANVAS = CANVAS_PX  # the working canvas side (px), from the contract
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
    batch (0 = all at once; smaller bounds peak memory); overlap: weight of the penalty on strokes
    lying on strokes, relative to the loss (``optimize.ClipObjective``; 0 = none, the original);
    lr_strokes: above this many strokes the lr falls as sqrt(lr_strokes / strokes) (``lr_scale``;
    0 = the same lr for every stroke count, the original).
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
    overlap: float = 0.0
    lr_strokes: int = 0

    def lr_scale(self, strokes: int) -> float:
        """The factor on lr for a sketch of ``strokes`` strokes: 1 up to ``lr_strokes``, then
        sqrt(lr_strokes / strokes) (32 strokes: 0.71; 64: 0.5)."""
        return math.sqrt(min(1.0, self.lr_strokes / strokes)) if self.lr_strokes else 1.0


PRESETS = {
    "paper": Preset("paper", iterations=2001),
    "default": Preset("default", iterations=600, lr=2.0, lr_end=0.05, target_bank=64, precision="auto",
                      reuse_eval=True, prune_at=0.25, seed_chunk=2, lr_strokes=16),
    "fast": Preset("fast", iterations=90, lr=2.0, lr_end=0.05, augmentations=1, target_bank=16,
                   precision="auto", reuse_eval=True, seeds=1),
}


@dataclass
class SketchConfig:
    """Settings of one sketch run. ``None`` fields take the preset's value. Defaults and ranges of
    the options editors set come from ``contract.options.RUN_OPTIONS``.

    canvas_stroke_width is the stroke width in px of the 224-px working canvas (3 = the paper); the
    output scales it to the image (``Stroke.width`` is image px). color: any CSS colour (a name such
    as ``red``, ``#rgb``, ``#rrggbb``, ``rgb()``, ``hsl()``; ``validate`` makes it "#rrggbb");
    opacity in 0..1. These three left None: with ``init``, each stroke keeps the init file's own
    width, colour and opacity; without, the defaults of ``contract.options.RUN_OPTIONS`` (filled in
    by ``validate``). Set, they apply to every stroke, init strokes included.
    """

    strokes: int = _DEFAULT["strokes"]
    preset: str = _DEFAULT["preset"]
    seeds: int | None = None
    iterations: int | None = None
    seed: int = 0
    canvas_stroke_width: float | None = None
    color: str | None = None
    opacity: float | None = None
    mask: str = _DEFAULT["mask"]
    mask_model: str = "u2net"
    device: str = "auto"
    backbone: str = _DEFAULT["backbone"]
    clip_weights: str | None = None
    saliency_weights: str | None = None
    init: str | None = None
    preview_every: int = 20
    levels: tuple[int, ...] = ()
    """Levels of abstraction from one run, largest first (``--levels 32,16,8,4``); the largest is
    the stroke count. Empty: one level of ``strokes``."""
    lock: tuple[int, ...] = ()
    """Ids of ``init`` strokes kept as they are (besides those the file marks locked; ``edit.plan``)."""
    add: int = 0
    """New strokes added to the ``init`` sketch (``--add``)."""
    fill_to: int = 0
    """Add as many strokes as the ``init`` sketch lacks to have this many (``--fill-to``; 0: none)."""
    region: str | None = None
    """Where new strokes start and moving strokes stay (``edit.region``: a rectangle, polygon or mask)."""
    move: str = "auto"
    """Which strokes of a refine move: auto, new or unlocked (``edit.plan``)."""
    resketch: bool = False
    """The moving strokes of the ``init`` sketch start afresh (where ink is missing) instead of where
    they are (``--resketch``)."""

    @property
    def edits(self) -> bool:
        """Whether the run refines its init sketch with locks, new strokes or a region."""
        return bool(self.lock or self.add or self.fill_to or self.region or self.move != "auto" or self.resketch)

    def validate(self) -> "SketchConfig":
        """Check every value; raise InputError with a clear message for the first bad one."""
        if self.preset not in PRESETS:
            raise InputError(f"unknown preset {self.preset!r} (choose from {', '.join(PRESETS)})")
        try:
            self.levels = tuple(parse_levels(list(self.levels)))
        except FormatError as exc:
            raise InputError(str(exc)) from None
        if self.levels:
            self.strokes = self.levels[0]
        _whole("strokes (--strokes)", self.strokes, 1, RUN_OPTIONS["strokes"].maximum)
        if self.seeds is not None:
            _whole("seeds (--seeds)", self.seeds, 1, RUN_OPTIONS["seeds"].maximum, "0: the preset's")
        if self.iterations is not None:
            _whole("iterations (--iterations)", self.iterations, 1, MAX_ITERATIONS, "0: the preset's")
        if not self.init:  # nothing to take the strokes' looks from: the defaults
            for name, option in (("canvas_stroke_width", "stroke_width"), ("color", "color"),
                                 ("opacity", "opacity")):
                if getattr(self, name) is None:
                    setattr(self, name, _DEFAULT[option])
        if self.canvas_stroke_width is not None:
            _number("stroke width (--width)", self.canvas_stroke_width, RUN_OPTIONS["stroke_width"])
        if self.opacity is not None:
            _number("opacity (--opacity)", self.opacity, RUN_OPTIONS["opacity"])
        if self.color is not None:
            from .svg import css_color

            self.color = css_color(self.color, "stroke colour (--color)")
        _whole("seed (--seed)", self.seed, 0, MAX_SEED)
        if self.mask not in MASK_MODES:
            raise InputError(f"unknown mask mode {self.mask!r} (choose from {', '.join(MASK_MODES)})")
        if self.device not in ("auto", "cpu", "cuda", "mps") and not re.fullmatch(r"cuda:\d+", self.device):
            raise InputError(f"unknown device {self.device!r} (choose from auto, cpu, cuda, mps)")
        if self.backbone not in PROFILES:
            raise InputError(f"unknown backbone {self.backbone!r} (choose from {', '.join(PROFILES)})")
        if not isinstance(self.preview_every, int) or self.preview_every < 1:
            raise InputError("preview period must be >= 1")
        self._validate_edits()
        return self

    def _validate_edits(self) -> None:
        from .edit.plan import MOVE_CHOICES

        if self.edits and not self.init:
            raise InputError("--lock, --add, --fill-to, --region, --move and --resketch refine a sketch: give it "
                             "with --init")
        ids = list(self.lock) if isinstance(self.lock, (list, tuple, set, frozenset)) else None
        if ids is None or any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in ids):
            raise InputError(f"--lock takes stroke ids, whole numbers >= 0; got {self.lock!r}")
        self.lock = tuple(sorted(set(ids)))
        if self.add and self.fill_to:
            raise InputError("give --add N (that many new strokes) or --fill-to N (up to N strokes), not both")
        _whole("new strokes (--add)", self.add, 0, RUN_OPTIONS["strokes"].maximum)
        _whole("stroke count (--fill-to)", self.fill_to, 0, RUN_OPTIONS["strokes"].maximum, "0: none")
        if self.move not in MOVE_CHOICES:
            raise InputError(f"unknown --move {self.move!r} (choose from {', '.join(MOVE_CHOICES)})")

    def resolved_preset(self) -> Preset:
        """The preset with this config's iteration count applied."""
        preset = PRESETS[self.preset]
        return replace(preset, iterations=self.iterations) if self.iterations else preset

    @property
    def seed_count(self) -> int:
        return self.seeds if self.seeds is not None else PRESETS[self.preset].seeds


def _whole(name: str, value, low: int, high: float, zero: str = "") -> None:
    """A whole number from low to high; ``zero``: what 0 means on the command line, if anything."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        also = f" ({zero})" if zero else ""
        raise InputError(f"{name} must be a whole number from {low} to {high:g}{also}, got {value!r}")


def _number(name: str, value, option) -> None:
    """A finite number inside the option's range."""
    if not (isinstance(value, (int, float)) and math.isfinite(value)
            and option.minimum <= value <= option.maximum):
        raise InputError(f"{name} must be a number from {option.minimum:g} to {option.maximum:g}, "
                         f"got {value!r}")
