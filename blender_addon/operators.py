"""Operators: sketch from image (modal), refine, restyle, revert, check the core."""
from __future__ import annotations

import math
import os
import tempfile
import time

import bpy
from bpy.props import EnumProperty, FloatProperty, FloatVectorProperty, IntProperty, StringProperty
from mathutils import Matrix

from . import build, geometry
from .core import CoreError, check_core, core_command
from .job import SketchJob

PRESETS = [("default", "Default", "Balanced speed and fidelity"), ("fast", "Fast", "Quick preview"),
           ("paper", "Paper", "The original recipe (slow)")]
MASKS = [("auto", "Auto", "Remove the background when it is not plain"), ("on", "On", "Always remove it"),
         ("off", "Off", "Keep the image as it is")]
KINDS = [("GPENCIL", "Grease Pencil", "Native Grease Pencil strokes"), ("CURVE", "Curve", "Bézier curves")]
BRUSH_ITEMS = [("UNIFORM", "Uniform", "Even width"), ("TAPERED", "Tapered", "Thin ends"),
               ("PRESSURE", "Pressure", "Thicker in the middle, like a pressed pen"),
               ("SKETCHY", "Sketchy", "Uneven width and a jitter (Noise modifier)")]
BACKBONES = [("openai", "OpenAI CLIP", "The real CLIP weights"),
             ("tiny-random", "Random tiny (testing only)", "Random weights: not a meaningful sketch")]


def addon_prefs(context):
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon else None


def command_from_prefs(context) -> list[str]:
    prefs = addon_prefs(context)
    return core_command(prefs.python_path if prefs else "", prefs.core_path if prefs else "")


def hex_color(rgb) -> str:
    return "#" + "".join(f"{round(max(0.0, min(1.0, c)) * 255):02x}" for c in rgb[:3])


def _selected_image_empty(context):
    obj = context.active_object
    if obj is not None and obj.type == "EMPTY" and obj.empty_display_type == "IMAGE" and obj.data:
        return obj
    return None


def _image_file(image) -> str:
    """A file with the pixels of a Blender image (its file, or a temp copy when packed)."""
    path = bpy.path.abspath(image.filepath) if image.filepath else ""
    if image.packed_file is not None or not os.path.isfile(path):
        if image.packed_file is None:
            raise CoreError(f"image '{image.name}' has no file on disk")
        suffix = os.path.splitext(image.filepath or "")[1] or ".png"
        handle, path = tempfile.mkstemp(prefix="clipasso-packed-", suffix=suffix)
        with os.fdopen(handle, "wb") as out:
            out.write(image.packed_file.data)
    return path


class _RunsCore:
    """Shared modal machinery: a SketchJob stepped by a timer, Esc to cancel."""

    _job: SketchJob | None = None
    _timer = None

    def _start_modal(self, context):
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        wm.progress_begin(0, 100)
        return {"RUNNING_MODAL"}

    def _end(self, context, state):
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
        wm.progress_end()
        if context.workspace:
            context.workspace.status_text_set(None)
        return self._report_end(state)

    def _report_end(self, state):
        job = self._job
        if state == "FAILED":
            self.report({"ERROR"}, f"Clipasso: {job.error}")
            return {"CANCELLED"}
        if state == "CANCELLED":
            self.report({"INFO"}, "Clipasso: cancelled, nothing added")
            return {"CANCELLED"}
        cancelled = build.load_data(job.obj)["metadata"].get("cancelled")
        self.report({"INFO"}, "Clipasso: stopped, kept the best strokes so far" if cancelled else "Clipasso: done")
        return {"FINISHED"}

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS" and not self._job.cancel_requested:
            self._job.cancel()
        if event.type != "TIMER":
            return {"RUNNING_MODAL"} if event.type in ("ESC", "TIMER") else {"PASS_THROUGH"}
        state = self._job.step(context)
        context.window_manager.progress_update(int(self._job.progress * 100))
        if context.workspace:
            context.workspace.status_text_set(self._job.status)
        if state == "RUNNING":
            return {"RUNNING_MODAL"}
        return self._end(context, state)

    def _prepared(self, context) -> bool:
        """Set up the job; on failure report it and say so."""
        try:
            self._prepare(context)
        except CoreError as exc:
            self.report({"ERROR"}, f"Clipasso: {exc}")
            return False
        return True

    def _invoke_job(self, context):
        return self._start_modal(context) if self._prepared(context) else {"CANCELLED"}

    def _execute_job(self, context):
        return self._run_blocking(context) if self._prepared(context) else {"CANCELLED"}

    def _run_blocking(self, context):
        """For scripts and tests: step the job until it ends."""
        while True:
            state = self._job.step(context)
            if state != "RUNNING":
                return self._report_end(state)
            time.sleep(0.05)

    def _core_args(self, strokes, seeds, preset, mask, width, color, iterations, backbone):
        args = ["--strokes", str(strokes), "--seeds", str(seeds), "--preset", preset, "--mask", mask,
                "--width", f"{width:g}", "--color", hex_color(color), "--backbone", backbone,
                "--preview-every", "10"]
        return args + (["--iterations", str(iterations)] if iterations > 0 else [])


