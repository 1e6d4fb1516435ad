"""Panels, menu entries and add-on preferences."""
from __future__ import annotations

import bpy
from bpy.props import StringProperty

from . import animation, build


class ClipassoPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    python_path: StringProperty(name="Python with clipasso_core", subtype="FILE_PATH",
                                description="A Python interpreter that has clipasso_core installed")
    core_path: StringProperty(name="clipasso executable", subtype="FILE_PATH",
                              description="Leave empty to use 'clipasso' on PATH")
    status: StringProperty(name="Status", default="")

    def draw(self, context):
        layout = self.layout
        layout.label(text="The sketch is computed by the clipasso core in a separate process.")
        layout.prop(self, "python_path")
        layout.prop(self, "core_path")
        row = layout.row()
        row.operator("clipasso.check_core")
        if self.status:
            row.label(text=self.status)


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
        draw = layout.box()
        if obj.type == "CURVE":
            draw.label(text="Draw On needs Grease Pencil output")
            return
        row = draw.row()
        row.prop(style, "draw_start")
        row.prop(style, "draw_length")
        draw.operator("clipasso.draw_on", icon="ANIM")


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
