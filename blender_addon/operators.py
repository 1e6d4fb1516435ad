"""Operators: sketch from image, sketch from movie, sketch the camera view (all modal), refine,
the artist in the loop (lock/unlock the selected strokes; re-sketch the unlocked ones, add
strokes in a region, fill erased strokes: modal refines in place, ``refine_job``), restyle,
revert, check the core, install the core.

The run options (strokes, seeds, preset, mask, colour, iterations, CLIP weights) and an
animation's range (start, end, step) are properties built from the contract's
``options.RUN_OPTIONS`` and ``options.ANIMATE_OPTIONS`` (the loop's from ``options.EDIT_OPTIONS``):
their defaults, ranges and choices are the core's. The stroke width is asked in scene units or
image px (``job_logic.WIDTH_UNITS``) and converted to the core's canvas px
(``job_logic.canvas_width``). Messages name what to do in Blender (``job_logic.blender_message``),
never the core's command-line flags. Sketch from Image over several selected image empties runs the
core once for all of them (``batch_job``).
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import replace

import bpy
from bpy.props import EnumProperty, FloatProperty, FloatVectorProperty, IntProperty, StringProperty
from mathutils import Matrix, Vector

from . import animation, build, camera, core_setup, job_logic, locking, sources
from .animation_job import AnimationJob
from .batch_job import BatchImage, BatchJob
from .contract import client, formats
from .contract import geometry as shared
from .contract.options import ANIMATE_OPTIONS, EDIT_OPTIONS, EDITOR_BACKBONES, RUN_OPTIONS
from .job import SketchJob
from .sources import InputError

CHOICE_TEXT = {
    "default": ("Default", "Balanced speed and fidelity"),
    "fast": ("Fast", "Quick preview"),
    "paper": ("Paper", "The original recipe (slow)"),
    "auto": ("Auto", "Remove the background when it is not plain"),
    "on": ("On", "Always remove it"),
    "off": ("Off", "Keep the image as it is"),
    "openai": ("OpenAI CLIP", "The real CLIP weights"),
    "tiny-random": ("Random tiny (testing only)", "Random weights: not a meaningful sketch"),
    "uniform": ("Uniform", "Even width"),
    "tapered": ("Tapered", "Thin ends"),
    "pressure": ("Pressure", "Thicker in the middle, like a pressed pen"),
    "sketchy": ("Sketchy", "Uneven width and a jitter (Noise modifier)"),
    "new": ("New", "Only the new strokes move"),
    "unlocked": ("Unlocked", "Every unlocked stroke moves, and the new ones"),
}
"""Labels and tooltips of the contract's choices (a choice without one shows its name)."""
KINDS = [("GPENCIL", "Grease Pencil", "Native Grease Pencil strokes"), ("CURVE", "Curve", "Bézier curves")]


def _items(identifiers) -> list[tuple[str, str, str]]:
    return [(i, *CHOICE_TEXT.get(i, (i.replace("-", " ").title(), ""))) for i in identifiers]


def _description(option) -> str:
    return option.help[:1].upper() + option.help[1:]


def option_property(name: str, label: str, choices=None, default=None, minimum=None):
    """The Blender property of the run option ``name`` (contract.options.RUN_OPTIONS, ANIMATE_OPTIONS
    or EDIT_OPTIONS): its default, range and choices (``choices``: a subset offered here, e.g.
    EDITOR_BACKBONES; ``default``/``minimum``: the operator's own within the option's range, e.g. an
    Add Strokes that adds at least one)."""
    option = RUN_OPTIONS.get(name) or ANIMATE_OPTIONS.get(name) or EDIT_OPTIONS[name]
    if default is not None or minimum is not None:
        option = replace(option, default=option.default if default is None else default,
                         minimum=option.minimum if minimum is None else minimum)
    if option.choices:
        return EnumProperty(name=label, description=_description(option), items=_items(choices or option.choices),
                            default=option.default)
    if isinstance(option.default, str) and name != "color":
        return StringProperty(name=label, description=_description(option), default=option.default)
    if name == "color":
        return FloatVectorProperty(name=label, description=_description(option), subtype="COLOR_GAMMA", size=3,
                                   default=shared.hex_to_rgb(option.default), min=0.0, max=1.0)
    kind, cast = (IntProperty, int) if isinstance(option.default, int) else (FloatProperty, float)
    bounds = {key: cast(value) for key, value in (("min", option.minimum), ("max", option.maximum))
              if value is not None}
    return kind(name=label, description=_description(option), default=option.default, **bounds)


def addon_prefs(context):
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon else None


def user_folder(create: bool = False) -> str:
    """The extension's own user folder (Install Core's environment and log live there)."""
    return bpy.utils.extension_path_user(__package__, create=create)


def find_core(context) -> core_setup.Core:
    """The core the preferences lead to (core_setup.find_core; SetupError, a CoreError, when none)."""
    prefs = addon_prefs(context)
    env = os.path.join(user_folder(), core_setup.ENV_FOLDER)
    return core_setup.find_core(prefs.python_path if prefs else "", prefs.core_path if prefs else "", env,
                                core_setup.preset_python())


def command_from_prefs(context) -> list[str]:
    return find_core(context).command


def core_in_use(context) -> str:
    """One line for the preferences: which core runs, or what to do."""
    try:
        core = find_core(context)
    except client.CoreError as exc:
        return f"No core: {exc}"
    return f"In use ({core.source}): {' '.join(core.command)}"


