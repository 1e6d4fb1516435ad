"""The step loss: any number of sampled augmented pairs has the original's expected loss."""
from __future__ import annotations

import torch

from clipasso_core.backbones import PROFILES, load_encoder, normalize
from clipasso_core.loss import ClipLoss, Features


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


def test_encode_is_the_encoders_features_in_float32():
    encoder = load_encoder(PROFILES["tiny-random"], "loss")
    images = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        features = ClipLoss(encoder).encode(images)
        direct = encoder.features(normalize(images, encoder))
    for name in ("layer2", "layer3", "embedding"):
        assert torch.equal(getattr(features, name), getattr(direct, name))
    assert ClipLoss(encoder.visual).encoder.visual is encoder.visual  # a bare tower is wrapped


def test_bf16_encode_returns_float32_close_to_fp32():
    images = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        exact = ClipLoss(load_encoder(PROFILES["tiny-random"], "loss")).encode(images)
        fast = ClipLoss(load_encoder(PROFILES["tiny-random"], "loss"), bf16=True).encode(images)
    assert fast.layer3.dtype == torch.float32 and fast.embedding.dtype == torch.float32
    assert torch.nn.functional.cosine_similarity(fast.embedding, exact.embedding).item() > 0.95


def test_pair_losses_are_zero_for_equal_features_and_grow_with_the_difference():
    a = Features(torch.zeros(2, 4, 28, 28), torch.zeros(2, 8, 14, 14), torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    b = Features(torch.zeros(2, 4, 28, 28), torch.ones(2, 8, 14, 14) * torch.tensor([[[[0.0]]], [[[2.0]]]]),
                 torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    assert torch.allclose(ClipLoss.pair_losses(a, a), torch.zeros(2))
    assert torch.allclose(ClipLoss.pair_losses(a, b), torch.tensor([0.0, 4.0 + 0.1 * 1.0]))


def line(x0, y0, x1, y1):
    """Control points [4, 2] of a straight cubic."""
    return [[x0 + (x1 - x0) * k / 3, y0 + (y1 - y0) * k / 3] for k in range(4)]


def test_overlap_counts_strokes_side_by_side_and_folded_not_apart_or_crossing():
    from clipasso_core.loss import overlap

    apart = torch.tensor([[line(40, 60, 180, 60), line(40, 160, 180, 160)]])
    crossing = torch.tensor([[line(40, 100, 180, 100), line(110, 30, 110, 170)]])
    side_by_side = torch.tensor([[line(40, 60, 180, 60), line(40, 63, 180, 63)]])
    folded = torch.tensor([[[[40.0, 100.0], [200.0, 100.0], [200.0, 103.0], [40.0, 103.0]]]])
    values = overlap(torch.cat([apart, crossing, side_by_side]), radius=6.0)
    assert values[0] == 0 and values[1] < 0.05 and values[2] > 0.2
    assert overlap(folded, radius=6.0)[0] > 0.1 and overlap(apart[:, :1], radius=6.0)[0] == 0  # one straight stroke
    points = side_by_side.clone().requires_grad_(True)
    overlap(points, radius=6.0).sum().backward()
    assert points.grad[0, 0, :, 1].sum() > 0 > points.grad[0, 1, :, 1].sum()  # descent moves them apart
