"""The square working canvas: the image padded to a square with white and resized to ``size`` px
(the loss target also fades to white at the image's border: ``TARGET_FEATHER``).

Non-square images keep their aspect ratio. The image is centred in a square of side max(W, H)
(original px), which is resized to ``size`` x ``size``. ``CanvasTransform`` maps points between
canvas px and the original image's px.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class CanvasTransform:
    """image_px = canvas_px * scale - offset. width/height: the original image size in px."""

    width: float
    height: float
    size: int

    @property
    def scale(self) -> float:
        """Image px per canvas px."""
        return max(self.width, self.height) / self.size

    @property
    def offset(self) -> tuple[float, float]:
        """Padding (image px) left of and above the image inside the square."""
        side = max(self.width, self.height)
        return (side - self.width) / 2.0, (side - self.height) / 2.0

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        ox, oy = self.offset
        return x * self.scale - ox, y * self.scale - oy

    def to_canvas(self, x: float, y: float) -> tuple[float, float]:
        ox, oy = self.offset
        return (x + ox) / self.scale, (y + oy) / self.scale

    def image_box(self) -> tuple[float, float, float, float]:
        """The image rectangle in canvas px: (x0, y0, x1, y1)."""
        x0, y0 = self.to_canvas(0.0, 0.0)
        x1, y1 = self.to_canvas(self.width, self.height)
        return x0, y0, x1, y1


TARGET_FEATHER = 0.16
"""Band (fraction of the image's shorter side) over which the loss target fades to white at the image's
border: no hard edge where a full-frame photo meets the padding, so no strokes are spent drawing the
frame (``tools/bench_quality.py`` measures it as border ink)."""


def inner_area(transform: CanvasTransform, band: float) -> np.ndarray:
    """Canvas pixels [size, size] (bool) whose centres lie inside the image, at least ``band`` x its
    shorter side from its border: outside the border fade of ``TARGET_FEATHER``."""
    x0, y0, x1, y1 = transform.image_box()
    margin = band * min(x1 - x0, y1 - y0)
    centres = np.arange(transform.size) + 0.5
    inside_x = (centres >= x0 + margin) & (centres <= x1 - margin)
    inside_y = (centres >= y0 + margin) & (centres <= y1 - margin)
    return inside_y[:, None] & inside_x[None, :]


def pad_and_resize(array: np.ndarray, size: int, fill: float, feather: float = 0.0) -> np.ndarray:
    """Pad an [H, W] or [H, W, C] float image (0..1) to a centred square with ``fill`` and resize it
    to [size, size(, C)] (bicubic, clipped to 0..1). ``feather`` > 0 first fades the image to ``fill``
    towards its border over that fraction of its shorter side (smoothstep of the distance to the
    nearest edge), so the picture meets the padding without an edge."""
    h, w = array.shape[:2]
    side = max(h, w)
    if feather > 0:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
        near = np.minimum(np.minimum(xx, w - xx), np.minimum(yy, h - yy))
        a = np.clip(near / (feather * min(h, w)), 0.0, 1.0)
        a = (a * a * (3 - 2 * a)).reshape((h, w) + (1,) * (array.ndim - 2))
        array = fill + (array - fill) * a
    shape = (side, side) + array.shape[2:]
    square = np.full(shape, fill, dtype=np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    square[top:top + h, left:left + w] = array
    channels = [square] if square.ndim == 2 else [square[..., c] for c in range(square.shape[2])]
    resized = [np.asarray(Image.fromarray(c, mode="F").resize((size, size), Image.Resampling.BICUBIC))
               for c in channels]
    out = resized[0] if square.ndim == 2 else np.stack(resized, axis=-1)
    return np.clip(out, 0.0, 1.0)
