"""The optimiser: batched seeds, best-so-far, pruning, clamping, cancel; its pieces on their own."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from clipasso_core.backbones import PROFILES, load_encoder
from clipasso_core.config import PRESETS
from clipasso_core.loss import ClipLoss
from clipasso_core.optimize import ClipObjective, Job, PointsTrainer, SeedTracker, StrokeStyle, WithPointsPenalty, optimize, optimize_batch
from clipasso_core.rasterizer import render
from clipasso_core.saliency import init_strokes

FULL = (0.0, 0.0, 224.0, 224.0)


@pytest.fixture(scope="module")
def setup():
    loss = ClipLoss(load_encoder(PROFILES["tiny-random"], "loss"))
    target = torch.ones(3, 224, 224)
    target[:, 60:160, 80:90] = 0.0
    target[:, 150:160, 40:190] = 0.0
    rng = np.random.default_rng(0)
    starts = rng.uniform(40, 180, size=(8, 2)).astype(np.float32)
    points = torch.from_numpy(np.stack([init_strokes(starts, 224, np.random.default_rng(s)) for s in range(3)]))
    widths = torch.full((8,), 3.0)
    colors = torch.tensor([0.0, 0.0, 0.0, 1.0]).expand(8, 4)
    return loss, target, points, widths, colors


def run(setup, preset, box=FULL, seeds=3, **kwargs):
    loss, target, points, widths, colors = setup
    rngs = [np.random.default_rng(s) for s in range(seeds)]
    return optimize(points[:seeds], StrokeStyle(widths, colors, box), ClipObjective(loss, target, preset, rngs[0]),
                    preset, rngs, **kwargs)


def clean_loss(loss, target, pts, widths, colors):
    with torch.no_grad():
        image = render(pts[None], widths[None], colors[None], 224)
        return ClipLoss.pair_losses(loss.encode(image), loss.encode(target[None])).item()


def test_returns_each_seeds_best_and_clamps_to_the_box(setup):
    loss, target, points, widths, colors = setup
    box = (30.0, 40.0, 200.0, 190.0)
    result = run(setup, replace(PRESETS["paper"], iterations=30), box)
    assert result.iterations == [30, 30, 30] and not result.cancelled
    for seed in range(3):
        p = result.points[seed]
        assert p[..., 0].min() >= 30 and p[..., 0].max() <= 200 and p[..., 1].min() >= 40 and p[..., 1].max() <= 190
        recomputed = clean_loss(loss, target, p, widths, colors)
        assert recomputed == pytest.approx(result.losses[seed], rel=1e-4)
        assert result.losses[seed] <= clean_loss(loss, target, points[seed], widths, colors) + 1e-6


def test_default_preset_prunes_to_the_best_seed(setup):
    timings: dict[str, float] = {}
    progress = []
    result = run(setup, replace(PRESETS["default"], iterations=40, precision="fp32"), timings=timings,
                 on_progress=progress.append)
    assert sorted(result.iterations) == [10, 10, 40]
    winner = int(np.argmin(result.losses))
    assert result.iterations[winner] == 40
    assert set(timings) == {"render", "loss"}  # the evaluation reuses the step's clean pair
    assert [p.iteration for p in progress] == list(range(1, 41))
    assert progress[-1].best_loss >= min(result.losses)  # the pruned seeds' last points are scored at the end


def test_cancel_before_the_first_step_returns_the_evaluated_start(setup):
    loss, target, points, widths, colors = setup
    result = run(setup, replace(PRESETS["paper"], iterations=30), seeds=1, cancelled=lambda: True)
    assert result.cancelled and result.iterations == [0]
    assert torch.equal(result.points[0], points[0])
    assert result.losses[0] == pytest.approx(clean_loss(loss, target, points[0], widths, colors), rel=1e-4)


# --- SeedTracker: best so far, plateau stop, pruning ---

def test_tracker_keeps_each_seeds_best_points_and_loss():
    tracker = SeedTracker(torch.zeros(2, 1, 4, 2), min_delta=1e-5, patience=2)
    tracker.record(0, 5.0, torch.full((1, 4, 2), 1.0), after_steps=0)
    tracker.record(0, 7.0, torch.full((1, 4, 2), 2.0), after_steps=3)  # worse: the best stays
    tracker.record(1, 4.0, torch.full((1, 4, 2), 3.0), after_steps=0)
    assert tracker.best_loss == [5.0, 4.0] and tracker.leader == 1
    assert torch.all(tracker.best[0] == 1.0) and torch.all(tracker.best[1] == 3.0)
    assert tracker.evaluated_at == [3, 0]


def test_tracker_best_points_are_a_copy():
    tracker = SeedTracker(torch.zeros(1, 1, 4, 2), min_delta=0.0, patience=2)
    points = torch.ones(1, 4, 2)
    tracker.record(0, 1.0, points, after_steps=0)
    points += 5
    assert torch.all(tracker.best[0] == 1.0)


def test_tracker_stops_a_seed_after_patience_evaluations_on_a_plateau():
    tracker = SeedTracker(torch.zeros(2, 1, 4, 2), min_delta=0.1, patience=2)
    for value in (3.0, 3.05, 3.02):  # the first sets the best; two more within 0.1 of it
        tracker.record(0, value, torch.zeros(1, 4, 2), 0)
        tracker.record(1, value * 10, torch.zeros(1, 4, 2), 0)  # moving: never within 0.1
        tracker.stop_plateaued()
    assert tracker.plateau == [2, 0] and tracker.active == [1]


def test_tracker_plateau_count_resets_on_a_change():
    tracker = SeedTracker(torch.zeros(1, 1, 4, 2), min_delta=0.1, patience=3)
    for value in (3.0, 3.0, 2.0):
        tracker.record(0, value, torch.zeros(1, 4, 2), 0)
    assert tracker.plateau == [0] and tracker.best_loss == [2.0]


def test_tracker_prunes_to_the_active_leader_and_finds_unevaluated_seeds():
    tracker = SeedTracker(torch.zeros(3, 1, 4, 2), min_delta=0.0, patience=2)
    for seed, value in enumerate((2.0, 1.0, 3.0)):
        tracker.record(seed, value, torch.zeros(1, 4, 2), 0)
    tracker.active = [0, 2]  # seed 1, the overall leader, has stopped
    tracker.prune_to_leader()
    assert tracker.active == [0]
    tracker.prune_to_leader()  # one left: nothing to prune
    assert tracker.active == [0]
    tracker.stepped([0])
    assert tracker.steps == [1, 0, 0] and tracker.unevaluated() == [0]
    tracker.record_current([0], [1.5], [torch.full((1, 4, 2), 9.0)] * 3)
    assert tracker.unevaluated() == [] and tracker.best_loss[0] == 1.5 and torch.all(tracker.best[0] == 9.0)


# --- the objective ---

def test_clip_objective_pairs_clean_first(setup):
    loss, target, points, widths, colors = setup
    preset = replace(PRESETS["default"], precision="fp32", target_bank=8)
    objective = ClipObjective(loss, target, preset, np.random.default_rng(0))
    style = StrokeStyle(widths, colors, FULL)
    with torch.no_grad():
        sketches = style.render(points[:2])
        pairs = objective.pair_losses(sketches, points[:2], [np.random.default_rng(1), np.random.default_rng(2)])
        clean = objective.clean_losses(sketches, points[:2])
    assert pairs.shape == (2, 1 + preset.augmentations)
    assert torch.allclose(pairs[:, 0], clean, rtol=1e-5)
    assert clean[0].item() == pytest.approx(clean_loss(loss, target, points[0], widths, colors), rel=1e-5)
    assert not torch.allclose(pairs[:, 1:], pairs[:, :1].expand(-1, preset.augmentations))  # augmented pairs


def test_clip_objective_of_the_target_itself_has_a_zero_clean_pair(setup):
    loss, target = setup[:2]
    objective = ClipObjective(loss, target, PRESETS["paper"], np.random.default_rng(0))
    with torch.no_grad():
        assert objective.clean_losses(target[None], torch.zeros(1, 1, 4, 2)).abs().max().item() < 1e-5


def test_points_penalty_adds_once_to_the_step_loss_and_the_evaluation(setup):
    loss, target, points, widths, colors = setup
    preset = replace(PRESETS["paper"], augmentations=2)
    base = ClipObjective(loss, target, preset, np.random.default_rng(0))
    penalized = WithPointsPenalty(base, lambda p: p.sum(dim=(1, 2, 3)) * 0.0 + 7.0)
    sketches = StrokeStyle(widths, colors, FULL).render(points[:1]).detach()
    plain = base.pair_losses(sketches, points[:1], [np.random.default_rng(3)])
    more = penalized.pair_losses(sketches, points[:1], [np.random.default_rng(3)])
    assert torch.allclose(ClipLoss.step_loss(more), ClipLoss.step_loss(plain) + 7.0)
    with torch.no_grad():
        assert torch.allclose(penalized.clean_losses(sketches, points[:1]), base.clean_losses(sketches, points[:1]) + 7)


def test_points_penalty_gradient_reaches_the_points_in_a_step(setup):
    loss, target, points, widths, colors = setup
    preset = replace(PRESETS["paper"], augmentations=1)
    start = points[:1].clone()

    def pull_to_start(p):  # a stand-in for a temporal term: stay near given positions
        return 1e6 * (p - start).pow(2).sum(dim=(1, 2, 3))

    objective = WithPointsPenalty(ClipObjective(loss, target, preset, np.random.default_rng(0)), pull_to_start)
    trainer = PointsTrainer([Job(start, StrokeStyle(widths, colors, FULL), objective, [np.random.default_rng(0)])],
                            lr=1.0)
    trainer.params[0][0].data += 1.0  # off the positions by 1 px: the penalty's gradient dominates
    trainer.step([(0, 0)], lr=0.5, chunk=0)
    assert torch.allclose(trainer.params[0][0], start[0] + 0.5, atol=1e-3)  # Adam's first step: lr x sign


# --- one training step ---

def test_trainer_step_moves_only_the_given_seeds_and_clamps(setup):
    loss, target, points, widths, colors = setup
    box = (50.0, 50.0, 150.0, 150.0)
    rngs = [np.random.default_rng(s) for s in range(3)]
    objective = ClipObjective(loss, target, PRESETS["paper"], rngs[0])
    timings: dict[str, float] = {}
    trainer = PointsTrainer([Job(points, StrokeStyle(widths, colors, box), objective, rngs)], lr=1.0,
                            timings=timings)
    pairs = trainer.step([(0, 0), (0, 2)], lr=2.0, chunk=1)
    assert pairs.shape == (2, 5) and not pairs.requires_grad
    assert torch.equal(trainer.params[0][1], points[1])  # not stepped
    for seed in (0, 2):
        p = trainer.params[0][seed]
        assert not torch.equal(p, points[seed]) and p.min() >= 50 and p.max() <= 150
    assert set(timings) == {"render", "loss"}
    assert trainer.clean_losses([(0, 0)])[0] == pytest.approx(
        clean_loss(loss, target, trainer.params[0][0].detach(), widths, colors), rel=1e-5)


def test_overlap_adds_the_weighted_penalty_times_the_clean_loss_to_every_pair(setup):
    from clipasso_core.loss import overlap

    loss, target, points, widths, colors = setup
    preset = replace(PRESETS["paper"], augmentations=2)
    plain = ClipObjective(loss, target, preset, np.random.default_rng(0))
    penalised = ClipObjective(loss, target, replace(preset, overlap=2.0), np.random.default_rng(0), stroke_width=3.0)
    stacked = points[:1].clone()
    stacked[:, 1] = stacked[:, 0] + 1.0  # stroke 1 lies on stroke 0
    sketches = StrokeStyle(widths, colors, FULL).render(stacked).detach()
    with torch.no_grad():
        factor = 1 + 2.0 * overlap(stacked, 6.0)
        assert factor.item() > 1.05
        pairs = plain.pair_losses(sketches, stacked, [np.random.default_rng(3)])
        assert torch.allclose(penalised.pair_losses(sketches, stacked, [np.random.default_rng(3)]),
                              pairs + (factor - 1) * pairs[:, :1], rtol=1e-5)
        assert torch.allclose(penalised.clean_losses(sketches, stacked), plain.clean_losses(sketches, stacked) * factor,
                              rtol=1e-5)


# --- several images in one optimisation ---

def _jobs(setup, preset, seeds_per_job=(2, 1), strokes=(8, 5)):
    """Two images (targets, boxes, stroke counts and styles of their own) as jobs of fresh rngs."""
    loss, target, points, widths, colors = setup
    other = torch.ones(3, 224, 224)
    other[:, 30:200, 100:110] = 0.0
    jobs = []
    for j, (image, box, seeds, count) in enumerate(zip((target, other), (FULL, (20.0, 10.0, 210.0, 200.0)),
                                                       seeds_per_job, strokes)):
        rngs = [np.random.default_rng(10 * j + s) for s in range(seeds)]
        style = StrokeStyle(widths[:count] * (1 + j), colors[:count], box)
        jobs.append(Job(points[:seeds, :count].clone(), style, ClipObjective(loss, image, preset, rngs[0]), rngs))
    return jobs


@pytest.mark.parametrize("name", ["paper", "default"])
def test_a_job_optimised_in_a_batch_gives_the_strokes_it_gets_alone(setup, name):
    # two images of different stroke counts, seed counts, boxes and widths; fp32 so that the only
    # difference is the encoder's batch composition (float rounding): 1e-3 px after 24 steps
    preset = replace(PRESETS[name], iterations=24, precision="fp32", eval_every=4, prune_at=0.5 if name == "default" else 0.0)
    together = optimize_batch(_jobs(setup, preset), preset)
    for j, job in enumerate(_jobs(setup, preset)):
        alone = optimize(job.points, job.style, job.objective, preset, job.rngs)
        assert together[j].iterations == alone.iterations
        assert torch.allclose(together[j].points, alone.points, atol=1e-3), (together[j].points - alone.points).abs().max()
        assert together[j].losses == pytest.approx(alone.losses, rel=1e-4)


def test_a_batch_encodes_every_chunk_of_all_jobs_in_one_call(setup):
    preset = replace(PRESETS["paper"], iterations=3, eval_every=100)
    jobs = _jobs(setup, preset)
    calls = []
    loss = jobs[0].objective.loss
    original = loss.encode
    loss.encode = lambda images: calls.append(len(images)) or original(images)
    try:
        optimize_batch(jobs, preset)
    finally:
        del loss.encode
    step_calls = [n for n in calls if n == 3 * 5]  # 3 seeds x (clean + 4 augmented pairs), both images at once
    assert len(step_calls) == 3


def test_each_job_reports_its_own_progress_and_the_batch_ends_when_all_have_stopped(setup):
    preset = replace(PRESETS["paper"], iterations=6, eval_every=1, patience=1, min_delta=1e9)
    jobs = _jobs(setup, preset)
    reports = {0: [], 1: []}
    for j, job in enumerate(jobs):
        job.on_progress = reports[j].append
    results = optimize_batch(jobs, preset)
    # the second evaluation is within min_delta of the first: every seed stops after two steps
    assert [r.iterations for r in results] == [[2, 2], [2]]
    assert [len(reports[0]), len(reports[1])] == [2, 2]
    assert reports[1][0].best_points.shape == (5, 4, 2)


def test_the_bank_is_encoded_as_entries_are_first_drawn_and_equals_the_whole_bank_at_once(setup):
    from clipasso_core.optimize import TargetFeatures

    loss, target = setup[0], setup[1]
    lazy = TargetFeatures(loss, target, 8, np.random.default_rng(0))
    assert lazy.bank is None and not lazy.encoded.any()  # nothing encoded before the first draw
    index = lazy.picks(3, [np.random.default_rng(1), np.random.default_rng(2)])
    assert index.shape == (2, 3) and 3 <= lazy.encoded.sum() <= 6
    while not lazy.encoded.all():
        lazy.picks(3, [np.random.default_rng(int(lazy.encoded.sum()) + 10)])
    with torch.no_grad():
        whole = lazy._encode(lazy.grids)
    for name in ("layer2", "layer3", "embedding"):
        assert torch.allclose(getattr(lazy.bank, name), getattr(whole, name), atol=1e-5)
    pick = np.random.default_rng(2).choice(8, size=3, replace=False)  # the second generator's draw
    assert index[1].tolist() == pick.tolist()
    grids, features = lazy.gather(index)
    assert grids.shape == (2, 3, 224, 224, 2) and torch.equal(grids[1], lazy.grids[torch.from_numpy(pick)])
    features = features[3:]  # the second generator's entries
    assert torch.allclose(features.embedding, whole.embedding[torch.from_numpy(pick)], atol=1e-5)


def test_each_job_steps_at_the_lr_of_its_stroke_count(setup):
    # Adam's first step moves every coordinate with a gradient by lr: here lr x the job's scale
    preset = replace(PRESETS["default"], lr_strokes=4)
    jobs = _jobs(setup, preset, seeds_per_job=(1, 1), strokes=(8, 4))
    scales = [preset.lr_scale(8), preset.lr_scale(4)]
    assert scales == [pytest.approx(0.5 ** 0.5), 1.0]
    trainer = PointsTrainer(jobs, lr=1.0, scales=scales)
    trainer.step([(0, 0), (1, 0)], lr=1.0, chunk=0)
    for j, scale in enumerate(scales):
        moved = (trainer.params[j][0] - jobs[j].points[0]).abs()
        moved = moved[moved > 1e-6]
        assert torch.allclose(moved, torch.full_like(moved, scale), atol=1e-3)


def test_strokes_that_do_not_move_keep_their_points_bit_for_bit_and_moving_ones_keep_in(setup):
    loss, target, points, widths, colors = setup
    movable = torch.tensor([True, False, True, True, False, True, False, True])

    def keep_in(p):  # the left half of the canvas
        return torch.stack([p[..., 0].clamp(max=100.0), p[..., 1]], dim=-1)

    result = run(setup, replace(PRESETS["default"], iterations=25), movable=movable, keep_in=keep_in)
    assert torch.equal(result.points[:, ~movable], points[:, ~movable])
    moved = result.points[:, movable]
    assert moved[..., 0].max() <= 100.0 and not torch.equal(moved, points[:, movable])


def test_bank_inputs_are_each_sketch_then_its_augmentations_with_their_targets(setup):
    from clipasso_core.augment import apply_grids

    loss, target = setup[0], setup[1]
    objective = ClipObjective(loss, target, PRESETS["default"], np.random.default_rng(0))
    sketches = torch.rand(3, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    index = objective.targets.picks(4, [np.random.default_rng(s) for s in range(3)])
    images, targets = objective.bank_inputs(sketches, index)
    assert images.shape == (15, 3, 224, 224) and targets.embedding.shape[0] == 15
    bank = objective.targets.bank
    for i in range(3):
        assert torch.equal(images[5 * i], sketches[i])
        assert torch.equal(images[5 * i + 1:5 * i + 5], apply_grids(sketches[i:i + 1].expand(4, -1, -1, -1), objective.targets.grids[index[i]]))
        assert torch.equal(targets.layer2[5 * i], objective.targets.clean.layer2[0])
        assert torch.equal(targets.layer3[5 * i + 1:5 * i + 5], bank.layer3[index[i]].float())
        assert torch.equal(targets.embedding[5 * i + 1:5 * i + 5], bank.embedding[index[i]].float())
