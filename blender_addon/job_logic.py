"""The bpy-free part of a run of the core (``job`` and ``animation_job`` drive it): the core's
arguments, the refine's --init sketch, the status line, and how a run ends. Everything exchanged with
the core is the contract's."""
from __future__ import annotations

import os
import re

from .contract import events, formats, options

RUNNING, FINISHED, CANCELLED, FAILED = "RUNNING", "FINISHED", "CANCELLED", "FAILED"
"""A job's states: running; ended with strokes in the scene; ended leaving the scene as it was
(cancelled before any result); failed (``SketchJob.error`` says why; nothing half-built is left)."""
PREVIEW_EVERY = 10
"""Iterations between the previews the scene shows."""
CANVAS_PX = options.CANVAS_PX
"""Side of the core's square working canvas (px): ``--width`` is in px of it."""
PREFERENCES = "Edit > Preferences > Add-ons > Clipasso Sketch"
"""Where the add-on's settings are, in Blender's words."""
WEIGHT_FLAGS = {name: option.flag for name, option in options.WEIGHT_FILE_OPTIONS.items()}
"""Preference -> the core's flag of a local weights file (the contract's WEIGHT_FILE_OPTIONS)."""
WEIGHT_NAMES = {"clip_weights": "CLIP RN101 Weights", "saliency_weights": "CLIP ViT-B/32 Weights"}
"""Preference -> its label in the preferences."""
OPTION_LABELS = {"strokes": "Strokes", "seeds": "Seeds", "preset": "Preset", "iterations": "Iterations",
                 "mask": "Remove Background", "stroke_width": "Stroke Width", "color": "Colour",
                 "opacity": "Opacity", "backbone": "CLIP Weights", "levels": "Levels", "start": "Start",
                 "end": "End", "step": "Step", "fps": "FPS", "lock": "Lock Selected Strokes", "add": "Strokes to Add",
                 "fill_to": "Fill Erased", "region": "Region", "move": "Move"}
"""Run option -> the label of its field in the operators (the words messages use instead of flags)."""
WIDTH_UNITS = [("SCENE", "Scene Units", "Stroke width in scene units (the sketch's size in the scene)"),
               ("PIXELS", "Image px", "Stroke width in pixels of the image being sketched")]


def core_args(values: dict, preview_every: int = PREVIEW_EVERY) -> list[str]:
    """The ``clipasso sketch`` arguments for run options keyed by their ``RUN_OPTIONS`` names
    (``options.run_arguments``: checked, 0 seeds/iterations left to the preset), plus previews."""
    return options.run_arguments(values) + ["--preview-every", str(preview_every)]


def animate_args(values: dict) -> list[str]:
    """The ``clipasso animate`` arguments for option values keyed by their ``RUN_OPTIONS`` or
    ``ANIMATE_OPTIONS`` names (checked; 0 seeds/iterations, end -1 and fps 0 left to the core)."""
    if "levels" in values:
        raise formats.FormatError("an animation has one level of abstraction (no levels option)")
    return options.run_arguments(values)


def init_sketch(width: float, height: float, centrelines, style: dict, ids=None, locked=None) -> formats.Sketch:
    """The --init sketch of a refine: the object's current centrelines (cubics in image px) in its
    current style, with each stroke's id (``ids``: None where unknown; the core gives those fresh
    ones) and lock (``locked``: kept exactly by the core). Checked like any sketch read
    (FormatError), so a broken edit is refused here."""
    ids = list(ids) if ids is not None else [None] * len(centrelines)
    locked = list(locked) if locked is not None else [False] * len(centrelines)
    sketch = formats.Sketch(width, height, [
        formats.Stroke([(x, y) for x, y in points], style["width_px"], style["color"], style["opacity"],
                       id=stroke_id, locked=bool(lock))
        for points, stroke_id, lock in zip(centrelines, ids, locked)])
    return formats.Sketch.from_dict(sketch.to_dict())


