"""Runs of the core, driven step by step from Blender (a modal operator's timer, or a blocking
loop): ``CoreJob`` holds what they share, ``SketchJob`` streams a sketch's previews into its object
(``animation_job.AnimationJob`` an animation's frames, ``batch_job.BatchJob`` several images'
sketches); each finishes, fails or cancels cleanly.

The core is run through the contract's client (``client.CoreRun``: typed events, ``--watch-parent``)
and the files exchanged with it are the contract's (sketch JSON, sequence JSON). Every way a job ends (finished,
failed, cancelled, aborted) stops the core and deletes the job's temporary files.
"""
from __future__ import annotations

import os
import tempfile
import weakref

from . import build, job_logic, locking
from .contract import client, events, formats
from .job_logic import CANCELLED, FAILED, FINISHED, RUNNING

_LIVE: weakref.WeakSet = weakref.WeakSet()
"""Jobs whose core may still run (``abort_all`` stops them when the add-on is disabled)."""


class CoreJob:
    """What every run of the core driven from Blender shares: a temporary folder, the core process
    (``client.CoreRun``), Esc (``cancel``), ``abort`` and cleaning up. ``step`` returns RUNNING,
    FINISHED, CANCELLED (nothing left in the scene) or FAILED (``error`` says why; nothing
    half-built is left). A subclass handles the events (``_event``), takes in the result
    (``_result``), says whether the scene shows its strokes (``_shows_strokes``) and takes back
    what it changed (``_undo``); it may judge the end its own way (``_outcome``)."""

    def _begin(self) -> None:
        """Set up the shared state (before ``_start``; ``self.tmp`` exists)."""
        self.state = RUNNING
        self.cancel_requested = False
        self.error = ""
        self.warnings: list[str] = []
        self.status = "Starting the clipasso core..."
        self.progress = 0.0

    def _start(self, command: list[str], subcommand: str, args: list[str]) -> None:
        self.run = client.CoreRun(command, subcommand, args)
        _LIVE.add(self)

    @property
    def done(self) -> events.Done | None:
        """The core's ``done`` event, once it came."""
        return self.run.done

    def step(self, context) -> str:
        """Take in the events that arrived; the job's state afterwards."""
        if self.state != RUNNING:
            return self.state
        for event in self.run.poll():
            if isinstance(event, events.WarningMessage):
                self.warnings.append(job_logic.blender_message(event.message))
            elif isinstance(event, events.Download):  # a first run fetching a model: say so
                self.status = job_logic.download_text(event)
            elif isinstance(event, client.Exited):
                return self._finish(context, event.code)
            else:
                self._event(context, event)
        return RUNNING

    def _keeps_events(self) -> bool:
        """Whether results that arrive now go into the scene (not after a failure, nor after Esc
        before anything was shown)."""
        return not self.run.error and not (self.cancel_requested and not self._shows_strokes())

    def _outcome(self, code: int) -> tuple[str, str | None]:
        """How the run that exited with ``code`` ends: its state and, when it failed, why."""
        failure = self.run.failure()
        return job_logic.end_state(self.cancel_requested, self._shows_strokes(), self.done is not None,
                                   failure), failure

    def _finish(self, context, code: int) -> str:
        try:
            state, failure = self._outcome(code)
            if state == FINISHED:
                try:
                    self._result(context)
                except formats.FormatError as exc:
                    failure, state = str(exc), FAILED
            if state != FINISHED:
                if state == FAILED:
                    self.error = job_logic.blender_message(
                        failure or f"the clipasso core ended without a result (exit {code})")
                self._undo()
        finally:
            self._close()
        self.state = state
        return state

    def _close(self) -> None:
        """Stop the core if it still runs and delete the temporary files."""
        try:
            self.run.close()
        finally:
            self.tmp.cleanup()
            _LIVE.discard(self)

    def cancel(self) -> None:
        """Esc: ask the core to stop; it reports what it has so far, which ``step`` then keeps
        (or, before anything was shown, the scene stays as it was)."""
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

    def end_message(self) -> str:
        """The report of a run that finished."""
        stopped = self.done is not None and self.done.cancelled
        return "stopped, kept the best strokes so far" if stopped else "done"


