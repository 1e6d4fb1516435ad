"""contract.formats: the sketch JSON, its checks and limits."""
from __future__ import annotations

import json
import os
import random

import pytest

from clipasso_core.contract.formats import (MAX_FILE_BYTES, MAX_STROKES, FormatError, Level, Sketch, Stroke,
                                            read_text)


def random_sketch(n=16, w=451.0, h=300.0) -> Sketch:
    rng = random.Random(5)
    strokes = [Stroke([(rng.uniform(0, w), rng.uniform(0, h)) for _ in range(4)], rng.uniform(0.5, 9),
                      f"#{rng.randrange(1 << 24):06x}", round(rng.uniform(0.1, 1), 3)) for _ in range(n)]
    return Sketch(w, h, strokes, {"generator": "clipasso", "seed": 3, "final_loss": 0.25})


def test_json_round_trip_is_exact():
    original = random_sketch()
    data = json.loads(original.to_json())
    assert data["format"] == "clipasso-sketch" and data["version"] == 1
    assert Sketch.from_json(original.to_json()) == original


def test_unknown_keys_are_ignored_so_later_versions_can_add_fields():
    data = random_sketch(n=2).to_dict()
    data["frames"] = [{"index": 0}]
    data["strokes"][0]["pressure"] = 0.5
    assert Sketch.from_dict(data) == random_sketch(n=2)


def leveled(counts=(4, 2), ids=None) -> dict:
    top = random_sketch(n=counts[0])
    for rank, stroke in enumerate(top.strokes):
        stroke.id, stroke.rank = rank, rank
    levels = [Level(c, 1.0 / c, top.strokes[:c]) for c in counts]
    if ids is not None:
        levels[-1].strokes = [Stroke(s.points, s.width, s.color, s.opacity, i, r)
                              for r, (s, i) in enumerate(zip(levels[-1].strokes, ids))]
    return Sketch(top.width, top.height, top.strokes, {}, levels).to_dict()


def test_levels_round_trip_and_one_level_reads_as_a_sketch():
    sketch = Sketch.from_dict(leveled())
    assert [level.count for level in sketch.levels] == [4, 2]
    assert [s.id for s in sketch.level(2).strokes] == [0, 1] and sketch.level(2).metadata["level"] == 2
    assert Sketch.from_json(sketch.to_json()) == sketch
    with pytest.raises(FormatError, match="no level of 3 strokes"):
        sketch.level(3)


@pytest.mark.parametrize("data, message", [
    (dict(leveled(), levels=leveled()["levels"][::-1]), "largest first"),
    (leveled((4, 2), ids=[0, 9]), "not all in level 4"),
    (dict(leveled(), levels=[{"count": 3, "loss": 1, "strokes": []}]), "does not match"),
    (dict(leveled(), levels="4,2"), "levels must be a list"),
])
def test_bad_levels_are_refused(data, message):
    with pytest.raises(FormatError, match=message):
        Sketch.from_dict(data)


def stroke(**changes) -> dict:
    base = {"points": [[0, 0], [1, 1], [2, 2], [3, 3]], "width": 1.0, "color": "#000000", "opacity": 1.0}
    base.update(changes)
    return base


def document(**stroke_changes) -> str:
    return json.dumps({"format": "clipasso-sketch", "version": 1, "width": 10, "height": 10,
                       "strokes": [stroke(**stroke_changes)]})


@pytest.mark.parametrize("text, message", [
    ('{"format": "other"}', "not a clipasso sketch"),
    ('{"format": "clipasso-sketch", "version": 99}', "unsupported sketch JSON version 99"),
    ('{"format": "clipasso-sketch", "version": 1, "width": 5}', "needs width, height"),
    ("{oops", "malformed sketch JSON"),
    ("[1, 2]", "not a clipasso sketch"),
    (document(points=[[0, 0], [1, 1], [2, 2]]), "exactly 4 control points"),
    (document(points=[[0, 0], [1, 1], [2, 2], [3]]), "not \\[x, y\\]"),
    (document().replace("[3, 3]", "[3, NaN]"), "NaN is not a number"),
    (document(points=[[0, 0], [1, 1], [2, 2], [3, "Infinity"]]), "finite"),
    (document().replace("[3, 3]", "[3, 1e400]"), "finite"),
    (document(width=0), "width must be > 0"),
    (document(width=-2), "width must be > 0"),
    (document(opacity=1.5), "opacity must be <= 1"),
    (document(color="black"), "#rrggbb"),
    (document(color=None), "#rrggbb"),
    (document(points=5), "points must be a list"),
    (json.dumps({"format": "clipasso-sketch", "version": 1, "width": 1, "height": 1, "strokes": [{}]}),
     "lacks points, width, color, opacity"),
    ('{"format": "clipasso-sketch", "version": 1, "width": 0, "height": 10, "strokes": []}', "width must be > 0"),
    ('{"format": "clipasso-sketch", "version": 1, "width": 10, "height": 10, "strokes": [3]}', "not an object"),
    ("[" * 100000 + "]" * 100000, "malformed sketch JSON"),
])
def test_bad_json_gives_one_clear_error(text, message):
    with pytest.raises(FormatError, match=message):
        Sketch.from_json(text)


def test_stroke_limit_is_checked_before_reading_strokes():
    text = json.dumps({"format": "clipasso-sketch", "version": 1, "width": 10, "height": 10,
                       "strokes": [stroke()] * (MAX_STROKES + 1)})
    with pytest.raises(FormatError, match=f"limit is {MAX_STROKES}"):
        Sketch.from_json(text)


def test_read_text_refuses_big_and_unreadable_files(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(FormatError, match="larger than the limit"):
        read_text(big, "--init file")
    with pytest.raises(FormatError, match="not a regular file"):
        read_text("/dev/zero", "--init file")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(FormatError, match="not a regular file"):  # would block forever if opened
        read_text(tmp_path / "fifo", "--init file")
    with pytest.raises(FormatError, match="could not read --init file"):
        read_text(tmp_path / "missing.json", "--init file")
    (tmp_path / "latin.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(FormatError, match="could not read"):
        read_text(tmp_path / "latin.json", "--init file")


def test_locked_is_written_only_when_true_and_must_be_a_boolean():
    sketch = random_sketch(n=2)
    sketch.strokes[1].locked = True
    data = json.loads(sketch.to_json())
    assert "locked" not in data["strokes"][0] and data["strokes"][1]["locked"] is True
    assert Sketch.from_json(sketch.to_json()) == sketch
    data["strokes"][0]["locked"] = "yes"
    with pytest.raises(FormatError, match="stroke 1 locked must be true or false"):
        Sketch.from_dict(data)