def weight_args(context, backbone: str) -> list[str]:
    """The local weight files of the preferences as the core's flags (real CLIP weights only)."""
    prefs = addon_prefs(context)
    if prefs is None or backbone != "openai":
        return []
    return job_logic.weight_args({name: bpy.path.abspath(getattr(prefs, name)) if getattr(prefs, name) else ""
                                  for name in job_logic.WEIGHT_FLAGS})


DEFAULT_SIZE = 2.0
"""A sketch's long side at the 3D cursor (scene units)."""
AUTOMATIC_WIDTH = (f"0: automatic, the usual width ({100 * RUN_OPTIONS['stroke_width'].default / job_logic.CANVAS_PX:.2g}% "
                   "of the sketch's long side)")


def width_unit_property():
    return EnumProperty(name="Stroke Width In", items=job_logic.WIDTH_UNITS, default="SCENE",
                        description="Give the stroke width in scene units or in pixels of the image")


def scene_width_property():
    return FloatProperty(name="Stroke Width (scene units)", default=0.0, min=0.0, soft_max=1.0, precision=4,
                         step=0.1, unit="LENGTH",
                         description=f"Stroke width in scene units, as the sketch lies in the scene; {AUTOMATIC_WIDTH}")


def pixel_width_property():
    return FloatProperty(name="Stroke Width (image px)", default=0.0, min=0.0, soft_max=100.0,
                         description=f"Stroke width in pixels of the image being sketched; {AUTOMATIC_WIDTH}")


def canvas_width(operator, long_side_units: float, long_side_px) -> float:
    """The core's --width of the operator's stroke width; ``long_side_px`` a number or a function
    giving it (asked only for a width in image px)."""
    if operator.width_unit == "SCENE" or operator.stroke_width_px == 0:
        value = operator.stroke_width if operator.width_unit == "SCENE" else 0.0
        return job_logic.canvas_width(value, "SCENE", long_side_units, 0.0)
    px = long_side_px() if callable(long_side_px) else long_side_px
    return job_logic.canvas_width(operator.stroke_width_px, "PIXELS", long_side_units, px)


def image_long_side(image) -> float:
    """The long side (px) of a Blender image (0 when it cannot be read)."""
    try:
        return float(max(image.size[0], image.size[1]))
    except (RuntimeError, ReferenceError):
        return 0.0


def file_long_side(path: str) -> float:
    """The long side (px) of an image or movie file, read by Blender (InputError when it cannot)."""
    if not os.path.isfile(path):
        raise InputError(f"Stroke Width in image px needs an image or movie file to measure; {path} is not one: "
                         "choose Stroke Width In: Scene Units")
    known = {image.as_pointer() for image in bpy.data.images}
    try:
        image = bpy.data.images.load(path, check_existing=True)
    except RuntimeError:
        raise InputError(f"Blender cannot read {path} to measure its px: choose Stroke Width In: Scene Units") from None
    try:
        side = image_long_side(image)
    finally:
        if image.as_pointer() not in known:
            bpy.data.images.remove(image)
    if not side:
        raise InputError(f"Blender cannot read {path} to measure its px: choose Stroke Width In: Scene Units")
    return side


def world_long_side(size: float, matrix) -> float:
    """A sketch's long side in scene units: its frame size times the object's scale in its plane."""
    scale = matrix.to_scale()
    return size * max(abs(scale.x), abs(scale.y))


HIDDEN_FIELDS = {"filepath", "directory", "files", "rna_type"}


def draw_fields(operator, layout) -> None:
    """An operator's fields, the stroke width in the chosen unit only."""
    skip = {"stroke_width_px" if operator.width_unit == "SCENE" else "stroke_width"}
    for prop in operator.bl_rna.properties:
        name = prop.identifier
        if name in HIDDEN_FIELDS or name in skip or prop.is_hidden or name.startswith("filter_"):
            continue
        layout.prop(operator, name)


def placement(context, empty, size: float) -> tuple[float, tuple, Matrix]:
    """Where a sketch goes: exactly over an image empty (its display size, image offset and
    transform), or without one ``size`` units on its long side at the 3D cursor, facing the front
    view. (frame size, image offset, world matrix)."""
    if empty is not None:
        return empty.empty_display_size, tuple(empty.empty_image_offset), empty.matrix_world.copy()
    matrix = Matrix.Translation(context.scene.cursor.location) @ Matrix.Rotation(math.pi / 2, 4, "X")
    return size, (-0.5, -0.5), matrix


def _image_source(image) -> tuple[str, bytes | None]:
    """(path, packed bytes) of a Blender image: its file, or for a packed image its bytes (the job
    writes them to a temporary file of its own, deleted when it ends) and its path for the extension."""
    path = bpy.path.abspath(image.filepath) if image.filepath else ""
    if image.packed_file is not None:
        return path, bytes(image.packed_file.data)
    if not os.path.isfile(path):
        raise InputError(f"image '{image.name}' has no file on disk and is not packed")
    return path, None


def run_args(strokes, seeds, preset, mask, width, color: str, iterations, backbone, levels="",
             edit: dict | None = None) -> list[str]:
    """The core's arguments for a run with these option values (colour "#rrggbb"; levels "16,8,4"
    or "" for one level; with levels their largest is the stroke count; strokes None: left to the
    core, as for a refine, whose --init has its own count; width None: left out, as for a batch,
    whose list file gives each image its own). ``edit``: a refine's EDIT_OPTIONS values (add,
    fill_to, region, move)."""
    values = {"strokes": strokes, "seeds": seeds, "preset": preset, "mask": mask,
              "stroke_width": None if width is None else float(width), "color": color, "iterations": iterations,
              "backbone": backbone, "levels": levels, **(edit or {})}
    for name in ("strokes", "stroke_width"):
        if values[name] is None:
            del values[name]
    return job_logic.core_args(values)


