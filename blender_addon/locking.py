"""The artist in the loop, without bpy: which strokes are locked, the ids of a sketch's strokes as
they are now (after hand edits), the region new strokes go in, and a refine's previews (``build``
and ``operators`` apply them).

A sketch object keeps, per stroke and on the geometry itself (so it survives hand edits, deletions,
undo and save/reload):

* its lock: the stroke's material is the object's second slot, ``LOCKED_SLOT`` (the "locked" material,
  drawn in ``lock_color``: orange, or blue for an orange-ish ink). Unlocking puts it back on the ink
  (slot 0), so the lock is shown and taken away without touching the stroke;
* its id (Grease Pencil): the integer attribute ``ID_ATTRIBUTE`` on the stroke (curve) domain holds
  the id + 1; 0, the value of a stroke drawn by hand, means none. A Curve's splines cannot carry an
  attribute: their ids are matched to the stored strokes (``match_ids``).

The stored data (``build``'s ``clipasso`` property) also holds ``ids`` (parallel to ``strokes``, the
last run's) and ``locked`` (the ids of the locked strokes), so a rebuild (a restyle) keeps them.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .contract import formats
from .contract import geometry as shared

LOCKED_SLOT = 1
"""The material slot of locked strokes (slot 0 is the ink)."""
ID_ATTRIBUTE = "clipasso_id"
"""Grease Pencil stroke attribute: the stroke's id + 1 (0: none)."""
LOCK_COLORS = ("#ff7f00", "#1f7fff")
"""The colours locked strokes are drawn in: orange, or blue when the ink is near orange."""
MATCH_PX = 1e-3
"""Control points this close (image px) are the same stroke's."""


@dataclass
class CurrentStroke:
    """A stroke of a sketch object as it is now: its cubic in image px, id (None: unknown, e.g. drawn
    by hand), whether it is locked and whether it is selected (Edit Mode)."""

    points: list[tuple[float, float]]
    id: int | None = None
    locked: bool = False
    selected: bool = False


def lock_color(ink: str) -> str:
    """The colour locked strokes are shown in for a sketch inked in ``ink`` ("#rrggbb")."""
    rgb = shared.hex_to_rgb(ink)
    near = sum((a - b) ** 2 for a, b in zip(shared.hex_to_rgb(LOCK_COLORS[0]), rgb)) < 0.35
    return LOCK_COLORS[1] if near else LOCK_COLORS[0]


def stored_id(value: int) -> int | None:
    """The id an ``ID_ATTRIBUTE`` value holds (None for 0)."""
    return int(value) - 1 if value > 0 else None


def attribute_value(stroke_id: int | None) -> int:
    """The ``ID_ATTRIBUTE`` value of an id (0 for None)."""
    return 0 if stroke_id is None else int(stroke_id) + 1


def _close(a, b, tolerance: float) -> bool:
    return all(abs(p[0] - q[0]) <= tolerance and abs(p[1] - q[1]) <= tolerance for p, q in zip(a, b))


def match_ids(current, stored, stored_ids, tolerance: float = MATCH_PX) -> list[int | None]:
    """The ids of ``current`` cubics from the ``stored`` ones (ids ``stored_ids``): a stroke unchanged
    (within ``tolerance`` px) is its stored stroke; then the unmatched strokes between two matched
    ones take the unmatched stored strokes between those, in order (hand edits and deletions keep
    the others' order). None where nothing fits (a stroke drawn or duplicated by hand)."""
    matched: list[int | None] = [None] * len(current)
    used: set[int] = set()
    for i, points in enumerate(current):
        order = ([i] if i < len(stored) else []) + list(range(len(stored)))  # the same place first
        j = next((j for j in order if j not in used and _close(points, stored[j], tolerance)), None)
        if j is not None:
            matched[i] = j
            used.add(j)
    copies = {i for i, points in enumerate(current)  # an unchanged stroke's duplicate: new
              if matched[i] is None and any(_close(points, stored[j], tolerance) for j in used)}
    i, before = 0, -1
    while i < len(current):
        if matched[i] is not None:
            before = matched[i]
            i += 1
            continue
        end = i
        while end < len(current) and matched[end] is None:
            end += 1
        after = matched[end] if end < len(current) else len(stored)
        free = [j for j in range(before + 1, after) if j not in used]
        for k, j in _in_order([k for k in range(i, end) if k not in copies], free, current, stored):
            matched[k] = j
            used.add(j)
        i = end
    ids = [stored_ids[j] if j is not None and j < len(stored_ids) else None for j in matched]
    return unique_ids(ids)


