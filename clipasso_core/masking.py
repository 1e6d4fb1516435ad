"""Background masking with rembg (U^2-Net salient-object detection), as in the paper.

``--mask auto`` rule: an image with transparency is masked by its own alpha (no network needed);
an opaque image whose border is already a plain background (border pixels within 0.06 of their
mean colour in 95% of cases) is left as it is; any other opaque image is masked with rembg.
Masked-out pixels (mask < 0.5) become white.
"""
from __future__ import annotations

import os

import numpy as np
from PIL import Image

from .downloads import rembg_model, report
from .errors import ModelUnavailableError

MASK_MODES = ("auto", "on", "off")


def plain_border(rgb: np.ndarray, tolerance: float = 0.06) -> bool:
    """True when the image border (rgb [H, W, 3] in 0..1) is an almost uniform colour."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    spread = np.abs(border - np.median(border, axis=0)).max(axis=1)
    return bool((spread <= tolerance).mean() >= 0.95)


def needs_rembg(mode: str, rgb: np.ndarray, alpha: np.ndarray | None) -> bool:
    """Whether ``mode`` (auto/on/off) asks for a rembg mask of this image."""
    if mode == "on":
        return True
    if mode == "off":
        return False
    return alpha is None and not plain_border(rgb)


def rembg_mask(rgb: np.ndarray, model: str = "u2net") -> np.ndarray:
    """Foreground probability [H, W] in 0..1 of rgb [H, W, 3] (0..1) from rembg's ``model``."""
    from rembg import new_session  # imported lazily: onnxruntime start-up is slow

    folder, existing = rembg_model(model)
    what = f"background mask model {model}"
    fetching = existing is None
    if fetching:  # rembg downloads it (its own URL, no progress hook): reported before and after
        report(what, 0, None, folder)
    try:
        session = new_session(model)
    except Exception as exc:  # rembg/pooch raise many kinds; every one means "no model"
        raise ModelUnavailableError(
            f"background-mask model {model!r} is not available ({exc.__class__.__name__}). rembg "
            f"downloads it on first use into {folder}; offline, copy {model}.onnx there, or run with "
            "--mask off.") from None
    fetched = rembg_model(model)[1] if fetching else None
    if fetched:
        report(what, os.path.getsize(fetched), os.path.getsize(fetched), folder)
    image = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    mask = session.predict(image)[0].resize(image.size, Image.Resampling.BILINEAR)
    return np.asarray(mask, dtype=np.float32) / 255.0


def apply_mask(rgb: np.ndarray, mask: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """rgb [H, W, 3] with pixels where mask [H, W] < threshold set to white."""
    out = rgb.copy()
    out[mask < threshold] = 1.0
    return out
