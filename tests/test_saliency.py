"""Stroke placement: XDoG edges, CLIP attention saliency, sampling and stroke init."""
from __future__ import annotations

import numpy as np
import torch

from clipasso_core.backbones import PROFILES, load_encoder
from clipasso_core.edges import xdog_edges
from clipasso_core.saliency import attention_map, init_strokes, sample_starts, sampling_probabilities


def disc_image(size=224) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    img = np.ones((size, size, 3), np.float32)
    img[(xx - 112) ** 2 + (yy - 112) ** 2 < 60 ** 2] = 0.1
    return img


def test_xdog_finds_the_outline_of_a_disc():
    edges = xdog_edges(disc_image())
    assert edges.dtype == bool and edges.any()
    yy, xx = np.nonzero(edges)
    radius = np.hypot(xx - 112, yy - 112)
    assert np.abs(radius - 60).max() < 12  # a band along the circle, on its dark side
    assert (radius <= 61).mean() > 0.9
    assert not edges[112, 112] and not edges[5, 5]
    assert not xdog_edges(np.ones((64, 64, 3), np.float32)).any()


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
