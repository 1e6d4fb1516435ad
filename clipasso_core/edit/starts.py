"""Where the new strokes of a refine start (``--add``, ``--fill-to``): where ink is missing.

The fresh-sketch start distribution (saliency x edges, ``saliency.start_probabilities``) is
weighted by where the loss wants ink: the gradient of the clean-pair loss of the current sketch
with respect to its pixels, darkening taken as the direction of ink (positive part of
dL/dpixel summed over RGB), blurred over ``BLUR`` canvas px and scaled to a maximum of 1. Pixels
the current strokes already cover count for little: the loss's gradient there is the removals'
business. The distribution is restricted to the allowed area (the region, away from the border fade).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

BLUR = 4.0
"""Sigma (canvas px) of the blur of the ink-wanted map: a stroke's reach, not a pixel's."""


def ink_wanted(image: torch.Tensor, clean_loss: Callable[[torch.Tensor], torch.Tensor]) -> np.ndarray:
    """Where ink would lower the loss: [H, W] in 0..1 of a sketch image [3, H, W] (0..1) and its
    clean-pair loss function (images [B, 3, H, W] -> [B])."""
    from skimage.filters import gaussian

    pixels = image.detach().float()[None].requires_grad_(True)
    with torch.enable_grad():
        clean_loss(pixels).sum().backward()
    wanted = pixels.grad[0].sum(0).clamp_min(0).cpu().numpy().astype(np.float64)
    wanted = gaussian(wanted, sigma=BLUR)
    return wanted / wanted.max() if wanted.max() > 0 else np.zeros_like(wanted)


def fill_probabilities(starts: np.ndarray, wanted: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Start probabilities [H, W] (sum 1) of new strokes: ``starts`` (a fresh sketch's start
    distribution) x ``wanted`` on the ``allowed`` pixels [H, W] (bool). Falls back to ``starts``,
    then to uniform, on the allowed pixels when the product is zero there."""
    for weights in (starts * wanted, starts, np.ones_like(starts)):
        weights = np.where(allowed, weights, 0.0)
        if weights.sum() > 0:
            return weights / weights.sum()
    raise ValueError("no pixel is allowed")
