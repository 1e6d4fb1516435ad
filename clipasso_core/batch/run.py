"""``sketch_many``: many images through one engine, several at a time in one optimisation.

The models load once. Images go in groups of ``batch_size`` into one ``optimise_images`` call (one
encoder call per step for all of them; each image's strokes are those it gets alone). Images of
different sizes and stroke counts batch together: each image is rendered on its own (one rasterizer
call per image), only the encoder batch is shared. A group that runs out of device memory is tried
again at half the size (down to one image); the images are never lost. ``batch_size="auto"`` sizes
groups from the device's free memory (``auto_batch_size``).
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from ..contract import events
from ..contract.formats import FormatError, Sketch
from ..errors import Cancelled, InputError, out_of_memory

if TYPE_CHECKING:  # inputs (numpy, Pillow) loads when sketch_many runs, not with the command's parser
    from .inputs import Item

ENCODED_IMAGE_BYTES = 100 * 2 ** 20
"""Saved activations of one 224 px image through the CLIP RN101 forward kept for the backward
(about 100 MiB, measured on a GPU): the memory cost of one encoded pair."""
BANK_BYTES = 80 * 2 ** 20
"""One image's target bank of 64 augmentations in bfloat16 (layer2 + layer3 + embedding)."""
MAX_AUTO_BATCH = 64
"""The largest group ``auto`` picks on a GPU; on a CPU, MAX_AUTO_BATCH_CPU (batching there saves
only the per-step overhead: the encoder's arithmetic grows with the batch)."""
MAX_AUTO_BATCH_CPU = 8


@dataclass
class BatchResult:
    """One image's end: ``index`` its place among the batch's items, ``sketch`` (None when it
    failed), ``error`` its one-line message, ``seconds`` the wall time of its group."""

    item: Item
    index: int
    sketch: Sketch | None
    error: str | None
    seconds: float

    @property
    def status(self) -> str:
        if self.sketch is None:
            return "failed"
        return "cancelled" if self.sketch.metadata.get("cancelled") else "done"


