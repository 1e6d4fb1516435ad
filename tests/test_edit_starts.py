"""edit.starts: new strokes start where the loss wants ink."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from clipasso_core.edit.starts import fill_probabilities, ink_wanted


def test_ink_is_wanted_where_darkening_lowers_the_loss():
    target = torch.ones(3, 32, 32)
    target[:, 8:12, 20:24] = 0.0  # a dark patch the sketch lacks

    def clean_loss(images):
        return ((images - target) ** 2).flatten(1).sum(1)

    wanted = ink_wanted(torch.ones(3, 32, 32), clean_loss)
    assert wanted.shape == (32, 32) and wanted.max() == pytest.approx(1.0)
    row, col = np.unravel_index(wanted.argmax(), wanted.shape)
    assert 8 <= row < 12 and 20 <= col < 24
    assert wanted[25:, :8].max() < 0.01


def test_fill_probabilities_keep_to_the_allowed_pixels_and_fall_back():
    starts = np.full((4, 4), 1 / 16)
    wanted = np.zeros((4, 4))
    wanted[0, 0] = 1.0
    allowed = np.zeros((4, 4), dtype=bool)
    allowed[:2, :2] = True
    probs = fill_probabilities(starts, wanted, allowed)
    assert probs[0, 0] == pytest.approx(1.0)
    allowed[0, 0] = False  # no wanted ink left in the allowed area: the start distribution there
    probs = fill_probabilities(starts, wanted, allowed)
    assert probs.sum() == pytest.approx(1.0) and (probs[~allowed] == 0).all()
    assert probs[0, 1] == pytest.approx(1 / 3)