class CLIPASSO_OT_sketch_from_image(_RunsCore, bpy.types.Operator):
    """Turn an image into an editable line sketch (runs the clipasso core)"""

    bl_idname = "clipasso.sketch_from_image"
    bl_label = "Sketch from Image"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="Image", subtype="FILE_PATH")
    filter_image: bpy.props.BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    strokes: IntProperty(name="Strokes", default=16, min=1, max=256)
    seeds: IntProperty(name="Seeds", default=3, min=1, max=8)
    preset: EnumProperty(name="Preset", items=PRESETS, default="default")
    mask: EnumProperty(name="Remove Background", items=MASKS, default="auto")
    output: EnumProperty(name="Output", items=KINDS, default="GPENCIL")
    stroke_width: FloatProperty(name="Stroke Width", default=3.0, min=0.25, max=20.0,
                                description="In 1/224 of the image's long side (3 = the paper)")
    color: FloatVectorProperty(name="Colour", subtype="COLOR_GAMMA", size=3, default=(0, 0, 0), min=0, max=1)
    iterations: IntProperty(name="Iterations", default=0, min=0, description="0: the preset's")
    size: FloatProperty(name="Size", default=2.0, min=0.01, description="Long side at the 3D cursor")
    backbone: EnumProperty(name="CLIP Weights", items=BACKBONES, default="openai")

    def _prepare(self, context):
        empty = _selected_image_empty(context) if not self.filepath else None
        if empty is not None:
            image_path = _image_file(empty.data)
            size, offset = empty.empty_display_size, tuple(empty.empty_image_offset)
            matrix = empty.matrix_world.copy()
            name = f"Sketch of {empty.name}"
        else:
            image_path = bpy.path.abspath(self.filepath)
            if not os.path.isfile(image_path):
                raise CoreError(f"image not found: {image_path or '(none chosen)'}")
            size, offset = self.size, (-0.5, -0.5)
            matrix = Matrix.Translation(context.scene.cursor.location) @ Matrix.Rotation(math.pi / 2, 4, "X")
            name = f"Sketch of {os.path.splitext(os.path.basename(image_path))[0]}"
        settings = {"strokes": self.strokes, "seeds": self.seeds, "preset": self.preset, "mask": self.mask,
                    "stroke_width": self.stroke_width, "image": image_path}
        args = self._core_args(self.strokes, self.seeds, self.preset, self.mask, self.stroke_width,
                               self.color, self.iterations, self.backbone)
        self._job = SketchJob(context, command_from_prefs(context), image_path, args, self.output, size,
                              offset, matrix, settings, name)

    def invoke(self, context, event):
        if not self.filepath and _selected_image_empty(context) is None:
            context.window_manager.fileselect_add(self)
            return {"RUNNING_MODAL"}
        return self._invoke_job(context)

    def execute(self, context):
        if context.window is not None and self.options.is_invoke:
            return self._invoke_job(context)  # coming back from the file browser: run modal
        return self._execute_job(context)


