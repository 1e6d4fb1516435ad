"""The step loss: any number of sampled augmented pairs has the original's expected loss."""
from __future__ import annotations

import torch

from clipasso_core.loss import ClipLoss


def test_four_augmented_pairs_is_the_originals_mean_over_five_pairs():
    pairs = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0], [0.5, 0.0, 1.0, 0.0, 2.0]])
    assert torch.allclose(ClipLoss.step_loss(pairs), pairs.mean(dim=1))


def test_fewer_augmented_pairs_keep_the_clean_pair_at_one_fifth():
    pairs = torch.tensor([[10.0, 2.0, 4.0]])  # clean, two augmented
    assert torch.allclose(ClipLoss.step_loss(pairs), torch.tensor([0.2 * 10 + 0.8 * 3.0]))
    one = torch.tensor([[10.0, 5.0]])
    assert torch.allclose(ClipLoss.step_loss(one), torch.tensor([0.2 * 10 + 0.8 * 5.0]))


def test_equal_augmented_losses_give_the_same_value_for_any_count():
    for count in (1, 2, 4, 8):
        pairs = torch.cat([torch.tensor([[3.0]]), torch.full((1, count), 7.0)], dim=1)
        assert torch.allclose(ClipLoss.step_loss(pairs), torch.tensor([0.2 * 3 + 0.8 * 7]))


def test_clean_pair_alone_is_its_own_loss():
    assert torch.allclose(ClipLoss.step_loss(torch.tensor([[4.0], [6.0]])), torch.tensor([4.0, 6.0]))