class _RunsCore:
    """Shared modal machinery: a job (SketchJob, AnimationJob, BatchJob) stepped by a timer, Esc to stop and
    keep what is done, and ``cancel`` (Blender cancelling the operator) to stop the core and leave
    nothing behind."""

    _job: SketchJob | AnimationJob | BatchJob | None = None
    _timer = None

    def _begin_ui(self, context) -> None:
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.progress_begin(0, 100)

    def _start_modal(self, context):
        self._begin_ui(context)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _end_ui(self, context) -> None:
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        if context.workspace:
            context.workspace.status_text_set(None)

    def _end(self, context, state):
        self._end_ui(context)
        return self._report_end(state)

    def _report_end(self, state):
        job, self._job = self._job, None
        for message in job.warnings:
            self.report({"WARNING"}, f"Clipasso: {message}")
        if state == job_logic.FAILED:
            self.report({"ERROR"}, f"Clipasso: {job_logic.blender_message(job.error)}")
            return {"CANCELLED"}
        if state == job_logic.CANCELLED:
            self.report({"INFO"}, "Clipasso: cancelled, nothing changed")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Clipasso: {job.end_message()}")
        return {"FINISHED"}

    def modal(self, context, event):
        job = self._job
        if event.type == "ESC" and event.value == "PRESS" and not job.cancel_requested:
            job.cancel()
        if event.type != "TIMER":
            return {"RUNNING_MODAL"} if event.type == "ESC" else {"PASS_THROUGH"}
        try:
            state = job.step(context)
        except Exception as exc:  # never leave a core running behind an error
            self.cancel(context)
            self.report({"ERROR"}, f"Clipasso: {job_logic.blender_message(str(exc))}")
            return {"CANCELLED"}
        context.window_manager.progress_update(int(job.progress * 100))
        if context.workspace:
            context.workspace.status_text_set(job.status)
        if state == job_logic.RUNNING:
            return {"RUNNING_MODAL"}
        return self._end(context, state)

    def cancel(self, context):
        """Blender cancels the running operator (another file loaded, the window closed, Blender
        quitting): stop the core, undo the half-built result, delete the temporary files, and remove
        the timer, the progress and the status text."""
        job, self._job = self._job, None
        try:
            if job is not None:
                job.abort()
        finally:
            self._end_ui(context)

    def _prepared(self, context) -> bool:
        """Set up the job; on failure report it and say so."""
        try:
            self._prepare(context)
        except (client.CoreError, formats.FormatError, InputError) as exc:
            self.report({"ERROR"}, f"Clipasso: {job_logic.blender_message(str(exc))}")
            return False
        return True

    def _invoke_job(self, context):
        return self._start_modal(context) if self._prepared(context) else {"CANCELLED"}

    def _execute_job(self, context):
        return self._run_blocking(context) if self._prepared(context) else {"CANCELLED"}

    def _run_blocking(self, context):
        """For scripts and tests: step the job until it ends."""
        job = self._job
        try:
            while (state := job.step(context)) == job_logic.RUNNING:
                time.sleep(0.05)
        except BaseException:
            job.abort()
            self._job = None
            raise
        return self._report_end(state)


class _FromSelectionOrFile(_RunsCore):
    """An operator on the selected source (``_selected_source``), else on a file picked first."""

    def _selected_source(self, context):
        raise NotImplementedError

    def draw(self, context):
        draw_fields(self, self.layout)

    def invoke(self, context, event):
        if not self.filepath and self._selected_source(context) is None:
            context.window_manager.fileselect_add(self)
            return {"RUNNING_MODAL"}
        return self._invoke_job(context)

    def execute(self, context):
        if context.window is not None and self.options.is_invoke:
            return self._invoke_job(context)  # coming back from the file browser: run modal
        return self._execute_job(context)


