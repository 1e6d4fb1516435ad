"""One run of ``clipasso batch`` driven from Blender: several images sketched together (Sketch from
Image with several image empties selected), each into its own sketch object placed over its empty
exactly as a single sketch is. Each image's previews (and levels) update its own object as they
arrive (the events' ``image`` index); its ``image`` event brings its final (or, after Esc, best so
far) sketch, or its failure, which removes its object and is reported (a line in ``warnings``). A
failure of the whole run leaves nothing behind (``job.CoreJob``).

Each image is sketched at its own stroke width (a width in scene units over empties of different
sizes is a different ``--width`` for each), the one it gets when sketched alone: the run's list
file gives it (``client.batch_inputs``).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from . import build, job_logic
from .contract import client, events, formats, options
from .job import CoreJob


@dataclass
class BatchImage:
    """One image of a batch and where its sketch goes: ``path`` its file (of a packed image, only
    its extension counts), ``data`` a packed image's bytes, ``label`` how the status and messages
    name it, ``width`` its own stroke width (canvas px), then ``build.create``'s frame size, offset
    and settings, the object's world matrix and name."""

    path: str
    data: bytes | None
    label: str
    width: float
    frame_size: float
    offset: tuple
    matrix_world: object
    settings: dict
    name: str


class BatchJob(CoreJob):
    """A run of ``clipasso batch`` over ``images`` (``BatchImage``s, each at its own ``width``),
    ``kind`` "GPENCIL" or "CURVE"; ``core_args``: the run options but the width; ``failures``: the
    report lines of selected images left out before the run (``job_logic.image_failure``)."""

    def __init__(self, command: list[str], images: list[BatchImage], core_args: list[str], kind: str,
                 failures: list[str] | None = None):
        self.tmp = tempfile.TemporaryDirectory(prefix="clipasso-blender-")
        self._begin()
        try:
            self.images, self.kind = images, kind
            listed, self.inputs = client.batch_inputs([self._file(k, image) for k, image in enumerate(images)],
                                                      [image.width for image in images],
                                                      os.path.join(self.tmp.name, "in"))
            self.objects: dict[int, object] = {}  # image index -> its sketch object (previews, then the result)
            self.results: set[int] = set()  # the images whose final (or best so far) sketch is shown
            self.warnings += failures or []  # one line per failed image
            self.failed = len(failures or [])
            self.total = len(images) + self.failed  # the images selected
            self.fractions = [0.0] * len(images)
            args = [listed, "-o", os.path.join(self.tmp.name, "out"), "--json",
                    "--batch-size", str(min(len(images), options.EDITOR_BATCH_SIZE)), *core_args]
            self._start(command, "batch", args)
        except BaseException:
            self.tmp.cleanup()
            raise

    def _file(self, index: int, image: BatchImage) -> str:
        """The image's file: its own, or a packed image's bytes written to a file of this job."""
        if image.data is None:
            return image.path
        path = os.path.join(self.tmp.name, f"packed{index}{os.path.splitext(image.path)[1] or '.png'}")
        with open(path, "wb") as handle:
            handle.write(image.data)
        return path

    def _shows_strokes(self) -> bool:
        return bool(self.objects)

    def _show(self, context, index: int, sketch: formats.Sketch) -> None:
        image = self.images[index]
        obj = self.objects.get(index)
        if obj is None:
            obj = build.create(context, image.name, sketch, self.kind, image.frame_size, image.offset,
                               image.settings)
            obj.matrix_world = image.matrix_world
            self.objects[index] = obj
        else:
            build.replace_strokes(obj, sketch)

    def _event(self, context, event) -> None:
        index = event.index if isinstance(event, events.ImageDone) else getattr(event, "image", None)
        if index is None or not 0 <= index < len(self.images):
            return  # not about one image of this run (start, batch, an event this add-on does not know)
        if isinstance(event, events.Progress):
            self.fractions[index] = job_logic.fraction(event)
            self.progress = sum(self.fractions) / len(self.fractions)
            self.status = job_logic.batch_status_text(event, index + 1, len(self.images), self.images[index].label)
        elif isinstance(event, events.Preview):
            if self._keeps_events():
                self._show(context, index, event.sketch)
        elif isinstance(event, events.LevelDone):
            if self._keeps_events():
                if index not in self.objects:
                    self._show(context, index, event.sketch)
                build.add_level(self.objects[index], event.count, event.loss, event.sketch)
        elif isinstance(event, events.ImageDone):
            self._image_done(context, index, event)

    def _image_done(self, context, index: int, event: events.ImageDone) -> None:
        """An image ended: show its sketch, or report its failure and remove its previews."""
        self.fractions[index] = 1.0
        self.progress = sum(self.fractions) / len(self.fractions)
        error = event.error or "the core wrote no sketch"
        if event.status != "failed" and event.json:
            if not self._keeps_events():
                return
            try:
                sketch = formats.Sketch.from_json(formats.read_text(event.json, "the core's sketch JSON"))
            except formats.FormatError as exc:
                error = str(exc)
            else:
                self._show(context, index, sketch)
                self.results.add(index)
                return
        self._remove(index)
        self.failed += 1
        label = self.images[index].label  # named, not this job's file of it
        self.warnings.append(job_logic.image_failure(label, error.replace(self.inputs[index], label)))

    def _outcome(self, code: int) -> tuple[str, str | None]:
        """A run that ended (its ``batch`` event came) keeps the images with a sketch, whatever
        failed; without any, it failed (each failure is reported) or, after Esc, changed nothing."""
        failure = self.run.failure()
        if failure is None and not self.results and not self.cancel_requested:
            failure = f"none of the {self.total} images could be sketched"
        state = job_logic.end_state(self.cancel_requested, self._shows_strokes(), bool(self.results), failure)
        return state, failure

    def _result(self, context) -> None:
        """Remove the previews of images that got no sketch (the run stopped before they ended)."""
        for index in [i for i in self.objects if i not in self.results]:
            self._remove(index)

    def _remove(self, index: int) -> None:
        obj = self.objects.pop(index, None)
        try:
            if obj is not None:
                build.remove(obj)
        except ReferenceError:
            pass  # already gone (Blender loaded another file)

    def _undo(self) -> None:
        """Remove every object this job made."""
        for index in list(self.objects):
            self._remove(index)

    def end_message(self) -> str:
        stopped = self.run.batch is not None and self.run.batch.cancelled
        return job_logic.batch_end_text(len(self.results), self.total, self.failed, stopped)