class _OnSketch:
    """Available when the active object is a sketch."""

    @classmethod
    def poll(cls, context):
        return build.is_sketch(context.active_object)


class CLIPASSO_OT_refine(_OnSketch, _RunsCore, bpy.types.Operator):
    """Re-run the core starting from the sketch's current (possibly hand-edited) strokes"""

    bl_idname = "clipasso.refine"
    bl_label = "Refine Sketch"
    bl_options = {"REGISTER", "UNDO"}

    iterations: IntProperty(name="Iterations", default=0, min=0, description="0: the preset's")
    backbone: EnumProperty(name="CLIP Weights", items=BACKBONES, default="openai")

    def _prepare(self, context):
        obj = context.active_object
        data = build.load_data(obj)
        s = data["settings"]
        if not os.path.isfile(s.get("image", "")):
            raise CoreError(f"the sketch's image is gone: {s.get('image')}")
        style = data["style"]
        args = self._core_args(len(data["strokes"]), 1, s["preset"], s["mask"], s["stroke_width"],
                               geometry.hex_to_rgb(style["color"]),
                               self.iterations, self.backbone)
        self._job = SketchJob(context, command_from_prefs(context), s["image"], args, obj.type,
                              data["frame"]["size"], data["frame"]["offset"], obj.matrix_world.copy(), s,
                              obj.name, target=obj)

    def invoke(self, context, event):
        return self._invoke_job(context)

    def execute(self, context):
        return self._execute_job(context)


class CLIPASSO_OT_restyle(_OnSketch, bpy.types.Operator):
    """Apply a stroke style to the sketch (its centrelines are kept)"""

    bl_idname = "clipasso.restyle"
    bl_label = "Apply Style"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        st = context.scene.clipasso_style
        build.restyle(context.active_object, st.width_px, hex_color(st.color), st.opacity, st.brush, st.jitter)
        return {"FINISHED"}


class CLIPASSO_OT_revert_style(_OnSketch, bpy.types.Operator):
    """Restore the style the sketch was made with"""

    bl_idname = "clipasso.revert_style"
    bl_label = "Revert Style"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        build.revert_style(context.active_object)
        return {"FINISHED"}


class CLIPASSO_OT_check_core(bpy.types.Operator):
    """Check that the clipasso core can be run and speaks this add-on's protocol"""

    bl_idname = "clipasso.check_core"
    bl_label = "Check"

    def execute(self, context):
        prefs = addon_prefs(context)
        try:
            version = check_core(command_from_prefs(context))
        except CoreError as exc:
            message = str(exc)
            if prefs:
                prefs.status = message
            self.report({"ERROR"}, message)
            return {"CANCELLED"}
        if prefs:
            prefs.status = f"clipasso core {version}: OK"
        self.report({"INFO"}, f"clipasso core {version}: OK")
        return {"FINISHED"}


class ClipassoStyle(bpy.types.PropertyGroup):
    width_px: FloatProperty(name="Width", default=6.0, min=0.05, description="Stroke width in image px")
    color: FloatVectorProperty(name="Colour", subtype="COLOR_GAMMA", size=3, default=(0, 0, 0), min=0, max=1)
    opacity: FloatProperty(name="Opacity", default=1.0, min=0.0, max=1.0)
    brush: EnumProperty(name="Brush", items=BRUSH_ITEMS, default="UNIFORM")
    jitter: FloatProperty(name="Jitter", default=0.5, min=0.0, max=5.0, description="Sketchy brush noise")


CLASSES = (ClipassoStyle, CLIPASSO_OT_sketch_from_image, CLIPASSO_OT_refine, CLIPASSO_OT_restyle,
           CLIPASSO_OT_revert_style, CLIPASSO_OT_check_core)
