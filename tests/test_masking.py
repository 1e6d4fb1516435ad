"""Background masking with rembg, using the offline u2netp model."""
from __future__ import annotations

import numpy as np
import pytest

from clipasso_core.config import SketchConfig
from clipasso_core.errors import ModelUnavailableError
from clipasso_core.image_io import load_image
from clipasso_core.masking import needs_rembg, plain_border, rembg_mask
from clipasso_core.pipeline import EXAMPLE_IMAGE, prepare


def test_u2netp_masks_the_cat(rembg_home):
    rgb = load_image(EXAMPLE_IMAGE).rgb
    mask = rembg_mask(rgb, "u2netp")
    assert mask.shape == rgb.shape[:2]
    assert mask[150, 225] > 0.5  # the cat's face
    assert 0.05 < (mask > 0.5).mean() < 0.95


def test_masked_target_has_white_background(rembg_home):
    prepared = prepare(None, SketchConfig(mask="on", mask_model="u2netp"))
    assert prepared.masked
    target = prepared.target.numpy()
    assert target.shape == (3, 224, 224)
    assert (target > 0.99).all(axis=0).mean() > 0.3


def test_auto_rule():
    plain = np.ones((40, 40, 3), np.float32)
    plain[10:30, 10:30] = 0
    busy = np.random.default_rng(0).random((40, 40, 3)).astype(np.float32)
    assert plain_border(plain) and not plain_border(busy)
    assert not needs_rembg("auto", plain, None)
    assert needs_rembg("auto", busy, None)
    assert not needs_rembg("auto", busy, np.ones((40, 40), np.float32))
    assert needs_rembg("on", plain, None) and not needs_rembg("off", busy, None)


def test_missing_mask_model_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    monkeypatch.setenv("MODEL_CHECKSUM_DISABLED", "1")
    with pytest.raises(ModelUnavailableError, match="--mask off"):
        rembg_mask(np.ones((8, 8, 3), np.float32), "u2netp")
