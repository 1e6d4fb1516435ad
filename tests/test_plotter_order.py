"""plotter.order: travel order with reversed strokes, importance order, pen-up travel, merging."""
from __future__ import annotations

import math

from clipasso_core.contract.formats import Stroke
from clipasso_core.plotter.order import importance_order, merged, pen_up, reversed_stroke, travel_order


def _line(a, b, rank=None, width=1.0):
    (x0, y0), (x1, y1) = a, b
    return Stroke([(x0, y0), (x0 + (x1 - x0) / 3, y0 + (y1 - y0) / 3),
                   (x0 + 2 * (x1 - x0) / 3, y0 + 2 * (y1 - y0) / 3), (x1, y1)], width, rank=rank)


def test_reversing_a_stroke_draws_the_same_curve_from_its_other_end():
    stroke = Stroke([(0, 0), (1, 5), (4, 5), (6, 0)], 2.0, "#ff0000", 0.5, id=3, rank=1, locked=True)
    back = reversed_stroke(stroke)
    assert back.points == [(6, 0), (4, 5), (1, 5), (0, 0)]
    assert (back.width, back.color, back.opacity, back.id, back.rank, back.locked) == (2.0, "#ff0000", 0.5, 3, 1, True)


def test_travel_order_starts_at_home_takes_the_nearest_end_and_reverses_strokes():
    far = _line((100, 0), (110, 0), rank=0)
    near_backwards = _line((20, 0), (1, 0), rank=1)
    middle = _line((50, 0), (30, 0), rank=2)
    ordered = travel_order([far, near_backwards, middle])
    assert [s.rank for s in ordered] == [1, 2, 0]
    assert ordered[0].points[0] == (1, 0) and ordered[1].points[0] == (30, 0)
    assert pen_up([[s] for s in ordered]) == 10 + 50
    assert pen_up([[s] for s in importance_order([middle, far, near_backwards])]) == math.dist((110, 0), (20, 0)) + math.dist((1, 0), (50, 0))


def test_strokes_that_continue_one_another_with_the_same_width_are_one_path():
    a, b = _line((0, 0), (10, 0)), _line((10.1, 0), (20, 0))
    c, d = _line((20, 0), (30, 0), width=2.0), _line((50, 0), (60, 0), width=2.0)
    paths = merged([a, b, c, d], tolerance=0.2)
    assert [len(p) for p in paths] == [2, 1, 1]
    assert pen_up(paths) == math.dist((20, 0), (20, 0)) + 20