def status_text(progress: events.Progress) -> str:
    """The status bar line for a progress event (a smaller level's fine-tune names the level)."""
    if progress.level is not None:
        return (f"Fine-tuning the level of {progress.level} strokes {progress.iteration}/{progress.total}  "
                f"(Esc: stop and keep the levels done)")
    return (f"Sketching {progress.iteration}/{progress.total}  loss {progress.best_loss:.4g}  "
            f"{progress.eta_s:.0f} s left  (Esc: stop and keep the best)")


def frame_status_text(progress: events.Progress, done: int, total: int | None, scene_frame: int | None = None) -> str:
    """The status bar line of an animation run: the frame being sketched (its scene frame when
    known, else the input frame), how many frames are done, and that frame's step."""
    if progress.frame is None:
        return status_text(progress)
    count = f"{done + 1}/{total}" if total else f"{done + 1}"
    shown = progress.frame if scene_frame is None else scene_frame
    return (f"Sketching frame {shown} ({count})  step {progress.iteration}/{progress.total}  "
            f"loss {progress.best_loss:.4g}  (Esc: stop and keep the frames done)")


def batch_status_text(progress: events.Progress, position: int, total: int, label: str) -> str:
    """The status bar line of a run of several images: "Image 2/3 horse.png: step 40/90 ..."
    (``position``: the image's place, from 1, among ``total``)."""
    where = f"Image {position}/{total} {label}"
    if progress.level is not None:
        return (f"{where}: fine-tuning the level of {progress.level} strokes {progress.iteration}/{progress.total}  "
                f"(Esc: stop and keep the best so far)")
    return (f"{where}: step {progress.iteration}/{progress.total}  loss {progress.best_loss:.4g}  "
            f"(Esc: stop and keep the best so far)")


def image_failure(label: str, message: str) -> str:
    """The report line of one image of several that failed (``label``: the image's name)."""
    return f"{label} failed: {blender_message(message)}"


def batch_end_text(kept: int, total: int, failed: int, stopped: bool) -> str:
    """The report of a run of several images that placed ``kept`` of ``total`` sketches."""
    text = f"stopped, kept {kept} of {total} sketches (the best strokes so far)" if stopped else \
        f"done, {kept} of {total} images sketched"
    return text + (f"; {failed} failed" if failed else "")


def frames_text(done: int, total: int | None) -> str:
    """The status bar line when a frame of an animation is done."""
    count = f"{done}/{total}" if total else f"{done}"
    return f"Frames done: {count}  (Esc: stop and keep the frames done)"


def animation_fraction(progress: events.Progress | None, done: int, total: int | None) -> float:
    """How far an animation run is, 0..1: frames done plus the current frame's share (without a
    known total: the current frame's steps)."""
    step = fraction(progress) if progress is not None else 0.0
    if not total:
        return step
    return min(1.0, max(0.0, (done + step) / total))


def level_text(counts: list[int]) -> str:
    """The status bar line once levels of abstraction arrive (the largest first)."""
    return (f"Levels done: {', '.join(str(c) for c in counts)} strokes  "
            f"(Esc: stop and keep the levels done)")


def levels_value(text: str) -> list[int]:
    """The Levels field checked (``options.parse_levels``: FormatError with the reason), largest
    first; [] when empty (one level)."""
    return options.parse_levels(text or "")


def fraction(progress: events.Progress) -> float:
    """How far the run is, 0..1."""
    return min(1.0, max(0.0, progress.iteration / progress.total)) if progress.total else 0.0


def end_state(cancel_requested: bool, shows_strokes: bool, done: bool, failure: str | None) -> str:
    """How a run that exited ends. ``shows_strokes``: the scene shows this run's strokes (a preview
    arrived, or it refines an existing sketch); ``done``: the core reported ``done``; ``failure``:
    ``CoreRun.failure()``. Esc before any strokes, or without a result, leaves the scene as it was;
    Esc after a preview keeps the best strokes so far."""
    if cancel_requested and (not shows_strokes or not done):
        return CANCELLED
    if failure or not done:
        return FAILED
    return FINISHED