class SketchJob(CoreJob):
    """A run of ``clipasso sketch``, streaming previews (and levels) into one sketch object.

    ``image_data``: the bytes of a packed image, written to a file of this job (``image_path`` then
    only gives its extension). ``target``: an existing sketch object to refine from its current
    strokes (``--init``: their ids and locks too; ``core_args`` may add, fill and move with the
    contract's EDIT_OPTIONS); its previews and result update it in place, and a run that ends
    without a result puts it back exactly as it was (``build.snapshot``)."""

    def __init__(self, command: list[str], image_path: str, core_args: list[str], kind: str,
                 frame_size: float, offset, matrix_world, settings: dict, name: str, target=None,
                 image_data: bytes | None = None):
        self.tmp = tempfile.TemporaryDirectory(prefix="clipasso-blender-")
        self._begin()
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
            self.init = None
            self.saved = None
            if target is not None:
                image = self.before["image"]
                strokes = build.current_strokes(target)
                self.init = job_logic.init_sketch(image["width"], image["height"], [s.points for s in strokes],
                                                  self.before["style"], [s.id for s in strokes],
                                                  [s.locked for s in strokes])
                init_path = os.path.join(self.tmp.name, "init.json")
                with open(init_path, "w", encoding="utf-8") as handle:
                    handle.write(self.init.to_json())
                args += ["--init", init_path]
                self.saved = build.snapshot(target)
            self.kind, self.frame_size, self.offset = kind, frame_size, offset
            self.matrix_world, self.settings, self.name = matrix_world, settings, name
            self.obj = target
            self.created = False
            self.shown = 0  # how many times this run's strokes were put in the scene
            self.levels_done: list[int] = []  # the levels of abstraction that arrived, in order
            self._start(command, "sketch", args)
        except BaseException:
            self.tmp.cleanup()
            raise

    def _shows_strokes(self) -> bool:
        return self.obj is not None

    def _show(self, context, sketch: formats.Sketch) -> None:
        if self.obj is None:
            self.obj = build.create(context, self.name, sketch, self.kind, self.frame_size, self.offset,
                                    self.settings)
            self.obj.matrix_world = self.matrix_world
            self.created = True
        else:
            build.replace_strokes(self.obj, sketch)
        self.shown += 1

    def _event(self, context, event) -> None:
        if isinstance(event, events.Progress):
            self.progress = job_logic.fraction(event)
            self.status = job_logic.status_text(event)
        elif isinstance(event, events.Preview):
            if self._keeps_events():
                self._show(context, event.sketch if self.init is None else
                           locking.refine_preview(event.sketch, self.init))
        elif isinstance(event, events.LevelDone):  # a level of abstraction is done: show it
            if self._keeps_events():
                if self.obj is None:
                    self._show(context, event.sketch)
                build.add_level(self.obj, event.count, event.loss, event.sketch)
                self.levels_done.append(event.count)
                self.status = job_logic.level_text(self.levels_done)

    def _result(self, context) -> None:
        sketch = formats.Sketch.from_json(formats.read_text(self.json_path, "the core's sketch JSON"))
        self._show(context, sketch)

    def _undo(self) -> None:
        """Take back what this job changed in the scene (a new object, or a refined sketch: its
        data-block as it was before the run, hand edits included)."""
        try:
            if self.created and self.obj is not None:
                build.remove(self.obj)
            elif self.saved is not None:
                saved, self.saved = self.saved, None
                build.restore(self.target, saved)
        except ReferenceError:
            pass  # the objects are already gone (Blender loaded another file)
        if self.created:
            self.obj = None

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            if self.saved is not None:  # finished: the snapshot is not needed
                saved, self.saved = self.saved, None
                try:
                    build.drop_snapshot(saved)
                except ReferenceError:
                    pass


def abort_all() -> None:
    """Abort every job still running (the add-on is being disabled)."""
    for job in list(_LIVE):
        job.abort()
