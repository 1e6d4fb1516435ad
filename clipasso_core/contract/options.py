"""The options of a sketch run as data: names, defaults, choices and ranges.

The core's command line and ``SketchConfig`` take their defaults from here, the Blender operators
build their properties from here, and a test checks the Inkscape ``.inx`` files against it, so a
default lives in one place. The core's own registries (presets, backbones, mask modes) must list
exactly the names in ``PRESETS``, ``BACKBONES`` and ``MASK_MODES`` (also tested).
"""
from __future__ import annotations

from dataclasses import dataclass

from .formats import MAX_LEVELS, MAX_STROKES, FormatError, check_color, check_number

PRESETS = ("default", "fast", "paper")
"""Optimisation recipes: balanced, quick preview, the original's (slow)."""
MASK_MODES = ("auto", "on", "off")
"""Background removal: when the background is not plain, always, never."""
BACKBONES = ("openai", "rn101-random", "tiny-random")
"""CLIP weights: OpenAI's (real), or random networks of the same shapes / tiny (tests only)."""
EDITOR_BACKBONES = ("openai", "tiny-random")
"""The backbones the editors offer (the real one, and the tiny one for smoke tests)."""
EDITOR_BATCH_SIZE = 8
"""Most images the editors have the core optimise together (``batch --batch-size``) when several
are selected (one encoder call per step for all of them; memory grows with their number)."""
MAX_SEEDS = 8
MAX_ITERATIONS = 20000
CANVAS_PX = 224
"""Side (px) of the core's square working canvas: ``--width`` is measured in its px."""


@dataclass(frozen=True)
class Option:
    """One run option. ``flag``: the CLI flag; ``minimum``/``maximum``: inclusive range of numbers;
    ``choices``: allowed values of a text option."""

    name: str
    flag: str
    default: object
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


RUN_OPTIONS = {o.name: o for o in (
    Option("strokes", "--strokes", 16, "number of strokes", 1, MAX_STROKES),
    Option("seeds", "--seeds", 0, "seeds optimised together, the best kept (0: the preset's)", 0,
           MAX_SEEDS),
    Option("preset", "--preset", "default", "speed/fidelity preset", choices=PRESETS),
    Option("iterations", "--iterations", 0, "optimisation steps (0: the preset's)", 0, MAX_ITERATIONS),
    Option("mask", "--mask", "auto", "background removal", choices=MASK_MODES),
    Option("stroke_width", "--width", 3.0, "stroke width in px of the 224 px working canvas, scaled with the "
           "picture: on an image L px on its longer side a stroke is width x L / 224 px wide (3 = the paper)",
           0.25, 20.0),
    Option("color", "--color", "#000000", "stroke colour #rrggbb"),
    Option("opacity", "--opacity", 1.0, "stroke opacity", 0.01, 1.0),
    Option("backbone", "--backbone", "openai", "CLIP weights", choices=BACKBONES),
    Option("levels", "--levels", "", "levels of abstraction from one run, e.g. 32,16,8,4 (the "
           "largest is the stroke count; empty: one level)"),
)}
"""Option name -> Option, for every option an editor sets."""
MAX_FRAME_INDEX = 10_000_000
ANIMATE_OPTIONS = {o.name: o for o in (
    Option("start", "--start", 0, "first input frame to sketch (0 = the input's first)", 0, MAX_FRAME_INDEX),
    Option("end", "--end", -1, "last input frame to sketch, inclusive (-1: the input's last)", -1,
           MAX_FRAME_INDEX),
    Option("step", "--step", 1, "sketch every K-th input frame", 1, 1000),
    Option("fps", "--fps", 0.0, "frames per second of the animation (0: the input's, 24 for images)", 0.0,
           1000.0),
)}
"""``clipasso animate``'s own options (it also takes every RUN_OPTIONS option but levels)."""
MOVE_CHOICES = ("auto", "new", "unlocked")
"""Which strokes of a refine move: auto (the new ones when strokes are added, else every unlocked
one), new (only the added ones), unlocked (every unlocked one and the added ones)."""
EDIT_OPTIONS = {o.name: o for o in (
    Option("lock", "--lock", "", "ids of --init strokes kept exactly as they are, e.g. 0-5,9 (besides those "
           "the file marks locked)"),
    Option("add", "--add", 0, "new strokes added to the --init sketch, started where ink is missing", 0,
           MAX_STROKES),
    Option("fill_to", "--fill-to", 0, "add as many strokes as the --init sketch lacks to have this many (0: none)",
           0, MAX_STROKES),
    Option("region", "--region", "", "where new strokes start and moving strokes stay: x0,y0,x1,y1 (a rectangle "
           "in image px), \"x,y x,y x,y ...\" (a polygon) or a mask image (white inside)"),
    Option("move", "--move", "auto", "which strokes move: auto (the new ones when adding, else every unlocked "
           "one), new, unlocked", choices=MOVE_CHOICES),
    Option("resketch", "--resketch", False, "the --init strokes that move start afresh where ink is missing "
           "(re-sketched around the strokes that stay) instead of where they are"),
)}
"""``clipasso sketch``'s refine options (with ``--init``: the artist in the loop)."""
WEIGHT_FILE_OPTIONS = {o.name: o for o in (
    Option("clip_weights", "--clip-weights", "", "local checkpoint file of the CLIP RN101 loss model"),
    Option("saliency_weights", "--saliency-weights", "", "local checkpoint file of the CLIP ViT-B/32 saliency model"),
)}
"""Local weight files instead of the first-run download (empty: download and cache)."""
LEFT_OUT = {"seeds": 0, "iterations": 0, "end": -1, "fps": 0, "add": 0, "fill_to": 0}
"""Option values that mean "the core's default" (the preset's, the input's): the flag is left out."""


