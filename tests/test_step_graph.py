"""The loss part of a step as a CUDA graph: the body it captures computes what the eager step does,
has static shapes and no data-dependent operator (it runs on the meta device); the trainer stepping
through ``LossGraphs`` gives the eager trainer's results; on CUDA (skipped elsewhere) a replayed
graph gives the eager step's results, is captured once per shape, and a failed capture falls back."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from clipasso_core.backbones import PROFILES, load_encoder
from clipasso_core.config import PRESETS
from clipasso_core.loss import ClipLoss
from clipasso_core.optimize import ClipObjective, Job, PointsTrainer, StrokeStyle, WithPointsPenalty, optimize_batch
from clipasso_core.saliency import init_strokes
from clipasso_core.step.graph import ENVIRONMENT, GraphWarning, LossGraphs, loss_and_grads

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU")


def _targets(device="cpu"):
    first = torch.ones(3, 224, 224, device=device)
    first[:, 60:160, 80:90] = 0.0
    second = torch.ones(3, 224, 224, device=device)
    second[:, 30:200, 100:110] = 0.0
    return first, second


def _jobs(loss, preset, device="cpu", seeds=(2, 1), strokes=(8, 5)):
    """Two images with seeds, stroke counts and styles of their own, fresh rngs."""
    jobs = []
    for j, (target, count, box) in enumerate(zip(_targets(device), strokes, ((0.0, 0.0, 224.0, 224.0), (20.0, 10.0, 210.0, 200.0)))):
        rngs = [np.random.default_rng(10 * j + s) for s in range(seeds[j])]
        starts = np.random.default_rng(j).uniform(40, 180, size=(count, 2)).astype(np.float32)
        points = torch.from_numpy(np.stack([init_strokes(starts, 224, np.random.default_rng(s)) for s in range(seeds[j])]))
        style = StrokeStyle(torch.full((count,), 3.0 + j, device=device),
                            torch.tensor([0.0, 0.0, 0.0, 1.0], device=device).expand(count, 4), box)
        jobs.append(Job(points.to(device), style, ClipObjective(loss, target, preset, rngs[0]), rngs))
    return jobs


@pytest.fixture(scope="module")
def loss():
    return ClipLoss(load_encoder(PROFILES["tiny-random"], "loss"))


PRESET = replace(PRESETS["default"], iterations=12, precision="fp32", eval_every=4, prune_at=0.5, seed_chunk=0)


def test_the_captured_body_computes_the_eager_steps_losses_and_image_gradients(loss):
    jobs = _jobs(loss, PRESET)
    trainer = PointsTrainer(jobs, 1.0)
    groups = trainer._by_job([(0, 0), (0, 1), (1, 0)])
    drawn = [job.style.render(points).detach() for job, points, _ in groups]
    sketches = [image.clone().requires_grad_(True) for image in drawn]
    eager = trainer._losses(groups, sketches, clean=False)
    sum(ClipLoss.step_loss(values).sum() for values in eager).backward()
    # the same draws from fresh generators of the same seeds
    fresh = _jobs(loss, PRESET)
    parts = [(job.objective, image, job.objective.targets.picks(job.objective.augmentations, [fresh[j].rngs[s] for s in seeds]))
             for j, ((_, _, seeds), image, job) in enumerate(zip(groups, drawn, jobs))]
    losses, grads = loss_and_grads(loss, parts)
    for mine, theirs in zip(losses, eager):
        assert mine.shape == theirs.shape == (len(mine), 1 + PRESET.augmentations)
        assert torch.allclose(mine, theirs.detach(), rtol=1e-5, atol=1e-7)
    for grad, sketch in zip(grads, sketches):
        assert torch.allclose(grad, sketch.grad, rtol=1e-4, atol=1e-9), (grad - sketch.grad).abs().max()


def test_the_captured_body_has_static_shapes_and_no_data_dependent_operator():
    # the meta device has no data: .item(), nonzero, boolean masks or a host copy of a result raise there
    meta = ClipLoss(load_encoder(PROFILES["tiny-random"], "loss")).to("meta")
    jobs = _jobs(meta, PRESET, device="meta")
    parts = [(job.objective, torch.empty(len(job.points), 3, 224, 224, device="meta"),
              job.objective.targets.picks(PRESET.augmentations, job.rngs)) for job in jobs]
    losses, grads = loss_and_grads(meta, parts)
    assert [tuple(values.shape) for values in losses] == [(2, 1 + PRESET.augmentations), (1, 1 + PRESET.augmentations)]
    assert [tuple(grad.shape) for grad in grads] == [(2, 3, 224, 224), (1, 3, 224, 224)]
    with pytest.raises(Exception):  # the check can fail: a data-dependent operator on meta
        grads[0].nonzero()


def test_graphs_take_only_bank_objectives_of_their_loss_without_points_terms(loss):
    graphs = LossGraphs(loss, torch.device("cpu"))
    objective = _jobs(loss, PRESET)[0].objective
    assert graphs.takes([objective])
    assert not graphs.takes([ClipObjective(loss, _targets()[0], replace(PRESET, target_bank=0), np.random.default_rng(0))])
    assert not graphs.takes([ClipObjective(loss, _targets()[0], replace(PRESET, overlap=1.0), np.random.default_rng(0))])
    assert not graphs.takes([WithPointsPenalty(objective, lambda points: points.sum((1, 2, 3)))])
    other = ClipLoss(load_encoder(PROFILES["tiny-random"], "loss"))
    assert not LossGraphs(other, torch.device("cpu")).takes([objective])
    assert graphs.state == "off (not CUDA)" and not graphs.enabled


def test_the_trainer_stepping_through_graphs_gives_the_eager_trainers_results(loss):
    eager = optimize_batch(_jobs(loss, PRESET), PRESET)
    graphs = LossGraphs(loss, torch.device("cpu"))  # not CUDA: the body runs eagerly
    through = optimize_batch(_jobs(loss, PRESET), PRESET, graphs=graphs)
    for mine, theirs in zip(through, eager):
        assert mine.iterations == theirs.iterations
        assert torch.allclose(mine.points, theirs.points, atol=1e-4), (mine.points - theirs.points).abs().max()
        assert mine.losses == pytest.approx(theirs.losses, rel=1e-5)


class _Failing(LossGraphs):
    """Graphs whose capture raises ``error`` (as if on CUDA): the fallback logic on any machine
    (``run`` less its switch to the CUDA device)."""

    error: Exception = RuntimeError("operation not permitted when stream is capturing")
    tries = 0

    @property
    def state(self) -> str:
        return "on" if self.failed is None else f"failed: {self.failed}"

    def run(self, parts):
        return self._replayed(parts) if self.enabled else loss_and_grads(self.loss, parts)

    def _capture(self, parts, key):
        self.tries += 1
        raise self.error


def test_a_failed_capture_warns_once_then_steps_eagerly_and_running_out_of_memory_is_raised(loss):
    jobs = _jobs(loss, PRESET)
    parts = [(job.objective, job.style.render(job.points).detach(), job.objective.targets.picks(4, job.rngs)) for job in jobs]
    graphs = _Failing(loss, torch.device("cpu"))
    with pytest.warns(GraphWarning, match="operation not permitted"):
        losses, grads = graphs.run(parts)
    assert graphs.state.startswith("failed: RuntimeError") and not graphs.enabled
    expected, expected_grads = loss_and_grads(loss, parts)
    assert all(torch.equal(a, b) for a, b in zip(losses + grads, expected + expected_grads))
    graphs.run(parts)
    assert graphs.tries == 1  # never tried again
    short = _Failing(loss, torch.device("cpu"))
    short.error = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    with pytest.raises(torch.OutOfMemoryError):  # the batch is halved by sketch_many, not stepped eagerly
        short.run(parts)
    assert short.failed is None
    broken = _Failing(loss, torch.device("cpu"))  # an operator broke the capture; its end reports another error
    try:
        raise RuntimeError("operation not permitted when stream is capturing")
    except RuntimeError:
        try:
            raise RuntimeError("CUDA error: operation failed due to a previous error during capture")
        except RuntimeError as second:
            broken.error = second
    with pytest.warns(GraphWarning):
        broken.run(parts)
    assert broken.failed == "RuntimeError: operation not permitted when stream is capturing"  # the root cause


@CUDA
@pytest.mark.parametrize("bf16", [False, True])
def test_a_replayed_graph_gives_the_eager_steps_results_on_cuda(bf16):
    cuda = torch.device("cuda")
    loss = ClipLoss(load_encoder(PROFILES["tiny-random"], "loss").to(cuda), bf16=bf16)
    preset = replace(PRESET, precision="auto" if bf16 else "fp32")
    eager = optimize_batch(_jobs(loss, preset, cuda), preset)
    graphs = LossGraphs(loss, cuda)
    jobs = _jobs(loss, preset, cuda)
    assert all(job.objective.targets.encoded.all() for job in jobs)  # on CUDA the bank is encoded up front
    through = optimize_batch(jobs, preset, graphs=graphs)
    assert graphs.state == "on" and graphs.captures == 2  # 2 + 1 seeds, then 1 + 1 after pruning
    assert graphs._graph is None and not graphs._held  # released with the run: its memory is free again
    tolerance = 0.5 if bf16 else 1e-3  # px after 12 steps; bf16 rounding differs between kernels
    for mine, theirs in zip(through, eager):
        assert mine.iterations == theirs.iterations
        assert torch.allclose(mine.points, theirs.points, atol=tolerance), (mine.points - theirs.points).abs().max()


@CUDA
def test_a_failed_capture_warns_once_and_steps_eagerly(monkeypatch):
    cuda = torch.device("cuda")
    loss = ClipLoss(load_encoder(PROFILES["tiny-random"], "loss").to(cuda))
    eager = optimize_batch(_jobs(loss, PRESET, cuda), PRESET)

    def broken(*args, **kwargs):
        raise RuntimeError("operation not permitted when stream is capturing")
    monkeypatch.setattr(torch.cuda, "graph", broken)
    graphs = LossGraphs(loss, cuda)
    with pytest.warns(GraphWarning):
        through = optimize_batch(_jobs(loss, PRESET, cuda), PRESET, graphs=graphs)
    assert graphs.state.startswith("failed: RuntimeError")
    for mine, theirs in zip(through, eager):
        assert torch.allclose(mine.points, theirs.points, atol=1e-4)


@CUDA
def test_graphs_can_be_switched_off(monkeypatch):
    monkeypatch.setenv(ENVIRONMENT, "0")
    graphs = LossGraphs(ClipLoss(load_encoder(PROFILES["tiny-random"], "loss").cuda()), torch.device("cuda"))
    assert graphs.state == f"off ({ENVIRONMENT}=0)" and not graphs.enabled


@CUDA
def test_a_replay_and_its_bank_draws_do_not_wait_for_the_device():
    cuda = torch.device("cuda")
    loss = ClipLoss(load_encoder(PROFILES["tiny-random"], "loss").to(cuda))
    jobs = _jobs(loss, PRESET, cuda)
    graphs = LossGraphs(loss, cuda)

    def parts():
        return [(job.objective, job.style.render(job.points).detach(), job.objective.targets.picks(PRESET.augmentations, job.rngs))
                for job in jobs]
    graphs.run(parts())  # captured here
    drawn = [part[1] for part in parts()]
    torch.cuda.set_sync_debug_mode("error")  # any host-device synchronisation raises
    try:
        picks = [job.objective.targets.picks(PRESET.augmentations, job.rngs) for job in jobs]
        losses, grads = graphs.run([(job.objective, image, index) for job, image, index in zip(jobs, drawn, picks)])
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert graphs.captures == 1 and [tuple(g.shape) for g in grads] == [(2, 3, 224, 224), (1, 3, 224, 224)]


@CUDA
def test_a_capture_broken_by_a_sync_falls_back_with_the_main_stream_current(monkeypatch):
    cuda = torch.device("cuda")
    loss = ClipLoss(load_encoder(PROFILES["tiny-random"], "loss").to(cuda))
    eager = optimize_batch(_jobs(loss, PRESET, cuda), PRESET)
    inputs = ClipObjective.bank_inputs

    def syncing(self, sketches, index):
        index.sum().item()  # a host read: not allowed while a stream is captured
        return inputs(self, sketches, index)
    monkeypatch.setattr(ClipObjective, "bank_inputs", syncing)
    graphs = LossGraphs(loss, cuda)
    with pytest.warns(GraphWarning):
        through = optimize_batch(_jobs(loss, PRESET, cuda), PRESET, graphs=graphs)
    assert graphs.state.startswith("failed:") and torch.cuda.current_stream() == torch.cuda.default_stream()
    for mine, theirs in zip(through, eager):
        assert torch.allclose(mine.points, theirs.points, atol=1e-4)
