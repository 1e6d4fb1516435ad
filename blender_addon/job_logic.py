"""The bpy-free part of a run of the core (``job`` and ``animation_job`` drive it): the core's
arguments, the refine's --init sketch, the status line, and how a run ends. Everything exchanged with
the core is the contract's."""
from __future__ import annotations

from .contract import events, formats, options

RUNNING, FINISHED, CANCELLED, FAILED = "RUNNING", "FINISHED", "CANCELLED", "FAILED"
"""A job's states: running; ended with strokes in the scene; ended leaving the scene as it was
(cancelled before any result); failed (``SketchJob.error`` says why; nothing half-built is left)."""
PREVIEW_EVERY = 10
"""Iterations between the previews the scene shows."""


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


def init_sketch(width: float, height: float, centrelines, style: dict) -> formats.Sketch:
    """The --init sketch of a refine: the object's current centrelines (cubics in image px) in its
    current style. Checked like any sketch read (FormatError), so a broken edit is refused here."""
    sketch = formats.Sketch(width, height, [
        formats.Stroke([(x, y) for x, y in points], style["width_px"], style["color"], style["opacity"])
        for points in centrelines])
    return formats.Sketch.from_dict(sketch.to_dict())


def status_text(progress: events.Progress) -> str:
    """The status bar line for a progress event."""
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
