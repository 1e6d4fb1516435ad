"""batch.table: rows appended one line each, a torn last line ignored, the finished test, merge."""
from __future__ import annotations

from pathlib import Path

from clipasso_core.batch import table
from clipasso_core.config import SketchConfig


def test_rows_round_trip_and_a_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / table.TABLE
    table.append(path, table.Row("in/a.png", "a", "done", ["a.svg"], loss=1.5, width=4.5, seconds=2.0))
    table.append(path, table.Row("in/b.png", "b", "failed", error="broken"))
    with open(path, "a") as handle:
        handle.write('{"input": "in/c.png", "name": "c", "sta')  # killed while writing
    rows = table.read(path)
    assert [(r.name, r.status) for r in rows] == [("a", "done"), ("b", "failed")]
    assert rows[0].loss == 1.5 and rows[0].width == 4.5 and rows[1].error == "broken"
    assert table.read(tmp_path / "none.jsonl") == []


def test_an_image_is_finished_only_when_its_row_says_done_and_its_files_are_there(tmp_path):
    row = table.Row("in/a.png", "a", "done", ["a.svg"])
    assert not table.finished(row, tmp_path)
    (tmp_path / "a.svg").write_text("<svg/>")
    assert table.finished(row, tmp_path)
    assert not table.finished(table.Row("in/a.png", "a", "cancelled", ["a.svg"]), tmp_path)
    assert not table.finished(None, tmp_path)


def test_a_row_is_finished_at_its_own_width_only():
    row = table.Row("in/a.png", "a", "done", [], width=4.5)
    assert table.finished(row, Path("."), 4.5) and table.finished(row, Path("."))
    assert not table.finished(row, Path("."), 3.0)
    older = table.Row("in/a.png", "a", "done", [])  # a row without a width: made at the run's width
    assert not table.finished(older, Path("."), 3.0)
    assert table.finished(older, Path("."), 3.0, run_width=3.0) and not table.finished(older, Path("."), 4.5, run_width=3.0)


def test_the_fingerprint_follows_the_settings_that_shape_a_sketch_not_the_device():
    base = table.fingerprint(SketchConfig().validate())
    assert table.fingerprint(SketchConfig(device="cpu").validate()) == base
    assert table.fingerprint(SketchConfig(preset="fast").validate()) != base
    assert table.fingerprint(SketchConfig(strokes=8).validate()) != base


def test_shard_tables_merge_into_one_with_the_last_row_of_each_image(tmp_path):
    one, two = tmp_path / table.table_name((1, 2)), tmp_path / table.table_name((2, 2))
    table.append(one, table.Row("a.png", "a", "failed", error="x"))
    table.append(one, table.Row("a.png", "a", "done", ["a.svg"]))
    table.append(two, table.Row("b.png", "b", "done", ["b.svg"]))
    assert table.merge([one, two], tmp_path / table.TABLE) == 2
    assert [(r.name, r.status) for r in table.read(tmp_path / table.TABLE)] == [("a", "done"), ("b", "done")]