def free_memory(device) -> int:
    """Bytes free for a group on ``device``: the CUDA device's free memory, else the machine's
    available memory (0 when it cannot be told)."""
    import torch

    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def auto_batch_size(engine) -> int:
    """Images per group from the free memory: each image costs its seeds' encoded pairs of one
    step (``ENCODED_IMAGE_BYTES`` each, all seeds in one chunk unless the preset chunks them) and
    its target bank; 70% of the free memory is used. At least 1, at most MAX_AUTO_BATCH (CPU:
    MAX_AUTO_BATCH_CPU)."""
    preset, seeds = engine.preset, engine.config.seed_count
    pairs = (1 + preset.augmentations) * (min(seeds, preset.seed_chunk) if preset.seed_chunk else seeds)
    per_image = pairs * ENCODED_IMAGE_BYTES + (BANK_BYTES if preset.target_bank else 0)
    cap = MAX_AUTO_BATCH if engine.device.type == "cuda" else MAX_AUTO_BATCH_CPU
    return max(1, min(cap, int(0.7 * free_memory(engine.device)) // per_image))


def _tagged(progress: Callable[[events.Event], None] | None, index: int):
    """``progress`` with the image's index put on its Progress, Preview and LevelDone events."""
    if progress is None:
        return None

    def send(event: events.Event) -> None:
        if isinstance(event, (events.Progress, events.Preview, events.LevelDone)):
            event.image = index
        progress(event)
    return send


def sketch_many(inputs: Iterable[Item | str], config=None, *, batch_size: int | str = 1,
                progress: Callable[[events.Event], None] | None = None,
                cancel: threading.Event | None = None, encoders=None, engine=None) -> Iterator[BatchResult]:
    """Sketch many images; yields one ``BatchResult`` per image as it ends (in input order within
    a group). ``inputs``: ``Item``s, or paths/folders/globs/list files (``inputs.collect``).
    ``config``: every image's settings (an item's list row may set its strokes, seed and width);
    ``batch_size``: images per optimisation, or ``"auto"``. An image that cannot be sketched (a
    broken file, nothing to sketch) yields a failed result and the rest go on. ``cancel``: the
    images in flight end with their best sketch so far (``metadata["cancelled"]``), then no more
    start. Events to ``progress`` carry the image's index (``image``). ``engine``: a started engine
    (``pipeline.start_engine``) to sketch with instead of a new one, its models kept loaded from one
    call to the next (its config and encoders are then the run's)."""
    from ..downloads import reporting
    from .inputs import Item, collect

    items = [item if isinstance(item, Item) else None for item in inputs]
    if any(item is None for item in items):
        items = collect([str(item) for item in inputs])  # paths given: expand them all
    with reporting(progress, cancel):
        yield from _sketch_many(items, config, batch_size, progress, cancel, encoders, engine)


def item_width(config, item: Item) -> float:
    """The stroke width (canvas px) an item is sketched at: its list row's, else ``config``'s."""
    return config.canvas_stroke_width if item.width is None else item.width


def item_config(config, item: Item):
    """An item's own settings: ``config`` with its list row's strokes, seed and stroke width."""
    return replace(config, strokes=item.strokes or config.strokes, seed=config.seed if item.seed is None else item.seed,
                   canvas_stroke_width=item_width(config, item)).validate()


def _sketch_many(items, config, batch_size, progress, cancel, encoders, engine) -> Iterator[BatchResult]:
    import torch

    from ..config import SketchConfig
    from ..pipeline import CancelCheck, finish, image_job, optimise_images, start_engine, step_reporter

    config = engine.config if engine is not None else (config or SketchConfig()).validate()
    if config.init:
        raise InputError("--init starts one sketch from another: sketch that image with clipasso sketch")
    engine = engine if engine is not None else start_engine(config, encoders)
    size = auto_batch_size(engine) if batch_size == "auto" else int(batch_size)
    if size < 1:
        raise InputError(f"--batch-size must be a whole number >= 1 or auto, got {batch_size!r}")
    check = CancelCheck(cancel)
    queue = list(enumerate(items))
    while queue and not check.check():
        started = time.perf_counter()
        jobs, places = [], []
        for index, item in queue[:size]:
            try:
                own = item_config(config, item)
                jobs.append(image_job(engine, item.path, own))
                places.append((index, item))
            except (InputError, FormatError) as exc:
                yield BatchResult(item, index, None, str(exc), round(time.perf_counter() - started, 2))
        queue = [entry for entry in queue[:size] if entry in places] + queue[size:]
        if not jobs:
            continue
        reports = [step_reporter(_tagged(progress, index), job) for (index, _), job in zip(places, jobs)]
        try:
            done = optimise_images(engine, jobs, reports, check.check)
        except Cancelled:
            return  # before this group's first step: the images done so far were yielded
        except Exception as exc:
            if not out_of_memory(exc):
                raise
            done = None  # handled below, once the exception (and the tensors it holds) is gone
        if done is None:
            if engine.device.type == "cuda":
                torch.cuda.empty_cache()
            if len(jobs) > 1:
                size = max(1, len(jobs) // 2)
                if progress is not None:
                    progress(events.WarningMessage(f"out of memory with {len(jobs)} images at once: "
                                                   f"trying {size} at a time"))
                continue  # the same images again, fewer at a time
            index, item = places[0]
            yield BatchResult(item, index, None, "out of memory even as a single image; try --device cpu "
                              "or fewer --seeds", round(time.perf_counter() - started, 2))
            queue = queue[1:]
            continue
        queue = queue[len(jobs):]
        for (index, item), job, optimised in zip(places, jobs, done):
            result = finish(engine, job, optimised, _tagged(progress, index), check, started)
            yield BatchResult(item, index, result, None, round(time.perf_counter() - started, 2))