def run_arguments(values: dict) -> list[str]:
    """The ``clipasso sketch`` / ``animate`` flags for options keyed by their RUN_OPTIONS,
    ANIMATE_OPTIONS, WEIGHT_FILE_OPTIONS or EDIT_OPTIONS names (lock: ids as a list or "0-5,9"), each checked against the table (FormatError naming
    the option otherwise; empty weight files are left out). With levels, their largest is the stroke
    count: ``strokes`` is left out (the core refuses a --strokes that disagrees)."""
    args = []
    with_levels = bool(parse_levels(values.get("levels") or ""))
    for name, value in values.items():
        if name == "strokes" and with_levels:
            continue
        option = _option(name)
        if isinstance(option.default, bool):
            if value not in (True, False):
                raise FormatError(f"{name} must be true or false, got {value!r}")
            args += [option.flag] if value else []
            continue
        text = option_text(name, value)
        if text is not None:
            args += [option.flag, text]
    return args


def option_text(name: str, value) -> str | None:
    """The core's text for the value of a (not true/false) option of ``run_arguments``, checked
    (FormatError naming it); None when its flag is left out (the core's default)."""
    option = _option(name)
    if option.choices:
        if value not in option.choices:
            raise FormatError(f"{name} must be one of {', '.join(option.choices)}, got {value!r}")
    elif name == "color":
        value = check_color(value, name)
    elif name in WEIGHT_FILE_OPTIONS or name in ("lock", "region"):
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        if not value:
            return None
        value = str(value)
    elif name == "levels":
        counts = parse_levels(value)
        if not counts:
            return None
        value = ",".join(str(c) for c in counts)
    else:
        number = check_number(value, name, option.minimum, option.maximum)
        if name in LEFT_OUT and number == LEFT_OUT[name]:
            return None
        value = int(number) if isinstance(option.default, int) else number
    return f"{value:g}" if isinstance(value, float) else str(value)


def _option(name: str) -> Option:
    option = (RUN_OPTIONS.get(name) or ANIMATE_OPTIONS.get(name) or WEIGHT_FILE_OPTIONS.get(name)
              or EDIT_OPTIONS.get(name))
    if option is None:
        raise FormatError(f"not a run option of the clipasso core: {name}")
    return option


def parse_levels(text) -> list[int]:
    """Level counts of "32,16,8,4" (any order) as a list largest first; [] for an empty text.
    FormatError unless they are distinct whole numbers from 1 to MAX_STROKES, at most MAX_LEVELS."""
    if isinstance(text, (list, tuple)):
        parts = list(text)
    else:
        parts = [p.strip() for p in str(text).split(",") if p.strip()]
    counts = []
    for part in parts:
        try:
            counts.append(int(part))
        except (TypeError, ValueError):
            raise FormatError(f"levels must be whole numbers like 32,16,8,4, got {part!r}") from None
    if any(c < 1 or c > MAX_STROKES for c in counts):
        raise FormatError(f"every level must be from 1 to {MAX_STROKES} strokes, got {text!r}")
    if len(set(counts)) != len(counts):
        raise FormatError(f"levels must be different from each other, got {text!r}")
    if len(counts) > MAX_LEVELS:
        raise FormatError(f"at most {MAX_LEVELS} levels, got {len(counts)}")
    return sorted(counts, reverse=True)
