"""Shared by the clipasso Inkscape extensions: the Inkscape-specific part of sketching.

The contract (``clipasso_contract``, a copy of ``clipasso_core/contract`` that
tools/build_inkscape_ext.py puts next to these scripts) runs the core, reads its sketch JSON and
evaluates strokes; this module adds what is particular to Inkscape: where image px land in an
<image> box, the attributes that mark sketch groups and strokes, SVG path data of a stroke and its
filled outline. Nothing here imports inkex, so it is testable on its own.
"""
from __future__ import annotations

import math
import os
import re
import tempfile

from clipasso_contract import client, formats, geometry
from clipasso_contract.client import CoreError

SKETCH_ATTR = "data-clipasso-sketch"
"""Attribute of a sketch group: JSON with the sketch metadata and the settings it was made with."""
STROKE_ATTR = "data-clipasso-stroke"
"""Attribute of a stroke path: its rank in its sketch or level (0 = the most important; the paths
are in this order)."""
ID_ATTR = "data-clipasso-id"
"""Attribute of a stroke path: the stroke's identity, the same in every level it survives."""
LEVEL_ATTR = "data-clipasso-level"
"""Attribute of a level's sub-group in a levels sketch: its stroke count."""
BRUSHES = ("uniform", "tapered", "pressure")
"""The brushes of ``geometry.BRUSHES`` that Inkscape draws live: a plain stroke, Taper stroke,
Power stroke."""
CORE_TIMEOUT = 3600.0
"""Seconds the core may stay silent (no progress event) before the run is given up."""

__all__ = ["BRUSHES", "CORE_TIMEOUT", "CoreError", "ID_ATTR", "LEVEL_ATTR", "SKETCH_ATTR", "STROKE_ATTR",
           "core_command", "cubic_d", "image_placement", "level_groups", "outline_d", "parse_cubic",
           "rank_order", "run_core", "show_level"]


def core_command(core: str = "clipasso", python: str = "") -> list[str]:
    """The checked command prefix of the core: ``python -m clipasso_core`` when an interpreter is
    given, else ``core`` looked up on PATH. Raises CoreError with a message for the user."""
    command = client.core_command(python=python, name=core or "clipasso")
    client.check_core(command)
    return command


def run_core(command: list[str], image: str, options: list[str],
             timeout: float = CORE_TIMEOUT) -> formats.Sketch:
    """Sketch ``image`` with the core (``options``: run flags); returns the sketch. Raises CoreError."""
    with tempfile.TemporaryDirectory(prefix="clipasso-") as tmp:
        svg, sketch_json = os.path.join(tmp, "sketch.svg"), os.path.join(tmp, "sketch.json")
        done = client.run_to_end(command, "sketch", [image, "-o", svg, "--json", sketch_json, *options],
                                 timeout=timeout)
        try:
            return formats.Sketch.from_json(formats.read_text(done.json or sketch_json, "sketch JSON"))
        except formats.FormatError as exc:
            raise CoreError(f"the clipasso core wrote a sketch this extension cannot read: {exc}") from None


def image_placement(x: float, y: float, width: float, height: float, aspect: str | None,
                    image_w: float, image_h: float) -> tuple[float, float, float, float]:
    """How image px map into an <image> box: (sx, sy, tx, ty) with user = px * s + t.

    Follows SVG preserveAspectRatio ("none", or xMin/xMid/xMax + YMin/YMid/YMax, meet or slice;
    default "xMidYMid meet")."""
    aspect = (aspect or "xMidYMid meet").strip()
    if aspect.startswith("defer"):
        aspect = aspect[5:].strip()
    if aspect.split()[:1] == ["none"]:
        return width / image_w, height / image_h, x, y
    match = re.fullmatch(r"x(Min|Mid|Max)Y(Min|Mid|Max)(?:\s+(meet|slice))?", aspect)
    ax, ay, mode = (match.group(1), match.group(2), match.group(3) or "meet") if match else ("Mid", "Mid", "meet")
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


def outline_d(points, width: float, brush: str, samples: int = 48) -> str:
    """A closed outline (fill) of a cubic of full ``width`` with the brush's width profile
    (``geometry.width_profile``)."""
    left, right = [], []
    for i in range(samples + 1):
        t = i / samples
        px, py = geometry.cubic_point(points, t)
        dx, dy = geometry.cubic_tangent(points, t)
        norm = math.hypot(dx, dy) or 1.0
        half = width * geometry.width_profile(brush, t) / 2
        nx, ny = -dy / norm * half, dx / norm * half
        left.append((px + nx, py + ny))
        right.append((px - nx, py - ny))
    ring = left + right[::-1]
    return "M " + " L ".join(f"{x:.3f} {y:.3f}" for x, y in ring) + " Z"


def rank_order(strokes) -> list:
    """(rank, stroke) of contract strokes, most important first: by their ``rank`` (their place in
    the list where it is unknown), renumbered 0, 1, ... in that order."""
    keyed = sorted(enumerate(strokes), key=lambda item: (item[1].rank if item[1].rank is not None else item[0],
                                                         item[0]))
    return [(rank, stroke) for rank, (_, stroke) in enumerate(keyed)]


def level_groups(sketch_group) -> dict:
    """Stroke count -> sub-group of a levels sketch group (an XML element); empty for a sketch
    without levels."""
    found = {}
    for child in sketch_group:
        value = child.get(LEVEL_ATTR) if hasattr(child, "get") else None
        if value is not None and value.strip().isdigit():
            found[int(value)] = child
    return found


def _style_without_display(style: str) -> str:
    parts = [p for p in (style or "").split(";") if p.strip() and p.split(":")[0].strip() != "display"]
    return ";".join(parts)


def show_level(sketch_group, count: int) -> None:
    """Show the level of ``count`` strokes of a levels sketch group and hide the others
    (``display:none`` in their style). ValueError when the sketch has no such level."""
    levels = level_groups(sketch_group)
    if count not in levels:
        raise ValueError(f"the sketch has no level of {count} strokes "
                         f"(it has {', '.join(map(str, sorted(levels, reverse=True))) or 'none'})")
    for value, group in levels.items():
        style = _style_without_display(group.get("style") or "")
        if group.get("display") is not None:
            del group.attrib["display"]
        if value != count:
            style = ";".join(p for p in (style, "display:none") if p)
        if style:
            group.set("style", style)
        elif group.get("style") is not None:
            del group.attrib["style"]