def download_text(download: events.Download) -> str:
    """The status bar line for a ``download`` event: "Downloading CLIP RN101 weights: 120/290 MB"."""
    done = download.bytes / 1e6
    if download.total:
        amount = f"{done:.0f}/{download.total / 1e6:.0f} MB"
    else:
        amount = f"{done:.0f} MB"
    where = f", kept in {download.cache}" if download.cache else ""
    return f"Downloading {download.what}: {amount}  (first run only{where})"


def canvas_width(value: float, unit: str, long_side_units: float, long_side_px: float) -> float:
    """The core's ``--width`` (px of its 224 px canvas, which spans the image's long side) of a stroke
    width in scene units ("SCENE"; the sketch is ``long_side_units`` long) or image px ("PIXELS"; the
    image is ``long_side_px`` long); 0 is automatic: the core's default (the paper's width). FormatError
    in the field's own unit when the core cannot draw it."""
    option = options.RUN_OPTIONS["stroke_width"]
    if value == 0:
        return float(option.default)
    scale = long_side_units if unit == "SCENE" else long_side_px
    name = "scene units" if unit == "SCENE" else "image px"
    if not scale or scale <= 0:
        raise formats.FormatError(f"the sketch has no size to measure Stroke Width ({name}) against")
    width = value * CANVAS_PX / scale
    low, high = option.minimum * scale / CANVAS_PX, option.maximum * scale / CANVAS_PX
    if not option.minimum - 1e-9 <= width <= option.maximum + 1e-9:
        raise formats.FormatError(
            f"Stroke Width {value:.4g} {name} is too {'thin' if width < option.minimum else 'thick'} for this "
            f"sketch ({scale:.4g} {name} on its long side): choose from {low:.3g} to {high:.3g} {name}")
    return min(max(width, option.minimum), option.maximum)


def from_canvas_width(width: float, unit: str, long_side_units: float, long_side_px: float) -> float:
    """The stroke width in scene units or image px of a ``--width`` (the inverse of ``canvas_width``)."""
    return width * (long_side_units if unit == "SCENE" else long_side_px) / CANVAS_PX


def weight_args(paths: dict) -> list[str]:
    """The core's flags for the local weight files set in the preferences ({preference: path}; empty
    ones left out). FormatError naming the preference when a file is missing."""
    args = []
    for name, path in paths.items():
        if not path:
            continue
        if not os.path.isfile(path):
            raise formats.FormatError(f"the {WEIGHT_NAMES[name]} file set in {PREFERENCES} does not exist: {path}")
        args += [WEIGHT_FLAGS[name], path]
    return args


def blender_message(text: str) -> str:
    """A message of the core in Blender's words: its command-line flags become the fields and
    preferences a Blender user sets."""
    for name, flag in WEIGHT_FLAGS.items():
        where = f"the {WEIGHT_NAMES[name]} file (in {PREFERENCES})"
        text = re.sub(rf"{re.escape(flag)}(\s+PATH)?", where, text)
    text = re.sub(r"\s*\(or set CLIPASSO_[A-Z_]+\)", "", text)
    text = re.sub(r"\s*\(see clipasso[^)]*--help\)", "", text)
    for name, option in {**options.RUN_OPTIONS, **options.ANIMATE_OPTIONS, **options.EDIT_OPTIONS}.items():
        label = OPTION_LABELS.get(name)
        if not label:
            continue
        if option.choices:
            text = re.sub(rf"{re.escape(option.flag)}\s+({'|'.join(map(re.escape, option.choices))})\b",
                          lambda m, label=label: f"{label}: {m.group(1).replace('-', ' ').title()}", text)
        text = re.sub(rf"{re.escape(option.flag)}(?![\w-])", label, text)
    return text