class CLIPASSO_OT_sketch_from_image(_FromSelectionOrFile, bpy.types.Operator):
    """Turn an image into an editable line sketch (runs the clipasso core); several selected image
    empties are sketched together in one run, each sketch over its own empty"""

    bl_idname = "clipasso.sketch_from_image"
    bl_label = "Sketch from Image"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="Image", subtype="FILE_PATH")
    filter_image: bpy.props.BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    strokes: option_property("strokes", "Strokes")
    seeds: option_property("seeds", "Seeds")
    preset: option_property("preset", "Preset")
    mask: option_property("mask", "Remove Background")
    output: EnumProperty(name="Output", items=KINDS, default="GPENCIL")
    width_unit: width_unit_property()
    stroke_width: scene_width_property()
    stroke_width_px: pixel_width_property()
    color: option_property("color", "Colour")
    iterations: option_property("iterations", "Iterations")
    size: FloatProperty(name="Size", default=DEFAULT_SIZE, min=0.01, unit="LENGTH",
                        description="Long side at the 3D cursor")
    backbone: option_property("backbone", "CLIP Weights", EDITOR_BACKBONES)
    levels: option_property("levels", "Levels")

    def _prepare(self, context):
        counts = job_logic.levels_value(self.levels)  # checked before anything runs (FormatError)
        strokes = counts[0] if counts else self.strokes
        levels = ",".join(str(c) for c in counts)
        empties = sources.selected_image_empties(context) if not self.filepath else []
        if len(empties) > 1:
            self._prepare_batch(context, empties, strokes, levels)
            return
        empty = sources.image_empty(context) if not self.filepath else None
        if empty is not None and sources.movie_empty(context) is not None:
            raise InputError(f"'{empty.name}' shows a movie or an image sequence: use Sketch from Movie")
        if empty is not None:
            image_path, image_data = _image_source(empty.data)
            image_name = empty.data.name
            name = f"Sketch of {empty.name}"
        else:
            image_path, image_data, image_name = bpy.path.abspath(self.filepath), None, ""
            if not os.path.isfile(image_path):
                raise InputError(f"image not found: {image_path or '(none chosen)'}")
            name = f"Sketch of {os.path.splitext(os.path.basename(image_path))[0]}"
        size, offset, matrix = placement(context, empty, self.size)
        width = canvas_width(self, world_long_side(size, matrix),
                             lambda: image_long_side(empty.data) if empty is not None else file_long_side(image_path))
        self._job = SketchJob(command_from_prefs(context), image_path, self._core_args(context, strokes, width, levels),
                              self.output, size, offset, matrix,
                              self._settings(strokes, width, image_path, image_name, levels), name,
                              image_data=image_data)

    def _prepare_batch(self, context, empties, strokes: int, levels: str):
        """Several image empties: one run of the core (``clipasso batch``), a sketch over each; an
        image that cannot be sent (no file, a stroke width it cannot take) is left out and reported."""
        images, failures = [], []
        for empty in empties:
            try:
                images.append(self._batch_image(context, empty, strokes, levels))
            except (InputError, formats.FormatError) as exc:
                failures.append(job_logic.image_failure(empty.data.name, str(exc)))
        if not images:
            raise InputError(f"none of the {len(empties)} images can be sketched: {'; '.join(failures)}")
        self._job = BatchJob(command_from_prefs(context), images, self._core_args(context, strokes, None, levels),
                             self.output, failures)

    def _batch_image(self, context, empty, strokes: int, levels: str) -> BatchImage:
        if empty.data.source in sources.MOVIE_SOURCES:
            raise InputError(f"'{empty.name}' shows a movie or an image sequence: use Sketch from Movie")
        image_path, image_data = _image_source(empty.data)
        size, offset, matrix = placement(context, empty, self.size)
        width = canvas_width(self, world_long_side(size, matrix), lambda: image_long_side(empty.data))
        return BatchImage(image_path, image_data, empty.data.name, width, size, offset, matrix,
                          self._settings(strokes, width, image_path, empty.data.name, levels),
                          f"Sketch of {empty.name}")

    def _settings(self, strokes: int, width: float, image_path: str, image_name: str, levels: str) -> dict:
        """What a sketch object keeps of the run it was made by (refine reads it)."""
        return {"strokes": strokes, "seeds": self.seeds, "preset": self.preset, "mask": self.mask,
                "stroke_width": width, "image": image_path, "image_name": image_name, "levels": levels}

    def _core_args(self, context, strokes: int, width: float | None, levels: str) -> list[str]:
        return run_args(strokes, self.seeds, self.preset, self.mask, width, shared.rgb_to_hex(self.color),
                        self.iterations, self.backbone, levels) + weight_args(context, self.backbone)

    def _selected_source(self, context):
        empty = sources.image_empty(context)
        if empty is not None:
            return empty
        empties = sources.selected_image_empties(context)
        return empties if len(empties) > 1 else None


def _animation_args(context, operator, values: dict, width: float) -> list[str]:
    """``clipasso animate``'s arguments: the operator's run options (``width``: the core's --width),
    the input's range and the preferences' weight files."""
    return job_logic.animate_args({
        "strokes": operator.strokes, "seeds": operator.seeds, "preset": operator.preset, "mask": operator.mask,
        "stroke_width": float(width), "color": shared.rgb_to_hex(operator.color),
        "iterations": operator.iterations, "backbone": operator.backbone, **values}) + \
        weight_args(context, operator.backbone)


def _animation_settings(operator, source: str, width: float) -> dict:
    return {"strokes": operator.strokes, "seeds": operator.seeds, "preset": operator.preset, "mask": operator.mask,
            "stroke_width": width, "input": source}


class CLIPASSO_OT_sketch_from_movie(_FromSelectionOrFile, bpy.types.Operator):
    """Turn a movie or image sequence into an animated line sketch: one Grease Pencil drawing per
    frame, over the selected image empty or at the 3D cursor (runs the clipasso core)"""

    bl_idname = "clipasso.sketch_from_movie"
    bl_label = "Sketch from Movie"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="Movie", subtype="FILE_PATH",
                             description="A movie, animated GIF/WebP/PNG, image or folder of images")
    filter_movie: bpy.props.BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    filter_image: bpy.props.BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    filter_folder: bpy.props.BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    strokes: option_property("strokes", "Strokes")
    seeds: option_property("seeds", "Seeds")
    preset: option_property("preset", "Preset")
    mask: option_property("mask", "Remove Background")
    width_unit: width_unit_property()
    stroke_width: scene_width_property()
    stroke_width_px: pixel_width_property()
    color: option_property("color", "Colour")
    iterations: option_property("iterations", "Iterations")
    backbone: option_property("backbone", "CLIP Weights", EDITOR_BACKBONES)
    start: option_property("start", "Start")
    end: option_property("end", "End")
    step: option_property("step", "Step")
    size: FloatProperty(name="Size", default=DEFAULT_SIZE, min=0.01, unit="LENGTH",
                        description="Long side at the 3D cursor (picked file)")

    def _prepare(self, context):
        empty = sources.movie_empty(context) if not self.filepath else None
        if empty is None and not self.filepath:
            still = sources.image_empty(context)
            if still is not None:
                raise InputError(f"'{still.name}' shows a still image, not a movie or an image sequence: use "
                                 "Sketch from Image, or pick a movie")
            raise InputError("select an image empty that shows a movie or an image sequence, or pick a movie file")
        if empty is not None:
            source = sources.from_image_empty(empty, self.start, self.end, self.step)
            name = f"Sketch of {empty.name}"
        else:
            source = sources.from_file(self.filepath, context.scene.frame_current, self.start, self.end, self.step)
            name = f"Sketch of {os.path.splitext(os.path.basename(source.path.rstrip(os.sep)))[0]}"
        size, offset, matrix = placement(context, empty, self.size)
        width = canvas_width(self, world_long_side(size, matrix),
                             lambda: image_long_side(empty.data) if empty is not None else file_long_side(source.path))
        self._job = AnimationJob(command_from_prefs(context), source.inputs,
                                 _animation_args(context, self, source.values, width),
                                 source.frame_map, lambda width, height: (size, offset, matrix, None),
                                 _animation_settings(self, source.path, width), name)

    def _selected_source(self, context):
        return sources.movie_empty(context)


