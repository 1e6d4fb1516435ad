"""``clipasso batch INPUT... -o OUT_DIR``: sketch many images, resumable, one results table.

Outputs mirror the inputs (``inputs``): ``OUT_DIR/NAME.svg`` and, with ``--json``, ``OUT_DIR/NAME.json``
beside it. As each image ends its files are written (atomically) and its row appended to the table
(``table``), so a killed batch loses only the images in flight. Run again with the same options, it
skips every image whose row says done and whose files are there, and sketches the rest (failed ones
included, and those whose list row now gives another stroke width); run with other options into the
same folder, it stops with a message instead of mixing two kinds of sketch. ``--shard K/N``
sketches every N-th image (its own table), ``--merge`` joins the shards' tables. Exit code 0: every
image done; ``EXIT_SOME_FAILED``: some failed (the rest are written); 3: cancelled (the images ended
so far are kept).
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from .. import __version__
from ..contract import events
from ..contract.client import EXIT_CANCELLED, EXIT_SOME_FAILED
from ..errors import InputError

BATCH_DESCRIPTION = """\
Sketch many images: files, folders (recursively), glob patterns and list files (.txt/.csv, one path
a row, optional columns strokes, seed and width). Outputs mirror the inputs' relative paths under
OUT_DIR; a results table (clipasso-batch.jsonl) gets one line per image as it ends. Running the same
command again resumes: images already done are skipped. One bad image never stops the batch."""
BATCH_EXAMPLES = """\
examples:
  clipasso batch photos/ -o sketches/                           every image under photos/
  clipasso batch 'refs/**/*.jpg' list.csv -o out/ --json        a pattern and a list, JSON beside each SVG
  clipasso batch photos/ -o out/ --batch-size auto --device cuda   several images per optimisation step
  clipasso batch photos/ -o out/ --shard 3/8                    the third of 8 shards (job arrays)
  clipasso batch --merge -o out/                                join the shards' tables"""


def add_parser(sub, add_run_options, add_option) -> None:
    """The ``batch`` subcommand, with the run options ``sketch`` has."""
    b = sub.add_parser("batch", help="sketch many images (folders, patterns, lists) into a folder, resumable",
                       description=BATCH_DESCRIPTION, epilog=BATCH_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("inputs", nargs="*", metavar="INPUT", help="image files, folders, glob patterns, .txt/.csv lists")
    b.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="folder for the sketches and the table")
    b.add_argument("--json", dest="json_out", action="store_true", help="also write each sketch's JSON beside its SVG")
    b.add_argument("--batch-size", default="1", metavar="N|auto",
                   help="images optimised together (one encoder call per step for all; auto: as many as the "
                        "device's free memory takes; default 1)")
    b.add_argument("--shard", metavar="K/N", help="sketch only shard K of N (job arrays; its own table)")
    b.add_argument("--merge", action="store_true", help="join the shard tables in OUT_DIR into clipasso-batch.jsonl")
    from .cluster import add_options

    add_options(b)
    add_run_options(b)
    add_option(b, "levels", str)


