"""Where an animated sketch's frames come from: the movie or image sequence an image empty shows,
or a file picked by the user (anything ``clipasso animate`` reads: a video, an animated GIF/WebP/
APNG, a folder of images, one image). Each gives the core's INPUT, its range options and the scene
frame every input frame lands on (``animation.FrameMap``). Also which image empties a sketch is made
over (``image_empty``, ``selected_image_empties``).
"""
from __future__ import annotations

import glob
import os
import shutil
from dataclasses import dataclass, field
from typing import Callable

import bpy

from . import animation
from .contract.formats import FormatError

MOVIE_SOURCES = ("MOVIE", "SEQUENCE")
"""The image sources an image empty can show an animation with."""


class InputError(Exception):
    """An operator cannot start (no image, the sketch's image is gone); the message is for the user."""


@dataclass
class AnimationInput:
    """An animation's input: ``inputs(folder)`` gives the core's INPUT (``folder``: the job's
    temporary folder, for files made for the run), ``values`` its ANIMATE_OPTIONS range (start,
    end, step), ``frame_map`` where its frames land, ``path`` what it was made from."""

    inputs: Callable[[str], str]
    frame_map: animation.FrameMap
    path: str
    values: dict = field(default_factory=dict)


def image_empty(context):
    """The active object when it is an image empty with an image."""
    obj = context.active_object
    if obj is not None and obj.type == "EMPTY" and obj.empty_display_type == "IMAGE" and obj.data:
        return obj
    return None


def selected_image_empties(context) -> list:
    """The selected image empties with an image, the active one first, then by name."""
    active = context.active_object
    found = [obj for obj in context.selected_objects
             if obj.type == "EMPTY" and obj.empty_display_type == "IMAGE" and obj.data]
    return sorted(found, key=lambda obj: (obj != active, obj.name))


def movie_empty(context):
    """The active image empty when its image is a movie or an image sequence."""
    empty = image_empty(context)
    return empty if empty is not None and empty.data.source in MOVIE_SOURCES else None


def _path(image) -> str:
    return bpy.path.abspath(image.filepath, library=image.library) if image.filepath else ""


def _checked(make):
    """``make()``, its contract errors (an empty range) as InputError."""
    try:
        return make()
    except FormatError as exc:
        raise InputError(str(exc)) from None


def from_image_empty(empty, start: int = 0, end: int = -1, step: int = 1) -> AnimationInput:
    """The frames ``start..end`` (every ``step``-th; counted from 0 at the first frame the empty
    shows) of the movie or image sequence an image empty shows, on the scene frames it shows them."""
    image, user = empty.data, empty.image_user
    path = _path(image)
    if image.source == "MOVIE":
        if not os.path.isfile(path):
            raise InputError(f"the movie of image '{image.name}' is not on disk: {path or '(no file)'}")
        values, frame_map = _checked(lambda: animation.movie_range(
            user.frame_start, user.frame_offset, user.frame_duration, image.frame_duration, start, end, step))
        return AnimationInput(lambda folder: path, frame_map, path, values)
    if image.source != "SEQUENCE":
        raise InputError(f"'{empty.name}' shows a still image, not a movie or an image sequence: use Sketch from "
                         "Image, or pick a movie")
    files = _sequence_files(image, user)
    if not files:
        raise InputError(f"none of the files of image sequence '{image.name}' is on disk (the first: "
                         f"{path or '(no file)'})")
    chosen = [files[p] for p in _checked(lambda: animation.select(len(files), start, end, step))]
    return AnimationInput(lambda folder: _link_frames([file for _, file in chosen], folder),
                          animation.FrameMap(table=[scene_frame for scene_frame, _ in chosen]), path)


def _sequence_files(image, user) -> list[tuple[int, str]]:
    """(scene frame, file) of the sequence's frames the image user shows, the files on disk only
    (Blender's own file name of each frame number)."""
    saved = user.frame_current
    files = []
    try:
        for scene_frame, number in animation.image_user_frames(user.frame_start, user.frame_offset,
                                                                user.frame_duration):
            user.frame_current = number
            file = image.filepath_from_user(image_user=user)
            if os.path.isfile(file):
                files.append((scene_frame, file))
    finally:
        user.frame_current = saved
    return files


def _link_frames(files: list[str], folder: str) -> str:
    """A folder of these files in this order (frame_000000.png, ...: the core's natural sort keeps
    it), as links where the system allows, else copies."""
    frames = os.path.join(folder, "frames")
    os.makedirs(frames)
    for k, file in enumerate(files):
        target = os.path.join(frames, f"frame_{k:06d}{os.path.splitext(file)[1].lower()}")
        try:
            os.symlink(file, target)
        except (OSError, NotImplementedError):
            shutil.copyfile(file, target)
    return frames


def from_file(filepath: str, scene_frame: int, start: int = 0, end: int = -1, step: int = 1) -> AnimationInput:
    """A file, folder or glob pattern the core reads, its frame ``start`` on ``scene_frame`` and
    the others after it at the input's own spacing."""
    path = bpy.path.abspath(filepath) if filepath else ""
    pattern = any(c in os.path.basename(path) for c in "*?[")
    if not path or not (glob.glob(path) if pattern else os.path.exists(path)):
        raise InputError(f"{'no file matches' if pattern else 'file not found'}: {path or '(none chosen)'}")
    return AnimationInput(lambda folder: path, animation.FrameMap(base=scene_frame - start), path,
                          {"start": start, "end": end, "step": step})
