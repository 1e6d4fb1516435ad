"""The region of a refine (``--region``): where new strokes start and where moving strokes stay.

A region is given in the input image's px (x right, y down) as

* ``x0,y0,x1,y1``: a rectangle (any two opposite corners);
* ``x,y x,y x,y ...``: a polygon of at least 3 corners (closed; even-odd rule where it crosses itself);
* a mask image (PNG, JPEG, ...): stretched over the input image; inside where it is opaque and
  light (alpha x luminance >= 0.5; an image without alpha: white is inside).

``Region.project`` moves points outside the region to the nearest point inside it (a polygon's
boundary exactly; a mask's nearest inside pixel centre); points inside are left as they are.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..canvas import CanvasTransform
from ..errors import InputError

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PAIR = re.compile(rf"\s*({_NUMBER})\s*,\s*({_NUMBER})\s*")


@dataclass(frozen=True)
class Polygon:
    """A closed polygon, corners [N, 2] (image px, N >= 3; numpy, or float64 on a device: ``on``)."""

    corners: np.ndarray | torch.Tensor

    def on(self, device: torch.device) -> "Polygon":
        """This polygon with its corners on ``device`` (float64), copied there once."""
        return Polygon(torch.as_tensor(self.corners, dtype=torch.float64, device=device))

    def contains(self, points: torch.Tensor) -> torch.Tensor:
        """Whether each of points [..., 2] (image px) is inside (even-odd rule): [...] bool."""
        corners = torch.as_tensor(self.corners, dtype=points.dtype, device=points.device)
        a, b = corners, corners.roll(-1, 0)  # edges a -> b
        x, y = points[..., None, 0], points[..., None, 1]
        straddles = (a[:, 1] > y) != (b[:, 1] > y)
        t = (y - a[:, 1]) / torch.where(b[:, 1] == a[:, 1], torch.ones_like(b[:, 1]), b[:, 1] - a[:, 1])
        crossing = a[:, 0] + t * (b[:, 0] - a[:, 0])
        return ((straddles & (x < crossing)).sum(-1) % 2) == 1

    def nearest_boundary(self, points: torch.Tensor) -> torch.Tensor:
        """The nearest point [..., 2] of the polygon's boundary to each of points [..., 2]."""
        corners = torch.as_tensor(self.corners, dtype=points.dtype, device=points.device)
        a, b = corners, corners.roll(-1, 0)
        edge = b - a  # [E, 2]
        length2 = (edge * edge).sum(-1).clamp_min(1e-12)
        t = (((points[..., None, :] - a) * edge).sum(-1) / length2).clamp(0.0, 1.0)  # [..., E]
        foot = a + t[..., None] * edge  # [..., E, 2]
        nearest = ((points[..., None, :] - foot) ** 2).sum(-1).argmin(-1)
        return torch.gather(foot, -2, nearest[..., None, None].expand(*nearest.shape, 1, 2)).squeeze(-2)

    def project(self, points: torch.Tensor) -> torch.Tensor:
        """Points [..., 2] (image px) moved into the polygon: those outside onto its nearest boundary point."""
        return torch.where(self.contains(points)[..., None], points, self.nearest_boundary(points))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        (x0, y0), (x1, y1) = self.corners.min(0), self.corners.max(0)
        return float(x0), float(y0), float(x1), float(y1)