class CLIPASSO_OT_sketch_camera_view(_RunsCore, bpy.types.Operator):
    """Render the active camera (this frame or the frame range) and sketch the renders as an
    animation, placed in front of the camera and parented to it so it covers its view"""

    bl_idname = "clipasso.sketch_camera_view"
    bl_label = "Sketch Camera View"
    bl_options = {"REGISTER", "UNDO"}

    frames: EnumProperty(name="Frames", items=camera.FRAMES, default="CURRENT")
    engine: EnumProperty(name="Render With", items=camera.ENGINES, default="WORKBENCH")
    distance: FloatProperty(name="Distance", default=0.0, min=0.0, unit="LENGTH",
                            description="How far in front of the camera the sketch lies (0: twice its clip start)")
    strokes: option_property("strokes", "Strokes")
    seeds: option_property("seeds", "Seeds")
    preset: option_property("preset", "Preset")
    mask: option_property("mask", "Remove Background")
    width_unit: width_unit_property()
    stroke_width: scene_width_property()
    stroke_width_px: pixel_width_property()
    color: option_property("color", "Colour")
    iterations: option_property("iterations", "Iterations")
    backbone: option_property("backbone", "CLIP Weights", EDITOR_BACKBONES)

    def _prepare(self, context):
        scene = context.scene
        cam = camera.active_camera(scene)
        frames = camera.frame_list(scene, self.frames)
        distance = camera.distance_of(cam, self.distance)
        context.view_layer.update()  # the camera's matrix as it is now
        place = camera.placement(scene, cam, distance)
        render = scene.render
        scale = render.resolution_percentage / 100
        px = (round(render.resolution_x * scale), round(render.resolution_y * scale))  # the renders' size
        width = canvas_width(self, place(*px)[0], max(px))
        engine = self.engine
        self._job = AnimationJob(command_from_prefs(context),
                                 lambda folder: camera.render_frames(scene, frames, folder, engine),
                                 _animation_args(context, self, {}, width), animation.FrameMap(table=frames), place,
                                 _animation_settings(self, f"camera {cam.name}", width), f"Sketch of {cam.name} view")

    def draw(self, context):
        draw_fields(self, self.layout)

    def invoke(self, context, event):
        return self._invoke_job(context)

    def execute(self, context):
        return self._execute_job(context)


class _OnSketch:
    """Available when the active object is a sketch."""

    @classmethod
    def poll(cls, context):
        return build.is_sketch(context.active_object)


class _OnStillSketch:
    """Available when the active object is a sketch of one image (not an animation)."""

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        if not build.is_sketch(obj):
            return False
        if animation.is_animation(build.load_data(obj)):
            cls.poll_message_set(f"{cls.bl_label} works on still sketches, not animations")
            return False
        return True


def sketch_image(obj) -> tuple[str, bytes | None]:
    """(path, packed bytes) of the image a sketch was made from: its image empty's image now (a
    packed one too), else its file; InputError when it is gone."""
    s = build.load_data(obj)["settings"]
    image = bpy.data.images.get(s.get("image_name") or "")
    if image is not None:  # made over an image empty: its image now (a packed one too)
        return _image_source(image)
    if os.path.isfile(s.get("image", "")):
        return s["image"], None
    raise InputError(f"the sketch's image is gone: {s.get('image') or s.get('image_name')}")


def refine_job(context, obj, iterations: int, backbone: str, edit: dict | None = None) -> SketchJob:
    """The run that refines a sketch object in place from its current strokes (their ids and locks
    in the --init sketch), with its settings and style; ``edit``: the contract's EDIT_OPTIONS values
    (add, fill_to, region, move). The stroke count is the --init's (plus those added)."""
    data = build.load_data(obj)
    s = data["settings"]
    image_path, image_data = sketch_image(obj)
    levels = ",".join(str(c) for c in build.level_counts(data))  # a levels sketch gets its levels again
    args = run_args(None, 1, s["preset"], s["mask"], s["stroke_width"], data["style"]["color"], iterations, backbone,
                    levels, edit) + weight_args(context, backbone)
    return SketchJob(command_from_prefs(context), image_path, args, obj.type, data["frame"]["size"],
                     data["frame"]["offset"], obj.matrix_world.copy(), s, obj.name, target=obj, image_data=image_data)


