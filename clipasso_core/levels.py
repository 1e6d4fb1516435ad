"""Drawing order and levels of abstraction from one run.

A stroke's importance is how much the loss rises when it alone is removed; all S removals and the
full sketch are scored in one batched forward (S + 1 images, clean pairs). Strokes are ordered most
important first. Levels (e.g. 32, 16, 8, 4): the largest is the optimised sketch; each smaller one
keeps the most important strokes of the level before it, removing the least important in
``SELECTION_ROUNDS`` rounds and ranking again between them (a stroke's importance changes as its
neighbours go; only the strokes that could still go are ranked again), fine-tunes them with a
short schedule (one seed, see ``fine_tune_steps``), then ranks them again. A stroke keeps its id
(its index in the first optimisation) through every level it survives.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from .config import Preset
from .optimize import Objective, StepReport, StrokeStyle, optimize
from .rasterizer import render

FINE_TUNE_FRACTION = 0.15
"""Steps of the first smaller level's fine-tuning, as a fraction of the preset's steps."""

SELECTION_ROUNDS = 2
"""Rounds in which a smaller level's strokes are removed, with a new ranking between rounds."""

RERANKED = 2
"""Between rounds, the strokes ranked again: this many times the number still to be removed."""


@dataclass
class Strokes:
    """Strokes points [S, 4, 2] (canvas px) with their ids [S] (identity through the levels)."""

    points: torch.Tensor
    ids: list[int]


@dataclass
class RankedStrokes(Strokes):
    """Strokes in rank order; loss: the clean-pair loss of all of them, importance [S]: the loss
    rise when each is removed."""

    loss: float
    importance: list[float]


@torch.no_grad()
def removal_losses(points: torch.Tensor, style: StrokeStyle, objective: Objective,
                   first: int = 0) -> tuple[float, torch.Tensor]:
    """The clean-pair loss of strokes points [S, 4, 2] and its rise [S - first] when each stroke from
    index ``first`` on is removed alone (one batched forward of S - first + 1 images)."""
    count, removed = len(points), len(points) - first
    batch = points[None].expand(removed + 1, -1, -1, -1)
    colors = style.colors.expand(removed + 1, -1, -1).clone()
    colors[torch.arange(removed), torch.arange(first, count), 3] = 0.0  # image i lacks stroke first + i
    images = render(batch, style.widths.expand(removed + 1, -1), colors, style.size)
    losses = objective.clean_losses(images, batch).float().cpu()
    return float(losses[removed]), losses[:removed] - losses[removed]


def rank_strokes(points: torch.Tensor, ids: list[int], style: StrokeStyle,
                 objective: Objective) -> RankedStrokes:
    """Order strokes points [S, 4, 2] by importance, most important first (one batched forward)."""
    loss, importance = removal_losses(points, style, objective)
    order = torch.argsort(importance, descending=True, stable=True)
    return RankedStrokes(points[order.to(points.device)], [ids[i] for i in order.tolist()], loss,
                         importance[order].tolist())


def pick_style(style: StrokeStyle, ids: list[int]) -> StrokeStyle:
    """The style of the strokes ``ids`` (in that order) from a style indexed by stroke id."""
    index = torch.tensor(ids, dtype=torch.long, device=style.widths.device)
    return StrokeStyle(style.widths[index], style.colors[index], style.box, style.size)


def select(ranked: RankedStrokes, count: int, style: StrokeStyle, objective: Objective) -> Strokes:
    """The ``count`` most important of ``ranked``'s strokes (count <= their number; ``style``: every
    stroke's, indexed by stroke id), the least
    important removed in SELECTION_ROUNDS equal rounds. Between rounds the kept strokes that could
    still go (the lowest ``RERANKED`` x as many as are left to remove) are ranked again (one batched
    forward); those above them keep their places."""
    points, ids, total = ranked.points, ranked.ids, len(ranked.points)
    for round_ in range(1, SELECTION_ROUNDS):
        keep = round(total - (total - count) * round_ / SELECTION_ROUNDS)
        if not count < keep < len(points):
            continue
        points, ids = points[:keep], ids[:keep]
        first = max(0, keep - RERANKED * (keep - count))
        _, rise = removal_losses(points, pick_style(style, ids), objective, first)
        order = torch.cat([torch.arange(first), first + torch.argsort(rise, descending=True, stable=True)])
        points, ids = points[order.to(points.device)], [ids[i] for i in order.tolist()]
    return Strokes(points[:count], ids[:count])


def fine_tune_steps(preset: Preset, count: int, first: int) -> int:
    """Fine-tuning steps of a level of ``count`` strokes: FINE_TUNE_FRACTION of the preset's steps
    for the first smaller level (``first`` strokes), scaled by sqrt(count / first) for the smaller
    ones (fewer strokes settle sooner: 32,16,8,4 in the fast preset's 90 steps fine-tune 14, 10, 7)."""
    return max(1, round(preset.iterations * FINE_TUNE_FRACTION * math.sqrt(count / first)))


def smaller_levels(top: RankedStrokes, counts: list[int], style: StrokeStyle, objective: Objective,
                   preset: Preset, rng: np.random.Generator,
                   on_level: Callable[[int, RankedStrokes], None] | None = None,
                   cancelled: Callable[[], bool] = lambda: False,
                   step_reporter: Callable[[int], Callable[[StepReport], None] | None] = lambda count: None,
                   movable: set[int] | None = None, keep_in: Callable[[torch.Tensor], torch.Tensor] | None = None,
                   ) -> list[RankedStrokes]:
    """The levels of ``counts`` (each smaller than the one before, all below len(top.points)), each
    from the most important strokes of the previous level, fine-tuned and ranked again (``style``:
    every stroke's, indexed by stroke id: strokes keep their own width and colour). Stops early
    (returning the levels done) when ``cancelled``. ``step_reporter(count)``: the fine-tune's step
    callback for the level of ``count`` strokes (or None). ``movable``: the ids of the strokes the
    fine-tuning may move (None: all; the others keep their points), ``keep_in``: as ``optimize``'s."""
    levels, previous = [], top
    for count in counts:
        if cancelled():
            break
        schedule = replace(preset, iterations=fine_tune_steps(preset, count, counts[0]), prune_at=0.0, seeds=1)
        kept = select(previous, count, style, objective)
        sub_style = pick_style(style, kept.ids)
        moves = None if movable is None else torch.tensor([i in movable for i in kept.ids], device=kept.points.device)
        result = optimize(kept.points[None], sub_style, objective, schedule, [rng], step_reporter(count), cancelled,
                          movable=moves, keep_in=keep_in)
        level = rank_strokes(result.points[0], kept.ids, sub_style, objective)
        if result.cancelled and result.iterations[0] == 0:
            break  # cancelled before this level's first step: it is not a level
        levels.append(level)
        if on_level is not None:
            on_level(count, level)
        previous = level
    return levels
