"""The optimisation: Adam on the control points of all seeds at once, best-so-far kept per seed.

The pieces: ``StrokeStyle`` (what is fixed: widths, colours, the box points stay in, the canvas
size); an objective (``Objective``; ``ClipObjective`` is CLIPasso's loss, ``WithPointsPenalty`` adds
a term on the control points to any objective); ``PointsTrainer`` (one Adam step for the active
seeds); ``SeedTracker`` (best so far per seed, early stop, pruning); ``optimize`` ties them together.

All active seeds are rendered and encoded in one batch (``seed_chunk`` at a time). With ``prune_at``
> 0 only the seed with the best evaluation so far goes on after that fraction of the steps (the
others keep their best). Every ``eval_every`` steps each seed's clean-pair loss is its evaluation;
the best points per seed are kept; a seed stops after ``patience`` evaluations in a row within
``min_delta`` of its best. Control points are clamped to the image's box after every step, so every
curve (inside the convex hull of its points) stays on the image.
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import torch

from .augment import apply_grids, sample_grids
from .config import CANVAS, Preset
from .loss import ClipLoss, Features, overlap
from .rasterizer import render


@dataclass
class StepReport:
    """What the optimiser reports after each step."""

    iteration: int
    total: int
    loss: float
    best_loss: float
    best_points: torch.Tensor  # [S, 4, 2] canvas px, the best seed's best points so far
    elapsed_s: float


@dataclass
class OptimizationResult:
    points: torch.Tensor  # [B, S, 4, 2] best points per seed (canvas px)
    losses: list[float]  # best evaluation loss per seed
    iterations: list[int]  # steps run per seed
    cancelled: bool


@dataclass(frozen=True)
class StrokeStyle:
    """What the optimiser does not change: stroke widths [S] (px) and colours [S, 4] (RGBA 0..1), the
    box (x0, y0, x1, y1) in canvas px that control points are clamped to, and the canvas size."""

    widths: torch.Tensor
    colors: torch.Tensor
    box: tuple[float, float, float, float]
    size: int = CANVAS

    def render(self, points: torch.Tensor) -> torch.Tensor:
        """Images [B, 3, size, size] of points [B, S, 4, 2]."""
        count = len(points)
        return render(points, self.widths.expand(count, -1), self.colors.expand(count, -1, -1), self.size)


class Objective(Protocol):
    """What ``optimize`` minimises, for a chunk of B seeds: their sketches [B, 3, H, W] and the control
    points [B, S, 4, 2] they were drawn from (gradients flow to both)."""

    def pair_losses(self, sketches: torch.Tensor, points: torch.Tensor,
                    rngs: list[np.random.Generator]) -> torch.Tensor:
        """Losses [B, 1 + K] of each sketch's pairs, the clean pair first (``ClipLoss.step_loss``
        weighs them); rngs: one per sketch, for its augmentations."""

    def clean_losses(self, sketches: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Losses [B] of the clean pairs alone (the evaluation)."""


class TargetFeatures:
    """Target features for the loss: re-encoded for fresh augmentations every step (``bank`` = 0,
    the original), or computed once for a fixed bank of augmentations that steps draw from."""

    def __init__(self, loss: ClipLoss, target: torch.Tensor, bank: int, rng: np.random.Generator):
        self.loss, self.target, self.size = loss, target, target.shape[-1]
        with torch.no_grad():
            self.clean = loss.encode(target[None])
            self.grids = sample_grids(bank, self.size, rng).to(target.device) if bank else None
            self.bank = self._encode(self.grids) if bank else None
            if self.bank is not None and loss.bf16:  # the encoder's own precision; halves the bank
                self.bank = self.bank.to(torch.bfloat16)

    def _encode(self, grids: torch.Tensor) -> Features:
        images = apply_grids(self.target[None].expand(len(grids), -1, -1, -1), grids)
        return self.loss.encode(images)

    def draw(self, count: int, rng: np.random.Generator) -> tuple[torch.Tensor, Features]:
        """``count`` augmentations: (grids [count, H, W, 2], target features of each)."""
        if self.grids is None:
            grids = sample_grids(count, self.size, rng).to(self.target.device)
            with torch.no_grad():
                return grids, self._encode(grids)
        index = torch.from_numpy(rng.choice(len(self.grids), size=count, replace=False))
        picked = self.bank[index.to(self.grids.device)]
        return self.grids[index.to(self.grids.device)], picked.to(torch.float32)


