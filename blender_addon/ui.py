"""Panels, menu entries and add-on preferences."""
from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty

from . import animation, build, core_setup, job_logic, operators

PRESET_PYTHON = core_setup.preset_python()
"""The interpreter ``clipasso integrate blender`` preset this copy to ("" when it was not)."""


class ClipassoPreferences(bpy.types.AddonPreferences):
    """The core the add-on runs (see core_setup.find_core), Install Core and Check, and local weight
    files. "Python with clipasso_core" defaults to the integrate preset; a value set here wins."""

    bl_idname = __package__

    python_path: StringProperty(name="Python with clipasso_core", subtype="FILE_PATH", default=PRESET_PYTHON,
                                description="A Python interpreter that has clipasso_core installed (empty: the "
                                            "core Install Core made, else 'clipasso' on PATH)")
    core_path: StringProperty(name="clipasso executable", subtype="FILE_PATH",
                              description="A clipasso program to run when no Python is set above")
    status: StringProperty(name="Status", default="", description="What Check found (one line each)")
    torch_build: EnumProperty(name="Torch Build", items=core_setup.TORCH_BUILDS,
                              default=core_setup.default_torch_build(),
                              description="Which torch Install Core installs (detected for this computer)")
    torch_index_url: StringProperty(name="Torch Index URL", default="",
                                    description="The package index torch is installed from (empty: the usual one "
                                                "for the chosen build)")
    install_status: StringProperty(name="Install Status", default="")
    clip_weights: StringProperty(name=job_logic.WEIGHT_NAMES["clip_weights"], subtype="FILE_PATH",
                                 description="A local CLIP RN101 checkpoint (OpenAI's or open_clip's), used "
                                             "instead of downloading it")
    saliency_weights: StringProperty(name=job_logic.WEIGHT_NAMES["saliency_weights"], subtype="FILE_PATH",
                                     description="A local CLIP ViT-B/32 checkpoint for the start points, used "
                                                 "instead of downloading it")

    def draw(self, context):
        layout = self.layout
        box = layout.box()
        box.label(text="Core: the sketch is computed by the clipasso core in a separate process", icon="SETTINGS")
        box.prop(self, "python_path")
        box.prop(self, "core_path")
        box.label(text=operators.core_in_use(context))
        row = box.row()
        row.operator("clipasso.check_core")
        for line in self.status.splitlines():
            box.label(text=line)
        box = layout.box()
        box.label(text="Install Core: the core and torch in a private environment of this add-on", icon="IMPORT")
        box.prop(self, "torch_build")
        box.prop(self, "torch_index_url")
        usual = core_setup.torch_index(self.torch_build) or "pip's own index"
        if not self.torch_index_url:
            box.label(text=f"Empty: {usual}")
        box.operator("clipasso.install_core")
        for line in self.install_status.splitlines():
            box.label(text=line)
        box = layout.box()
        box.label(text="Model weights (optional: without them the first sketch downloads them)", icon="FILE")
        box.prop(self, "clip_weights")
        box.prop(self, "saliency_weights")


OPERATORS = (("clipasso.sketch_from_image", "GREASEPENCIL"), ("clipasso.sketch_from_movie", "FILE_MOVIE"),
             ("clipasso.sketch_camera_view", "CAMERA_DATA"))
"""The operators that make a sketch (the panel's buttons and the Add menu's entries)."""


class VIEW3D_PT_clipasso(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Clipasso"
    bl_label = "Clipasso Sketch"

    def draw(self, context):
        layout = self.layout
        for idname, icon in OPERATORS:
            layout.operator(idname, icon=icon)
        obj = context.active_object
        if not build.is_sketch(obj):
            return
        data = build.load_data(obj)
        meta = data.get("metadata", {})
        box = layout.box()
        counts = build.level_counts(data)
        moving = animation.is_animation(data)
        if moving:  # an animated sketch: restyle and revert apply to every frame
            box.label(text=animation.summary(data))
        elif counts:  # a levels sketch: the level shown, and the control that picks it
            shown = build.shown_level(data)
            loss = next(level["loss"] for level in data["levels"] if level["count"] == shown)
            box.label(text=f"Levels {', '.join(map(str, counts))}: showing {shown} strokes, loss {loss:.4g}")
            box.prop(obj, "clipasso_abstraction")
        else:
            box.label(text=f"{len(data['strokes'])} strokes, loss {meta.get('final_loss', '?')}")
        style = context.scene.clipasso_style
        for prop in ("width_px", "color", "opacity", "brush"):
            box.prop(style, prop)
        if style.brush == "sketchy":
            box.prop(style, "jitter")
        row = box.row()
        row.operator("clipasso.restyle")
        row.operator("clipasso.revert_style")
        if moving:
            box.label(text="Refine and Draw On work on still sketches")
            return
        box.operator("clipasso.refine", icon="FILE_REFRESH")
        if not counts:
            draw_loop(layout.box(), data)
        draw = layout.box()
        if obj.type == "CURVE":
            draw.label(text="Draw On needs Grease Pencil output")
            return
        row = draw.row()
        row.prop(style, "draw_start")
        row.prop(style, "draw_length")
        draw.operator("clipasso.draw_on", icon="ANIM")


LOOP_OPERATORS = (("clipasso.lock_strokes", "LOCKED"), ("clipasso.unlock_strokes", "UNLOCKED"),
                  ("clipasso.resketch_unlocked", "FILE_REFRESH"), ("clipasso.add_strokes", "ADD"),
                  ("clipasso.fill_erased", "BRUSH_DATA"))
"""The artist in the loop, on a sketch of one level: lock, re-sketch the rest, add, fill erased strokes."""


def draw_loop(box, data: dict) -> None:
    """The artist-in-the-loop box: how many strokes are locked, and its operators."""
    box.label(text=f"Artist in the loop: {len(data.get('locked') or [])} locked (select strokes in Edit Mode)",
              icon="LOCKED")
    row = box.row()
    for idname, icon in LOOP_OPERATORS[:2]:
        row.operator(idname, icon=icon)
    for idname, icon in LOOP_OPERATORS[2:]:
        box.operator(idname, icon=icon)


def edit_menu_entry(self, context):
    """Lock/Unlock in the Edit Mode context menu of a sketch (Grease Pencil or Curve)."""
    if not build.is_sketch(context.active_object):
        return
    self.layout.separator()
    for idname, icon in LOOP_OPERATORS[:2]:
        self.layout.operator(idname, icon=icon)


EDIT_MENUS = ("VIEW3D_MT_greasepencil_edit_context_menu", "VIEW3D_MT_edit_curve_context_menu")
"""The Edit Mode context menus that offer Lock/Unlock Selected Strokes (those this Blender has)."""


def add_edit_menus() -> list:
    menus = [getattr(bpy.types, name) for name in EDIT_MENUS if hasattr(bpy.types, name)]
    for menu in menus:
        menu.append(edit_menu_entry)
    return menus


def menu_entry(self, context):
    for idname, icon in OPERATORS:
        self.layout.operator(idname, icon=icon)


MENUS = ("VIEW3D_MT_grease_pencil_add", "VIEW3D_MT_add")
CLASSES = (ClipassoPreferences, VIEW3D_PT_clipasso)


def add_menu():
    """Add > Grease Pencil when that submenu exists, else the Add menu itself."""
    for name in MENUS:
        menu = getattr(bpy.types, name, None)
        if menu is not None:
            menu.append(menu_entry)
            return menu
    return None
