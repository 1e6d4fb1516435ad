"""Stroke placement: CLIP attention saliency, the start-point distribution, sampling and stroke
init (the XDoG edge map itself: test_edges.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from clipasso_core.backbones import PROFILES, load_encoder
from clipasso_core.edges import xdog_edges
from clipasso_core.saliency import (attention_map, init_strokes, sample_starts, sampling_probabilities,
                                    start_probabilities)

CAT = Path(__file__).resolve().parents[1] / "clipasso_core" / "data" / "cat.jpg"


def disc_image(size=224) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    img = np.ones((size, size, 3), np.float32)
    img[(xx - 112) ** 2 + (yy - 112) ** 2 < 60 ** 2] = 0.1
    return img


def test_attention_map_of_vit_is_normalised_and_image_sized():
    vit = load_encoder(PROFILES["tiny-random"], "saliency")
    saliency = attention_map(vit, torch.from_numpy(disc_image()).permute(2, 0, 1))
    assert saliency.shape == (224, 224)
    assert saliency.min().item() == 0.0 and abs(saliency.max().item() - 1.0) < 1e-6


def test_sampling_follows_saliency_times_edges_without_replacement():
    saliency = np.zeros((50, 50), np.float32)
    saliency[:, 25:] = 1.0
    edges = np.zeros((50, 50), np.float32)
    edges[10:40, 10:40] = 1
    probs = sampling_probabilities(saliency, edges, temperature=0.3)
    assert probs.sum() == np.float64(probs.sum()) and abs(probs.sum() - 1) < 1e-9
    assert probs[:, :25].sum() == 0 and probs[:10].sum() == 0  # only salient edge pixels
    starts = sample_starts(probs, 30, np.random.default_rng(0))
    assert len({tuple(p) for p in starts.tolist()}) == 30
    assert (starts[:, 0] >= 25).all() and (starts[:, 1] >= 10).all() and (starts[:, 1] < 40).all()


def test_sampling_handles_blank_images_and_more_strokes_than_pixels():
    probs = sampling_probabilities(np.zeros((4, 4), np.float32), np.zeros((4, 4), np.float32))
    assert np.allclose(probs, 1 / 16)
    assert sample_starts(probs, 20, np.random.default_rng(1)).shape == (20, 2)


def test_stroke_init_offsets_are_bounded():
    starts = np.array([[100.0, 100.0]] * 50, np.float32)
    points = init_strokes(starts, 224, np.random.default_rng(0))
    assert points.shape == (50, 4, 2)
    steps = np.abs(np.diff(points, axis=1))
    assert (steps <= 0.025 * 224 + 1e-4).all() and steps.max() > 0.02 * 224
    assert (points[:, 0] == 100).all()


def test_start_probabilities_are_the_softmax_of_saliency_times_edges():
    """The whole start-point distribution, recomputed by hand: attention x the original's binary
    XDoG, softmax at temperature 0.3 over the pixels where that is positive, zero elsewhere."""
    vit = load_encoder(PROFILES["tiny-random"], "saliency")
    rgb = np.asarray(Image.open(CAT).convert("RGB").resize((224, 224), Image.BILINEAR), np.float32) / 255
    target = torch.from_numpy(rgb).permute(2, 0, 1)
    probs = start_probabilities(vit, target)
    assert probs.shape == (224, 224) and probs.dtype == np.float64
    assert abs(probs.sum() - 1) < 1e-9 and (probs >= 0).all()

    edges = xdog_edges(rgb)
    weights = attention_map(vit, target).numpy() * edges
    support = weights > 0
    assert support.sum() > 1000 and not support.all()
    assert (probs[~support] == 0).all() and (probs[~edges] == 0).all() and (probs[support] > 0).all()
    expected = np.exp(weights[support].astype(np.float64) / 0.3)
    # sampling_probabilities takes exp of the float32 weights in float32: rtol 1e-6
    np.testing.assert_allclose(probs[support], expected / expected.sum(), rtol=1e-6, atol=0)
