"""The results table of a batch: ``OUT_DIR/clipasso-batch.jsonl`` (``clipasso-batch-K-of-N.jsonl``
for a shard), one JSON object per line, one line per image as it ends.

A row: ``input``, ``name`` (the outputs' path below OUT_DIR, no suffix), ``outputs`` (paths written,
relative to OUT_DIR), ``status`` (``done``, ``failed`` or ``cancelled``: a cancelled image's best
sketch so far was written), ``loss``, ``strokes``, ``seed``, ``width`` (the stroke width, canvas
px: the image's list row's, else ``--width``), ``preset``, ``device``, ``seconds``, ``error``
(failed: its one-line message), ``options`` (the fingerprint of the settings that shape every
sketch of the run, ``fingerprint``). Each row is written with one ``write`` call and flushed, so a killed
batch loses at most the images in flight; a torn last line (a kill during the write) is ignored
when the table is read. Tables of shards concatenate (``merge``) into one.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import InputError

TABLE = "clipasso-batch.jsonl"
STATUSES = ("done", "failed", "cancelled")

SHAPING = ("preset", "iterations", "seeds", "canvas_stroke_width", "color", "opacity", "mask", "mask_model",
           "backbone", "clip_weights", "saliency_weights", "levels")
"""SketchConfig fields that change a sketch (not the device, the progress or the output folder)."""


@dataclass
class Row:
    input: str
    name: str
    status: str
    outputs: list[str] = field(default_factory=list)
    loss: float | None = None
    strokes: int | None = None
    seed: int | None = None
    width: float | None = None
    preset: str | None = None
    device: str | None = None
    seconds: float | None = None
    error: str | None = None
    options: str | None = None


def table_name(shard: tuple[int, int] | None) -> str:
    """The table's file name: ``clipasso-batch.jsonl``, or ``clipasso-batch-K-of-N.jsonl`` for shard K/N."""
    return TABLE if shard is None else f"clipasso-batch-{shard[0]}-of-{shard[1]}.jsonl"


def fingerprint(config) -> str:
    """A short hash of the settings of ``SHAPING`` (and their values) of a SketchConfig, plus the
    strokes and seed the command line gives (list rows override them per image)."""
    shaping = {name: getattr(config, name) for name in SHAPING}
    shaping.update(strokes=config.strokes, seed=config.seed)
    text = json.dumps(shaping, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def append(path: Path, row: Row) -> None:
    """Add ``row`` as one line (one write, flushed and synced)."""
    line = json.dumps({k: v for k, v in asdict(row).items() if v is not None}, allow_nan=False) + "\n"
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise InputError(f"cannot write the results table {path}: {exc.strerror or exc}") from None


def read(path: Path) -> list[Row]:
    """The rows of a table (none when it does not exist); torn or foreign lines are skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise InputError(f"cannot read the results table {path}: {exc.strerror or exc}") from None
    rows = []
    for line in text.splitlines():
        try:
            data = json.loads(line)
            rows.append(Row(**{k: v for k, v in data.items() if k in Row.__dataclass_fields__}))
        except (ValueError, TypeError):
            continue
    return [row for row in rows if row.status in STATUSES]


def latest(rows: list[Row]) -> dict[str, Row]:
    """The last row of each output name."""
    return {row.name: row for row in rows}


def finished(row: Row | None, out_dir: Path, width: float | None = None, run_width: float | None = None) -> bool:
    """Whether a row says its image is done (at stroke ``width``, when given: a list row's width
    shapes its image as the run's options do, and a row of another width is sketched again; a row
    without a width, from a table written before list rows could set one, was made at the run's
    ``run_width``, which the table's fingerprint keeps) and its outputs are all there."""
    made_at = row.width if row is not None and row.width is not None else run_width
    return (row is not None and row.status == "done" and (width is None or made_at == width)
            and all((out_dir / p).is_file() for p in row.outputs))


def merge(tables: list[Path], output: Path) -> int:
    """Concatenate the tables of shards into ``output`` (the last row of each image wins); returns
    the number of rows written."""
    rows: dict[str, Row] = {}
    for table in tables:
        if not table.is_file():
            raise InputError(f"no results table {table}")
        rows.update(latest(read(table)))
    text = "".join(json.dumps({k: v for k, v in asdict(r).items() if v is not None}) + "\n" for r in rows.values())
    from ..atomic import write_text

    write_text(output, text)
    return len(rows)
