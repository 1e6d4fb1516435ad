"""What a refine of an ``--init`` sketch changes: which strokes are locked, which move, how many
new strokes are added and the ids of all of them.

* Locked strokes (``"locked": true`` in the file, or ``--lock IDS``) are drawn and scored but never
  move and keep their width, colour and opacity exactly.
* ``--add N`` adds N strokes; ``--fill-to N`` adds as many as the sketch lacks to have N.
* ``--move``: ``auto`` (default) moves only the new strokes when some are added, else every unlocked
  stroke; ``new``: only the new strokes; ``unlocked``: every unlocked stroke and the new ones.
  With ``--region`` an existing stroke moves only when the mean of its control points lies in the
  region, and every moving stroke stays inside the region.
* Ids: a stroke keeps the file's id; a stroke without one, a second stroke with an id already
  taken, and every new stroke get the next ids above the largest in the file, so no two collide.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..contract.formats import Sketch
from ..contract.options import MOVE_CHOICES
from ..errors import InputError
from .region import Region

__all__ = ["MOVE_CHOICES", "EditPlan", "added_count", "parse_ids", "plan_edit"]


@dataclass(frozen=True)
class EditPlan:
    """A refine of ``kept`` init strokes plus ``added`` new ones (after them, in that order):
    ``ids`` [kept + added] the output id of each, ``locked`` [kept] and ``movable`` [kept + added]."""

    ids: list[int]
    locked: list[bool]
    movable: list[bool]
    added: int

    @property
    def kept(self) -> int:
        return len(self.locked)

    def movable_mask(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """movable as a [kept + added] bool tensor."""
        return torch.tensor(self.movable, dtype=torch.bool, device=device)


def added_count(init: Sketch, add: int, fill_to: int) -> int:
    """New strokes of ``--add`` / ``--fill-to`` for an init sketch (InputError when --fill-to has
    nothing to fill)."""
    if fill_to:
        missing = fill_to - len(init.strokes)
        if missing <= 0:
            raise InputError(f"--fill-to {fill_to}: the sketch already has {len(init.strokes)} strokes, "
                             "nothing to fill (erase some first, or use --add)")
        return missing
    return add


def plan_edit(init: Sketch, lock: tuple[int, ...], add: int, fill_to: int, move: str,
              region: Region | None, centres: torch.Tensor) -> EditPlan:
    """The plan of a refine of ``init``; centres [S, 2]: the mean of each init stroke's control points
    in image px (to test them against ``region``). InputError when nothing would move or a
    ``--lock`` id is not in the sketch."""
    ids = _ids(init)
    missing = sorted(set(lock) - set(ids[:len(init.strokes)]))
    if missing:
        raise InputError(f"--lock: the sketch has no stroke with id {', '.join(map(str, missing))} "
                         f"(its ids: {_ranges(ids)})")
    locked = [s.locked or i in lock for s, i in zip(init.strokes, ids)]
    added = added_count(init, add, fill_to)
    move_existing = move == "unlocked" or (move == "auto" and not added)
    if move == "new" and not added:
        raise InputError("--move new moves only added strokes: give --add or --fill-to")
    inside = region.contains(centres.double()).tolist() if region is not None else [True] * len(locked)
    movable = [move_existing and not lock_ and ok for lock_, ok in zip(locked, inside)] + [True] * added
    top = max(ids, default=-1)
    ids = ids + list(range(top + 1, top + 1 + added))
    if not any(movable):
        why = ("every stroke is locked" if all(locked) else
               "no unlocked stroke lies in --region (a stroke is in it when the mean of its control points is)")
        raise InputError(f"nothing to optimise: {why}; unlock strokes, or add some with --add or --fill-to")
    return EditPlan(ids, locked, movable, added)


def _ids(init: Sketch) -> list[int]:
    """Each init stroke's id: its own, else (none, or taken by an earlier stroke) the next free one
    above the largest in the file."""
    seen, ids = set(), []
    top = max((s.id for s in init.strokes if s.id is not None), default=-1)
    for stroke in init.strokes:
        if stroke.id is not None and stroke.id not in seen:
            ids.append(stroke.id)
        else:
            top += 1
            ids.append(top)
        seen.add(ids[-1])
    return ids


def _ranges(ids: list[int]) -> str:
    """ids as "0-5, 9" (sorted)."""
    out, values = [], sorted(set(ids))
    start = prev = values[0]
    for value in values[1:] + [None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        out.append(f"{start}-{prev}" if prev > start else str(start))
        if value is not None:
            start = prev = value
    return ", ".join(out)


def parse_ids(text: str) -> tuple[int, ...]:
    """Stroke ids of ``--lock``: "3,7,12" or ranges "0-5,9" (InputError otherwise)."""
    out = []
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high) if dash else int(low)
        except ValueError:
            raise InputError(f"--lock takes stroke ids like 3,7,12 or 0-5,9, got {text!r}") from None
        if first < 0 or last < first or last - first > 100_000:
            raise InputError(f"--lock: {part!r} is not a range of stroke ids (whole numbers >= 0, low-high)")
        out.extend(range(first, last + 1))
    return tuple(sorted(set(out)))