class ClipObjective:
    """CLIPasso's loss against target [3, H, W] (0..1): per sketch one clean pair and
    ``preset.augmentations`` augmented ones (the same augmentation on sketch and target), target
    features as ``preset.target_bank`` says (``TargetFeatures``; rng draws the bank). With
    ``preset.overlap`` > 0, overlap x ``loss.overlap`` of the points (radius 2 x ``stroke_width``
    px) x the clean pair's loss (no gradient through that factor) is added to every pair: a penalty
    on strokes lying on strokes, relative to the loss whatever the network's scale."""

    def __init__(self, loss: ClipLoss, target: torch.Tensor, preset: Preset, rng: np.random.Generator,
                 stroke_width: float = 3.0):
        self.loss, self.augmentations = loss, preset.augmentations
        self.targets = TargetFeatures(loss, target, preset.target_bank, rng)
        self.overlap_weight, self.radius = preset.overlap, 2.0 * stroke_width

    def _with_overlap(self, losses: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """losses [B] or [B, P] plus the overlap penalty of points [B, S, 4, 2] (scaled by the clean loss)."""
        if not self.overlap_weight:
            return losses
        penalty = self.overlap_weight * overlap(points, self.radius)
        scale = (losses if losses.dim() == 1 else losses[:, 0]).detach()
        return losses + (penalty * scale).view(-1, *([1] * (losses.dim() - 1)))

    def pair_losses(self, sketches: torch.Tensor, points: torch.Tensor,
                    rngs: list[np.random.Generator]) -> torch.Tensor:
        batch, target_feats = [], []
        for i, rng in enumerate(rngs):
            grids, feats = self.targets.draw(self.augmentations, rng)
            batch += [sketches[i:i + 1], apply_grids(sketches[i:i + 1].expand(len(grids), -1, -1, -1), grids)]
            target_feats += [self.targets.clean, feats]
        losses = ClipLoss.pair_losses(self.loss.encode(torch.cat(batch)), Features.cat(target_feats))
        return self._with_overlap(losses.view(len(rngs), 1 + self.augmentations), points)

    def clean_losses(self, sketches: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        clean = ClipLoss.pair_losses(self.loss.encode(sketches), self.targets.clean[[0] * len(sketches)])
        return self._with_overlap(clean, points)


class WithPointsPenalty:
    """``objective`` plus a term on the control points, penalty(points [B, S, 4, 2]) -> [B] (e.g. a
    temporal term keeping strokes near flow-predicted positions). It is added to every pair, so the
    step loss and the evaluation each count it once."""

    def __init__(self, objective: Objective, penalty: Callable[[torch.Tensor], torch.Tensor]):
        self.objective, self.penalty = objective, penalty

    def pair_losses(self, sketches: torch.Tensor, points: torch.Tensor,
                    rngs: list[np.random.Generator]) -> torch.Tensor:
        return self.objective.pair_losses(sketches, points, rngs) + self.penalty(points)[:, None]

    def clean_losses(self, sketches: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        return self.objective.clean_losses(sketches, points) + self.penalty(points)


def _chunks(items: list[int], size: int) -> list[list[int]]:
    """``items`` in consecutive groups of ``size`` (all in one group when size is 0)."""
    size = size or len(items)
    return [items[i:i + size] for i in range(0, len(items), size)]


class _Stopwatch:
    """``with clock(name):`` adds the block's wall time to ``timings[name]`` (no-op without timings)."""

    def __init__(self, timings: dict[str, float] | None):
        self.timings = timings

    @contextmanager
    def __call__(self, name: str):
        if self.timings is None:
            yield
            return
        start = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


def _learning_rate(preset: Preset, step: int) -> float:
    """Cosine decay from lr to lr * lr_end over the run (constant when lr_end = 1)."""
    progress = step / max(preset.iterations - 1, 1)
    return preset.lr * (preset.lr_end + (1 - preset.lr_end) * 0.5 * (1 + math.cos(math.pi * progress)))


class SeedTracker:
    """Per seed: the best points and evaluation loss so far, how many evaluations in a row came
    within ``min_delta`` of the best (plateau), the steps run and the step count at the last
    evaluation; and which seeds are still active."""

    def __init__(self, points: torch.Tensor, min_delta: float, patience: int):
        seeds = len(points)
        self.min_delta, self.patience = min_delta, patience
        self.best = points.clone()
        self.best_loss = [math.inf] * seeds
        self.plateau = [0] * seeds
        self.steps = [0] * seeds
        self.evaluated_at = [-1] * seeds  # steps[seed] at the seed's last evaluation
        self.active = list(range(seeds))

    def record(self, seed: int, value: float, points: torch.Tensor, after_steps: int) -> None:
        """Record the loss ``value`` of ``points``, the seed's points after ``after_steps`` steps."""
        self.evaluated_at[seed] = after_steps
        if abs(value - self.best_loss[seed]) <= self.min_delta:
            self.plateau[seed] += 1
        else:
            self.plateau[seed] = 0
        if value < self.best_loss[seed]:
            self.best_loss[seed] = value
            self.best[seed] = points.detach().clone()

    def record_current(self, seeds: list[int], values: list[float], params: list[torch.Tensor]) -> None:
        """Record the losses of the seeds' points as they are now (params[seed])."""
        for seed, value in zip(seeds, values):
            self.record(seed, value, params[seed], self.steps[seed])

    def stepped(self, seeds: list[int]) -> None:
        for seed in seeds:
            self.steps[seed] += 1

    def stop_plateaued(self) -> None:
        """Deactivate the seeds whose last ``patience`` evaluations were within ``min_delta`` of their best."""
        self.active = [s for s in self.active if self.plateau[s] < self.patience]

    def prune_to_leader(self) -> None:
        """Only the active seed with the best evaluation goes on (the others keep their best)."""
        if len(self.active) > 1:
            self.active = [min(self.active, key=lambda s: self.best_loss[s])]

    @property
    def leader(self) -> int:
        """The seed with the lowest loss so far."""
        return min(range(len(self.best_loss)), key=lambda s: self.best_loss[s])

    def unevaluated(self) -> list[int]:
        """The seeds whose points have changed since their last evaluation."""
        return [s for s in range(len(self.steps)) if self.evaluated_at[s] != self.steps[s]]


class PointsTrainer:
    """Adam on the control points of every seed (params[seed] [S, 4, 2], canvas px). timings, when
    given, receives seconds per phase ("render", "loss")."""

    def __init__(self, points: torch.Tensor, style: StrokeStyle, objective: Objective,
                 rngs: list[np.random.Generator], lr: float, timings: dict[str, float] | None = None):
        self.params = [p.clone().requires_grad_(True) for p in points]
        self.adam = torch.optim.Adam(self.params, lr=lr)
        self.style, self.objective, self.rngs = style, objective, rngs
        self.clock = _Stopwatch(timings)  # seconds per phase into timings
        self.low = points.new_tensor(style.box[:2])
        self.high = points.new_tensor(style.box[2:])

    def step(self, seeds: list[int], lr: float, chunk: int) -> torch.Tensor:
        """One Adam step at ``lr`` for ``seeds`` (``chunk`` seeds per forward/backward, 0 = all), then
        the points clamped to the box. Returns the step's pair losses [len(seeds), 1 + K]."""
        for group in self.adam.param_groups:
            group["lr"] = lr
        self.adam.zero_grad(set_to_none=True)
        losses = torch.cat([self._backward(part) for part in _chunks(seeds, chunk)])
        self.adam.step()
        with torch.no_grad():
            for seed in seeds:
                self.params[seed].copy_(torch.maximum(torch.minimum(self.params[seed], self.high), self.low))
        return losses

    def _backward(self, seeds: list[int]) -> torch.Tensor:
        """Pair losses [len(seeds), 1 + K]; their step loss's gradient added to the points' grads."""
        with self.clock("render"):
            points = torch.stack([self.params[s] for s in seeds])
            drawn = self.style.render(points)
        # two-stage backward: objective -> gradient of the images, then images -> control points
        sketches = drawn.detach().requires_grad_(True)
        with self.clock("loss"):
            losses = self.objective.pair_losses(sketches, points, [self.rngs[s] for s in seeds])
            ClipLoss.step_loss(losses).sum().backward()
        with self.clock("render"):
            drawn.backward(sketches.grad)
        return losses.detach()

    @torch.no_grad()
    def clean_losses(self, seeds: list[int]) -> list[float]:
        """The objective's evaluation of the seeds' points as they are now."""
        points = torch.stack([self.params[s].detach() for s in seeds])
        return self.objective.clean_losses(self.style.render(points), points).tolist()


def optimize(points: torch.Tensor, style: StrokeStyle, objective: Objective, preset: Preset,
             rngs: list[np.random.Generator], on_progress: Callable[[StepReport], None] | None = None,
             cancelled: Callable[[], bool] = lambda: False,
             timings: dict[str, float] | None = None) -> OptimizationResult:
    """Optimise points [B, S, 4, 2] (canvas px) of B seeds, drawn in ``style``, against ``objective``.

    rngs: one generator per seed (its augmentations). timings (benchmarks) receives seconds per
    phase: "render", "loss" (objective forward and backward), "eval" (separate evaluations).
    """
    trainer = PointsTrainer(points, style, objective, rngs, preset.lr, timings)
    clock = trainer.clock
    tracker = SeedTracker(points, preset.min_delta, preset.patience)
    start = time.perf_counter()
    was_cancelled = False
    for step in range(preset.iterations):
        if cancelled():
            was_cancelled = True
            break
        evaluating = step % preset.eval_every == 0
        if evaluating and not preset.reuse_eval:
            with clock("eval"):
                values = trainer.clean_losses(tracker.active)
            tracker.record_current(tracker.active, values, trainer.params)
        active = tracker.active
        before = [trainer.params[s].detach().clone() for s in active] if evaluating and preset.reuse_eval else []
        pair_loss = trainer.step(active, _learning_rate(preset, step), preset.seed_chunk)
        tracker.stepped(active)
        if evaluating and preset.reuse_eval:
            # the clean pair of this step scored the points as they were before the step
            for i, seed in enumerate(active):
                tracker.record(seed, pair_loss[i, 0].item(), before[i], tracker.steps[seed] - 1)
        if evaluating:
            tracker.stop_plateaued()
        if preset.prune_at and step + 1 == int(preset.prune_at * preset.iterations):
            tracker.prune_to_leader()
        if on_progress:
            leader = tracker.leader
            on_progress(StepReport(step + 1, preset.iterations, ClipLoss.step_loss(pair_loss).mean().item(),
                                 tracker.best_loss[leader], tracker.best[leader], time.perf_counter() - start))
        if not tracker.active:
            break
    # the points as they are now may not have been evaluated yet (last steps, or a cancel)
    remaining = tracker.unevaluated()
    if remaining:
        tracker.record_current(remaining, trainer.clean_losses(remaining), trainer.params)
    return OptimizationResult(tracker.best, tracker.best_loss, tracker.steps, was_cancelled)
