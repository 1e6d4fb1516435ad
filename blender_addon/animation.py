"""Animated sketches without bpy (``clipasso animate``): which input frames a run takes, the scene
frames they land on, and the frames in a sketch object's stored data (``build`` applies them).

An animated sketch stores ``frames``: one entry per sketched frame, in scene order, each
``{"index", "scene_frame", "cut", "ids", "strokes"}`` (the input frame, the scene frame its Grease
Pencil key frame is on, a fresh start after a scene cut, the stroke ids and the centrelines in frame
px). Stroke k is the same stroke in every frame, as in the contract's ``sequence.SketchSequence``.
``strokes`` stays the first frame's, so what reads only ``strokes`` (the panel) sees a sketch.

Where an input frame lands: an image empty shows frame number ``n = f - frame_start + 1 +
frame_offset`` of its movie or sequence at scene frame ``f`` (for ``frame_duration`` frames from
``frame_start``, not cyclic); a movie's frame number n is its input frame ``n - 1``.
"""
from __future__ import annotations

from .contract.formats import FormatError


class FrameMap:
    """Input frame index (the contract's ``Frame.index``) -> scene frame: ``base + index``, or
    ``table[index]`` when the input is a list made here (a sequence's files, camera renders)."""

    def __init__(self, base: int = 0, table: list[int] | None = None):
        self.base = int(base)
        self.table = None if table is None else [int(f) for f in table]

    def scene_frame(self, index: int) -> int:
        if self.table is None:
            return self.base + index
        if not 0 <= index < len(self.table):
            raise FormatError(f"the core sketched input frame {index}, but the input has {len(self.table)} frames")
        return self.table[index]


def image_user_frames(frame_start: int, frame_offset: int, frame_duration: int) -> list[tuple[int, int]]:
    """(scene frame, image frame number) of every scene frame an image user shows a frame of its
    movie or sequence on, in order (its first cycle when it is cyclic)."""
    return [(f, f - frame_start + 1 + frame_offset) for f in range(frame_start, frame_start + frame_duration)]


def select(count: int, start: int = 0, end: int = -1, step: int = 1) -> list[int]:
    """Positions start, start + step, ... up to end (inclusive; -1: the last) of ``count`` frames;
    FormatError when none is left."""
    last = count - 1 if end < 0 else min(end, count - 1)
    positions = list(range(max(0, start), last + 1, max(1, step)))
    if not positions:
        span = f"{start} to {'the last' if end < 0 else end}"
        raise FormatError(f"no frames to sketch: frames {span} of {count} (counted from 0)")
    return positions


def movie_range(frame_start: int, frame_offset: int, frame_duration: int, movie_frames: int,
                start: int = 0, end: int = -1, step: int = 1) -> tuple[dict, FrameMap]:
    """The ``clipasso animate`` range (start, end, step of ANIMATE_OPTIONS, in movie frames) for the
    frames ``start..end`` (counted from 0 at the first frame the image empty shows) of a movie that
    an image user shows, and where they land: movie frame i at scene frame
    ``frame_start + i - frame_offset``. ``movie_frames``: the movie's length (0: unknown)."""
    first = max(0, frame_offset)
    last = frame_offset + frame_duration - 1
    if movie_frames > 0:
        last = min(last, movie_frames - 1)
    if last < first:
        raise FormatError(f"the image empty shows no frame of its movie (frame offset {frame_offset}, "
                          f"{frame_duration} frames, the movie has {movie_frames or 'an unknown number of'} frames)")
    positions = select(last - first + 1, start, end, step)
    values = {"start": first + positions[0], "end": first + positions[-1], "step": max(1, step)}
    return values, FrameMap(base=frame_start - frame_offset)


def entry(index: int, scene_frame: int, strokes, cut: bool = False) -> dict:
    """A frame as stored, from the contract's strokes."""
    return {"index": int(index), "scene_frame": int(scene_frame), "cut": bool(cut), "ids": [s.id for s in strokes],
            "strokes": [[[float(x), float(y)] for x, y in s.points] for s in strokes]}


def is_animation(data: dict) -> bool:
    return bool(data.get("frames"))


def set_frames(data: dict, frames: list[dict]) -> None:
    """Store these frames (any order; one key frame per scene frame). FormatError unless every frame
    has the same number of strokes."""
    if not frames:
        raise FormatError("an animated sketch needs at least one frame")
    by_scene = {f["scene_frame"]: f for f in frames}
    ordered = [by_scene[k] for k in sorted(by_scene)]
    counts = {len(f["strokes"]) for f in ordered}
    if len(counts) != 1:
        raise FormatError(f"every frame of an animation needs the same number of strokes, got {sorted(counts)}")
    data["frames"] = ordered
    data["strokes"] = ordered[0]["strokes"]


def add(data: dict, frame: dict) -> None:
    """A frame that just arrived (replacing one on the same scene frame)."""
    others = [f for f in data.get("frames") or [] if f["scene_frame"] != frame["scene_frame"]]
    set_frames(data, others + [frame])


def scene_frames(data: dict) -> list[int]:
    return [f["scene_frame"] for f in data.get("frames") or []]


def summary(data: dict) -> str:
    """The panel's line for an animated sketch."""
    frames = data["frames"]
    first, last = frames[0]["scene_frame"], frames[-1]["scene_frame"]
    span = f"frame {first}" if first == last else f"frames {first}-{last}"
    return f"Animation: {len(frames)} key frames ({span}), {len(frames[0]['strokes'])} strokes"
