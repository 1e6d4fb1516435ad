"""batch.inputs: INPUT arguments expanded (files, folders, globs, lists), output names, shards."""
from __future__ import annotations

import shutil

import pytest

from clipasso_core.batch.inputs import Item, collect, parse_shard, shard
from clipasso_core.errors import InputError
from clipasso_core.pipeline import EXAMPLE_IMAGE


@pytest.fixture
def tree(tmp_path):
    for name in ("a/b/horse.jpg", "a/b/horse.png", "a/cat10.jpg", "a/cat2.jpg", "a/notes.txt", "c.webp"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLE_IMAGE, path) if not name.endswith(".txt") else path.write_text("x")
    return tmp_path


def test_a_folder_gives_its_images_recursively_in_natural_order_named_below_it(tree):
    items = collect([str(tree / "a")])
    assert [item.name for item in items] == ["b/horse_jpg", "b/horse_png", "cat2", "cat10"]
    assert all(item.path.startswith(str(tree / "a")) for item in items)


def test_files_patterns_and_lists_mix_and_a_file_named_twice_is_sketched_once(tree):
    (tree / "list.csv").write_text("path,strokes,seed\n# a comment\nc.webp,8,5\na/cat2.jpg,,\n")
    items = collect([str(tree / "a" / "**" / "horse.*"), str(tree / "list.csv"), str(tree / "c.webp")])
    assert [(i.name, i.strokes, i.seed) for i in items] == [
        ("b/horse_jpg", None, None), ("b/horse_png", None, None), ("c", 8, 5), ("a/cat2", None, None)]


def test_a_plain_list_without_header_and_its_errors(tree):
    (tree / "list.txt").write_text("c.webp\na/cat10.jpg,12\n")
    assert [(i.name, i.strokes) for i in collect([str(tree / "list.txt")])] == [("c", None), ("a/cat10", 12)]
    (tree / "bad.txt").write_text("missing.png\n")
    with pytest.raises(InputError, match="row 1: missing.png does not exist"):
        collect([str(tree / "bad.txt")])
    (tree / "bad.csv").write_text("c.webp,many\n")
    with pytest.raises(InputError, match="strokes must be a whole number"):
        collect([str(tree / "bad.csv")])


def test_a_width_column_by_header_or_as_the_fourth_cell_empty_for_the_runs(tree):
    (tree / "named.csv").write_text("image,width\nc.webp,4.5\na/cat2.jpg,\n")
    assert [(i.name, i.width) for i in collect([str(tree / "named.csv")])] == [("c", 4.5), ("a/cat2", None)]
    (tree / "plain.txt").write_text("c.webp,8,,0.25\na/cat2.jpg,,3,20\na/cat10.jpg\n")
    assert [(i.strokes, i.seed, i.width) for i in collect([str(tree / "plain.txt")])] == [
        (8, None, 0.25), (None, 3, 20.0), (None, None, None)]


@pytest.mark.parametrize("cell", ["0.2", "21", "nan", "inf", "thin"])
def test_a_width_outside_the_range_of_width_names_the_list_and_row(tree, cell):
    (tree / "bad.csv").write_text(f"path,width\nc.webp,3\na/cat2.jpg,{cell}\n")
    with pytest.raises(InputError) as caught:
        collect([str(tree / "bad.csv")])
    assert str(caught.value) == (f"the list {tree / 'bad.csv'}, row 3: width must be a number from 0.25 to 20, "
                                 f"got {cell!r}")


@pytest.mark.parametrize("argument, message", [("nowhere", "does not exist"), ("*.nothing", "matches no images")])
def test_inputs_that_name_nothing_are_refused(tree, argument, message):
    with pytest.raises(InputError, match=message):
        collect([str(tree / argument)])
    (tree / "empty").mkdir()
    with pytest.raises(InputError, match="has no images"):
        collect([str(tree / "empty")])


def test_shards_split_every_item_once_whatever_the_input_order():
    items = [Item(f"{n}.png", str(n)) for n in range(10)]
    parts = [shard(items, k, 3) for k in (1, 2, 3)]
    assert sorted(i.name for part in parts for i in part) == sorted(i.name for i in items)
    assert shard(list(reversed(items)), 2, 3) == parts[1]
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "x", "1/"):
        with pytest.raises(InputError, match="--shard"):
            parse_shard(bad)


def test_same_named_files_from_different_folders_get_different_names(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(EXAMPLE_IMAGE, tmp_path / folder / "cat.jpg")
    items = collect([str(tmp_path / "a" / "cat.jpg"), str(tmp_path / "b" / "cat.jpg")])
    assert [item.name for item in items] == ["cat", "cat-2"]
