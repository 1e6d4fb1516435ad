"""The sketch data model and its versioned JSON form: what the core writes and the editors read.

Sketch JSON, version 1 (PROTOCOL.md, "Sketch JSON")::

    {"format": "clipasso-sketch", "version": 1,
     "width": W, "height": H,                       # image size in px; coordinates are image px
     "strokes": [{"points": [[x0, y0], [x1, y1], [x2, y2], [x3, y3]],   # one cubic Bézier
                  "width": w, "color": "#rrggbb", "opacity": a,          # width in image px
                  "id": 7, "rank": 0,               # optional: identity, importance (0 = most)
                  "locked": true}, ...],            # optional: a refine (--init) never moves it
     "levels": [{"count": 16, "loss": L, "strokes": [...]}, ...],       # optional, largest first
     "metadata": {...}}                             # generator, version, seed, loss, backbone, ...

Strokes are listed most important first (``rank`` 0, 1, ...). With levels of abstraction, the
top-level strokes are the largest level's, and every smaller level's strokes are a subset (by
``id``) of the next larger one's, so readers that know nothing of levels see the full sketch.

Readers ignore keys they do not know, so later versions can add fields (levels, a sequence's frames)
next to these. Every number is checked: finite coordinates, a positive width, opacity in 0..1.
Torch-, numpy- and bpy-free: the editors carry this module.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass, field

SKETCH_FORMAT = "clipasso-sketch"
SKETCH_VERSION = 1

MAX_STROKES = 1000
"""Most strokes in one sketch: from --strokes, or read from an init SVG or JSON."""
MAX_FILE_BYTES = 16 * 1024 * 1024
"""Largest SVG or sketch JSON file read (bytes)."""
MAX_LEVELS = 8
"""Most levels of abstraction in one sketch."""

_HEX = re.compile(r"#[0-9a-fA-F]{6}")


class FormatError(ValueError):
    """A file or message does not follow the contract; the message is meant for a person."""


def check_number(value, what: str, minimum: float | None = None, maximum: float | None = None,
                 exclusive_min: bool = False) -> float:
    """``value`` as a finite float inside the given bounds, else FormatError naming ``what``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FormatError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise FormatError(f"{what} must be a finite number, got {value!r}")
    if minimum is not None and (number <= minimum if exclusive_min else number < minimum):
        raise FormatError(f"{what} must be {'>' if exclusive_min else '>='} {minimum:g}, got {value!r}")
    if maximum is not None and number > maximum:
        raise FormatError(f"{what} must be <= {maximum:g}, got {value!r}")
    return number


def check_color(value, what: str) -> str:
    """``value`` as a lower-case "#rrggbb", else FormatError naming ``what``."""
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise FormatError(f"{what} colour must look like #rrggbb, got {value!r}")
    return value.lower()


def check_stroke_count(count: int, source: str) -> int:
    """``count`` strokes are not more than MAX_STROKES, else FormatError naming their ``source``."""
    if count > MAX_STROKES:
        raise FormatError(f"{source} has {count} strokes; the limit is {MAX_STROKES}")
    return count


@dataclass
class Stroke:
    """One cubic Bézier stroke. points: 4 (x, y) control points in image px; width: image px;
    color: "#rrggbb"; opacity: 0..1; id: its identity through the levels of a sketch; rank: its
    importance in its sketch (0 = the most important). id and rank are None when unknown. locked:
    a refine of the sketch (``--init``) keeps the stroke exactly as it is (it is drawn and scored,
    never moved or restyled)."""

    points: list[tuple[float, float]]
    width: float = 3.0
    color: str = "#000000"
    opacity: float = 1.0
    id: int | None = None
    rank: int | None = None
    locked: bool = False

    def to_dict(self) -> dict:
        out = {"points": [[float(x), float(y)] for x, y in self.points], "width": float(self.width),
               "color": self.color, "opacity": float(self.opacity)}
        out.update({k: v for k, v in (("id", self.id), ("rank", self.rank)) if v is not None})
        if self.locked:
            out["locked"] = True
        return out

    @classmethod
    def from_dict(cls, data: dict, where: str = "stroke") -> "Stroke":
        if not isinstance(data, dict):
            raise FormatError(f"{where} is not an object")
        missing = [key for key in ("points", "width", "color", "opacity") if key not in data]
        if missing:
            raise FormatError(f"{where} lacks {', '.join(missing)}")
        raw, width, color, opacity = data["points"], data["width"], data["color"], data["opacity"]
        if not isinstance(raw, list):
            raise FormatError(f"{where} points must be a list of 4 [x, y], got {raw!r}")
        if len(raw) != 4:
            raise FormatError(f"{where} needs exactly 4 control points, has {len(raw)}")
        points = []
        for p in raw:
            if not isinstance(p, (list, tuple)) or len(p) != 2:
                raise FormatError(f"{where} has a control point that is not [x, y]: {p!r}")
            points.append((check_number(p[0], f"{where} x"), check_number(p[1], f"{where} y")))
        return cls(points, check_number(width, f"{where} width", 0.0, exclusive_min=True),
                   check_color(color, where), check_number(opacity, f"{where} opacity", 0.0, 1.0),
                   _index(data.get("id"), f"{where} id"), _index(data.get("rank"), f"{where} rank"),
                   _flag(data.get("locked", False), f"{where} locked"))


def _flag(value, what: str) -> bool:
    """A JSON boolean."""
    if not isinstance(value, bool):
        raise FormatError(f"{what} must be true or false, got {value!r}")
    return value