@dataclass(frozen=True)
class Mask:
    """A mask [H, W] (bool) stretched over an image of ``width`` x ``height`` px; ``nearest`` [H, W, 2]:
    for each mask pixel, the (row, column) of the nearest inside pixel (numpy, or on a device: ``on``)."""

    inside: np.ndarray | torch.Tensor
    width: float
    height: float
    nearest: np.ndarray | torch.Tensor

    def on(self, device: torch.device) -> "Mask":
        """This mask with its arrays on ``device``, copied there once."""
        return Mask(torch.as_tensor(self.inside, device=device), self.width, self.height,
                    torch.as_tensor(self.nearest, device=device))

    def _cells(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = self.inside.shape
        col = (points[..., 0] * (w / self.width)).floor().long().clamp(0, w - 1)
        row = (points[..., 1] * (h / self.height)).floor().long().clamp(0, h - 1)
        return row, col

    def contains(self, points: torch.Tensor) -> torch.Tensor:
        """Whether each of points [..., 2] (image px) lies on an inside pixel (outside the image: no)."""
        row, col = self._cells(points)
        on_image = ((points[..., 0] >= 0) & (points[..., 0] <= self.width)
                    & (points[..., 1] >= 0) & (points[..., 1] <= self.height))
        inside = torch.as_tensor(self.inside, device=points.device)
        return inside[row, col] & on_image

    def project(self, points: torch.Tensor) -> torch.Tensor:
        """Points [..., 2] (image px) moved into the mask: those outside to the centre of the nearest
        inside pixel."""
        h, w = self.inside.shape
        row, col = self._cells(points)
        nearest = torch.as_tensor(self.nearest, device=points.device)[row, col].to(points.dtype)
        centre = torch.stack([(nearest[..., 1] + 0.5) * (self.width / w),
                              (nearest[..., 0] + 0.5) * (self.height / h)], dim=-1)
        return torch.where(self.contains(points)[..., None], points, centre)


Region = Polygon | Mask


def parse_region(text: str, width: float, height: float) -> Region:
    """The region of ``--region`` over an image of ``width`` x ``height`` px (see the module
    docstring); InputError for text that is none of the forms or a region with no inside."""
    spec = str(text).strip()
    pairs = re.split(r"\s+", spec) if spec else []
    numbers = spec.split(",")
    if len(numbers) == 4 and all(re.fullmatch(rf"\s*{_NUMBER}\s*", n) for n in numbers):
        x0, y0, x1, y1 = (float(n) for n in numbers)
        x0, x1, y0, y1 = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
        if x1 - x0 <= 0 or y1 - y0 <= 0:
            raise InputError(f"--region {spec}: the rectangle has no area (x0,y0,x1,y1 in image px)")
        return _on_image(Polygon(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])), width, height, spec)
    if len(pairs) >= 3 and all(_PAIR.fullmatch(p) for p in pairs):
        corners = np.array([[float(v) for v in _PAIR.fullmatch(p).groups()] for p in pairs])
        if not np.isfinite(corners).all():
            raise InputError(f"--region {spec}: corners must be finite numbers")
        x, y = corners[:, 0], corners[:, 1]
        if abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) < 1e-9:
            raise InputError(f"--region {spec}: the polygon has no area")
        return _on_image(Polygon(corners), width, height, spec)
    if Path(spec).suffix and Path(spec).is_file():
        return _mask(spec, width, height)
    raise InputError(f"--region {spec!r} is none of: x0,y0,x1,y1 (a rectangle in image px), "
                     "\"x,y x,y x,y ...\" (a polygon), or an existing mask image file")


def _on_image(polygon: Polygon, width: float, height: float, spec: str) -> Polygon:
    """The polygon, refused when it lies wholly off the image."""
    x0, y0, x1, y1 = polygon.bounds
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        raise InputError(f"--region {spec} lies outside the image ({width:g} x {height:g} px)")
    return polygon


def _mask(path: str, width: float, height: float) -> Mask:
    """The mask image at ``path``: inside where alpha x luminance >= 0.5."""
    from PIL import Image, UnidentifiedImageError
    from scipy.ndimage import distance_transform_edt

    try:
        with Image.open(path) as image:
            rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise InputError(f"--region mask {path} cannot be read as an image: {exc}") from None
    luminance = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    inside = luminance * rgba[..., 3] >= 0.5
    if not inside.any():
        raise InputError(f"--region mask {path} has no inside (white, opaque) pixel")
    _, nearest = distance_transform_edt(~inside, return_indices=True)
    return Mask(inside, float(width), float(height), np.moveaxis(nearest, 0, -1).astype(np.int64))


def canvas_keep_in(region: Region, transform: CanvasTransform):
    """``keep_in(points [..., 2] canvas px) -> [..., 2]``: the points moved into the region (called
    after every step: the region and the offset are put on the points' device once, not copied
    from the host, which makes a GPU wait, on every call)."""
    scale, (ox, oy) = transform.scale, transform.offset
    placed: dict[torch.device, tuple[Region, torch.Tensor]] = {}

    def keep_in(points: torch.Tensor) -> torch.Tensor:
        if points.device not in placed:
            placed[points.device] = (region.on(points.device),
                                     torch.tensor([ox, oy], dtype=torch.float64, device=points.device))
        here, offset = placed[points.device]
        image = here.project(points.double() * scale - offset)
        return ((image + offset) / scale).to(points.dtype)
    return keep_in


def canvas_area(region: Region, transform: CanvasTransform) -> np.ndarray:
    """Canvas pixels [size, size] (bool) whose centres lie in the region."""
    centres = torch.arange(transform.size, dtype=torch.float64) + 0.5
    grid = torch.stack(torch.meshgrid(centres, centres, indexing="xy"), dim=-1)  # [size, size, (x, y)]
    ox, oy = transform.offset
    image = grid * transform.scale - grid.new_tensor([ox, oy])
    return region.contains(image).numpy()
