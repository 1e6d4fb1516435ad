"""edit.plan: which strokes of a refine are locked, move and are added, and their ids."""
from __future__ import annotations

import pytest
import torch

from clipasso_core.contract.formats import Sketch, Stroke
from clipasso_core.edit.plan import added_count, parse_ids, plan_edit
from clipasso_core.edit.region import parse_region
from clipasso_core.errors import InputError


def _sketch(ids, locked=()):
    strokes = [Stroke([(10.0 * k, 10.0)] * 4, id=i, locked=k in locked) for k, i in enumerate(ids)]
    return Sketch(100, 100, strokes)


def _centres(sketch):
    return torch.tensor([s.points for s in sketch.strokes], dtype=torch.float64).mean(1)


def test_ids_are_kept_and_missing_or_repeated_ones_get_fresh_ids_above_the_largest():
    sketch = _sketch([4, None, 9, 4, 0])
    plan = plan_edit(sketch, (), 2, 0, "auto", None, _centres(sketch))
    assert plan.ids == [4, 10, 9, 11, 0, 12, 13]
    assert len(set(plan.ids)) == len(plan.ids) and plan.kept == 5 and plan.added == 2


def test_locks_come_from_the_file_and_from_lock_ids():
    sketch = _sketch([0, 1, 2, 3], locked=(1,))
    plan = plan_edit(sketch, (3,), 0, 0, "auto", None, _centres(sketch))
    assert plan.locked == [False, True, False, True]
    assert plan.movable == [True, False, True, False]


@pytest.mark.parametrize("move, add, movable", [
    ("auto", 0, [True, False, True]),
    ("auto", 2, [False, False, False, True, True]),
    ("new", 2, [False, False, False, True, True]),
    ("unlocked", 2, [True, False, True, True, True]),
])
def test_move_says_which_strokes_move(move, add, movable):
    sketch = _sketch([0, 1, 2], locked=(1,))
    assert plan_edit(sketch, (), add, 0, move, None, _centres(sketch)).movable == movable


def test_with_a_region_only_strokes_whose_centre_lies_in_it_move():
    sketch = _sketch([0, 1, 2, 3])  # centres at x = 0, 10, 20, 30
    region = parse_region("5,0,25,50", 100, 100)
    assert plan_edit(sketch, (), 0, 0, "auto", region, _centres(sketch)).movable == [False, True, True, False]


def test_fill_to_adds_what_is_missing():
    sketch = _sketch([0, 1, 2])
    assert added_count(sketch, 0, 5) == 2 and added_count(sketch, 4, 0) == 4
    with pytest.raises(InputError, match="already has 3 strokes"):
        added_count(sketch, 0, 3)


@pytest.mark.parametrize("lock, add, move, region, message", [
    ((0, 1), 0, "auto", None, "every stroke is locked"),
    ((), 0, "auto", "60,0,90,50", "no unlocked stroke lies in --region"),
    ((7, 8), 0, "auto", None, "no stroke with id 7, 8 .*its ids: 0-1"),
    ((), 0, "new", None, "--move new"),
])
def test_a_refine_where_nothing_moves_or_an_unknown_id_is_refused(lock, add, move, region, message):
    sketch = _sketch([0, 1])
    area = parse_region(region, 100, 100) if region else None
    with pytest.raises(InputError, match=message):
        plan_edit(sketch, lock, add, 0, move, area, _centres(sketch))


def test_lock_ids_take_lists_and_ranges():
    assert parse_ids("3, 7,0-2,7") == (0, 1, 2, 3, 7)
    assert parse_ids("") == ()
    for bad in ("x", "5-2", "-3"):
        with pytest.raises(InputError):
            parse_ids(bad)