def batch_size(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        size = int(text)
    except ValueError:
        size = 0
    if not 1 <= size <= 1024:
        raise InputError(f"--batch-size must be auto or a whole number from 1 to 1024, got {text!r}")
    return size


def run_batch(args: argparse.Namespace, reporter, config, start) -> int:
    """The batch command: ``config`` from the run options; ``start(event)`` sends the start event."""
    from . import table
    from .inputs import collect, parse_shard, shard
    from .run import item_width

    from .cluster import input_taken_as_address

    input_taken_as_address(args)
    out_dir = Path(args.output)
    if args.merge:
        return _merge(out_dir, reporter)
    if not args.inputs:
        raise InputError("no INPUT given: name image files, folders, patterns or list files")
    size = batch_size(args.batch_size)
    part = parse_shard(args.shard) if args.shard else None
    items = collect(args.inputs)
    if part is not None:
        items = shard(items, *part)
    _make_folder(out_dir)
    table_path = out_dir / table.table_name(part)
    options = table.fingerprint(config)
    rows = table.latest(table.read(table_path))
    other = sorted({row.options for row in rows.values() if row.status == "done" and row.options != options})
    if other:
        raise InputError(f"{table_path} holds sketches made with other settings (preset, strokes, looks, model...): "
                         "sketch into another -o folder, or delete the table to sketch everything again")
    widths = {item.name: item_width(config, item) for item in items}
    todo = [item for item in items
            if not table.finished(rows.get(item.name), out_dir, widths[item.name], config.canvas_stroke_width)]
    skipped = len(items) - len(todo)
    start(events.Start(__version__, ", ".join(args.inputs), config.strokes, config.seed_count,
                       config.resolved_preset().iterations, config.preset, config.backbone, images=len(todo)))
    counts = {"done": 0, "failed": 0, "cancelled": 0}
    for result in _results(todo, config, size, reporter, args):
        row = _write_result(result, out_dir, args.json_out, options, widths[result.item.name], reporter)
        table.append(table_path, row)
        counts[row.status] += 1
        reporter.stop.hard = True
        reporter.emit(events.ImageDone(result.index, result.item.path, row.status, sum(counts.values()), len(todo),
                                       _path(out_dir, row, ".svg"), _path(out_dir, row, ".json"), row.loss,
                                       row.seconds, row.error))
    cancelled = reporter.cancel.is_set()
    reporter.emit(events.BatchDone(counts["done"] + counts["cancelled"], counts["failed"], skipped,
                                   str(table_path), cancelled))
    if cancelled:
        return EXIT_CANCELLED
    return EXIT_SOME_FAILED if counts["failed"] else 0


def _results(todo, config, size, reporter, args):
    """The images' results as they end, sketched here or (``--ray``) on a Ray cluster (library
    warnings silenced: they went through the reporter)."""
    from .cluster import sketch_on_ray
    from .run import sketch_many

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if args.ray:
            yield from sketch_on_ray(todo, config, size, reporter.cancel, args.ray, args.ray_workers,
                                     args.ray_cpus_per_worker)
        else:
            yield from sketch_many(todo, config, batch_size=size, progress=reporter.emit, cancel=reporter.cancel)


def _make_folder(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot make the output folder {out_dir}: {exc.strerror or exc}") from None
    from ..atomic import check_writable

    check_writable(out_dir / "clipasso-batch.check")


def _write_result(result, out_dir: Path, with_json: bool, options: str, width: float, reporter):
    """Write an image's files (atomically, the SVG last so that its presence means complete) and
    return its table row (``width``: the image's stroke width); a failure to write is the image's failure."""
    from ..atomic import write_files
    from ..svg import to_svg
    from .table import Row

    item = result.item
    row = Row(item.path, item.name, result.status, width=width, seconds=result.seconds, error=result.error,
              options=options)
    if result.sketch is None:
        return row
    meta = result.sketch.metadata
    files = {}
    if with_json:
        files[out_dir / f"{item.name}.json"] = result.sketch.to_json().encode("utf-8")
    files[out_dir / f"{item.name}.svg"] = to_svg(result.sketch).encode("utf-8")
    reporter.stop.hard = False
    try:
        folders = [out_dir / parent for parent in reversed(Path(item.name).parents) if str(parent) != "."]
        for folder in folders:
            folder.mkdir(exist_ok=True)
        write_files(files)
    except (InputError, OSError) as exc:
        row.status, row.error = "failed", str(exc)
        return row
    row.outputs = [Path(path).relative_to(out_dir).as_posix() for path in files]
    row.loss, row.strokes, row.seed = meta["final_loss"], meta["strokes"], meta["seed"]
    row.preset, row.device = meta["preset"], meta["device"]
    return row


def _path(out_dir: Path, row, suffix: str) -> str | None:
    return next((str(out_dir / p) for p in row.outputs if p.endswith(suffix)), None)


def _merge(out_dir: Path, reporter) -> int:
    from .table import TABLE, merge

    shards = sorted(out_dir.glob("clipasso-batch-*-of-*.jsonl"))
    if not shards:
        raise InputError(f"no shard tables (clipasso-batch-K-of-N.jsonl) in {out_dir}")
    count = merge(shards, out_dir / TABLE)
    if reporter.mode == "bar":
        reporter.emit(events.WarningMessage(f"merged {len(shards)} shard tables ({count} images) into "
                                            f"{out_dir / TABLE}"))
    return 0
