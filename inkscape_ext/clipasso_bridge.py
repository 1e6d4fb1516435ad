"""Shared by the clipasso Inkscape extensions: running the core and the sketch geometry.

The core runs as a separate process (``clipasso sketch ... --progress json --json OUT``), so
Inkscape's Python needs no torch; this module reads the core's JSON progress protocol (version 1)
and sketch JSON (version 1). Nothing here imports inkex, so it is testable on its own.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile

PROTOCOL_VERSION = 1
SKETCH_ATTR = "data-clipasso-sketch"
"""Attribute of a sketch group: JSON with the sketch metadata and the settings it was made with."""
STROKE_ATTR = "data-clipasso-stroke"
"""Attribute of a stroke path: its index in the sketch."""


class CoreError(Exception):
    """The core could not be run or reported an error; the message is meant for the user."""


def hex_color(color) -> str:
    """"#rrggbb" of an inkex.Color (anything with red/green/blue 0..255)."""
    return f"#{color.red:02x}{color.green:02x}{color.blue:02x}"


def core_command(core: str = "clipasso", python: str = "") -> list[str]:
    """The command prefix that runs the core: a Python interpreter with clipasso_core, else the
    ``clipasso`` executable (looked up on PATH)."""
    if python:
        if not (os.path.isfile(python) and os.access(python, os.X_OK)):
            raise CoreError(f"Python interpreter not found: {python}")
        return [python, "-m", "clipasso_core"]
    found = shutil.which(core)
    if not found:
        raise CoreError(f"The clipasso core was not found ('{core}' is not on PATH). Install it with "
                        "'pip install clipasso', or set the Python interpreter that has clipasso_core "
                        "in the extension's Core tab.")
    return [found]


def run_core(command: list[str], image: str, options: list[str], timeout: float = 3600) -> dict:
    """Sketch ``image`` with the core; returns the sketch JSON (a dict). Raises CoreError."""
    with tempfile.TemporaryDirectory(prefix="clipasso-") as tmp:
        svg, sketch_json = os.path.join(tmp, "sketch.svg"), os.path.join(tmp, "sketch.json")
        cmd = [*command, "sketch", image, "-o", svg, "--json", sketch_json, "--progress", "json", *options]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CoreError(f"could not run the clipasso core ({' '.join(command)}): {exc}") from None
        events = []
        for line in proc.stdout.splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        errors = [e for e in events if e.get("event") == "error"]
        if errors:
            raise CoreError(f"clipasso: {errors[-1].get('message')}")
        if proc.returncode != 0 or not os.path.exists(sketch_json):
            detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise CoreError(f"the clipasso core failed (exit {proc.returncode}): {detail}")
        if events and events[0].get("protocol") != PROTOCOL_VERSION:
            raise CoreError(f"the clipasso core speaks progress protocol {events[0].get('protocol')}, "
                            f"this extension needs {PROTOCOL_VERSION}; update one of them")
        with open(sketch_json, encoding="utf-8") as handle:
            sketch = json.load(handle)
    if sketch.get("format") != "clipasso-sketch" or sketch.get("version") != 1:
        raise CoreError("the clipasso core wrote an unknown sketch format; update the extension")
    return sketch


def image_placement(x: float, y: float, width: float, height: float, aspect: str,
                    image_w: float, image_h: float) -> tuple[float, float, float, float]:
    """How image px map into an <image> box: (sx, sy, tx, ty) with user = px * s + t.

    Follows SVG preserveAspectRatio ("none", or xMin/xMid/xMax + YMin/YMid/YMax, meet or slice;
    default "xMidYMid meet")."""
    aspect = (aspect or "xMidYMid meet").strip()
    if aspect.startswith("defer"):
        aspect = aspect[5:].strip()
    if aspect.split()[0] == "none":
        return width / image_w, height / image_h, x, y
    match = re.fullmatch(r"x(Min|Mid|Max)Y(Min|Mid|Max)(?:\s+(meet|slice))?", aspect)
    if not match:
        match = re.fullmatch(r"x(Min|Mid|Max)Y(Min|Mid|Max)(?:\s+(meet|slice))?", "xMidYMid meet")
    ax, ay, mode = match.group(1), match.group(2), match.group(3) or "meet"
    pick = max if mode == "slice" else min
    scale = pick(width / image_w, height / image_h)
    fraction = {"Min": 0.0, "Mid": 0.5, "Max": 1.0}
    tx = x + (width - image_w * scale) * fraction[ax]
    ty = y + (height - image_h * scale) * fraction[ay]
    return scale, scale, tx, ty


def cubic_d(points) -> str:
    """SVG path data of one cubic: points is 4 (x, y)."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    return f"M {x0:.4f} {y0:.4f} C {x1:.4f} {y1:.4f} {x2:.4f} {y2:.4f} {x3:.4f} {y3:.4f}"


def parse_cubic(d: str):
    """The 4 control points of a centreline written by ``cubic_d`` (absolute M + C)."""
    numbers = [float(v) for v in re.findall(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", d)]
    if len(numbers) != 8 or not re.match(r"\s*M", d) or "C" not in d:
        raise ValueError("not a single absolute cubic Bézier")
    return [(numbers[i], numbers[i + 1]) for i in range(0, 8, 2)]


BRUSHES = ("uniform", "tapered", "pressure")


def width_profile(brush: str, t: float) -> float:
    """Relative width (0..1) at curve parameter t of a brush style."""
    if brush == "tapered":  # thin ends, full width from 20% to 80%
        edge = min(t, 1.0 - t) / 0.2
        return max(0.05, min(1.0, edge))
    if brush == "pressure":  # a pen pressed harder mid-stroke
        return 0.35 + 0.65 * math.sin(math.pi * t)
    return 1.0


def outline_d(points, width: float, brush: str, samples: int = 48) -> str:
    """A closed outline (fill) of a cubic of full ``width`` with the brush's width profile."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    left, right = [], []
    for i in range(samples + 1):
        t = i / samples
        u = 1 - t
        px = u ** 3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t ** 3 * x3
        py = u ** 3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t ** 3 * y3
        dx = 3 * u * u * (x1 - x0) + 6 * u * t * (x2 - x1) + 3 * t * t * (x3 - x2)
        dy = 3 * u * u * (y1 - y0) + 6 * u * t * (y2 - y1) + 3 * t * t * (y3 - y2)
        norm = math.hypot(dx, dy) or 1.0
        half = width * width_profile(brush, t) / 2
        nx, ny = -dy / norm * half, dx / norm * half
        left.append((px + nx, py + ny))
        right.append((px - nx, py - ny))
    ring = left + right[::-1]
    return "M " + " L ".join(f"{x:.3f} {y:.3f}" for x, y in ring) + " Z"
