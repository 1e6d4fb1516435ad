"""The optimiser: batched seeds, best-so-far, pruning, clamping, cancel."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from clipasso_core.backbones import PROFILES, load_encoder
from clipasso_core.config import PRESETS
from clipasso_core.loss import ClipLoss
from clipasso_core.optimize import optimize
from clipasso_core.rasterizer import render
from clipasso_core.saliency import init_strokes


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


def clean_loss(loss, target, pts, widths, colors):
    with torch.no_grad():
        image = render(pts[None], widths[None], colors[None], 224)
        return ClipLoss.pair_losses(loss.encode(image), loss.encode(target[None])).item()


def test_returns_each_seeds_best_and_clamps_to_the_box(setup):
    loss, target, points, widths, colors = setup
    preset = replace(PRESETS["paper"], iterations=30)
    box = (30.0, 40.0, 200.0, 190.0)
    result = optimize(points, widths, colors, target, loss, preset,
                      [np.random.default_rng(s) for s in range(3)], box)
    assert result.iterations == [30, 30, 30] and not result.cancelled
    for seed in range(3):
        p = result.points[seed]
        assert p[..., 0].min() >= 30 and p[..., 0].max() <= 200 and p[..., 1].min() >= 40 and p[..., 1].max() <= 190
        recomputed = clean_loss(loss, target, p, widths, colors)
        assert recomputed == pytest.approx(result.losses[seed], rel=1e-4)
        assert result.losses[seed] <= clean_loss(loss, target, points[seed], widths, colors) + 1e-6


def test_default_preset_prunes_to_the_best_seed(setup):
    loss, target, points, widths, colors = setup
    preset = replace(PRESETS["default"], iterations=40, precision="fp32")
    result = optimize(points, widths, colors, target, loss, preset,
                      [np.random.default_rng(s) for s in range(3)], (0.0, 0.0, 224.0, 224.0))
    assert sorted(result.iterations) == [10, 10, 40]
    winner = int(np.argmin(result.losses))
    assert result.iterations[winner] == 40


def test_cancel_before_the_first_step_returns_the_evaluated_start(setup):
    loss, target, points, widths, colors = setup
    preset = replace(PRESETS["paper"], iterations=30)
    result = optimize(points[:1], widths, colors, target, loss, preset, [np.random.default_rng(0)],
                      (0.0, 0.0, 224.0, 224.0), cancelled=lambda: True)
    assert result.cancelled and result.iterations == [0]
    assert torch.equal(result.points[0], points[0])
    assert result.losses[0] == pytest.approx(clean_loss(loss, target, points[0], widths, colors), rel=1e-4)
