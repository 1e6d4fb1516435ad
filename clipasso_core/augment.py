"""The loss's random augmentation: a perspective distortion (scale 0.5, always applied) followed by a
resized crop (area 0.8, square) back to the canvas size, as sampling grids.

Each augmentation is a fixed sampling grid, so the SAME augmentation can be applied to the sketch
and to the target (and a bank of target features can be computed once). Pixels that the
perspective pulls in from outside the image are black (fill 0), as in the original.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def _perspective(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """3x3 homography mapping the 4 points ``end`` [4, 2] to ``start`` [4, 2]."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(end, start):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    coeffs = np.linalg.solve(np.array(rows, dtype=np.float64), np.array(rhs, dtype=np.float64))
    return np.append(coeffs, 1.0).reshape(3, 3)


def sample_grids(count: int, size: int, rng: np.random.Generator, distortion: float = 0.5,
                 crop_scale: float = 0.8) -> torch.Tensor:
    """``count`` augmentation sampling grids [count, size, size, 2] for ``F.grid_sample``
    (align_corners=False): output pixel -> source position in normalised coordinates."""
    grids = []
    half = size // 2
    dx = int(distortion * half)
    crop = int(round(math.sqrt(crop_scale) * size))
    centres = np.arange(size) + 0.5
    for _ in range(count):
        corners = np.array([[0, 0], [size - 1, 0], [size - 1, size - 1], [0, size - 1]], dtype=np.float64)
        jitter = rng.integers(0, dx + 1, size=(4, 2))
        signs = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]])
        homography = _perspective(corners, corners + signs * jitter)
        top, left = rng.integers(0, size - crop + 1, size=2)
        # output pixel centre -> crop pixel centre -> perspective source position
        x = left + centres * crop / size
        y = top + centres * crop / size
        xx, yy = np.meshgrid(x - 0.5, y - 0.5)
        pts = np.stack([xx, yy, np.ones_like(xx)], axis=-1) @ homography.T
        src = pts[..., :2] / pts[..., 2:3] + 0.5  # back to continuous coordinates
        grids.append(src / size * 2.0 - 1.0)
    return torch.from_numpy(np.stack(grids).astype(np.float32))


def apply_grids(images: torch.Tensor, grids: torch.Tensor) -> torch.Tensor:
    """Warp images [B, C, H, W] with grids [B, H, W, 2] (bilinear, fill 0)."""
    return F.grid_sample(images, grids, mode="bilinear", padding_mode="zeros", align_corners=False)
