"""augment: perspective + square crop as sampling grids, the same warp for sketch and target."""
from __future__ import annotations

import numpy as np
import torch

from clipasso_core.augment import apply_grids, sample_grids


def test_grids_are_reproducible_and_shaped():
    a = sample_grids(3, 32, np.random.default_rng(1))
    b = sample_grids(3, 32, np.random.default_rng(1))
    assert a.shape == (3, 32, 32, 2) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a[0], a[1])


def test_no_distortion_and_full_crop_is_the_identity():
    grid = sample_grids(1, 16, np.random.default_rng(0), distortion=0.0, crop_scale=1.0)
    image = torch.rand(1, 3, 16, 16)
    assert torch.allclose(apply_grids(image, grid), image, atol=1e-5)


def test_crop_zooms_in_and_the_same_grid_warps_every_image_alike():
    grid = sample_grids(1, 64, np.random.default_rng(0), distortion=0.0, crop_scale=0.8)
    span = grid[0, :, :, 0].max() - grid[0, :, :, 0].min()
    assert abs(span.item() * 32 - np.sqrt(0.8) * 63) < 1.0  # 0.8 of the area: sqrt(0.8) of the side
    images = torch.rand(2, 3, 64, 64)
    warped = apply_grids(images, grid.expand(2, -1, -1, -1))
    assert torch.allclose(warped[1:], apply_grids(images[1:], grid))
