"""One sketch run of the core, driven step by step from Blender (a modal operator's timer, or a
blocking loop): streams previews into the sketch object and finishes, fails or cancels cleanly.

The core is run through the contract's client (``client.CoreRun``: typed events, ``--watch-parent``)
and the files exchanged with it are the contract's sketch JSON. Every way a job ends (finished,
failed, cancelled, aborted) stops the core and deletes the job's temporary files.
"""
from __future__ import annotations

import os
import tempfile
import weakref

from . import build, job_logic
from .contract import client, events, formats
from .job_logic import CANCELLED, FAILED, FINISHED, RUNNING

_LIVE: weakref.WeakSet = weakref.WeakSet()
"""Jobs whose core may still run (``abort_all`` stops them when the add-on is disabled)."""


class SketchJob:
    """A run of ``clipasso sketch``; ``step`` returns RUNNING, FINISHED, CANCELLED (nothing left in
    the scene) or FAILED (``error`` says why; nothing half-built is left).

    ``image_data``: the bytes of a packed image, written to a file of this job (``image_path`` then
    only gives its extension). ``target``: an existing sketch object to refine from its current
    strokes (``--init``)."""

    def __init__(self, command: list[str], image_path: str, core_args: list[str], kind: str,
                 frame_size: float, offset, matrix_world, settings: dict, name: str, target=None,
                 image_data: bytes | None = None):
        self.tmp = tempfile.TemporaryDirectory(prefix="clipasso-blender-")
        self.state = RUNNING
        try:
            if image_data is not None:
                suffix = os.path.splitext(image_path)[1] or ".png"
                image_path = os.path.join(self.tmp.name, f"image{suffix}")
                with open(image_path, "wb") as handle:
                    handle.write(image_data)
            self.json_path = os.path.join(self.tmp.name, "sketch.json")
            args = [image_path, "-o", os.path.join(self.tmp.name, "sketch.svg"), "--json", self.json_path,
                    *core_args]
            self.target = target
            self.before = build.load_data(target) if target is not None else None
            if target is not None:
                image = self.before["image"]
                init = job_logic.init_sketch(image["width"], image["height"], build.current_centrelines(target),
                                             self.before["style"])
                init_path = os.path.join(self.tmp.name, "init.json")
                with open(init_path, "w", encoding="utf-8") as handle:
                    handle.write(init.to_json())
                args += ["--init", init_path]
            self.kind, self.frame_size, self.offset = kind, frame_size, offset
            self.matrix_world, self.settings, self.name = matrix_world, settings, name
            self.obj = target
            self.created = False
            self.shown = 0  # how many times this run's strokes were put in the scene
            self.levels_done: list[int] = []  # the levels of abstraction that arrived, in order
            self.cancel_requested = False
            self.error = ""
            self.warnings: list[str] = []
            self.status = "Starting the clipasso core..."
            self.progress = 0.0
            self.run = client.CoreRun(command, "sketch", args)
        except BaseException:
            self.tmp.cleanup()
            raise
        _LIVE.add(self)

    @property
    def done(self) -> events.Done | None:
        """The core's ``done`` event, once it came."""
        return self.run.done

    def _show(self, context, sketch: formats.Sketch) -> None:
        if self.obj is None:
            self.obj = build.create(context, self.name, sketch, self.kind, self.frame_size, self.offset,
                                    self.settings)
            self.obj.matrix_world = self.matrix_world
            self.created = True
        else:
            build.replace_strokes(self.obj, sketch)
        self.shown += 1

    def step(self, context) -> str:
        """Take in the events that arrived; the job's state afterwards."""
        if self.state != RUNNING:
            return self.state
        for event in self.run.poll():
            if isinstance(event, events.Progress):
                self.progress = job_logic.fraction(event)
                self.status = job_logic.status_text(event)
            elif isinstance(event, events.WarningMessage):
                self.warnings.append(event.message)
            elif isinstance(event, events.Preview):
                if not self.run.error and not (self.cancel_requested and self.obj is None):
                    self._show(context, event.sketch)
            elif isinstance(event, events.LevelDone):  # a level of abstraction is done: show it
                if not self.run.error and not (self.cancel_requested and self.obj is None):
                    if self.obj is None:
                        self._show(context, event.sketch)
                    build.add_level(self.obj, event.count, event.loss, event.sketch)
                    self.levels_done.append(event.count)
                    self.status = job_logic.level_text(self.levels_done)
            elif isinstance(event, client.Exited):
                return self._finish(context, event.code)
        return RUNNING

    def _finish(self, context, code: int) -> str:
        try:
            failure = self.run.failure()
            state = job_logic.end_state(self.cancel_requested, self.obj is not None, self.done is not None,
                                        failure)
            if state == FINISHED:
                try:
                    sketch = formats.Sketch.from_json(formats.read_text(self.json_path, "the core's sketch JSON"))
                except formats.FormatError as exc:
                    failure, state = str(exc), FAILED
                else:
                    self._show(context, sketch)
            if state != FINISHED:
                if state == FAILED:
                    self.error = failure or f"the clipasso core ended without a result (exit {code})"
                self._undo()
        finally:
            self._close()
        self.state = state
        return state

    def _undo(self) -> None:
        """Take back what this job changed in the scene (a new object, or a refined sketch's strokes)."""
        try:
            if self.created and self.obj is not None:
                build.remove(self.obj)
            elif self.before is not None:
                build.save_data(self.target, self.before)
                build.rebuild(self.target)
        except ReferenceError:
            pass  # the objects are already gone (Blender loaded another file)
        if self.created:
            self.obj = None

    def _close(self) -> None:
        """Stop the core if it still runs and delete the temporary files (the packed image too)."""
        try:
            self.run.close()
        finally:
            self.tmp.cleanup()
            _LIVE.discard(self)

    def cancel(self) -> None:
        """Esc: ask the core to stop; it reports its best sketch so far, which ``step`` then keeps
        (or, before the first preview, the scene stays as it was)."""
        self.cancel_requested = True
        self.run.cancel()

    def abort(self) -> None:
        """Stop now, keeping nothing (Blender cancelled the operator, or the add-on goes away): the
        core is stopped, anything half-built is undone, the temporary files are deleted. Safe to call
        more than once, and after the job ended."""
        if self.state != RUNNING:
            return
        self.state = CANCELLED
        try:
            self.run.close()
        finally:
            try:
                self._undo()
            finally:
                self._close()


def abort_all() -> None:
    """Abort every job still running (the add-on is being disabled)."""
    for job in list(_LIVE):
        job.abort()