class CLIPASSO_OT_refine(_OnStillSketch, _RunsCore, bpy.types.Operator):
    """Re-run the core starting from the sketch's current (possibly hand-edited) strokes (locked strokes
    stay as they are)"""

    bl_idname = "clipasso.refine"
    bl_label = "Refine Sketch"
    bl_options = {"REGISTER", "UNDO"}

    iterations: option_property("iterations", "Iterations")
    backbone: option_property("backbone", "CLIP Weights", EDITOR_BACKBONES)

    def _prepare(self, context):
        obj = context.active_object
        object_mode(obj)
        self._job = refine_job(context, obj, self.iterations, self.backbone)

    def invoke(self, context, event):
        return self._invoke_job(context)

    def execute(self, context):
        return self._execute_job(context)


def object_mode(obj) -> None:
    """Leave Edit Mode (or any other) for Object Mode, so the hand edits are in the object's data and
    a run's result replaces them (a Curve's Edit Mode keeps its own copy)."""
    if obj.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")


class _OnOneLevelSketch(_OnStillSketch):
    """Available when the active object is a still sketch of one level (the artist-in-the-loop edits)."""

    @classmethod
    def poll(cls, context):
        if not super().poll(context):
            return False
        if build.level_counts(build.load_data(context.active_object)):
            cls.poll_message_set(f"{cls.bl_label} works on sketches of one level (not levels of abstraction)")
            return False
        return True


class _LocksStrokes(_OnOneLevelSketch):
    """Lock or unlock the selected strokes (``locking``: their material shows it)."""

    _locks = True

    def execute(self, context):
        obj = context.active_object
        changed = build.set_locked(obj, self._locks)
        locked = len(build.load_data(obj)["locked"])
        if not changed:
            self.report({"WARNING"}, f"Clipasso: no {'unlocked' if self._locks else 'locked'} stroke is selected "
                                     "(select strokes in Edit Mode)")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Clipasso: {'locked' if self._locks else 'unlocked'} {changed} strokes "
                              f"({locked} locked in all)")
        return {"FINISHED"}


class CLIPASSO_OT_lock_strokes(_LocksStrokes, bpy.types.Operator):
    """Lock the strokes selected in Edit Mode: Re-sketch Unlocked, Add Strokes and Fill Erased keep them exactly
    (they are shown in the lock colour until unlocked)"""

    bl_idname = "clipasso.lock_strokes"
    bl_label = "Lock Selected Strokes"
    bl_options = {"REGISTER", "UNDO"}


class CLIPASSO_OT_unlock_strokes(_LocksStrokes, bpy.types.Operator):
    """Unlock the strokes selected in Edit Mode (they get the ink back, and the core may move them again)"""

    bl_idname = "clipasso.unlock_strokes"
    bl_label = "Unlock Selected Strokes"
    bl_options = {"REGISTER", "UNDO"}
    _locks = False


class _EditsWithCore(_OnOneLevelSketch, _RunsCore):
    """A refine of the active sketch with the contract's EDIT_OPTIONS (``_edit``), in place, one undo step."""

    def _edit(self, context, obj, strokes: list) -> dict:
        raise NotImplementedError

    def _prepare(self, context):
        obj = context.active_object
        object_mode(obj)
        try:
            edit = self._edit(context, obj, build.current_strokes(obj))
        except ValueError as exc:  # what the artist must do first
            raise InputError(str(exc)) from None
        self._job = refine_job(context, obj, self.iterations, self.backbone, edit)

    def invoke(self, context, event):
        return self._invoke_job(context)

    def execute(self, context):
        return self._execute_job(context)


class CLIPASSO_OT_resketch_unlocked(_EditsWithCore, bpy.types.Operator):
    """Re-sketch every unlocked stroke: the core draws them again from fresh starts where ink is missing around
    the locked ones, which stay exactly as they are (Refine continues from the strokes as they are)"""

    bl_idname = "clipasso.resketch_unlocked"
    bl_label = "Re-sketch Unlocked"
    bl_options = {"REGISTER", "UNDO"}

    iterations: option_property("iterations", "Iterations")
    backbone: option_property("backbone", "CLIP Weights", EDITOR_BACKBONES)

    def _edit(self, context, obj, strokes):
        if strokes and all(s.locked for s in strokes):
            raise ValueError("every stroke is locked: unlock some first (Unlock Selected Strokes)")
        return {"move": "unlocked", "resketch": True}


REGIONS = [("SELECTION", "Selected Strokes", "Around the strokes selected in Edit Mode (their bounding box, a "
                                             "stroke width wider)"),
           ("OBJECT", "Selected Object", "Inside another selected object (e.g. a plane or circle drawn over the "
                                         "sketch): its outline seen straight onto the sketch's plane"),
           ("WHOLE", "Whole Sketch", "Anywhere in the image")]
"""Where Add Strokes puts the new strokes (the core's --region, in image px)."""


def object_outline(obj, other) -> list[tuple[float, float]]:
    """The outline (image px of the sketch ``obj``) of another object seen straight onto the sketch's
    plane: its vertices (a mesh) or bounding box corners, along the sketch's local z; the convex hull."""
    frame = build.frame_of(build.load_data(obj))
    to_sketch = obj.matrix_world.inverted() @ other.matrix_world
    corners = [v.co for v in other.data.vertices] if other.type == "MESH" else [Vector(c) for c in other.bound_box]
    points = [frame.to_image(*(to_sketch @ Vector(co))[:2]) for co in corners]
    return locking.outline_polygon(points)


