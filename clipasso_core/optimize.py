"""The optimisation: Adam on the control points of all seeds at once, best-so-far kept per seed.

All active seeds are rendered and encoded in one batch. With ``prune_at`` > 0 only the seed with
the best evaluation so far goes on after that fraction of the steps (the others keep their best). Every ``eval_every`` steps each seed's
clean-pair loss is its evaluation; the best points per seed are kept; a seed stops after
``patience`` evaluations in a row within ``min_delta`` of its best. Control points are clamped to
the image's box after every step, so every curve (inside the convex hull of its points) stays on
the image.
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .augment import apply_grids, sample_grids
from .config import Preset
from .loss import ClipLoss, Features
from .rasterizer import render


@dataclass
class Progress:
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
                self.bank = Features(*(getattr(self.bank, n).bfloat16() for n in ("layer2", "layer3", "embedding")))

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
        return self.grids[index.to(self.grids.device)], Features(picked.layer2.float(), picked.layer3.float(),
                                                                picked.embedding.float())


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


def _cat(features: list[Features]) -> Features:
    return Features(*(torch.cat([getattr(f, n) for f in features]) for n in ("layer2", "layer3", "embedding")))


def _learning_rate(preset: Preset, step: int) -> float:
    """Cosine decay from lr to lr * lr_end over the run (constant when lr_end = 1)."""
    progress = step / max(preset.iterations - 1, 1)
    return preset.lr * (preset.lr_end + (1 - preset.lr_end) * 0.5 * (1 + math.cos(math.pi * progress)))


def optimize(points: torch.Tensor, widths: torch.Tensor, colors: torch.Tensor, target: torch.Tensor,
             loss: ClipLoss, preset: Preset, rngs: list[np.random.Generator],
             box: tuple[float, float, float, float],
             on_progress: Callable[[Progress], None] | None = None,
             cancelled: Callable[[], bool] = lambda: False,
             timings: dict[str, float] | None = None) -> OptimizationResult:
    """Optimise points [B, S, 4, 2] (canvas px) of B seeds against target [3, H, W] (0..1).

    widths [S] (px) and colors [S, 4] (RGBA 0..1) are fixed. rngs: one generator per seed (its
    augmentations). box: (x0, y0, x1, y1) canvas px that points are clamped to.
    """
    seeds, size = points.shape[0], target.shape[-1]
    params = [p.clone().requires_grad_(True) for p in points]
    adam = torch.optim.Adam(params, lr=preset.lr)
    targets = TargetFeatures(loss, target, preset.target_bank, rngs[0])
    low = points.new_tensor(box[:2])
    high = points.new_tensor(box[2:])
    best = points.clone()
    best_loss = [math.inf] * seeds
    plateau = [0] * seeds
    steps = [0] * seeds
    evaluated_at = [-1] * seeds  # steps[seed] at the seed's last evaluation
    active = list(range(seeds))
    start = time.perf_counter()
    was_cancelled = False
    clock = _Stopwatch(timings)

    def evaluate(seed: int, value: float, seed_points: torch.Tensor, after_steps: int) -> None:
        """Record the loss ``value`` of ``seed_points``, the seed's points after ``after_steps`` steps."""
        evaluated_at[seed] = after_steps
        if abs(value - best_loss[seed]) <= preset.min_delta:
            plateau[seed] += 1
        else:
            plateau[seed] = 0
        if value < best_loss[seed]:
            best_loss[seed] = value
            best[seed] = seed_points.detach().clone()

    def clean_losses(seed_list: list[int]) -> list[float]:
        with torch.no_grad():
            sketches = render(torch.stack([params[s].detach() for s in seed_list]), widths.expand(len(seed_list), -1),
                              colors.expand(len(seed_list), -1, -1), size)
            feats = loss.encode(sketches)
            return ClipLoss.pair_losses(feats, targets.clean[[0] * len(seed_list)]).tolist()

    for step in range(preset.iterations):
        if cancelled():
            was_cancelled = True
            break
        evaluating = step % preset.eval_every == 0
        if evaluating and not preset.reuse_eval:
            with clock("eval"):
                values = clean_losses(active)
            for seed, value in zip(active, values):
                evaluate(seed, value, params[seed], steps[seed])
        for group in adam.param_groups:
            group["lr"] = _learning_rate(preset, step)
        pairs = 1 + preset.augmentations
        before = [params[s].detach().clone() for s in active] if evaluating and preset.reuse_eval else []
        adam.zero_grad(set_to_none=True)
        chunk_losses = []
        for chunk in _chunks(active, preset.seed_chunk):
            with clock("render"):
                drawn = render(torch.stack([params[s] for s in chunk]), widths.expand(len(chunk), -1),
                               colors.expand(len(chunk), -1, -1), size)
            # two-stage backward: CLIP loss -> gradient of the images, then images -> control points
            sketches = drawn.detach().requires_grad_(True)
            with clock("loss"):
                batch, target_feats = [], []
                for i, seed in enumerate(chunk):
                    grids, feats = targets.draw(preset.augmentations, rngs[seed])
                    batch += [sketches[i:i + 1], apply_grids(sketches[i:i + 1].expand(len(grids), -1, -1, -1), grids)]
                    target_feats += [targets.clean, feats]
                losses = ClipLoss.pair_losses(loss.encode(torch.cat(batch)), _cat(target_feats)).view(len(chunk), pairs)
                ClipLoss.step_loss(losses).sum().backward()
            with clock("render"):
                drawn.backward(sketches.grad)
            chunk_losses.append(losses.detach())
        pair_loss = torch.cat(chunk_losses)
        adam.step()
        with torch.no_grad():
            for seed in active:
                params[seed].copy_(torch.maximum(torch.minimum(params[seed], high), low))
                steps[seed] += 1
        if evaluating and preset.reuse_eval:
            # the clean pair of this step scored the points as they were before the step
            for i, seed in enumerate(active):
                evaluate(seed, pair_loss[i, 0].item(), before[i], steps[seed] - 1)
        if evaluating:
            active = [s for s in active if plateau[s] < preset.patience]
        if preset.prune_at and step + 1 == int(preset.prune_at * preset.iterations) and len(active) > 1:
            active = [min(active, key=lambda s: best_loss[s])]  # the other seeds keep their best
        if on_progress:
            leader = min(range(seeds), key=lambda s: best_loss[s])
            on_progress(Progress(step + 1, preset.iterations, ClipLoss.step_loss(pair_loss).mean().item(),
                                 best_loss[leader], best[leader], time.perf_counter() - start))
        if not active:
            break
    # the points as they are now may not have been evaluated yet (last steps, or a cancel)
    remaining = [s for s in range(seeds) if evaluated_at[s] != steps[s]]
    if remaining:
        for seed, value in zip(remaining, clean_losses(remaining)):
            evaluate(seed, value, params[seed], steps[seed])
    return OptimizationResult(best, best_loss, steps, was_cancelled)
