"""The order a pen plotter draws strokes in.

``travel_order``: greedy nearest neighbour from the pen's home (0, 0): the next stroke is the one
with an end nearest the pen, drawn from that end (so a stroke may be reversed), found with
vpype's ``LineIndex`` (a KD-tree over both ends of every stroke). ``importance_order``: the
sketch's own order (rank 0 first), every stroke drawn forwards. ``pen_up`` measures a drawing's
travel between strokes.
"""
from __future__ import annotations

import math

from ..contract.formats import Stroke

Point = tuple[float, float]


def reversed_stroke(stroke: Stroke) -> Stroke:
    """The same curve drawn from its other end (a cubic Bézier reversed: its control points in
    reverse order)."""
    return Stroke(list(reversed(stroke.points)), stroke.width, stroke.color, stroke.opacity, stroke.id,
                  stroke.rank, stroke.locked)


def travel_order(strokes: list[Stroke], home: Point = (0.0, 0.0)) -> list[Stroke]:
    """``strokes`` reordered (and reversed where that starts them nearer) for little pen-up travel:
    from ``home``, always the stroke with an end nearest the pen's position."""
    import numpy as np
    import vpype

    if len(strokes) < 2:
        return list(strokes)
    ends = [np.array([complex(*s.points[0]), complex(*s.points[-1])]) for s in strokes]
    index = vpype.LineIndex(ends, reverse=True)
    pen, ordered = complex(*home), []
    for _ in strokes:
        found, flip = index.find_nearest(pen)
        index.pop(found)
        stroke = reversed_stroke(strokes[found]) if flip else strokes[found]
        ordered.append(stroke)
        pen = complex(*stroke.points[-1])
    return ordered


def importance_order(strokes: list[Stroke]) -> list[Stroke]:
    """Strokes most important first (by ``rank``; strokes without one keep their place after)."""
    return sorted(strokes, key=lambda s: (s.rank is None, s.rank if s.rank is not None else 0))


def pen_up(paths: list[list[Stroke]]) -> float:
    """Pen-up travel (px) between consecutive paths (each a run of strokes drawn without lifting
    the pen), from each path's last point to the next one's first."""
    total = 0.0
    for a, b in zip(paths, paths[1:]):
        total += math.dist(a[-1].points[-1], b[0].points[0])
    return total


def merged(strokes: list[Stroke], tolerance: float) -> list[list[Stroke]]:
    """Consecutive strokes joined into paths where one starts within ``tolerance`` px of where the
    one before ends, and both look the same (the pen stays down)."""
    paths: list[list[Stroke]] = []
    for stroke in strokes:
        last = paths[-1][-1] if paths else None
        if (last is not None and math.dist(last.points[-1], stroke.points[0]) <= tolerance
                and last.width == stroke.width):
            paths[-1].append(stroke)
        else:
            paths.append([stroke])
    return paths
