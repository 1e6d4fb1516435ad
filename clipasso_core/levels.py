"""Drawing order and levels of abstraction from one run.

A stroke's importance is how much the loss rises when it alone is removed; all S removals and the
full sketch are scored in one batched forward (S + 1 images, clean pairs). Strokes are ordered most
important first. Levels (e.g. 32, 16, 8, 4): the largest is the optimised sketch; each smaller one
keeps the most important strokes of the level before it, removing the least important in
``SELECTION_ROUNDS`` rounds and ranking again between them (a stroke's importance changes as its
neighbours go), fine-tunes them with a short schedule (``FINE_TUNE_FRACTION`` of the
preset's steps, one seed), then ranks them again. A stroke keeps its
id (its index in the first optimisation) through every level it survives.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from .config import Preset
from .optimize import Objective, StrokeStyle, optimize
from .rasterizer import render

FINE_TUNE_FRACTION = 0.15
"""Steps of each smaller level's fine-tuning, as a fraction of the preset's steps."""

SELECTION_ROUNDS = 2
"""Rounds in which a smaller level's strokes are removed, with a new ranking between rounds."""


@dataclass
class RankedStrokes:
    """Strokes in rank order: points [S, 4, 2] (canvas px), ids [S] (identity through the levels),
    loss: the clean-pair loss of all of them, importance [S]: the loss rise when each is removed."""

    points: torch.Tensor
    ids: list[int]
    loss: float
    importance: list[float]


@torch.no_grad()
def rank_strokes(points: torch.Tensor, ids: list[int], style: StrokeStyle,
                 objective: Objective) -> RankedStrokes:
    """Order strokes points [S, 4, 2] by importance, most important first (one batched forward)."""
    count = len(points)
    batch = points[None].expand(count + 1, -1, -1, -1)
    colors = style.colors.expand(count + 1, -1, -1).clone()
    colors[torch.arange(count), torch.arange(count), 3] = 0.0  # image i lacks stroke i; the last is full
    images = render(batch, style.widths.expand(count + 1, -1), colors, style.size)
    losses = objective.clean_losses(images, batch).float().cpu()
    importance = losses[:count] - losses[count]
    order = torch.argsort(importance, descending=True, stable=True)
    return RankedStrokes(points[order.to(points.device)], [ids[i] for i in order.tolist()],
                         float(losses[count]), importance[order].tolist())


def _subset(style: StrokeStyle, count: int) -> StrokeStyle:
    return StrokeStyle(style.widths[:count], style.colors[:count], style.box, style.size)


def select(ranked: RankedStrokes, count: int, style: StrokeStyle, objective: Objective) -> RankedStrokes:
    """The ``count`` most important of ``ranked``'s strokes (count <= their number), the least
    important removed in SELECTION_ROUNDS equal rounds with a new ranking (one batched forward)
    between rounds. The result is in the order of the last ranking."""
    current, total = ranked, len(ranked.points)
    for round_ in range(1, SELECTION_ROUNDS):
        keep = round(total - (total - count) * round_ / SELECTION_ROUNDS)
        if count < keep < len(current.points):
            current = rank_strokes(current.points[:keep], current.ids[:keep], _subset(style, keep), objective)
    return RankedStrokes(current.points[:count], current.ids[:count], current.loss, current.importance[:count])


def smaller_levels(top: RankedStrokes, counts: list[int], style: StrokeStyle, objective: Objective,
                   preset: Preset, rng: np.random.Generator,
                   on_level: Callable[[int, RankedStrokes], None] | None = None,
                   cancelled: Callable[[], bool] = lambda: False) -> list[RankedStrokes]:
    """The levels of ``counts`` (each smaller than the one before, all below len(top.points)), each
    from the most important strokes of the previous level, fine-tuned and ranked again. Stops early
    (returning the levels done) when ``cancelled``."""
    schedule = replace(preset, iterations=max(1, round(preset.iterations * FINE_TUNE_FRACTION)),
                       prune_at=0.0, seeds=1)
    levels, previous = [], top
    for count in counts:
        if cancelled():
            break
        sub_style = _subset(style, count)
        kept = select(previous, count, style, objective)
        result = optimize(kept.points[None], sub_style, objective, schedule, [rng], cancelled=cancelled)
        level = rank_strokes(result.points[0], kept.ids, sub_style, objective)
        if result.cancelled and result.iterations[0] == 0:
            break  # cancelled before this level's first step: it is not a level
        levels.append(level)
        if on_level is not None:
            on_level(count, level)
        previous = level
    return levels
