"""One sketch run of the core, driven step by step from Blender (a modal operator's timer, or a
blocking loop): streams previews into the sketch object and finishes, fails or cancels cleanly."""
from __future__ import annotations

import json
import os
import tempfile

from . import build
from .core import PROTOCOL_VERSION, CoreRun


class SketchJob:
    """States returned by ``step``: RUNNING, FINISHED, CANCELLED (nothing left in the scene) or
    FAILED (``error`` says why; nothing half-built is left)."""

    def __init__(self, context, command: list[str], image_path: str, core_args: list[str], kind: str,
                 frame_size: float, offset, matrix_world, settings: dict, name: str, target=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="clipasso-blender-")
        self.json_path = os.path.join(self.tmp.name, "sketch.json")
        args = [image_path, "-o", os.path.join(self.tmp.name, "sketch.svg"), "--json", self.json_path,
                *core_args]
        self.target = target
        self.before = build.load_data(target) if target is not None else None
        if target is not None:
            init = os.path.join(self.tmp.name, "init.json")
            data = self.before
            strokes = [{"points": pts, "width": data["style"]["width_px"], "color": data["style"]["color"],
                        "opacity": data["style"]["opacity"]} for pts in build.current_centrelines(target)]
            with open(init, "w", encoding="utf-8") as handle:
                json.dump({"format": "clipasso-sketch", "version": 1, "width": data["image"]["width"],
                           "height": data["image"]["height"], "strokes": strokes, "metadata": {}}, handle)
            args += ["--init", init]
        self.kind, self.frame_size, self.offset = kind, frame_size, offset
        self.matrix_world, self.settings, self.name = matrix_world, settings, name
        self.obj = target
        self.created = False
        self.cancel_requested = False
        self.error = ""
        self.status = "Starting the clipasso core..."
        self.progress = 0.0
        self._done = None
        self.run = CoreRun(command, args)

    def _show(self, context, sketch: dict) -> None:
        if self.obj is None:
            self.obj = build.create(context, self.name, sketch, self.kind, self.frame_size, self.offset,
                                    self.settings)
            self.obj.matrix_world = self.matrix_world
            self.created = True
        else:
            build.replace_strokes(self.obj, sketch)

    def step(self, context) -> str:
        for event in self.run.poll():
            kind = event.get("event")
            if kind == "start" and event.get("protocol") != PROTOCOL_VERSION:
                self.error = (f"the clipasso core speaks protocol {event.get('protocol')}, this add-on needs "
                              f"{PROTOCOL_VERSION}: update the core or the add-on")
                self.run.cancel()
            elif kind == "progress":
                self.progress = event["iteration"] / event["total"]
                self.status = (f"Sketching {event['iteration']}/{event['total']}  loss {event['best_loss']:.4g}"
                               f"  {event['eta_s']:.0f} s left  (Esc: stop and keep the best)")
            elif kind == "preview" and not self.error and not (self.cancel_requested and self.obj is None):
                self._show(context, event["sketch"])
            elif kind == "done":
                self._done = event
            elif kind == "error":
                self.error = event.get("message", "the core failed")
            elif kind == "exit":
                return self._finish(context, event["code"])
        return "RUNNING"

    def _finish(self, context, code: int) -> str:
        try:
            if self.cancel_requested and (self.obj is None or self.created and self._done is None):
                self._undo()
                return "CANCELLED"  # cancelled before the first preview: the scene stays as it was
            if self.error or self._done is None or code not in (0, 3):
                self.error = self.error or self.run.stderr_tail() or f"the core exited with code {code}"
                self._undo()
                return "FAILED"
            with open(self.json_path, encoding="utf-8") as handle:
                self._show(context, json.load(handle))
            return "FINISHED"
        finally:
            self.tmp.cleanup()

    def _undo(self) -> None:
        if self.created and self.obj is not None:
            build.remove(self.obj)
            self.obj = None
        elif self.before is not None:
            build.save_data(self.target, self.before)
            build.rebuild(self.target)

    def cancel(self) -> None:
        self.cancel_requested = True
        self.run.cancel()

