"""The step loss: any number of sampled augmented pairs has the original's expected loss."""
from __future__ import annotations

import pytest
import torch

from clipasso_core.backbones import PROFILES, ImageEncoder, load_encoder, normalize
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
        features = ClipLoss(encoder, fold=False).encode(images)
        direct = encoder.features(normalize(images, encoder))
    for name in ("layer2", "layer3", "embedding"):
        assert torch.equal(getattr(features, name), getattr(direct, name))
    assert ClipLoss(encoder.visual, fold=False).encoder.visual is encoder.visual  # a bare tower is wrapped


def test_only_an_open_clip_tower_in_eval_mode_is_folded():
    encoder = load_encoder(PROFILES["tiny-random"], "loss")
    folded = ClipLoss(encoder).encoder
    assert isinstance(folded, ImageEncoder) and folded.visual is not encoder.visual
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    training = encoder.visual.train()  # a bare tower in training mode runs as it is, batch statistics
    assert ClipLoss(training).encoder.visual is training

    class Custom(torch.nn.Module):
        name, input_size, mean, std, compute_dtypes = "custom", 224, (0.5,) * 3, (0.5,) * 3, (torch.float32,)

        def features(self, images):
            return images

    custom = Custom().eval()
    assert ClipLoss(custom, bf16=True).encoder is custom


@pytest.fixture(scope="module")
def rn101_paths():
    """Sketch features, pair losses and image gradients of 2 pairs on rn101-random, by path
    ("fp32" / "bf16", folded or plain)."""
    encoder = load_encoder(PROFILES["rn101-random"], "loss")
    generator = torch.Generator().manual_seed(3)
    sketches, targets = torch.rand(2, 3, 224, 224, generator=generator), torch.rand(2, 3, 224, 224, generator=generator)
    runs = {}
    for bf16 in (False, True):
        for fold in (False, True):
            loss = ClipLoss(encoder, bf16=bf16, fold=fold)
            images = sketches.clone().requires_grad_(True)
            features = loss.encode(images)
            with torch.no_grad():
                target = loss.encode(targets)
            pairs = ClipLoss.pair_losses(features, target)
            (grad,) = torch.autograd.grad(pairs.sum(), images)
            runs["bf16" if bf16 else "fp32", fold] = (features.to(torch.float32), pairs.detach(), grad)
    return runs


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.detach() - b.detach()).norm() / b.detach().norm()).item()


def test_folded_fp32_encoder_is_the_plain_one_within_fp32_rounding(rn101_paths):
    """Folding BatchNorm changes only the float32 rounding: features and pair losses within 1e-5
    relative (measured 5e-7 and 6e-8), image gradients within 1e-3 (measured 2e-4: a few ReLUs, 4
    of 32 M, whose input lies within rounding of 0 switch, and the gradient through them with them)."""
    (features, pairs, grad), (plain, plain_pairs, plain_grad) = rn101_paths["fp32", True], rn101_paths["fp32", False]
    for name in ("layer2", "layer3", "embedding"):
        assert relative(getattr(features, name), getattr(plain, name)) < 1e-5, name
    assert relative(pairs, plain_pairs) < 1e-5 and relative(grad, plain_grad) < 1e-3


def test_folded_bf16_encoder_is_as_close_to_fp32_as_the_plain_bf16_one(rn101_paths):
    """bfloat16 keeps 8 significant bits, so the folded weights (rounded once, after folding) and
    the plain path (weights rounded, BatchNorm applied to bfloat16 activations) differ by bf16
    rounding: the pair losses agree within 2^-8 relative (one bf16 step; measured 1e-3), and
    against the fp32 result the folded path's features and image gradients are at most 1.5 x as
    far as the plain bf16 path's (measured 0.9 x; both gradients are ~7% from fp32)."""
    reference, _, reference_grad = rn101_paths["fp32", False]
    features, pairs, grad = rn101_paths["bf16", True]
    plain, plain_pairs, plain_grad = rn101_paths["bf16", False]
    assert relative(pairs, plain_pairs) < 2 ** -8
    for name in ("layer2", "layer3", "embedding"):
        ours, theirs = getattr(features, name), getattr(plain, name)
        assert relative(ours, getattr(reference, name)) < 1.5 * relative(theirs, getattr(reference, name)), name
    assert relative(grad, reference_grad) < 1.5 * relative(plain_grad, reference_grad)
    assert torch.nn.functional.cosine_similarity(grad.flatten(), plain_grad.flatten(), dim=0) > 0.99


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