class CLIPASSO_OT_add_strokes(_EditsWithCore, bpy.types.Operator):
    """Add strokes in a region: around the strokes selected in Edit Mode, inside another selected object, or
    anywhere; started where ink is missing (the other strokes stay, unless Move says otherwise)"""

    bl_idname = "clipasso.add_strokes"
    bl_label = "Add Strokes"
    bl_options = {"REGISTER", "UNDO"}

    count: option_property("add", "Strokes to Add", default=4, minimum=1)
    region: EnumProperty(name="Region", items=REGIONS, default="SELECTION",
                         description="Where the new strokes go (and strokes that move stay)")
    move: option_property("move", "Move")
    iterations: option_property("iterations", "Iterations")
    backbone: option_property("backbone", "CLIP Weights", EDITOR_BACKBONES)

    def _edit(self, context, obj, strokes):
        edit = {"add": self.count, "move": self.move}
        data = build.load_data(obj)
        width, height = data["image"]["width"], data["image"]["height"]
        if self.region == "SELECTION":
            margin = max(data["style"]["width_px"], 0.02 * max(width, height))
            edit["region"] = locking.region_text(locking.selected_box(strokes, margin, width, height))
        elif self.region == "OBJECT":
            others = [o for o in context.selected_objects if o != obj]
            if not others:
                raise ValueError("select an object over the sketch (e.g. a plane or circle), then the sketch "
                                 "(active), or choose another Region")
            edit["region"] = locking.region_text(object_outline(obj, others[0]))
        return edit


class CLIPASSO_OT_fill_erased(_EditsWithCore, bpy.types.Operator):
    """Draw back the strokes erased by hand: as many new strokes as the sketch lacks to have the count of its
    last run, started where ink is missing (the others stay)"""

    bl_idname = "clipasso.fill_erased"
    bl_label = "Fill Erased"
    bl_options = {"REGISTER", "UNDO"}

    iterations: option_property("iterations", "Iterations")
    backbone: option_property("backbone", "CLIP Weights", EDITOR_BACKBONES)

    def _edit(self, context, obj, strokes):
        return {"fill_to": locking.fill_count(len(build.load_data(obj)["strokes"]), len(strokes))}


class CLIPASSO_OT_restyle(_OnSketch, bpy.types.Operator):
    """Apply a stroke style to the sketch (its centrelines are kept)"""

    bl_idname = "clipasso.restyle"
    bl_label = "Apply Style"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        st = context.scene.clipasso_style
        build.restyle(context.active_object, st.width_px, shared.rgb_to_hex(st.color), st.opacity, st.brush,
                      st.jitter)
        return {"FINISHED"}


class CLIPASSO_OT_revert_style(_OnSketch, bpy.types.Operator):
    """Restore the style the sketch was made with"""

    bl_idname = "clipasso.revert_style"
    bl_label = "Revert Style"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        build.revert_style(context.active_object)
        return {"FINISHED"}


class CLIPASSO_OT_draw_on(_OnStillSketch, bpy.types.Operator):
    """Draw the sketch on stroke by stroke, most important first (a Grease Pencil Build modifier)"""

    bl_idname = "clipasso.draw_on"
    bl_label = "Draw On"
    bl_options = {"REGISTER", "UNDO"}

    start: IntProperty(name="Start Frame", default=1, description="The frame the drawing starts")
    length: IntProperty(name="Length", default=48, min=1, description="Frames to draw every stroke")

    @classmethod
    def poll(cls, context):
        if not super().poll(context):
            return False
        if context.active_object.type == "CURVE":
            cls.poll_message_set("Draw On needs a Grease Pencil sketch (Output: Grease Pencil)")
            return False
        return True

    def invoke(self, context, event):
        st = context.scene.clipasso_style
        self.start, self.length = st.draw_start, st.draw_length
        return self.execute(context)

    def execute(self, context):
        build.draw_on(context.active_object, self.start, self.length)
        return {"FINISHED"}


def _abstraction_items(obj, context):
    """The levels of the object, largest first (a one-level sketch: none)."""
    counts = build.level_counts(build.load_data(obj)) if build.is_sketch(obj) else []
    items = [(str(c), f"{c} strokes", f"Show the level of {c} strokes", c) for c in counts]
    _ABSTRACTION_ITEMS[obj.name] = items or [("0", "One level", "Not a levels sketch", 0)]
    return _ABSTRACTION_ITEMS[obj.name]


_ABSTRACTION_ITEMS: dict[str, list] = {}
"""Blender needs the dynamic items kept alive while it shows them."""


def _get_abstraction(obj) -> int:
    return build.shown_level(build.load_data(obj)) if build.is_sketch(obj) else 0


def _set_abstraction(obj, value: int) -> None:
    if build.is_sketch(obj) and value in build.level_counts(build.load_data(obj)):
        build.show_level(obj, value)


def abstraction_property():
    """Object.clipasso_abstraction: the level a levels sketch shows (read from and written to its
    stored data, so it follows undo and is saved with it)."""
    return EnumProperty(name="Abstraction", description="The level of abstraction shown (strokes)",
                        items=_abstraction_items, get=_get_abstraction, set=_set_abstraction)


class CLIPASSO_OT_check_core(bpy.types.Operator):
    """Check the clipasso core: its version, torch, the device it will use and whether the CLIP weights
    are downloaded"""

    bl_idname = "clipasso.check_core"
    bl_label = "Check"

    def execute(self, context):
        prefs = addon_prefs(context)
        try:
            core = find_core(context)
            lines = [f"Core ({core.source}): {' '.join(core.command)}", *core_setup.check(core.command)]
        except client.CoreError as exc:
            message = job_logic.blender_message(str(exc))
            if prefs:
                prefs.status = message
            self.report({"ERROR"}, f"Clipasso: {message}")
            return {"CANCELLED"}
        if prefs:
            for name, label in job_logic.WEIGHT_NAMES.items():
                path = bpy.path.abspath(getattr(prefs, name)) if getattr(prefs, name) else ""
                if path:
                    lines.append(f"{label} file: {path}" + ("" if os.path.isfile(path) else " (NOT FOUND)"))
            prefs.status = "\n".join(lines)
        self.report({"INFO"}, "Clipasso: " + "; ".join(lines[1:]))
        return {"FINISHED"}


