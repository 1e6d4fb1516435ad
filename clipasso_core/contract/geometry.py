"""Stroke geometry shared by the editors: cubic Bézier sampling, brush width profiles, colours.

Pure Python (no numpy), so Blender's and Inkscape's Python can carry it.
"""
from __future__ import annotations

import math

from .formats import check_color

BRUSHES = ("uniform", "tapered", "pressure", "sketchy")
"""Brush styles: even width; thin ends; thicker mid-stroke (a pressed pen); uneven (hand-drawn)."""


def cubic_weights(t: float) -> tuple[float, float, float, float]:
    """The Bernstein weights of the 4 control points at t (0..1): B(t) = sum w[i] P[i]."""
    u = 1.0 - t
    return (u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t)


def cubic_point(points, t: float) -> tuple[float, ...]:
    """Point at t (0..1) of a cubic Bézier with 4 control points of any dimension."""
    w = cubic_weights(t)
    return tuple(sum(w[i] * points[i][k] for i in range(4)) for k in range(len(points[0])))


def cubic_tangent(points, t: float) -> tuple[float, ...]:
    """Derivative dB/dt at t of a cubic Bézier with 4 control points."""
    u = 1.0 - t
    w = (-3 * u * u, 3 * u * u - 6 * u * t, 6 * u * t - 3 * t * t, 3 * t * t)
    return tuple(sum(w[i] * points[i][k] for i in range(4)) for k in range(len(points[0])))


def sample_cubic(points, count: int) -> list[tuple[float, ...]]:
    """``count`` (>= 2) points evenly spaced in t along a cubic, ends included."""
    return [cubic_point(points, i / (count - 1)) for i in range(count)]


def width_profile(brush: str, t: float, seed: int = 0) -> float:
    """Relative width (0..1] at curve parameter t of a brush in BRUSHES (``seed`` varies sketchy)."""
    if brush == "tapered":  # thin ends, full width from 20% to 80%
        return max(0.05, min(1.0, min(t, 1.0 - t) / 0.2))
    if brush == "pressure":
        return 0.35 + 0.65 * math.sin(math.pi * t)
    if brush == "sketchy":
        return 0.6 + 0.4 * abs(math.sin(7.3 * t + seed * 1.7))
    if brush == "uniform":
        return 1.0
    raise ValueError(f"unknown brush {brush!r} (choose from {', '.join(BRUSHES)})")


def width_profile_samples(brush: str, count: int, seed: int = 0) -> list[float]:
    """``width_profile`` at ``count`` (>= 2) evenly spaced t, ends included."""
    return [width_profile(brush, i / (count - 1), seed) for i in range(count)]


def hex_to_rgb(color: str) -> tuple[float, float, float]:
    """"#rrggbb" to sRGB floats 0..1."""
    color = check_color(color, "the")
    return tuple(int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))


def rgb_to_hex(rgb) -> str:
    """sRGB floats 0..1 (extra channels ignored, values clamped) to "#rrggbb"."""
    return "#" + "".join(f"{round(max(0.0, min(1.0, float(c))) * 255):02x}" for c in list(rgb)[:3])
