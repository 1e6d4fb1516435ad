"""Saliency-guided stroke initialisation.

The saliency map is the CLS token's attention to the image patches in a CLIP ViT, averaged over
heads and blocks (or another ``SketchEncoder``'s ``attention``); start points are sampled from saliency x XDoG edges with a softmax of
temperature 0.3, without replacement; each stroke is a cubic whose next control point is the
previous one plus a uniform offset of +-0.025 x canvas per axis.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .backbones import ImageEncoder, SketchEncoder, normalize
from .edges import xdog_edges

def attention_map(encoder: SketchEncoder | nn.Module, image: torch.Tensor) -> torch.Tensor:
    """Saliency [H, W] in 0..1 of image [3, H, W] (0..1): the encoder's ``attention`` (a bare open_clip
    ViT is wrapped: its CLS attention)."""
    encoder = ImageEncoder.of(encoder, "saliency")
    return encoder.attention(normalize(image, encoder))


def sampling_probabilities(saliency: np.ndarray, edges: np.ndarray, temperature: float = 0.3) -> np.ndarray:
    """Probabilities [H, W] of start points: softmax(saliency x edges / temperature) over the pixels
    where that product is positive, zero elsewhere. Falls back to the saliency alone, then to
    uniform, when fewer than one pixel qualifies."""
    weights = saliency * edges
    support = weights > 0
    if not support.any():
        weights, support = saliency, saliency > 0
    if not support.any():
        weights, support = np.ones_like(saliency), np.ones_like(saliency, dtype=bool)
    probs = np.zeros_like(weights, dtype=np.float64)
    logits = weights[support] / temperature
    probs[support] = np.exp(logits - logits.max())
    return probs / probs.sum()


def start_probabilities(vit: SketchEncoder | nn.Module, target: torch.Tensor, temperature: float = 0.3) -> np.ndarray:
    """The start-point distribution [H, W] (float64, sums to 1) of target [3, H, W] in 0..1 (on the
    ViT's device, H = W = the ViT's input size), exactly as the pipeline samples from it:
    ``sampling_probabilities`` (softmax at ``temperature`` over the positive pixels) of the
    attention saliency x the original's binarised XDoG edges (``edges.xdog_edges``)."""
    saliency = attention_map(vit, target).float().cpu().numpy()
    edges = xdog_edges(target.detach().permute(1, 2, 0).float().cpu().numpy())
    return sampling_probabilities(saliency, edges.astype(np.float32), temperature)


def sample_starts(probs: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` distinct pixel centres (x, y) [count, 2] drawn from probs [H, W] without
    replacement (with replacement only for the points beyond the number of candidate pixels)."""
    flat = probs.ravel()
    candidates = int((flat > 0).sum())
    first = rng.choice(flat.size, size=min(count, candidates), replace=False, p=flat)
    rest = rng.choice(flat.size, size=count - len(first), replace=True, p=flat)
    index = np.concatenate([first, rest])
    h, w = probs.shape
    return np.stack([index % w + 0.5, index // w + 0.5], axis=1).astype(np.float32)


def init_strokes(starts: np.ndarray, size: int, rng: np.random.Generator, radius: float = 0.025) -> np.ndarray:
    """Control points [N, 4, 2] (px): P0 = start, P(k+1) = P(k) + U(-radius, radius) x size per axis."""
    steps = rng.uniform(-radius, radius, size=(len(starts), 3, 2)) * size
    return np.concatenate([starts[:, None], starts[:, None] + np.cumsum(steps, axis=1)], axis=1).astype(np.float32)