def _redraw_all(context) -> None:
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            area.tag_redraw()


class CLIPASSO_OT_install_core(bpy.types.Operator):
    """Install the clipasso core and torch into a private environment of this add-on (made with
    Blender's own Python; several GB to download for torch). Run it again to repair or update it.
    Esc stops it"""

    bl_idname = "clipasso.install_core"
    bl_label = "Install Core"

    _installer = None  # the core_setup.Installer of this run
    _timer = None
    _running = None  # the Installer running now (one at a time)

    def _start(self, context) -> bool:
        prefs = addon_prefs(context)
        running = CLIPASSO_OT_install_core._running
        if running is not None and running.state == core_setup.Installer.RUNNING:
            self.report({"ERROR"}, "Clipasso: Install Core is already running (Esc stops it)")
            return False
        try:
            self._installer = core_setup.Installer(
                sys.executable, user_folder(create=True), core_setup.core_wheel(), prefs.torch_build,
                core_setup.torch_index(prefs.torch_build, prefs.torch_index_url))
        except (client.CoreError, OSError) as exc:
            message = f"Install Core cannot start: {exc}"
            prefs.install_status = message
            self.report({"ERROR"}, f"Clipasso: {message}")
            return False
        CLIPASSO_OT_install_core._running = self._installer
        prefs.install_status = self._installer.status
        return True

    def invoke(self, context, event):
        if not self._start(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.2, window=context.window)
        wm.progress_begin(0, 100)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        """Blocking (scripts and tests)."""
        if not self._start(context):
            return {"CANCELLED"}
        try:
            self._installer.run_to_end()
        except BaseException:
            self._installer.cancel()
            raise
        return self._end(context)

    def modal(self, context, event):
        installer = self._installer
        if event.type == "ESC" and event.value == "PRESS":
            installer.cancel()
        elif event.type != "TIMER":
            return {"PASS_THROUGH"}
        else:
            installer.step()
        addon_prefs(context).install_status = installer.status
        context.window_manager.progress_update(int(installer.progress * 100))
        if context.workspace:
            context.workspace.status_text_set(installer.status)
        _redraw_all(context)
        if installer.state == installer.RUNNING:
            return {"RUNNING_MODAL"}
        return self._end(context)

    def _end(self, context):
        installer, self._installer = self._installer, None
        CLIPASSO_OT_install_core._running = None
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
            wm.progress_end()
            if context.workspace:
                context.workspace.status_text_set(None)
        prefs = addon_prefs(context)
        if installer.state == installer.FINISHED:
            message = f"clipasso core {installer.version} installed in {installer.env}"
            if prefs.python_path and prefs.python_path != core_setup.preset_python() or prefs.core_path:
                message += ("; the Python or executable set above is still used first: clear it to use the "
                            "installed core")
            prefs.install_status = message
            self.report({"INFO"}, f"Clipasso: {message}")
            _redraw_all(context)
            return {"FINISHED"}
        if installer.state == installer.CANCELLED:
            message = "Install Core stopped; the unfinished environment is not used: press Install Core to start again"
            prefs.install_status = message
            self.report({"WARNING"}, f"Clipasso: {message}")
        else:
            prefs.install_status = installer.error
            self.report({"ERROR"}, f"Clipasso: {installer.error}")
        _redraw_all(context)
        return {"CANCELLED"}

    def cancel(self, context):
        """Blender cancels the operator (quitting, another file): stop pip."""
        if self._installer is not None:
            self._installer.cancel()
            self._end(context)


class ClipassoStyle(bpy.types.PropertyGroup):
    width_px: FloatProperty(name="Width (image px)", default=6.0, min=0.05, description="Stroke width in image px")
    color: FloatVectorProperty(name="Colour", subtype="COLOR_GAMMA", size=3, default=(0, 0, 0), min=0, max=1)
    opacity: FloatProperty(name="Opacity", default=1.0, min=0.0, max=1.0)
    brush: EnumProperty(name="Brush", items=_items(shared.BRUSHES), default="uniform")
    jitter: FloatProperty(name="Jitter", default=0.5, min=0.0, max=5.0, description="Sketchy brush noise")
    draw_start: IntProperty(name="Start Frame", default=1, description="Draw On: the frame the drawing starts")
    draw_length: IntProperty(name="Length", default=48, min=1, description="Draw On: frames to draw every stroke")


CLASSES = (ClipassoStyle, CLIPASSO_OT_sketch_from_image, CLIPASSO_OT_sketch_from_movie, CLIPASSO_OT_sketch_camera_view,
           CLIPASSO_OT_refine, CLIPASSO_OT_lock_strokes, CLIPASSO_OT_unlock_strokes, CLIPASSO_OT_resketch_unlocked,
           CLIPASSO_OT_add_strokes, CLIPASSO_OT_fill_erased, CLIPASSO_OT_restyle, CLIPASSO_OT_revert_style,
           CLIPASSO_OT_draw_on,
           CLIPASSO_OT_check_core, CLIPASSO_OT_install_core)
