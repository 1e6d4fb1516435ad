"""Animated sketches: frames in, strokes that move with them out (``clipasso animate``).

The first frame is sketched as ``sketch`` does (saliency init, best of seeds, strokes ranked). Every
later frame starts from the previous frame's strokes moved by the optical flow between the two
frames (``flow``) and runs a short schedule (``FRAME_FRACTION`` of the preset's steps at
``FRAME_LR`` of its learning rate, one seed) on the same loss plus a temporal term that keeps each
control point near its flow-predicted position: ``TEMPORAL_WEIGHT`` x the first frame's loss x the
mean squared distance (canvas px^2). Stroke k stays stroke k (same id and rank) in every frame. A
scene cut (the flow explains too little, ``flow.CUT_RESIDUAL``) starts that frame afresh.
"""
from __future__ import annotations

import os
import threading
import time
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
from .frames import FrameSource, open_frames
from .optimize import ClipObjective, WithPointsPenalty, optimize
from .pipeline import (CancelCheck, Engine, Prepared, _ranked_sketch, optimise_image, prepare, read_init, start_engine,
                       step_reporter)
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


def follow(engine: Engine, prepared: Prepared, predicted: torch.Tensor, reference_loss: float,
           rng: np.random.Generator, report, cancelled: Callable[[], bool]):
    """One later frame: strokes from ``predicted`` points [S, 4, 2] (canvas px) optimised on a short
    schedule with the temporal term. Returns (points [S, 4, 2], loss without the term, cancelled)."""
    schedule = frame_schedule(engine.preset)
    clip = ClipObjective(engine.load_loss(), prepared.target.to(engine.device), schedule, rng,
                         engine.config.canvas_stroke_width)
    weight = TEMPORAL_WEIGHT * abs(reference_loss)

    def temporal(points: torch.Tensor) -> torch.Tensor:
        return weight * (points - predicted).pow(2).sum(-1).mean((1, 2))

    style = engine.style(prepared, len(predicted))
    result = optimize(predicted[None], style, WithPointsPenalty(clip, temporal), schedule, [rng], report,
                      cancelled)
    points = result.points[0]
    with torch.no_grad():
        loss = clip.clean_losses(style.render(points[None]), points[None]).item()
    return points, loss, result.cancelled


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
    if fps is not None and not (0 < fps <= 1000):
        raise InputError(f"--fps must be from 0 (the input's) to 1000, got {fps!r}")
    source = frames if isinstance(frames, FrameSource) else open_frames(frames)
    selection = source.select(start, end, step)
    init = read_init(config.init) if config.init else None
    engine = start_engine(config, encoders)
    check = CancelCheck(cancel)
    cancelled = check.check
    started = time.perf_counter()
    done: list[Frame] = []
    losses: list[float] = []
    steps = cuts = 0
    previous: _Previous | None = None
    reference_loss = 0.0
    for index, image in selection:
        if done and cancelled():
            break
        frame_started = time.perf_counter()
        if previous is None:  # the first frame: before any model loads
            engine.check_models(image, init is not None)
        prepared = prepare(image, config)
        frame_grey = grey(image.rgb)
        flow = flow_between(previous.grey, frame_grey, image.width) if previous else None
        report = step_reporter(progress, config, prepared, index)
        is_cut = flow is not None and flow.is_cut
        if previous is None or is_cut:
            try:
                fresh = optimise_image(engine, prepared, init if previous is None else None, report, cancelled)
            except Cancelled:
                if done:
                    break
                raise
            ranked, was_cancelled = fresh.top, fresh.result.cancelled
            steps += fresh.result.iterations[fresh.winner]
            if previous is None:
                reference_loss, masked = ranked.loss, prepared.masked
            else:  # a cut: new strokes take the places (ids) of the old ones, most important first
                cuts += 1
                ranked = RankedStrokes(ranked.points, previous.strokes.ids, ranked.loss, ranked.importance)
            loss = ranked.loss
            if timings is not None and previous is None:
                timings["first_s"] = time.perf_counter() - frame_started
        else:
            t = prepared.transform
            moved = flow.move(_to_image(previous.strokes.points, t))
            rng = np.random.default_rng(config.seed + 1 + index)
            points, loss, was_cancelled = follow(engine, prepared, _to_canvas(moved, t, engine.device),
                                                 reference_loss, rng, report, cancelled)
            if was_cancelled:
                break
            steps += frame_schedule(engine.preset).iterations
            ranked = RankedStrokes(points, previous.strokes.ids, loss, previous.strokes.importance)
            if timings is not None:
                timings.setdefault("later_s", []).append(time.perf_counter() - frame_started)
        sketch = _ranked_sketch(ranked, config, prepared, {})
        done.append(Frame(index, sketch.strokes, is_cut))
        losses.append(loss)
        if progress is not None:
            progress(events.FrameDone(index, len(done), selection.total, round(loss, 6), done[-1].cut, sketch))
        previous = _Previous(frame_grey, ranked)
        if was_cancelled:
            break
    metadata = {**engine.metadata(), "strokes": config.strokes, "seed": config.seed, "frames": len(done),
                "start": start, "step": step, "cuts": cuts, "steps": steps,
                "mean_loss": round(float(np.mean(losses)), 6), "masked": masked,
                "cancelled": check.cut_short, "seconds": round(time.perf_counter() - started, 2)}
    return SketchSequence(source.width, source.height, fps or source.fps, done, metadata)