def _in_order(rows: list[int], free: list[int], current, stored) -> list[tuple[int, int]]:
    """Pairs (current row, stored stroke) that keep both orders, as many as can be, the nearest
    (summed control point distance) among those."""
    def distance(a, b):
        return sum(abs(p[0] - q[0]) + abs(p[1] - q[1]) for p, q in zip(a, b))

    unpaired = 1e12  # any pairing beats leaving a stroke unpaired
    n, m = len(rows), len(free)
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = i * unpaired
        for j in range(1, m + 1):
            cost[i][j] = min(cost[i][j - 1], cost[i - 1][j] + unpaired,
                             cost[i - 1][j - 1] + distance(current[rows[i - 1]], stored[free[j - 1]]))
    pairs, i, j = [], n, m
    while i > 0 and j > 0:
        if cost[i][j] == cost[i][j - 1]:
            j -= 1
        elif cost[i][j] == cost[i - 1][j] + unpaired:
            i -= 1
        else:
            pairs.append((rows[i - 1], free[j - 1]))
            i, j = i - 1, j - 1
    return pairs[::-1]


def unique_ids(ids) -> list[int | None]:
    """``ids`` with every repeat of an id (a stroke duplicated by hand) made None."""
    seen: set[int] = set()
    out = []
    for value in ids:
        out.append(value if value is not None and value not in seen else None)
        if value is not None:
            seen.add(value)
    return out


def snap_to_stored(strokes: list[CurrentStroke], stored, stored_ids, tolerance: float = MATCH_PX) -> None:
    """Give each stroke whose id is a stored stroke's, and whose points are within ``tolerance`` px of
    it, the stored points exactly (a Grease Pencil stroke's cubic is fitted to its points: nearly, not
    exactly, the one it was drawn from), so an unchanged stroke round-trips bit for bit."""
    where = {i: k for k, i in enumerate(stored_ids) if i is not None}
    for stroke in strokes:
        k = where.get(stroke.id)
        if k is not None and _close(stroke.points, stored[k], tolerance):
            stroke.points = [(float(x), float(y)) for x, y in stored[k]]


def locked_ids(strokes) -> list[int]:
    """The ids of the locked strokes (contract Strokes or CurrentStrokes), sorted."""
    return sorted(s.id for s in strokes if s.locked and s.id is not None)


def selected_box(strokes: list[CurrentStroke], margin: float, width: float, height: float):
    """The rectangle (x0, y0, x1, y1, image px) around the selected strokes' control points, ``margin``
    px wider on each side and kept inside the image; ValueError when none is selected."""
    points = [p for s in strokes if s.selected for p in s.points]
    if not points:
        raise ValueError("select the strokes around the place for new strokes in Edit Mode first "
                         "(or choose another Region)")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    box = (max(0.0, min(xs) - margin), max(0.0, min(ys) - margin),
           min(width, max(xs) + margin), min(height, max(ys) + margin))
    if box[2] - box[0] <= 0 or box[3] - box[1] <= 0:
        raise ValueError("the selected strokes lie outside the image")
    return box


def convex_hull(points) -> list[tuple[float, float]]:
    """The convex hull of 2-D points, counter-clockwise in the points' axes (Andrew's monotone chain)."""
    pts = sorted(set((float(x), float(y)) for x, y in points))
    if len(pts) < 3:
        return pts

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def outline_polygon(points, min_area: float = 1.0) -> list[tuple[float, float]]:
    """The polygon (image px) of an outline: the convex hull of its projected points; ValueError when
    it encloses (almost) nothing, e.g. an object seen edge-on."""
    hull = convex_hull(points)
    area = abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(hull, hull[1:] + hull[:1]))) / 2 if hull else 0.0
    if len(hull) < 3 or area < min_area:
        raise ValueError("the selected object's outline, seen on the sketch's plane, encloses no area")
    return hull


def region_text(region) -> str:
    """``--region``'s value: a rectangle (x0, y0, x1, y1) as "x0,y0,x1,y1", a polygon [(x, y), ...] as
    "x,y x,y ..." (image px)."""
    if len(region) == 4 and not isinstance(region[0], (tuple, list)):
        return ",".join(f"{v:.3f}" for v in region)
    return " ".join(f"{x:.3f},{y:.3f}" for x, y in region)


def fill_count(stored: int, current: int) -> int:
    """The stroke count Fill Erased fills back to: the ``stored`` count of the last run; ValueError when
    none of its strokes is missing."""
    if current >= stored:
        raise ValueError(f"nothing to fill: the sketch has {current} strokes, its last run made {stored}")
    return stored


def refine_preview(sketch: formats.Sketch, init: formats.Sketch) -> formats.Sketch:
    """A refine's preview as the scene shows it: the core's previews list the init's strokes in order,
    then the added ones, with their ids and locks (PROTOCOL.md); the locked ones are shown as the
    init's own (exactly: a preview's points went through the core's canvas)."""
    if len(sketch.strokes) < len(init.strokes):
        return sketch
    strokes = [replace(own) if own.locked else replace(new, id=own.id)
               for new, own in zip(sketch.strokes, init.strokes)] + list(sketch.strokes[len(init.strokes):])
    return replace(sketch, strokes=strokes)
