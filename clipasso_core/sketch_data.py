"""The sketch data model and its versioned JSON form (the editors' exchange format).

JSON schema, version 1 (documented in README.md, "Sketch JSON")::

    {"format": "clipasso-sketch", "version": 1,
     "width": W, "height": H,                       # image size in px; coordinates are image px
     "strokes": [{"points": [[x0, y0], [x1, y1], [x2, y2], [x3, y3]],   # one cubic Bézier
                  "width": w, "color": "#rrggbb", "opacity": a}, ...],
     "metadata": {...}}                             # generator, version, seed, loss, backbone, ...
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .errors import InputError

SKETCH_FORMAT = "clipasso-sketch"
SKETCH_VERSION = 1


@dataclass
class Stroke:
    """One cubic Bézier stroke. points: 4 (x, y) control points in image px; width in image px."""

    points: list[tuple[float, float]]
    width: float = 3.0
    color: str = "#000000"
    opacity: float = 1.0


@dataclass
class Sketch:
    """A sketch: strokes over an image of ``width`` x ``height`` px (y down), plus metadata."""

    width: float
    height: float
    strokes: list[Stroke]
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "format": SKETCH_FORMAT,
            "version": SKETCH_VERSION,
            "width": self.width,
            "height": self.height,
            "strokes": [
                {"points": [[float(x), float(y)] for x, y in s.points], "width": float(s.width),
                 "color": s.color, "opacity": float(s.opacity)}
                for s in self.strokes
            ],
            "metadata": self.metadata,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data: dict) -> "Sketch":
        if data.get("format") != SKETCH_FORMAT:
            raise InputError("not a clipasso sketch JSON (missing format: clipasso-sketch)")
        if data.get("version") != SKETCH_VERSION:
            raise InputError(f"unsupported sketch JSON version {data.get('version')!r} "
                             f"(this clipasso reads version {SKETCH_VERSION})")
        try:
            strokes = [Stroke([(float(x), float(y)) for x, y in s["points"]], float(s["width"]),
                              str(s["color"]), float(s["opacity"])) for s in data["strokes"]]
            sketch = cls(float(data["width"]), float(data["height"]), strokes,
                         dict(data.get("metadata", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed sketch JSON: {exc}") from None
        if any(len(s.points) != 4 for s in strokes):
            raise InputError("malformed sketch JSON: every stroke needs exactly 4 control points")
        return sketch

    @classmethod
    def from_json(cls, text: str) -> "Sketch":
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed sketch JSON: {exc}") from None
