"""What ``clipasso batch`` sketches: its INPUT arguments expanded into items, and shards of them.

An INPUT is an image file, a folder (its images, recursively), a glob pattern (``'shots/**/*.jpg'``,
recursive with ``**``) or a list file (``.txt`` or ``.csv``: one image path a row, relative to the
list's folder; a header row may name the columns ``path`` (or ``image``), ``strokes``, ``seed`` and
``width``; a row without a header is ``path[,strokes[,seed[,width]]]``; an empty cell is the run's
option (``--strokes``, ``--seed``, ``--width``); ``#`` starts a comment line). ``width`` is the
image's ``--width`` (canvas px), checked as ``--width`` is.

Every item has an output name: its path relative to the folder, the glob's fixed part or the list's
folder it came from (for a single image, its file name), without the suffix (``a/b/horse`` ->
``OUT_DIR/a/b/horse.svg``). Two items that would get the same name keep their suffixes in it
(``horse.jpg`` -> ``horse_jpg``), and same-named files from different folders given one by one get
``-2``, ``-3``, ... (``cat``, ``cat-2``); one file given twice is sketched once.
"""
from __future__ import annotations

import csv
import glob
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from ..contract.client import LIST_COLUMNS
from ..contract.options import RUN_OPTIONS
from ..errors import InputError
from ..frames import IMAGE_SUFFIXES, natural_key

LIST_SUFFIXES = (".txt", ".csv")
"""Suffixes of list files."""


@dataclass(frozen=True)
class Item:
    """One image of a batch: ``path`` (as found), ``name`` (its outputs' path below OUT_DIR without
    suffix, ``/``-separated), and the stroke count, seed and stroke width (canvas px) of its list
    row, if any."""

    path: str
    name: str
    strokes: int | None = None
    seed: int | None = None
    width: float | None = None


def collect(inputs: list[str]) -> list[Item]:
    """The items of INPUT arguments, in a stable order (each argument's in natural order);
    InputError for an argument that names nothing to sketch."""
    found: list[Item] = []
    for argument in inputs:
        found += _expand(argument)
    if not found:
        raise InputError("no images to sketch in " + ", ".join(inputs))
    return _named(_unique(found))


def _expand(argument: str) -> list[Item]:
    if os.path.isdir(argument):
        files = [str(p) for p in Path(argument).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise InputError(f"the folder {argument} has no images ({', '.join(IMAGE_SUFFIXES)})")
        return [Item(f, _relative(f, argument)) for f in sorted(files, key=natural_key)]
    if os.path.isfile(argument):
        if argument.lower().endswith(LIST_SUFFIXES):
            return _list_file(argument)
        return [Item(argument, PurePosixPath(Path(argument).name).as_posix())]
    if glob.has_magic(argument):
        files = [f for f in glob.glob(argument, recursive=True)
                 if os.path.isfile(f) and f.lower().endswith(IMAGE_SUFFIXES)]
        if not files:
            raise InputError(f"the pattern {argument} matches no images ({', '.join(IMAGE_SUFFIXES)})")
        base = _fixed_part(argument)
        return [Item(f, _relative(f, base)) for f in sorted(files, key=natural_key)]
    raise InputError(f"input {argument} does not exist")


def _fixed_part(pattern: str) -> str:
    """The folder a glob pattern starts from: its parts before the first wildcard."""
    parts = []
    for part in Path(pattern).parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return str(Path(*parts)) if parts else "."


def _relative(path: str, base: str) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def _list_file(path: str) -> list[Item]:
    """The rows of a .txt/.csv list (paths relative to the list's folder)."""
    folder = os.path.dirname(path) or "."
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if row and row[0].strip() and not row[0].lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read the list {path}: {exc}") from None
    columns = list(LIST_COLUMNS)
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if header and header[0] in ("path", "image"):
        columns = ["path" if cell == "image" else cell for cell in header]
        rows = rows[1:]
    if "path" not in columns:
        raise InputError(f"the list {path} has no path column")
    items = []
    for number, row in enumerate(rows, start=2 if header and header[0] in ("path", "image") else 1):
        values = dict(zip(columns, (cell.strip() for cell in row)))
        image = values.get("path", "")
        full = image if os.path.isabs(image) else os.path.join(folder, image)
        if not os.path.isfile(full):
            raise InputError(f"the list {path}, row {number}: {image} does not exist")
        inside = not os.path.relpath(full, folder).startswith("..")
        name = _relative(full, folder) if inside else Path(full).name
        items.append(Item(full, name, _whole(values.get("strokes"), "strokes", path, number),
                          _whole(values.get("seed"), "seed", path, number), _width(values.get("width"), path, number)))
    return items


def _whole(text: str | None, column: str, path: str, row: int) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError(f"the list {path}, row {row}: {column} must be a whole number, got {text!r}") from None


def _width(text: str | None, path: str, row: int) -> float | None:
    """A row's stroke width, in ``--width``'s range (and its message)."""
    if not text:
        return None
    option = RUN_OPTIONS["stroke_width"]
    try:
        width = float(text)
    except ValueError:
        width = math.nan
    if not (math.isfinite(width) and option.minimum <= width <= option.maximum):
        raise InputError(f"the list {path}, row {row}: width must be a number from {option.minimum:g} to "
                         f"{option.maximum:g}, got {text!r}")
    return width


def _unique(items: list[Item]) -> list[Item]:
    """Each file once (the first mention wins)."""
    seen, kept = set(), []
    for item in items:
        key = os.path.realpath(item.path)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def _named(items: list[Item]) -> list[Item]:
    """Output names without suffixes; names that collide keep their suffix (``horse_jpg``), and
    names that still collide (``a/cat.jpg`` and ``b/cat.jpg`` given as files) get ``-2``, ``-3``,
    ... in input order."""
    stems = [str(PurePosixPath(item.name).with_suffix("")) for item in items]
    suffixes = [PurePosixPath(item.name).suffix[1:].lower() for item in items]
    pairs = list(zip(stems, suffixes))
    names = [stem if stems.count(stem) == 1 or pairs.count((stem, suffix)) > 1 else f"{stem}_{suffix}"
             for stem, suffix in pairs]
    seen: dict[str, int] = {}
    named = []
    for item, name in zip(items, names):
        seen[name] = seen.get(name, 0) + 1
        unique = name if seen[name] == 1 else f"{name}-{seen[name]}"
        named.append(replace(item, name=unique))
    return named


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` (1 <= K <= N) as (K, N)."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise InputError(f"--shard must be K/N (e.g. 2/8), got {text!r}") from None
    if not 1 <= k <= n:
        raise InputError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def shard(items: list[Item], k: int, n: int) -> list[Item]:
    """Shard K of N: the items whose place in output-name order is K - 1 modulo N (the same split
    on every machine, whatever order the inputs were given in)."""
    ordered = sorted(items, key=lambda item: item.name)
    return [item for place, item in enumerate(ordered) if place % n == k - 1]
