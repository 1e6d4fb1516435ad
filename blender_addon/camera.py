"""The camera view as an animation's input: render the scene's active camera for some frames into
a folder, and place the sketch in front of the camera, parented to it, covering its view exactly
(perspective or orthographic; the sensor fit, lens shift, the render's resolution and pixel aspect
come in through Blender's own ``Camera.view_frame``)."""
from __future__ import annotations

import os

import bpy
from mathutils import Matrix

from . import build, geometry
from .contract import sequence
from .sources import InputError

ENGINES = [("WORKBENCH", "Workbench", "Render with Workbench (fast, flat shading)"),
           ("SCENE", "Scene's Engine", "Render with the scene's own render engine and settings")]
FRAMES = [("CURRENT", "Current Frame", "Sketch the camera view of the current frame"),
          ("RANGE", "Frame Range", "Sketch the camera view of every frame of the scene's frame range")]
DISTANCE_FACTOR = 2.0
"""Automatic distance of the sketch from the camera: this many times the camera's clip start."""


def active_camera(scene):
    """The scene's camera (InputError when it has none, or a panoramic one)."""
    camera = scene.camera
    if camera is None or camera.type != "CAMERA":
        raise InputError("the scene has no active camera (set one in the Scene properties)")
    if camera.data.type == "PANO":
        raise InputError(f"camera '{camera.name}' is panoramic: a flat sketch cannot cover its view")
    return camera


def frame_list(scene, which: str) -> list[int]:
    """The scene frames to sketch: the current one, or the frame range at the scene's frame step."""
    frames = [scene.frame_current] if which == "CURRENT" else list(
        range(scene.frame_start, scene.frame_end + 1, max(1, scene.frame_step)))
    if not frames:
        raise InputError(f"the scene's frame range {scene.frame_start}-{scene.frame_end} is empty")
    if len(frames) > sequence.MAX_FRAMES:
        raise InputError(f"{len(frames)} frames to sketch; the limit is {sequence.MAX_FRAMES}")
    return frames


def distance_of(camera, distance: float) -> float:
    """The sketch's distance in front of the camera (0: automatic), inside its clipping range."""
    data = camera.data
    if distance <= 0:
        distance = min(DISTANCE_FACTOR * data.clip_start, (data.clip_start + data.clip_end) / 2)
    if not data.clip_start < distance < data.clip_end:
        raise InputError(f"a sketch {distance:g} in front of camera '{camera.name}' is outside its clipping range "
                         f"({data.clip_start:g} to {data.clip_end:g})")
    return distance


def placement(scene, camera, distance: float):
    """``place(width, height)`` for an AnimationJob: the sketch of W x H px renders covers the
    camera's view on the plane ``distance`` in front of it, parented to the camera. Reads the view
    now (the camera's lens, the scene's resolution)."""
    corners = [tuple(v) for v in camera.data.view_frame(scene=scene)]
    rectangle = geometry.view_rectangle(corners, camera.data.type == "ORTHO", distance)
    world = camera.matrix_world.copy()
    unscaled = world.normalized()  # rendering ignores the camera's scale: undo it in the child's space
    centre = Matrix.Translation((rectangle[0], rectangle[1], -distance))

    def place(width: float, height: float):
        size, scale_y = geometry.covering_frame(width, height, rectangle)
        local = centre @ Matrix.Diagonal((1.0, scale_y, 1.0, 1.0))
        return size, (-0.5, -0.5), world.inverted_safe() @ unscaled @ local, camera

    return place


class _Saved:
    """Attributes set for a while and put back (``restore``) in reverse order."""

    def __init__(self):
        self._old: list[tuple[object, str, object]] = []

    def set(self, owner, name: str, value) -> None:
        if hasattr(owner, name):
            self._old.append((owner, name, getattr(owner, name)))
            setattr(owner, name, value)

    def restore(self) -> None:
        for owner, name, value in reversed(self._old):
            try:
                setattr(owner, name, value)
            except (AttributeError, TypeError, ValueError, ReferenceError):
                pass
        self._old.clear()


def render_frames(scene, frames: list[int], folder: str, engine: str = "WORKBENCH") -> str:
    """Render the scene's camera on each frame into ``folder/frames`` (frame_000000.png, ... in
    order) and return that folder. Sketch objects are hidden from these renders; the compositor,
    the sequencer, stamps and a render region are off (they would change what the camera sees);
    every setting changed, and the current frame, is put back afterwards."""
    out = os.path.join(folder, "frames")
    os.makedirs(out)
    render = scene.render
    saved = _Saved()
    current = scene.frame_current, scene.frame_subframe
    wm = bpy.context.window_manager
    wm.progress_begin(0, len(frames))
    try:
        if engine == "WORKBENCH":
            saved.set(render, "engine", "BLENDER_WORKBENCH")
        for name in ("use_compositing", "use_sequencer", "use_stamp", "use_border", "use_multiview"):
            saved.set(render, name, False)
        saved.set(render, "use_file_extension", True)
        settings = render.image_settings
        saved.set(settings, "media_type", "IMAGE")  # Blender 5.0+: a movie output would refuse PNG
        saved.set(settings, "file_format", "PNG")
        saved.set(settings, "color_mode", "RGBA" if render.film_transparent else "RGB")
        saved.set(settings, "color_depth", "8")
        saved.set(render, "filepath", render.filepath)
        for obj in scene.objects:
            if build.is_sketch(obj):
                saved.set(obj, "hide_render", True)
        for k, frame in enumerate(frames):
            wm.progress_update(k)
            scene.frame_set(frame)
            path = os.path.join(out, f"frame_{k:06d}.png")
            render.filepath = path
            try:
                bpy.ops.render.render(write_still=True, scene=scene.name)
            except RuntimeError as exc:
                raise InputError(f"rendering frame {frame} failed: {exc}") from None
            if not os.path.isfile(path):
                raise InputError(f"rendering frame {frame} wrote no image (is the scene's camera rendering?)")
    finally:
        wm.progress_end()
        saved.restore()
        scene.frame_set(current[0], subframe=current[1])
    return out
