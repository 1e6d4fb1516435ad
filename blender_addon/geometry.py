"""Sketch geometry for Blender, without bpy: image px to object space, and cubics back from points.

Object space of a sketch: the image lies in the local XY plane, x right, y UP (SVG's y-down is
flipped), spanning ``size`` units on its long side, placed like a Blender image empty with offset
(ox, oy) (the default -0.5, -0.5 centres it on the origin). Sampling a stroke, brush width profiles
and colours are the contract's (``contract.geometry``).
"""
from __future__ import annotations

from .contract import geometry as shared

SAMPLES = 32
"""Points per stroke in Grease Pencil (one cubic segment is smooth at this density)."""


class ImageFrame:
    """Maps image px (x right, y down) of a W x H image into object space."""

    def __init__(self, width: float, height: float, size: float = 1.0, offset=(-0.5, -0.5)):
        self.width, self.height, self.size = float(width), float(height), float(size)
        longest = max(self.width, self.height)
        self.units_per_px = self.size / longest
        self.extent = (self.width * self.units_per_px, self.height * self.units_per_px)
        self.origin = (offset[0] * self.extent[0], offset[1] * self.extent[1])

    def to_object(self, x: float, y: float) -> tuple[float, float, float]:
        return (self.origin[0] + x * self.units_per_px,
                self.origin[1] + (self.height - y) * self.units_per_px, 0.0)

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        return ((x - self.origin[0]) / self.units_per_px,
                self.height - (y - self.origin[1]) / self.units_per_px)


def fit_cubic(points) -> list[tuple[float, float]]:
    """Least-squares cubic (4 control points) through 2-D points spaced evenly in t (ends kept).

    Exact for points sampled from one cubic (``contract.geometry.sample_cubic``); needs >= 4 points
    (with fewer the inner control points are not determined).
    """
    n = len(points)
    if n < 4:
        raise ValueError(f"fitting a cubic needs at least 4 points, got {n}")
    p0, p3 = points[0], points[-1]
    # solve for P1, P2 with fixed ends: minimise sum |B(t_i) - q_i|^2
    a11 = a12 = a22 = 0.0
    r1 = [0.0, 0.0]
    r2 = [0.0, 0.0]
    for i, q in enumerate(points):
        b0, b1, b2, b3 = shared.cubic_weights(i / (n - 1))
        a11 += b1 * b1
        a12 += b1 * b2
        a22 += b2 * b2
        for k in range(2):
            rest = q[k] - b0 * p0[k] - b3 * p3[k]
            r1[k] += b1 * rest
            r2[k] += b2 * rest
    det = a11 * a22 - a12 * a12
    p1 = tuple((a22 * r1[k] - a12 * r2[k]) / det for k in range(2))
    p2 = tuple((a11 * r2[k] - a12 * r1[k]) / det for k in range(2))
    return [tuple(p0[:2]), p1, p2, tuple(p3[:2])]


def view_rectangle(corners, ortho: bool, distance: float) -> tuple[float, float, float, float]:
    """The camera's view on the plane ``distance`` in front of it, from the corners Blender's
    ``Camera.view_frame(scene=...)`` gives (camera space, looking down -Z; they include the sensor
    fit, the render's aspect and the lens shift): (centre x, centre y, width, height). Perspective
    corners scale with the distance, orthographic ones do not."""
    scale = 1.0
    if not ortho:
        depth = -corners[0][2]
        if depth <= 0:
            raise ValueError(f"a perspective camera's view frame lies in front of it, got depth {depth}")
        scale = distance / depth
    xs = [c[0] * scale for c in corners]
    ys = [c[1] * scale for c in corners]
    return ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, max(xs) - min(xs), max(ys) - min(ys))


def covering_frame(width_px: float, height_px: float, rectangle) -> tuple[float, float]:
    """(size, y scale) that make a W x H px sketch cover ``rectangle`` (``view_rectangle``) exactly:
    an ``ImageFrame`` of long side ``size`` (centred: offset -0.5, -0.5) spans its width, and an
    object scale of ``y scale`` on y its height (1 when the render's pixels are square)."""
    width, height = rectangle[2], rectangle[3]
    size = width * max(width_px, height_px) / width_px
    return size, height / (height_px * width / width_px)