def _index(value, what: str) -> int | None:
    """An optional whole number >= 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FormatError(f"{what} must be a whole number >= 0, got {value!r}")
    return value


@dataclass
class Level:
    """One level of abstraction: ``count`` strokes (most important first) and their loss."""

    count: int
    loss: float
    strokes: list[Stroke]

    def to_dict(self) -> dict:
        return {"count": self.count, "loss": float(self.loss), "strokes": [s.to_dict() for s in self.strokes]}

    @classmethod
    def from_dict(cls, data: dict, where: str) -> "Level":
        if not isinstance(data, dict) or not isinstance(data.get("strokes"), list):
            raise FormatError(f"{where} needs count, loss and a list of strokes")
        strokes = [Stroke.from_dict(s, f"{where} stroke {i + 1}") for i, s in enumerate(data["strokes"])]
        count = _index(data.get("count"), f"{where} count")
        if count != len(strokes) or count == 0:
            raise FormatError(f"{where} count {count!r} does not match its {len(strokes)} strokes")
        if any(s.id is None for s in strokes):
            raise FormatError(f"{where}: every stroke of a level needs an id")
        return cls(count, check_number(data.get("loss"), f"{where} loss"), strokes)


@dataclass
class Sketch:
    """Strokes over an image of ``width`` x ``height`` px (x right, y down), plus metadata."""

    width: float
    height: float
    strokes: list[Stroke]
    metadata: dict = field(default_factory=dict)
    levels: list[Level] = field(default_factory=list)
    """Levels of abstraction, largest first (the first one's strokes are ``strokes``); may be empty."""

    def to_dict(self) -> dict:
        out = {"format": SKETCH_FORMAT, "version": SKETCH_VERSION, "width": self.width,
               "height": self.height, "strokes": [s.to_dict() for s in self.strokes],
               "metadata": self.metadata}
        if self.levels:
            out["levels"] = [level.to_dict() for level in self.levels]
        return out

    def level(self, count: int) -> "Sketch":
        """The sketch of the level with ``count`` strokes (FormatError when there is none)."""
        for level in self.levels:
            if level.count == count:
                return Sketch(self.width, self.height, level.strokes, dict(self.metadata, level=count))
        raise FormatError(f"the sketch has no level of {count} strokes "
                          f"(it has {', '.join(str(v.count) for v in self.levels) or 'none'})")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict) -> "Sketch":
        if not isinstance(data, dict) or data.get("format") != SKETCH_FORMAT:
            raise FormatError(f"not a clipasso sketch JSON (missing format: {SKETCH_FORMAT})")
        if data.get("version") != SKETCH_VERSION:
            raise FormatError(f"unsupported sketch JSON version {data.get('version')!r} "
                              f"(this clipasso reads version {SKETCH_VERSION})")
        if "width" not in data or "height" not in data or not isinstance(data.get("strokes"), list):
            raise FormatError("malformed sketch JSON: it needs width, height and a list of strokes")
        width = check_number(data["width"], "sketch width", 0.0, exclusive_min=True)
        height = check_number(data["height"], "sketch height", 0.0, exclusive_min=True)
        check_stroke_count(len(data["strokes"]), "the sketch JSON")
        strokes = [Stroke.from_dict(s, f"stroke {i + 1}") for i, s in enumerate(data["strokes"])]
        metadata = data.get("metadata", {})
        levels = _levels(data.get("levels", []))
        return cls(width, height, strokes, dict(metadata) if isinstance(metadata, dict) else {}, levels)

    @classmethod
    def from_json(cls, text: str) -> "Sketch":
        return cls.from_dict(load_json(text, "sketch JSON"))


def _levels(raw) -> list[Level]:
    """Levels of a sketch JSON, checked: at most MAX_LEVELS, strictly decreasing counts, each
    level's stroke ids a subset of the next larger level's."""
    if not isinstance(raw, list):
        raise FormatError("levels must be a list")
    if len(raw) > MAX_LEVELS:
        raise FormatError(f"the sketch has {len(raw)} levels; the limit is {MAX_LEVELS}")
    levels = [Level.from_dict(v, f"level {i + 1}") for i, v in enumerate(raw)]
    for larger, smaller in zip(levels, levels[1:]):
        if smaller.count >= larger.count:
            raise FormatError("levels must be listed largest first, each smaller than the one before")
        if not {s.id for s in smaller.strokes} <= {s.id for s in larger.strokes}:
            raise FormatError(f"the strokes of level {smaller.count} are not all in level {larger.count}")
    return levels


def load_json(text: str, what: str):
    """The parsed JSON ``text`` of a ``what`` ("sketch JSON", ...); FormatError naming it when the
    text is not JSON or holds NaN or Infinity."""
    def refuse(name: str):
        raise FormatError(f"malformed {what}: {name} is not a number")

    try:
        return json.loads(text, parse_constant=refuse)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise FormatError(f"malformed {what}: {exc}") from None


def read_text(path: str | os.PathLike, what: str, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a sketch file (SVG or JSON): a regular file of at most ``limit`` bytes."""
    name = os.fspath(path)
    too_big = FormatError(f"{what} {name} is larger than the limit of {limit} bytes "
                          f"({limit // 2 ** 20} MiB)")
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise FormatError(f"{what} {name} is not a regular file")
        if os.path.getsize(path) > limit:
            raise too_big
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)  # the file may have grown since
        if len(data) > limit:
            raise too_big
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"could not read {what} {name}: {exc}") from None
