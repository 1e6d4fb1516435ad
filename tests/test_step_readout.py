"""Step losses read on the host without stalling the device: deliveries lag as asked, keep their
order, and the optimiser's reports are the same whether they are delivered at once or a step late."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from clipasso_core.backbones import PROFILES, load_encoder
from clipasso_core.config import PRESETS
from clipasso_core.loss import ClipLoss
from clipasso_core.optimize import ClipObjective, StrokeStyle, optimize
from clipasso_core.saliency import init_strokes
from clipasso_core.step.readout import Readout


def test_a_cpu_readout_delivers_at_once():
    got = []
    readout = Readout(torch.device("cpu"))
    assert readout.lag == 0
    readout.put(torch.tensor([1.5, 2.0]), got.append)
    assert got == [[1.5, 2.0]]


def test_a_lagging_readout_delivers_in_order_once_later_puts_are_queued_and_on_flush():
    got = []
    readout = Readout(torch.device("cpu"), lag=2)
    for k in range(4):
        readout.put(torch.tensor([float(k)]), got.append)
        assert got == [[float(i)] for i in range(k - 1)]  # at most 2 pending
    readout.flush()
    assert got == [[0.0], [1.0], [2.0], [3.0]] and not readout.pending


def test_cuda_readouts_lag_one_step_by_default():
    assert Readout.CUDA_LAG == 1 and Readout(torch.device("cpu"), lag=None).lag == Readout.OTHER_LAG == 0


def _reports(lag: int, monkeypatch) -> list:
    monkeypatch.setattr(Readout, "OTHER_LAG", lag)
    loss = ClipLoss(load_encoder(PROFILES["tiny-random"], "loss"))
    target = torch.ones(3, 224, 224)
    target[:, 60:160, 80:90] = 0.0
    starts = np.random.default_rng(0).uniform(40, 180, size=(6, 2)).astype(np.float32)
    points = torch.from_numpy(np.stack([init_strokes(starts, 224, np.random.default_rng(s)) for s in range(2)]))
    style = StrokeStyle(torch.full((6,), 3.0), torch.tensor([0.0, 0.0, 0.0, 1.0]).expand(6, 4), (0.0, 0.0, 224.0, 224.0))
    preset = replace(PRESETS["default"], iterations=9, eval_every=2, precision="fp32", prune_at=0.5, seed_chunk=0)
    rngs = [np.random.default_rng(s) for s in range(2)]
    reports = []
    result = optimize(points, style, ClipObjective(loss, target, preset, rngs[0]), preset, rngs,
                      lambda r: reports.append((r.iteration, r.loss, r.best_loss, r.best_points.clone())))
    assert len(reports) == 9  # every report delivered before optimize returns
    return reports, result


def test_reports_delivered_a_step_late_are_those_delivered_at_once(monkeypatch):
    at_once, first = _reports(0, monkeypatch)
    late, second = _reports(1, monkeypatch)
    assert torch.equal(first.points, second.points)
    for (i, loss, best_loss, best), (j, late_loss, late_best_loss, late_best) in zip(at_once, late):
        assert (i, loss, best_loss) == (j, late_loss, late_best_loss)
        assert torch.equal(best, late_best)  # the best as it was at that step, not as it is on delivery
    assert len({loss for _, loss, _, _ in late}) > 1 and len({b for _, _, b, _ in late}) > 1
