"""The animation data model and its versioned JSON form (``clipasso animate``).

Sequence JSON, version 1 (PROTOCOL.md, "Sequence JSON")::

    {"format": "clipasso-sequence", "version": 1,
     "width": W, "height": H, "fps": F,             # frame size in px (coordinates are frame px)
     "frames": [{"index": 0, "strokes": [...]},     # index: the input frame (0 = its first)
                {"index": 1, "strokes": [...], "cut": true}, ...],   # cut: a fresh start
     "metadata": {...}}

Strokes are exactly as in the sketch JSON (``formats.Stroke``). Every frame has the same number of
strokes, and stroke k of one frame is stroke k of every other (the same ``id``), so editors can key,
interpolate and restyle them across frames. ``cut`` marks a frame sketched from a fresh start (a
scene cut): its strokes do not continue the previous frame's. Torch-, numpy- and bpy-free.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .formats import FormatError, Sketch, Stroke, check_number, check_stroke_count, load_json, read_text

SEQUENCE_FORMAT = "clipasso-sequence"
SEQUENCE_VERSION = 1

MAX_FRAMES = 3000
"""Most frames in one animation (two minutes at 25 fps); longer inputs are refused."""
MAX_SEQUENCE_BYTES = 256 * 1024 * 1024
"""Largest sequence JSON file read (bytes)."""


@dataclass
class Frame:
    """One frame of an animation: the input frame ``index`` and its strokes; ``cut`` when the
    strokes were started afresh (a scene cut) instead of continuing the previous frame's."""

    index: int
    strokes: list[Stroke]
    cut: bool = False

    def to_dict(self) -> dict:
        out = {"index": self.index, "strokes": [s.to_dict() for s in self.strokes]}
        if self.cut:
            out["cut"] = True
        return out

    @classmethod
    def from_dict(cls, data, where: str) -> "Frame":
        if not isinstance(data, dict) or not isinstance(data.get("strokes"), list):
            raise FormatError(f"{where} needs an index and a list of strokes")
        index = data.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise FormatError(f"{where} index must be a whole number >= 0, got {index!r}")
        check_stroke_count(len(data["strokes"]), where)
        strokes = [Stroke.from_dict(s, f"{where} stroke {i + 1}") for i, s in enumerate(data["strokes"])]
        cut = data.get("cut", False)
        if not isinstance(cut, bool):
            raise FormatError(f"{where} cut must be true or false, got {cut!r}")
        return cls(index, strokes, cut)


@dataclass
class SketchSequence:
    """An animated sketch: frames of strokes over ``width`` x ``height`` px frames at ``fps``."""

    width: float
    height: float
    fps: float
    frames: list[Frame]
    metadata: dict = field(default_factory=dict)

    def frame_sketch(self, position: int) -> Sketch:
        """The still sketch of the frame at ``position`` in ``frames`` (not the input index)."""
        frame = self.frames[position]
        return Sketch(self.width, self.height, frame.strokes, dict(self.metadata, frame=frame.index))

    def to_dict(self) -> dict:
        return {"format": SEQUENCE_FORMAT, "version": SEQUENCE_VERSION, "width": self.width,
                "height": self.height, "fps": self.fps, "frames": [f.to_dict() for f in self.frames],
                "metadata": self.metadata}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, allow_nan=False)

    @classmethod
    def from_dict(cls, data) -> "SketchSequence":
        if not isinstance(data, dict) or data.get("format") != SEQUENCE_FORMAT:
            raise FormatError(f"not a clipasso sequence JSON (missing format: {SEQUENCE_FORMAT})")
        if data.get("version") != SEQUENCE_VERSION:
            raise FormatError(f"unsupported sequence JSON version {data.get('version')!r} "
                              f"(this clipasso reads version {SEQUENCE_VERSION})")
        if not isinstance(data.get("frames"), list) or not data["frames"]:
            raise FormatError("malformed sequence JSON: it needs width, height, fps and a list of frames")
        if len(data["frames"]) > MAX_FRAMES:
            raise FormatError(f"the sequence has {len(data['frames'])} frames; the limit is {MAX_FRAMES}")
        width = check_number(data.get("width"), "sequence width", 0.0, exclusive_min=True)
        height = check_number(data.get("height"), "sequence height", 0.0, exclusive_min=True)
        fps = check_number(data.get("fps"), "sequence fps", 0.0, 1000.0, exclusive_min=True)
        frames = [Frame.from_dict(f, f"frame {i + 1}") for i, f in enumerate(data["frames"])]
        check_frames(frames)
        metadata = data.get("metadata", {})
        return cls(width, height, fps, frames, dict(metadata) if isinstance(metadata, dict) else {})

    @classmethod
    def from_json(cls, text: str) -> "SketchSequence":
        return cls.from_dict(load_json(text, "sequence JSON"))


def read_sequence(path) -> SketchSequence:
    """The sequence JSON file at ``path`` (a regular file of at most MAX_SEQUENCE_BYTES)."""
    return SketchSequence.from_json(read_text(path, "sequence JSON", MAX_SEQUENCE_BYTES))


def check_frames(frames: list[Frame]) -> None:
    """FormatError unless frame indices increase and every frame has the same strokes (count and ids)."""
    first = frames[0]
    for before, frame in zip(frames, frames[1:]):
        if frame.index <= before.index:
            raise FormatError(f"frame indices must increase: {frame.index} follows {before.index}")
        if len(frame.strokes) != len(first.strokes):
            raise FormatError(f"frame {frame.index} has {len(frame.strokes)} strokes; every frame needs "
                              f"{len(first.strokes)} (as the first)")
        if [s.id for s in frame.strokes] != [s.id for s in first.strokes]:
            raise FormatError(f"frame {frame.index}'s stroke ids differ from the first frame's: stroke k "
                              "must be the same stroke in every frame")
