"""One run of ``clipasso animate`` driven from Blender: each frame the core finishes becomes a key
frame of one Grease Pencil object as its ``frame`` event arrives; the core's sequence JSON is the
final word. Esc keeps the frames done (the core writes the shorter animation); a failure leaves
nothing behind (``job.CoreJob``)."""
from __future__ import annotations

import os
import tempfile

from . import animation, build, job_logic
from .contract import events, formats, sequence
from .job import CoreJob


class AnimationJob(CoreJob):
    """A run of ``clipasso animate INPUT``.

    ``inputs(folder)``: called with this job's temporary folder, returns the core's INPUT (a movie
    or file as it is, or a folder it filled: a sequence's files, camera renders), deleted with the
    job. ``frame_map``: the scene frame of each input frame (``animation.FrameMap``).
    ``place(width, height)``: where the sketch of W x H px frames goes: (frame size, image offset,
    matrix, parent): ``matrix`` is the object's world matrix, or with a parent its matrix relative
    to the parent; asked once the first frame arrives."""

    def __init__(self, command: list[str], inputs, core_args: list[str], frame_map: animation.FrameMap, place,
                 settings: dict, name: str):
        self.tmp = tempfile.TemporaryDirectory(prefix="clipasso-blender-")
        self._begin()
        try:
            input_path = inputs(self.tmp.name)
            self.json_path = os.path.join(self.tmp.name, "animation.json")
            args = [input_path, "-o", os.path.join(self.tmp.name, "animation.svg"), "--json", self.json_path,
                    *core_args]
            self.frame_map, self.place, self.settings, self.name = frame_map, place, settings, name
            self.obj = None
            self.created = False
            self.frames_done: list[int] = []  # the input frames that arrived, in order
            self.total: int | None = None  # frames to sketch, when the core says
            self._start(command, "animate", args)
        except BaseException:
            self.tmp.cleanup()
            raise

    def _shows_strokes(self) -> bool:
        return self.obj is not None

    def _event(self, context, event) -> None:
        if isinstance(event, events.Start):
            self.total = event.frames
        elif isinstance(event, events.Progress):
            self.progress = job_logic.animation_fraction(event, len(self.frames_done), self.total)
            self.status = job_logic.frame_status_text(event, len(self.frames_done), self.total,
                                                      self._scene_frame(event.frame))
        elif isinstance(event, events.FrameDone):
            self.total = event.total if event.total is not None else self.total
            if self._keeps_events():
                self._add(context, event.index, event.cut, event.sketch)
            self.frames_done.append(event.index)
            self.progress = job_logic.animation_fraction(None, len(self.frames_done), self.total)
            self.status = job_logic.frames_text(len(self.frames_done), self.total)

    def _scene_frame(self, index: int | None) -> int | None:
        """The scene frame of an input frame, for the status line (None when it has none)."""
        try:
            return None if index is None else self.frame_map.scene_frame(index)
        except formats.FormatError:
            return None

    def _entry(self, index: int, cut: bool, strokes) -> dict:
        return animation.entry(index, self.frame_map.scene_frame(index), strokes, cut)

    def _create(self, context, sketch: formats.Sketch, entries: list[dict]) -> None:
        size, offset, matrix, parent = self.place(sketch.width, sketch.height)
        self.obj = build.create(context, self.name, sketch, "GPENCIL", size, offset, self.settings, frames=entries)
        self.created = True
        build.place(self.obj, matrix, parent)

    def _add(self, context, index: int, cut: bool, sketch: formats.Sketch) -> None:
        entry = self._entry(index, cut, sketch.strokes)
        if self.obj is None:
            self._create(context, sketch, [entry])
        else:
            build.add_frame(self.obj, entry)

    def _result(self, context) -> None:
        text = formats.read_text(self.json_path, "the core's animation JSON", sequence.MAX_SEQUENCE_BYTES)
        result = sequence.SketchSequence.from_json(text)
        entries = [self._entry(f.index, f.cut, f.strokes) for f in result.frames]
        metadata = dict(result.metadata, fps=result.fps)
        if self.obj is None:  # no frame event came (e.g. a core that sends none): the file has them all
            self._create(context, result.frame_sketch(0), entries)
        else:
            image = build.load_data(self.obj)["image"]
            if (image["width"], image["height"]) != (result.width, result.height):
                raise formats.FormatError(f"the core's animation is {result.width:g} x {result.height:g} px, its "
                                          f"frames were {image['width']:g} x {image['height']:g} px")
        build.set_frames(self.obj, entries, metadata)

    def _undo(self) -> None:
        """Remove the object this job made (nothing else in the scene changed)."""
        try:
            if self.created and self.obj is not None:
                build.remove(self.obj)
        except ReferenceError:
            pass  # already gone (Blender loaded another file)
        self.obj = None

    def end_message(self) -> str:
        count = len(build.load_data(self.obj)["frames"]) if self.obj is not None else 0
        if self.done is not None and self.done.cancelled:
            return f"stopped, kept the {count} frame{'s' if count != 1 else ''} done"
        return f"done, {count} frame{'s' if count != 1 else ''}"
