"""The optimisation: Adam on the control points of all seeds at once, best-so-far kept per seed.

The pieces: ``StrokeStyle`` (what is fixed: widths, colours, the box points stay in, the canvas
size); an objective (``Objective``; ``ClipObjective`` is CLIPasso's loss, ``WithPointsPenalty`` adds
a term on the control points to any objective); ``PointsTrainer`` (one Adam step for the active
seeds); ``SeedTracker`` (best so far per seed, early stop, pruning); ``optimize_batch`` ties them together
for several images at once (a ``Job`` each), ``optimize`` for one.

All active seeds of all jobs are rendered (one rasterizer call per job) and encoded in one batch
(``seed_chunk`` seeds at a time, across jobs): jobs whose objectives are ``ClipObjective``s of one
``ClipLoss`` share one encoder call per chunk. Every job keeps its own seeds, trackers and random
streams, so a job's strokes are those of the same job optimised alone (up to float rounding of the
batched encoder). On CUDA the loss part of a step (encoder forward and backward) replays a CUDA
graph (``step.graph``) and step losses are read a step late (``step.readout``). With ``prune_at``
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
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np
import torch

from .augment import apply_grids, sample_grids
from .config import CANVAS, Preset
from .loss import ClipLoss, Features, overlap
from .rasterizer import render
from .step.readout import Readout

if TYPE_CHECKING:
    from .step.graph import LossGraphs


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


class JointObjective(Objective, Protocol):
    """An objective whose pairs can be encoded together with other jobs' pairs: ``loss`` is its
    encoder (jobs batched in one call share it); ``pair_inputs`` / ``clean_inputs`` the images to
    encode [B x P, 3, H, W] and their targets' features (P pairs per sketch, the clean pair first);
    ``finish`` turns the raw pair losses [B, P] of points [B, S, 4, 2] into the objective's."""

    loss: ClipLoss

    def pair_inputs(self, sketches: torch.Tensor, rngs: list[np.random.Generator]) -> tuple[torch.Tensor, Features]:
        ...

    def clean_inputs(self, sketches: torch.Tensor) -> tuple[torch.Tensor, Features]:
        ...

    def finish(self, losses: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        ...


def joint_raw_losses(loss: ClipLoss, inputs: list[tuple[torch.Tensor, Features]]) -> list[torch.Tensor]:
    """Raw pair losses [B_i x P_i] (sketch-major) of several jobs' (images [B_i x P_i, 3, H, W],
    their targets' features), in ONE ``loss`` encoder call."""
    features = loss.encode(torch.cat([images for images, _ in inputs]))
    raw = ClipLoss.pair_losses(features, Features.cat([targets for _, targets in inputs]))
    return list(raw.split([len(images) for images, _ in inputs]))


def joint_losses(parts: list[tuple[JointObjective, tuple[torch.Tensor, Features], torch.Tensor]]) -> list[torch.Tensor]:
    """Pair losses [B_i, P] of several jobs' (objective, (images, targets), points [B_i, S_i, 4, 2])
    with ONE encoder call (the objectives share ``loss``)."""
    encoder = parts[0][0].loss
    if any(objective.loss is not encoder for objective, _, _ in parts):
        raise ValueError("objectives encoded together must share one ClipLoss")
    raw = joint_raw_losses(encoder, [inputs for _, inputs, _ in parts])
    return [objective.finish(losses.view(len(points), -1), points)
            for (objective, _, points), losses in zip(parts, raw)]


class _OneJob:
    """``Objective``'s two calls for a ``JointObjective`` on its own: its pairs encoded in one call."""

    def pair_losses(self, sketches: torch.Tensor, points: torch.Tensor,
                    rngs: list[np.random.Generator]) -> torch.Tensor:
        return joint_losses([(self, self.pair_inputs(sketches, rngs), points)])[0]

    def clean_losses(self, sketches: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        return joint_losses([(self, self.clean_inputs(sketches), points)])[0][:, 0]


class TargetFeatures:
    """Target features for the loss: re-encoded for fresh augmentations every step (``bank`` = 0,
    the original), or from a fixed bank of ``bank`` augmentations (drawn up front from ``rng``)
    whose features are kept (in bfloat16 when the encoder computes in it): on a CPU encoded when
    an entry is first drawn (all new entries of a step in one batch; the first step does not wait
    for the whole bank), on CUDA all at once up front (one batch instead of a call per step)."""

    def __init__(self, loss: ClipLoss, target: torch.Tensor, bank: int, rng: np.random.Generator):
        self.loss, self.target, self.size = loss, target, target.shape[-1]
        with torch.no_grad():
            self.clean = loss.encode(target[None])
        self.grids = sample_grids(bank, self.size, rng).to(target.device) if bank else None
        self.bank: Features | None = None  # [bank, ...] once the first entries are encoded
        self.encoded = np.zeros(bank, dtype=bool)
        if bank and target.device.type == "cuda":  # a GPU encodes the whole bank in about one step's time
            self._fill(np.arange(bank))

    def _encode(self, grids: torch.Tensor) -> Features:
        images = apply_grids(self.target[None].expand(len(grids), -1, -1, -1), grids)
        return self.loss.encode(images)

    def draw(self, count: int, rngs: list[np.random.Generator]) -> list[tuple[torch.Tensor, Features]]:
        """Without a bank: ``count`` fresh augmentations for each generator, (grids [count, H, W, 2],
        target features of each) per generator, in their order."""
        drawn = []
        for rng in rngs:
            grids = sample_grids(count, self.size, rng).to(self.target.device)
            with torch.no_grad():
                drawn.append((grids, self._encode(grids)))
        return drawn

    def picks(self, count: int, rngs: list[np.random.Generator]) -> torch.Tensor:
        """From the bank: ``count`` distinct entries for each generator, index [len(rngs), count] on
        the target's device, every entry encoded. Only the host waits (a CUDA copy from pinned memory)."""
        picks = np.stack([rng.choice(len(self.grids), size=count, replace=False) for rng in rngs])
        self._fill(np.unique(picks))
        index = torch.from_numpy(picks)
        if self.target.device.type == "cuda":
            return index.pin_memory().to(self.target.device, non_blocking=True)
        return index.to(self.target.device)

    def gather(self, index: torch.Tensor) -> tuple[torch.Tensor, Features]:
        """Bank entries index [B, K]: grids [B, K, H, W, 2] and float32 target features [B x K, ...].
        Static shapes, no host-device synchronisation (a CUDA graph can hold it)."""
        flat = index.reshape(-1)
        return self.grids[flat].view(*index.shape, *self.grids.shape[1:]), self.bank[flat].to(torch.float32)

    @torch.no_grad()
    def _fill(self, wanted: np.ndarray) -> None:
        """Encode the bank entries ``wanted`` [N] not encoded yet, in one batch."""
        missing = wanted[~self.encoded[wanted]]
        if not len(missing):
            return
        index = torch.from_numpy(missing).to(self.target.device)
        features = self._encode(self.grids[index])
        if self.loss.bf16:  # the encoder's own precision; halves the bank
            features = features.to(torch.bfloat16)
        if self.bank is None:
            self.bank = Features(*(value.new_zeros(len(self.grids), *value.shape[1:])
                                   for value in (features.layer2, features.layer3, features.embedding)))
        for name in ("layer2", "layer3", "embedding"):
            getattr(self.bank, name)[index] = getattr(features, name)
        self.encoded[missing] = True


def _after_clean(clean: torch.Tensor, augmented: torch.Tensor, count: int) -> torch.Tensor:
    """[B x (1 + K), ...]: for each of ``count`` sketches the clean target's features clean [1, ...]
    followed by its K augmentations' augmented [B x K, ...]."""
    augmented = augmented.view(count, -1, *augmented.shape[1:])
    return torch.cat([clean.expand(count, *clean.shape[1:])[:, None], augmented], 1).flatten(0, 1)


class ClipObjective(_OneJob):
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

    def finish(self, losses: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """losses [B, P] plus the overlap penalty of points [B, S, 4, 2] (scaled by the clean pair's loss)."""
        if not self.overlap_weight:
            return losses
        penalty = self.overlap_weight * overlap(points, self.radius)
        return losses + (penalty * losses[:, 0].detach())[:, None]

    def pair_inputs(self, sketches: torch.Tensor, rngs: list[np.random.Generator]) -> tuple[torch.Tensor, Features]:
        if self.targets.grids is not None:
            return self.bank_inputs(sketches, self.targets.picks(self.augmentations, rngs))
        batch, target_feats = [], []
        for i, (grids, feats) in enumerate(self.targets.draw(self.augmentations, rngs)):
            batch += [sketches[i:i + 1], apply_grids(sketches[i:i + 1].expand(len(grids), -1, -1, -1), grids)]
            target_feats += [self.targets.clean, feats]
        return torch.cat(batch), Features.cat(target_feats)

    def bank_inputs(self, sketches: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, Features]:
        """``pair_inputs`` of sketches [B, 3, H, W] with the bank entries index [B, K] (``TargetFeatures.picks``):
        images [B x (1 + K), 3, H, W], each sketch then its K augmentations, and their targets'
        features. Static shapes, no host-device synchronisation."""
        count, pairs = index.shape
        grids, feats = self.targets.gather(index)
        augmented = apply_grids(sketches[:, None].expand(-1, pairs, -1, -1, -1).flatten(0, 1), grids.flatten(0, 1))
        images = torch.cat([sketches[:, None], augmented.view(count, pairs, *sketches.shape[1:])], 1)
        targets = Features(*(_after_clean(getattr(self.targets.clean, name), getattr(feats, name), count)
                             for name in ("layer2", "layer3", "embedding")))
        return images.flatten(0, 1), targets

    def clean_inputs(self, sketches: torch.Tensor) -> tuple[torch.Tensor, Features]:
        return sketches, self.targets.clean[[0] * len(sketches)]


class WithPointsPenalty(_OneJob):
    """``objective`` (a ``ClipObjective``) plus a term on the control points, penalty(points [B, S, 4,
    2]) -> [B] (e.g. a temporal term keeping strokes near flow-predicted positions). It is added to
    every pair, so the step loss and the evaluation each count it once."""

    def __init__(self, objective: JointObjective, penalty: Callable[[torch.Tensor], torch.Tensor]):
        self.objective, self.penalty, self.loss = objective, penalty, objective.loss

    def pair_inputs(self, sketches: torch.Tensor, rngs: list[np.random.Generator]) -> tuple[torch.Tensor, Features]:
        return self.objective.pair_inputs(sketches, rngs)

    def clean_inputs(self, sketches: torch.Tensor) -> tuple[torch.Tensor, Features]:
        return self.objective.clean_inputs(sketches)

    def finish(self, losses: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        return self.objective.finish(losses, points) + self.penalty(points)[:, None]


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


@dataclass
class Job:
    """One image's seeds in an optimisation: points [B, S, 4, 2] (canvas px) of its B seeds, drawn
    in ``style``, scored by ``objective``; rngs: one generator per seed (its augmentations);
    on_progress: called after every step the job takes part in. movable [S] (bool; None: all):
    the strokes that move; the others keep their starting points bit for bit. keep_in (None: the
    style's box only): maps points [..., 2] (canvas px) into the area moving strokes must stay in,
    applied after the clamp to the box."""

    points: torch.Tensor
    style: StrokeStyle
    objective: Objective
    rngs: list[np.random.Generator]
    on_progress: Callable[[StepReport], None] | None = None
    movable: torch.Tensor | None = None
    keep_in: Callable[[torch.Tensor], torch.Tensor] | None = None


Slot = tuple[int, int]
"""(job, seed): one seed of one job."""


class PointsTrainer:
    """Adam on the control points of every seed of every job (params[job][seed] [S, 4, 2], canvas
    px), one parameter group per job at lr x its ``scales`` entry (default 1). timings, when given,
    receives seconds per phase ("render", "loss"). graphs (``step.graph.LossGraphs``, or None):
    runs the loss part of steps taken in one chunk when it takes the jobs' objectives."""

    def __init__(self, jobs: list[Job], lr: float, timings: dict[str, float] | None = None,
                 scales: list[float] | None = None, graphs: LossGraphs | None = None):
        self.jobs = jobs
        self.graphs = graphs if graphs is not None and graphs.takes([job.objective for job in jobs]) else None
        if len(jobs) > 1 and not all(hasattr(job.objective, "pair_inputs") for job in jobs):
            raise ValueError("jobs optimised together need objectives that encode jointly (ClipObjective)")
        self.params = [[p.clone().requires_grad_(True) for p in job.points] for job in jobs]
        self.adam = torch.optim.Adam([{"params": params, "scale": scale}
                                      for params, scale in zip(self.params, scales or [1.0] * len(jobs))], lr=lr)
        self.clock = _Stopwatch(timings)  # seconds per phase into timings
        self.bounds = [(job.points.new_tensor(job.style.box[:2]), job.points.new_tensor(job.style.box[2:]))
                       for job in jobs]

    def step(self, slots: list[Slot], lr: float, chunk: int) -> torch.Tensor:
        """One Adam step at ``lr`` for ``slots`` (``chunk`` seeds per forward/backward, 0 = all), then
        the points clamped to their job's box. Returns the step's pair losses [len(slots), 1 + K]."""
        for group in self.adam.param_groups:
            group["lr"] = lr * group["scale"]
        self.adam.zero_grad(set_to_none=True)
        parts = _chunks(slots, chunk)
        losses = torch.cat([self._backward(part, graph=len(parts) == 1) for part in parts])
        self.adam.step()
        with torch.no_grad():
            for job, seed in slots:
                self._settle(job, seed)
        return losses

    def _settle(self, j: int, seed: int) -> None:
        """After a step: the job's points clamped to its box and moved by its ``keep_in``; strokes
        that do not move set back to their starting points."""
        job, param = self.jobs[j], self.params[j][seed]
        low, high = self.bounds[j]
        settled = torch.maximum(torch.minimum(param, high), low)
        if job.keep_in is not None:
            settled = job.keep_in(settled)
        if job.movable is not None:
            settled = torch.where(job.movable[:, None, None], settled, job.points[seed])
        param.copy_(settled)

    def _by_job(self, slots: list[Slot]) -> list[tuple[Job, torch.Tensor, list[int]]]:
        """(job, stacked points [B, S, 4, 2], seeds) per job of ``slots``, in their order."""
        seeds: dict[int, list[int]] = {}
        for job, seed in slots:
            seeds.setdefault(job, []).append(seed)
        return [(self.jobs[j], torch.stack([self.params[j][s] for s in ss]), ss) for j, ss in seeds.items()]

    def _losses(self, groups, sketches: list[torch.Tensor], clean: bool) -> list[torch.Tensor]:
        """Each group's pair losses [B, 1 + K] (clean: [B] of the clean pairs) from its sketches;
        several jobs in one encoder call."""
        if len(groups) == 1:
            job, points, seeds = groups[0]
            if clean:
                return [job.objective.clean_losses(sketches[0], points)]
            return [job.objective.pair_losses(sketches[0], points, [job.rngs[s] for s in seeds])]
        parts = [(job.objective, job.objective.clean_inputs(drawn) if clean else
                  job.objective.pair_inputs(drawn, [job.rngs[s] for s in seeds]), points)
                 for (job, points, seeds), drawn in zip(groups, sketches)]
        losses = joint_losses(parts)
        return [loss[:, 0] for loss in losses] if clean else losses

    def _backward(self, slots: list[Slot], graph: bool = False) -> torch.Tensor:
        """Pair losses [len(slots), 1 + K]; their step loss's gradient added to the points' grads
        (the loss part through ``graphs`` when ``graph`` and the trainer has them)."""
        groups = self._by_job(slots)
        with self.clock("render"):
            drawn = [job.style.render(points) for job, points, _ in groups]
        # two-stage backward: objective -> gradient of the images, then images -> control points
        with self.clock("loss"):
            if graph and self.graphs is not None:
                losses, grads = self.graphs.run([
                    (job.objective, image, job.objective.targets.picks(job.objective.augmentations,
                                                                       [job.rngs[s] for s in seeds]))
                    for (job, _, seeds), image in zip(groups, drawn)])
            else:
                sketches = [image.detach().requires_grad_(True) for image in drawn]
                losses = self._losses(groups, sketches, clean=False)
                sum(ClipLoss.step_loss(loss).sum() for loss in losses).backward()
                grads = [sketch.grad for sketch in sketches]
        with self.clock("render"):
            for image, grad in zip(drawn, grads):
                image.backward(grad)
        return torch.cat(losses).detach()

    @torch.no_grad()
    def clean_losses(self, slots: list[Slot]) -> list[float]:
        """The objectives' evaluation of the slots' points as they are now."""
        groups = [(job, points.detach(), seeds) for job, points, seeds in self._by_job(slots)]
        sketches = [job.style.render(points) for job, points, _ in groups]
        return torch.cat(self._losses(groups, sketches, clean=True)).tolist()


def optimize_batch(jobs: list[Job], preset: Preset, cancelled: Callable[[], bool] = lambda: False,
                   timings: dict[str, float] | None = None, graphs: LossGraphs | None = None) -> list[OptimizationResult]:
    """Optimise several jobs (images) together, each as ``optimize`` would alone: per job its own
    best-so-far, early stop and pruning; all active seeds step together (one encoder call per
    ``preset.seed_chunk`` seeds; ``graphs``: see ``PointsTrainer``). A job whose seeds have all
    stopped stops taking part. Step losses reach ``on_progress`` through a ``Readout`` (on CUDA
    one step late, so the host never waits for the step it just queued); the host waits for the
    device only at evaluations (every ``preset.eval_every`` steps). Returns one result per job."""
    try:
        return _optimize_batch(jobs, preset, cancelled, timings, graphs)
    finally:
        if graphs is not None:  # its graph's memory is this run's alone
            graphs.release()


def _optimize_batch(jobs: list[Job], preset: Preset, cancelled: Callable[[], bool],
                    timings: dict[str, float] | None, graphs: LossGraphs | None) -> list[OptimizationResult]:
    trainer = PointsTrainer(jobs, preset.lr, timings, [preset.lr_scale(job.points.shape[1]) for job in jobs], graphs)
    readout = Readout(jobs[0].points.device)
    clock = trainer.clock
    trackers = [SeedTracker(job.points, preset.min_delta, preset.patience) for job in jobs]
    start = time.perf_counter()
    was_cancelled = False

    def active() -> list[Slot]:
        return [(j, s) for j, tracker in enumerate(trackers) for s in tracker.active]

    def record_now(slots: list[Slot], values: list[float]) -> None:
        for (j, s), value in zip(slots, values):
            trackers[j].record_current([s], [value], trainer.params[j])

    for step in range(preset.iterations):
        if cancelled():
            was_cancelled = True
            break
        evaluating = step % preset.eval_every == 0
        if evaluating and not preset.reuse_eval:
            slots = active()
            with clock("eval"):
                values = trainer.clean_losses(slots)
            record_now(slots, values)
        slots = active()
        before = [trainer.params[j][s].detach().clone() for j, s in slots] if evaluating and preset.reuse_eval else []
        pair_loss = trainer.step(slots, _learning_rate(preset, step), preset.seed_chunk)
        for j, tracker in enumerate(trackers):
            tracker.stepped([s for job, s in slots if job == j])
        if evaluating and preset.reuse_eval:
            # the clean pair of this step scored the points as they were before the step
            for i, ((j, s), value) in enumerate(zip(slots, pair_loss[:, 0].tolist())):
                trackers[j].record(s, value, before[i], trackers[j].steps[s] - 1)
        for j, tracker in enumerate(trackers):
            if evaluating:
                tracker.stop_plateaued()
            if preset.prune_at and step + 1 == int(preset.prune_at * preset.iterations):
                tracker.prune_to_leader()
        _report(jobs, trackers, slots, ClipLoss.step_loss(pair_loss), readout,
                step + 1, preset.iterations, time.perf_counter() - start)
        if not active():
            break
    readout.flush()
    # the points as they are now may not have been evaluated yet (last steps, or a cancel)
    remaining = [(j, s) for j, tracker in enumerate(trackers) for s in tracker.unevaluated()]
    if remaining:
        record_now(remaining, trainer.clean_losses(remaining))
    return [OptimizationResult(t.best, t.best_loss, t.steps, was_cancelled) for t in trackers]


def _report(jobs: list[Job], trackers: list[SeedTracker], slots: list[Slot], step_losses: torch.Tensor,
            readout: Readout, iteration: int, total: int, elapsed_s: float) -> None:
    """Each reporting job's ``StepReport``: the mean of its seeds' step losses (of step_losses
    [len(slots)]) through ``readout``, its best so far as it is now."""
    reporting = [(j, [i for i, (owner, _) in enumerate(slots) if owner == j]) for j, job in enumerate(jobs)]
    reporting = [(j, rows) for j, rows in reporting if jobs[j].on_progress and rows]
    if not reporting:
        return
    # slots come job by job: a job's rows are consecutive, and a slice (unlike a list index) is not a host copy
    means = torch.stack([step_losses[rows[0]:rows[-1] + 1].mean() for _, rows in reporting])
    bests = []
    for j, _ in reporting:
        leader = trackers[j].leader
        best = trackers[j].best[leader]  # a view the next evaluation may overwrite before a late delivery
        bests.append((trackers[j].best_loss[leader], best.clone() if readout.lag else best))

    def deliver(values: list[float]) -> None:
        for (j, _), value, (best_loss, best) in zip(reporting, values, bests):
            jobs[j].on_progress(StepReport(iteration, total, value, best_loss, best, elapsed_s))
    readout.put(means, deliver)


def optimize(points: torch.Tensor, style: StrokeStyle, objective: Objective, preset: Preset,
             rngs: list[np.random.Generator], on_progress: Callable[[StepReport], None] | None = None,
             cancelled: Callable[[], bool] = lambda: False,
             timings: dict[str, float] | None = None, movable: torch.Tensor | None = None,
             keep_in: Callable[[torch.Tensor], torch.Tensor] | None = None) -> OptimizationResult:
    """Optimise points [B, S, 4, 2] (canvas px) of B seeds of one image, drawn in ``style``, against
    ``objective``.

    rngs: one generator per seed (its augmentations). timings (benchmarks) receives seconds per
    phase: "render", "loss" (objective forward and backward), "eval" (separate evaluations).
    movable, keep_in: as ``Job``'s.
    """
    job = Job(points, style, objective, rngs, on_progress, movable, keep_in)
    return optimize_batch([job], preset, cancelled, timings)[0]
