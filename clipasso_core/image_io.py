"""Reading input images: any common format and mode to RGB on white, plus the alpha channel.

PNG, JPEG (EXIF orientation honoured), WebP, BMP, TIFF, GIF; modes 1/L/LA/P/RGB/RGBA/CMYK/I;16/I/F.
Images above ``MAX_PIXELS`` are refused before decoding (decompression bombs); larger than
``MAX_SIDE`` on the long side they are downscaled while loading (the sketch is still expressed in the
original image's px), so memory stays bounded.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputError

MAX_PIXELS = 150_000_000
"""Largest image (width x height) accepted; larger ones are refused without decoding."""

MAX_SIDE = 2048
"""Long side (px) that larger images are downscaled to on load."""


@dataclass
class LoadedImage:
    """rgb: [H, W, 3] float32 in 0..1, composited on white; alpha: [H, W] float32 in 0..1 or None
    when the image has no transparency; width/height: the ORIGINAL image size in px (before any
    downscale)."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    width: int
    height: int


def _to_float_rgba(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Convert any PIL mode to (rgb [H, W, 3], alpha [H, W] or None), floats in 0..1."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        gray = np.clip(arr / top, 0, 1).astype(np.float32)
        return np.repeat(gray[..., None], 3, axis=2), None
    has_alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        img.mode == "P" and "transparency" in img.info)
    rgba = np.asarray(img.convert("RGBA" if has_alpha else "RGB"), dtype=np.float32) / 255.0
    if not has_alpha:
        return rgba[..., :3], None
    alpha = rgba[..., 3]
    if alpha.min() >= 1.0:
        return rgba[..., :3], None
    rgb = rgba[..., :3] * alpha[..., None] + (1.0 - alpha[..., None])
    return rgb, alpha


def load_image(path: str | os.PathLike) -> LoadedImage:
    """Read an image file. Raises InputError with a clear message for anything unusable."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"input image not found: {path}")
    if os.path.isdir(path):
        raise InputError(f"input is a folder, not an image: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise InputError(
                    f"image too large: {width}x{height} px ({width * height / 1e6:.0f} MP); the "
                    f"limit is {MAX_PIXELS / 1e6:.0f} MP. Downscale it first.")
            if width < 1 or height < 1:
                raise InputError(f"image has no pixels: {path}")
            if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF rotation by 90 or 270 degrees
                width, height = height, width
            if img.format == "JPEG":
                img.draft(img.mode, (MAX_SIDE, MAX_SIDE))  # decode at reduced size (less memory)
            return from_pil(ImageOps.exif_transpose(img), width, height)
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise InputError(f"image too large (over {MAX_PIXELS / 1e6:.0f} MP, a possible decompression "
                         f"bomb): {path}. Downscale it first.") from None
    except UnidentifiedImageError as exc:
        raise InputError(f"not a readable image (unknown format or corrupt): {path} ({exc})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"could not read image {path}: {exc}") from None


def from_pil(img: Image.Image, width: int | None = None, height: int | None = None) -> LoadedImage:
    """A decoded PIL image (e.g. a video frame) as a LoadedImage, downscaled to MAX_SIDE; width and
    height: its original size when it was decoded smaller (default: its own size)."""
    width, height = width or img.width, height or img.height
    if max(img.size) > MAX_SIDE:
        img = img.copy()
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    rgb, alpha = _to_float_rgba(img)
    return LoadedImage(rgb, alpha, width, height)
