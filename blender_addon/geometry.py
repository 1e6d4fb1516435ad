"""Sketch geometry for Blender, without bpy: image px to object space, Bézier sampling, brushes.

Object space of a sketch: the image lies in the local XY plane, x right, y UP (SVG's y-down is
flipped), spanning ``size`` units on its long side, placed like a Blender image empty with offset
(ox, oy) (the default -0.5, -0.5 centres it on the origin).
"""
from __future__ import annotations

import math

BRUSHES = ("UNIFORM", "TAPERED", "PRESSURE", "SKETCHY")
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


def bezier(points, t: float) -> tuple[float, ...]:
    """Point at t of a cubic with 4 control points (any dimension)."""
    u = 1.0 - t
    w = (u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t)
    return tuple(sum(w[i] * points[i][k] for i in range(4)) for k in range(len(points[0])))


def sample(points, count: int = SAMPLES) -> list[tuple[float, ...]]:
    """``count`` points evenly in t along a cubic, ends included."""
    return [bezier(points, i / (count - 1)) for i in range(count)]


def radius_profile(brush: str, count: int = SAMPLES, seed: int = 0) -> list[float]:
    """Relative radius (0..1) of each of ``count`` points for a brush style."""
    out = []
    for i in range(count):
        t = i / (count - 1)
        if brush == "TAPERED":
            out.append(max(0.05, min(1.0, min(t, 1.0 - t) / 0.2)))
        elif brush == "PRESSURE":
            out.append(0.35 + 0.65 * math.sin(math.pi * t))
        elif brush == "SKETCHY":  # uneven pressure; the jitter itself is a Noise modifier
            out.append(0.6 + 0.4 * abs(math.sin(7.3 * t + seed * 1.7)))
        else:
            out.append(1.0)
    return out


def hex_to_rgb(color: str) -> tuple[float, float, float]:
    """'#rrggbb' to linear-ish floats 0..1 (sRGB values; Blender colour properties convert)."""
    return tuple(int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))


def fit_cubic(points) -> list[tuple[float, float]]:
    """Least-squares cubic (4 control points) through 2-D points spaced evenly in t (ends kept)."""
    n = len(points)
    p0, p3 = points[0], points[-1]
    # solve for P1, P2 with fixed ends: minimise sum |B(t_i) - q_i|^2
    a11 = a12 = a22 = 0.0
    r1 = [0.0, 0.0]
    r2 = [0.0, 0.0]
    for i, q in enumerate(points):
        t = i / (n - 1)
        u = 1 - t
        b0, b1, b2, b3 = u ** 3, 3 * u * u * t, 3 * u * t * t, t ** 3
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
