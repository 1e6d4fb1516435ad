"""Levels of abstraction in a sketch object's stored data, without bpy (``build`` applies them).

A levels sketch (``clipasso sketch --levels 16,8,4``) stores ``levels``: one entry per level, the
largest first, each ``{"count", "loss", "ids", "strokes"}`` (stroke ids and centrelines in image px,
most important first, as the contract's ``formats.Level``), and ``shown_level``: the count of the
level shown. ``strokes`` stays the largest level's, so everything that reads only ``strokes`` (the
panel, refine) sees the full sketch. A one-level sketch has neither key.

Grease Pencil: one layer per level, named ``layer_name(count)`` ("Level 16"), strokes in rank order;
the layers of the levels not shown are hidden. Curve: the object's splines are the shown level's.
"""
from __future__ import annotations

SKETCH_LAYER = "Sketch"
"""The layer of a one-level Grease Pencil sketch."""
LEVEL_PREFIX = "Level "


def layer_name(count: int) -> str:
    return f"{LEVEL_PREFIX}{count}"


def is_managed_layer(name: str) -> bool:
    """A layer the add-on writes (others, added by hand, are left alone)."""
    return name == SKETCH_LAYER or name.startswith(LEVEL_PREFIX)


def entry(count: int, loss: float, strokes) -> dict:
    """A level as stored, from the contract's strokes (most important first)."""
    return {"count": int(count), "loss": float(loss), "ids": [s.id for s in strokes],
            "strokes": [[[float(x), float(y)] for x, y in s.points] for s in strokes]}


def counts(data: dict) -> list[int]:
    """The stored levels' stroke counts, largest first ([] for a one-level sketch)."""
    return [level["count"] for level in data.get("levels") or []]


def shown(data: dict) -> int:
    """The count of the level shown (the largest when unset; 0 for a one-level sketch)."""
    have = counts(data)
    if not have:
        return 0
    value = data.get("shown_level")
    return value if value in have else have[0]


def strokes_of(data: dict, count: int) -> list:
    for level in data.get("levels") or []:
        if level["count"] == count:
            return level["strokes"]
    raise ValueError(f"the sketch has no level of {count} strokes (it has {counts(data) or 'none'})")


def set_levels(data: dict, levels: list[dict], show: int | None = None) -> None:
    """Store these levels (any order; [] makes a one-level sketch) and show ``show`` (default: the
    level shown so far if it is still there, else the largest)."""
    if not levels:
        data.pop("levels", None)
        data.pop("shown_level", None)
        return
    data["levels"] = sorted(levels, key=lambda v: -v["count"])
    data["strokes"] = data["levels"][0]["strokes"]
    if show is not None:
        strokes_of(data, show)  # ValueError for a level it does not have
        data["shown_level"] = show
    elif data.get("shown_level") not in counts(data):
        data["shown_level"] = data["levels"][0]["count"]


def add(data: dict, level: dict) -> None:
    """A level that just arrived (replacing one of the same count), shown."""
    others = [v for v in data.get("levels") or [] if v["count"] != level["count"]]
    set_levels(data, others + [level], show=level["count"])


def layer_plan(data: dict) -> list[tuple[str, list, list | None, bool]]:
    """The Grease Pencil layers of the stored data: (name, centrelines, ids or None, hidden)."""
    if not counts(data):
        return [(SKETCH_LAYER, data["strokes"], data.get("ids"), False)]
    visible = shown(data)
    return [(layer_name(v["count"]), v["strokes"], v["ids"], v["count"] != visible) for v in data["levels"]]


def curve_strokes(data: dict) -> list:
    """The centrelines a Curve sketch shows: the shown level's (all of them for one level)."""
    return strokes_of(data, shown(data)) if counts(data) else data["strokes"]


def curve_ids(data: dict) -> list | None:
    """The ids of the strokes a Curve sketch shows (``curve_strokes``), None when not stored."""
    if not counts(data):
        return data.get("ids")
    return next(level["ids"] for level in data["levels"] if level["count"] == shown(data))
