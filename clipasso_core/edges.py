"""XDoG edge map (eXtended Difference of Gaussians), binarised, exactly as the original CLIPasso
computes it for stroke placement (``shared/method.md``, Pipeline item 3)."""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.color import rgb2gray
from skimage.filters import threshold_otsu

from .backbones import CLIP_MEAN, CLIP_STD


def xdog_edges(rgb: np.ndarray, gamma: float = 0.98, phi: float = 200.0, eps: float = -0.1,
               sigma: float = 0.8, k: float = 10.0) -> np.ndarray:
    """Binary edge map [H, W] (bool, True = edge pixel) of rgb [H, W, 3] in 0..1 (the 224 px target).

    The original's steps, in float32 like the original up to the soft threshold:

    1. CLIP normalisation: (rgb - CLIP_MEAN) / CLIP_STD per channel (the XDoG input is the
       normalised target, values roughly -1.8..2.1, not the 0..1 image);
    2. grey I by ``skimage.color.rgb2gray`` (0.2125 R + 0.7154 G + 0.0721 B);
    3. D = G_sigma(I) - gamma G_{k sigma}(I), ``scipy.ndimage.gaussian_filter`` (sigma in px,
       reflect borders, truncate 4);
    4. soft threshold T = 1 where D < eps and 1 + tanh(phi D) where D >= eps: the branches the
       other way round from the textbook XDoG, as the original has them (so a flat dark region,
       where eps <= D < 0, comes out near 0 and counts as edge);
    5. T min-max normalised to 0..1 (float64);
    6. ``skimage.filters.threshold_otsu`` (256 bins) gives th; edge pixels are those with T < th.

    An image whose T is constant (e.g. a blank one) has no edge pixels.
    """
    rgb = np.asarray(rgb, dtype=np.float32)
    normed = (rgb - np.asarray(CLIP_MEAN, np.float32)) / np.asarray(CLIP_STD, np.float32)
    gray = rgb2gray(normed)  # float32 [H, W]
    diff = gaussian_filter(gray, sigma) - gamma * gaussian_filter(gray, sigma * k)
    # the tanh branch in float32, the result in float64, as the original's arithmetic has it
    soft = np.where(diff < eps, 1.0, (1.0 + np.tanh(phi * diff)).astype(np.float64))
    soft = soft - soft.min()
    span = soft.max()
    if span <= 0:
        return np.zeros(gray.shape, dtype=bool)
    soft = soft / span
    return soft < threshold_otsu(soft)
