"""XDoG edge map (eXtended Difference of Gaussians), binarised, as used for stroke placement."""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of ``values`` (any shape)."""
    hist, edges = np.histogram(values.ravel(), bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight0 = np.cumsum(hist)
    weight1 = weight0[-1] - weight0
    mean0 = np.cumsum(hist * centres) / np.maximum(weight0, 1)
    mean1 = (np.sum(hist * centres) - np.cumsum(hist * centres)) / np.maximum(weight1, 1)
    between = weight0 * weight1 * (mean0 - mean1) ** 2
    return float(centres[np.argmax(between)])


def xdog_edges(rgb: np.ndarray, gamma: float = 0.98, phi: float = 200.0, eps: float = -0.1,
               sigma: float = 0.8, k: float = 10.0) -> np.ndarray:
    """Binary edge map [H, W] (True = edge) of rgb [H, W, 3] in 0..1.

    D = G_sigma(I) - gamma * G_{k sigma}(I) on the grey image; the soft threshold is 1 where
    D >= eps and 1 + tanh(phi * D) elsewhere; it is min-max normalised and binarised with Otsu's
    threshold; edges are the dark side.
    """
    gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    diff = gaussian_filter(gray, sigma) - gamma * gaussian_filter(gray, sigma * k)
    soft = np.where(diff >= eps, 1.0, 1.0 + np.tanh(phi * diff))
    span = soft.max() - soft.min()
    if span <= 1e-8:
        return np.zeros(gray.shape, dtype=bool)
    soft = (soft - soft.min()) / span
    return soft < otsu_threshold(soft)
