"""Background masking with rembg (U^2-Net salient-object detection), as in the paper.

``--mask auto`` rule: an image with transparency is masked by its own alpha (no network needed);
an opaque image whose border is already a plain background (border pixels within 0.06 of their
mean colour in 95% of cases) is left as it is; any other opaque image is masked with rembg.
Masked-out pixels (mask < 0.5) become white.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from .downloads import fetch_rembg_model, forget_cached, rembg_model
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
    """Foreground probability [H, W] in 0..1 of rgb [H, W, 3] (0..1) from rembg's ``model``.

    A missing model file is downloaded first (``downloads.fetch_rembg_model``: events, resumable,
    cancellable); one that onnxruntime cannot load is damaged: it is removed (the next run
    downloads it again) and ModelUnavailableError names it."""
    from rembg import new_session  # imported lazily: onnxruntime start-up is slow

    fetch_rembg_model(model)
    try:
        session = new_session(model)
    except Exception as exc:  # rembg/pooch/onnxruntime raise many kinds
        folder, damaged = rembg_model(model)
        if damaged is not None:
            forget_cached(damaged)
            raise ModelUnavailableError(
                f"the background mask model file {damaged} is damaged ({_load_problem(exc)}); it was removed: run "
                f"again to download it again, or copy a good {model}.onnx into {folder}, or run with --mask off"
            ) from None
        raise ModelUnavailableError(
            f"background-mask model {model!r} is not available ({exc.__class__.__name__}). rembg "
            f"downloads it on first use into {folder}; offline, copy {model}.onnx there, or run with "
            "--mask off.") from None
    image = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    mask = session.predict(image)[0].resize(image.size, Image.Resampling.BILINEAR)
    return np.asarray(mask, dtype=np.float32) / 255.0


def _load_problem(exc: Exception) -> str:
    """onnxruntime's reason for refusing a model file, in a few words."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    reason = text.rsplit("failed:", 1)[-1].strip() if "failed:" in text else text
    return f"onnxruntime cannot load it: {reason or exc.__class__.__name__}"


def apply_mask(rgb: np.ndarray, mask: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """rgb [H, W, 3] with pixels where mask [H, W] < threshold set to white."""
    out = rgb.copy()
    out[mask < threshold] = 1.0
    return out
