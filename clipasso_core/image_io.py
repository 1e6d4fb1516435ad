"""Reading input images: any common format and mode to RGB on white, plus the alpha channel.

PNG, JPEG (EXIF orientation honoured), WebP, BMP, TIFF, GIF; modes 1/L/LA/P/RGB/RGBA/CMYK/I;16/I/F.
Images above ``MAX_PIXELS`` are refused before decoding (decompression bombs); larger than
``MAX_SIDE`` on the long side they are downscaled while loading (the sketch is still expressed in the
original image's px), so memory stays bounded. Anything else (a PDF, an SVG, a damaged file) is one
message: an unsupported image format.

What can be sketched (``check_size``, ``check_content``; the pipeline and ``clipasso sketch`` refuse
the rest): at least ``MIN_SIDE`` px on the shorter side, and something to see: not one plain colour
and not fully transparent (``nothing_to_sketch``).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputError

MAX_PIXELS = 150_000_000
"""Largest image (width x height) accepted; larger ones are refused without decoding."""

MAX_SIDE = 2048
"""Long side (px) that larger images are downscaled to on load."""

MIN_SIDE = 32
"""Shortest side (px) of an image that is sketched: smaller ones are refused (they would be blown up
7 times or more onto the 224 px canvas, every pixel a blotch)."""

PLAIN_SPREAD = 4 / 255
"""An image whose every channel varies by at most this (0..1, after compositing on white) is one
plain colour: there is nothing to sketch (JPEG noise on a plain colour stays below it)."""

READ_FORMATS = "PNG, JPEG, WebP, BMP, TIFF or GIF"
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ogv", ".wmv", ".flv",
                  ".mts", ".m2ts", ".ts", ".dv")
"""Suffixes of video files (``frames`` decodes them with PyAV)."""
NOT_IMAGES = {".pdf": "a PDF document", ".svg": "an SVG drawing", ".svgz": "an SVG drawing",
              ".eps": "an EPS drawing", ".ps": "a PostScript document", ".ai": "an Illustrator drawing",
              ".txt": "a text file", ".json": "a JSON file", ".html": "a web page", ".zip": "a zip archive"}
"""Suffixes of files that are not raster images, with what they are (for the message)."""


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


def _too_large(path: str) -> InputError:
    return InputError(f"image too large (over {MAX_PIXELS / 1e6:.0f} MP, a possible decompression "
                      f"bomb): {path}. Downscale it first.")


def unsupported(path: str) -> InputError:
    """The error of a file that is not an image clipasso reads (one line, no decoder's detail)."""
    suffix = Path(path).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return InputError(f"{path} is a video, not an image: sketch its frames with: clipasso animate {path}")
    what = NOT_IMAGES.get(suffix)
    if what:
        return InputError(f"unsupported image format: {path} is {what}; export it as a PNG or JPEG image "
                          "first")
    return InputError(f"not a readable image: {path}: an unsupported image format or a damaged file "
                      f"(clipasso reads {READ_FORMATS} images)")


def check_image_path(path: str | os.PathLike) -> None:
    """Refuse at once, reading the header only, what ``load_image`` would refuse or the pipeline
    would not sketch: a missing file, a folder, a format it cannot read, too few pixels."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise InputError(f"{path} is a folder, not an image: sketch one of its images, or sketch its images "
                         f"as the frames of an animation with: clipasso animate {path}")
    if not os.path.isfile(path):
        raise InputError(f"input image not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
    except UnidentifiedImageError:
        raise unsupported(path) from None
    except Image.DecompressionBombError:
        raise _too_large(path) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"could not read image {path}: {exc}") from None
    check_size(width, height, path)


def check_size(width: int, height: int, name: str) -> None:
    """Refuse an image (or the frames of an animation) smaller than ``MIN_SIDE`` on a side."""
    if min(width, height) < MIN_SIDE:
        raise InputError(f"{name} is too small to sketch: {width}x{height} px; clipasso needs at least "
                         f"{MIN_SIDE} px on the shorter side (it draws on a 224 px canvas): use a larger image")


def nothing_to_sketch(image: "LoadedImage") -> str | None:
    """Why an image has nothing to sketch ("fully transparent", "one plain colour (#rrggbb)"), or
    None when it has something."""
    if image.alpha is not None and float(image.alpha.max()) < 0.01:
        return "fully transparent"
    rgb = image.rgb
    if float((rgb.max(axis=(0, 1)) - rgb.min(axis=(0, 1))).max()) <= PLAIN_SPREAD:
        colour = "".join(f"{round(float(c) * 255):02x}" for c in rgb.reshape(-1, 3).mean(axis=0))
        return f"one plain colour (#{colour})"
    return None


def check_content(image: "LoadedImage", name: str) -> None:
    """Refuse an image with nothing to sketch (``nothing_to_sketch``)."""
    why = nothing_to_sketch(image)
    if why:
        raise InputError(f"nothing to sketch in {name}: the image is {why}")


def load_image(path: str | os.PathLike) -> LoadedImage:
    """Read an image file. Raises InputError with a clear message for anything unusable."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"input image not found: {path}")
    if os.path.isdir(path):
        raise InputError(f"{path} is a folder, not an image")
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
        raise _too_large(path) from None
    except UnidentifiedImageError:
        raise unsupported(path) from None
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
