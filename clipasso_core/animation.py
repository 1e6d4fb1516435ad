"""Animated sketches: frames in, strokes that move with them out (``clipasso animate``).

The first frame is sketched as ``sketch`` does (saliency init, best of seeds, strokes ranked). Every
later frame starts from the previous frame's strokes moved by the optical flow between the two
frames (``flow``) and runs a short schedule (``FRAME_FRACTION`` of the preset's steps at
``FRAME_LR`` of its learning rate, one seed) on the same loss plus a temporal term that keeps each
control point near its flow-predicted position: ``TEMPORAL_WEIGHT`` x the first frame's loss x the
mean squared distance (canvas px^2). Stroke k stays stroke k (same id and rank) in every frame. A
scene cut (the flow explains too little, ``flow.CUT_RESIDUAL``) starts that frame afresh.

With ``--init``, the init file's strokes are the first frame's and their count is the animation's;
each keeps its own width, colour and opacity (unless the config sets them) in every frame.
"""
from __future__ import annotations

import os
import threading
import time
import warnings
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from .backbones import Encoders
from .canvas import CanvasTransform
from .config import Preset, SketchConfig
from .contract import events
from .contract.sequence import Frame, SketchSequence
from .downloads import reporting
from .errors import Cancelled, InputError
from .flow import flow_between, grey
from .frames import FrameSource, FrameWarning, open_frames
from .image_io import nothing_to_sketch
from .optimize import ClipObjective, WithPointsPenalty, optimize
from .pipeline import (CancelCheck, Engine, ImageJob, _ranked_sketch, optimise_images, prepare, read_init,
                       start_engine, step_reporter, stroke_looks)
from .levels import RankedStrokes

FRAME_FRACTION = 0.1
"""Steps of each later frame, as a fraction of the preset's steps (at least 1)."""
FRAME_LR = 0.25
"""Learning rate of each later frame, as a fraction of the preset's."""
TEMPORAL_WEIGHT = 0.02
"""The temporal term per canvas px^2 of mean squared control-point distance from the flow-predicted
positions, as a fraction of the first frame's loss (chosen by tools/bench_animate.py)."""


@dataclass
class _Previous:
    """What the next frame continues from: the grey frame of ``flow`` and the ranked strokes."""

    grey: np.ndarray
    strokes: RankedStrokes


def _to_image(points: torch.Tensor, t: CanvasTransform) -> np.ndarray:
    ox, oy = t.offset
    return points.detach().cpu().numpy() * t.scale - np.array([ox, oy], dtype=np.float32)


def _to_canvas(points: np.ndarray, t: CanvasTransform, device: torch.device) -> torch.Tensor:
    ox, oy = t.offset
    return torch.from_numpy((points + np.array([ox, oy], dtype=np.float32)) / t.scale).float().to(device)


def frame_schedule(preset: Preset) -> Preset:
    """The short schedule of every frame after the first (one seed, no target bank: few steps)."""
    return replace(preset, iterations=max(1, round(preset.iterations * FRAME_FRACTION)),
                   lr=preset.lr * FRAME_LR, prune_at=0.0, seeds=1, target_bank=0)


def follow(engine: Engine, job: ImageJob, predicted: torch.Tensor, ids: list[int], reference_loss: float,
           rng: np.random.Generator, report, cancelled: Callable[[], bool]):
    """One later frame (``job``): strokes ``ids`` from ``predicted`` points [S, 4, 2] (canvas px)
    optimised on a short schedule with the temporal term. Returns (points [S, 4, 2], loss without the
    term, cancelled)."""
    schedule = frame_schedule(engine.preset)
    clip = ClipObjective(engine.load_loss(), job.prepared.target.to(engine.device), schedule, rng,
                         job.looks.stroke_width)
    weight = TEMPORAL_WEIGHT * abs(reference_loss)

    def temporal(points: torch.Tensor) -> torch.Tensor:
        return weight * (points - predicted).pow(2).sum(-1).mean((1, 2))

    style = job.looks.style(ids, job.prepared.transform.image_box(), engine.device)
    result = optimize(predicted[None], style, WithPointsPenalty(clip, temporal), schedule, [rng], report,
                      cancelled)
    points = result.points[0]
    with torch.no_grad():
        loss = clip.clean_losses(style.render(points[None]), points[None]).item()
    return points, loss, result.cancelled


def _in_places(ranked: RankedStrokes, ids: list[int], uniform: bool) -> RankedStrokes:
    """A scene cut's fresh strokes in the places of the strokes ``ids`` (the previous frame's order).
    They were optimised in those places, with those strokes' looks (``ranked.ids``). When every
    stroke looks the same, the new ones take the old places most important first; otherwise each
    keeps the place (and so the id and look) it was optimised in."""
    if uniform:
        return RankedStrokes(ranked.points, list(ids), ranked.loss, ranked.importance)
    order = [ranked.ids.index(i) for i in ids]
    return RankedStrokes(ranked.points[order], list(ids), ranked.loss, [ranked.importance[k] for k in order])


def animate(frames: str | os.PathLike | FrameSource, config: SketchConfig | None = None, *, start: int = 0,
            end: int | None = None, step: int = 1, fps: float | None = None,
            progress: Callable[[events.Event], None] | None = None,
            cancel: threading.Event | None = None, timings: dict[str, float] | None = None,
            encoders: Encoders | None = None) -> SketchSequence:
    """Sketch the frames ``start``, ``start + step``, ... ``end`` (inclusive, None = the last) of an
    input (a path: video, animated image, folder, glob or still; or a ``FrameSource``).

    progress receives ``Progress`` (with ``frame``) after every step, ``Preview`` and a ``FrameDone``
    per frame. Setting ``cancel`` keeps the frames done (a frame cut short is dropped, unless it is
    the first: then it is the best so far, as in ``sketch``); cancelled before any step, ``Cancelled``
    is raised. timings (benchmarks) receives "first_s" and "later_s" (seconds per later frame, a list).
    Model downloads (first run) report ``Download`` events to progress too. ``encoders``: as in
    ``sketch``.
    """
    with reporting(progress, cancel):
        return _animate(frames, config, start, end, step, fps, progress, cancel, timings, encoders)


def _animate(frames, config, start, end, step, fps, progress, cancel, timings, encoders) -> SketchSequence:
    config = (config or SketchConfig()).validate()
    if config.levels:
        raise InputError("--levels is for still sketches; an animation has one level (--strokes)")
    if config.edits:
        raise InputError("--lock, --add, --fill-to, --region, --move and --resketch refine a still sketch "
                         "(clipasso sketch)")
    if fps is not None and not (0 < fps <= 1000):
        raise InputError(f"--fps must be from 0 (the input's) to 1000, got {fps!r}")
    source = frames if isinstance(frames, FrameSource) else open_frames(frames)
    selection = source.select(start, end, step)
    init = read_init(config.init) if config.init else None
    if init is not None:  # the init's strokes are the animation's (a cut starts as many afresh)
        config = replace(config, strokes=len(init.strokes))
    engine = start_engine(config, encoders)
    check = CancelCheck(cancel)
    cancelled = check.check
    started = time.perf_counter()
    done: list[Frame] = []
    losses: list[float] = []
    steps = cuts = 0
    previous: _Previous | None = None
    reference_loss = 0.0
    plain: list[int] = []  # frames with nothing to sketch
    looks = None  # the strokes' looks, from the first frame's size
    for index, image in selection:
        if done and cancelled():
            break
        frame_started = time.perf_counter()
        if previous is None:  # the first frame: before any model loads
            engine.check_models(image, init is not None)
        if nothing_to_sketch(image):
            plain.append(index)
        prepared = prepare(image, config)
        looks = looks or stroke_looks(config, init, prepared.transform)
        job = ImageJob(config, init if previous is None else None, prepared, looks)
        frame_grey = grey(image.rgb)
        flow = flow_between(previous.grey, frame_grey, image.width) if previous else None
        ids = previous.strokes.ids if previous is not None else None
        report = step_reporter(progress, job, index, ids=ids)
        is_cut = flow is not None and flow.is_cut
        if previous is None or is_cut:
            try:
                fresh = optimise_images(engine, [job], [report], cancelled, ids=ids)[0]
            except Cancelled:
                if done:
                    break
                raise
            ranked, was_cancelled = fresh.top, fresh.result.cancelled
            steps += fresh.result.iterations[fresh.winner]
            if previous is None:
                reference_loss, masked = ranked.loss, prepared.masked
            else:
                cuts += 1
                ranked = _in_places(ranked, previous.strokes.ids, looks.uniform)
            loss = ranked.loss
            if timings is not None and previous is None:
                timings["first_s"] = time.perf_counter() - frame_started
        else:
            t = prepared.transform
            moved = flow.move(_to_image(previous.strokes.points, t))
            rng = np.random.default_rng(config.seed + 1 + index)
            points, loss, was_cancelled = follow(engine, job, _to_canvas(moved, t, engine.device),
                                                 previous.strokes.ids, reference_loss, rng, report, cancelled)
            if was_cancelled:
                break
            steps += frame_schedule(engine.preset).iterations
            ranked = RankedStrokes(points, previous.strokes.ids, loss, previous.strokes.importance)
            if timings is not None:
                timings.setdefault("later_s", []).append(time.perf_counter() - frame_started)
        sketch = _ranked_sketch(ranked, looks, prepared, {})
        done.append(Frame(index, sketch.strokes, is_cut))
        losses.append(loss)
        if progress is not None:
            progress(events.FrameDone(index, len(done), selection.total, round(loss, 6), done[-1].cut, sketch))
        previous = _Previous(frame_grey, ranked)
        if was_cancelled:
            break
    if plain:
        warnings.warn(f"{source.name}: {len(plain)} of the {selection.read} frames read have nothing to sketch "
                      f"(one plain colour or fully transparent; the first is frame {plain[0]}): their "
                      "strokes follow nothing there", FrameWarning, stacklevel=3)
    metadata = {**engine.metadata(), "strokes": config.strokes, "seed": config.seed, "frames": len(done),
                "frames_expected": selection.total, "frames_read": selection.read,
                "start": start, "step": step, "cuts": cuts, "steps": steps,
                "mean_loss": round(float(np.mean(losses)), 6), "masked": masked,
                "cancelled": check.cut_short, "seconds": round(time.perf_counter() - started, 2)}
    return SketchSequence(source.width, source.height, fps or source.fps, done, metadata)
