"""Panels, menu entry and preferences (blender_addon/ui.py), drawn into a recording layout (Blender
without a window draws no UI)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

bpy = pytest.importorskip("bpy")

from addon_paths import MODULE  # noqa: E402

MAKERS = [("operator", "clipasso.sketch_from_image"), ("operator", "clipasso.sketch_from_movie"),
          ("operator", "clipasso.sketch_camera_view")]
"""The operators that make a sketch, offered by the Add menu and first in the panel."""


class Layout:
    """Records what a draw function puts in the layout."""

    def __init__(self, log=None):
        self.log = [] if log is None else log

    def operator(self, idname, **_):
        self.log.append(("operator", idname))

    def prop(self, _data, name, **_):
        self.log.append(("prop", name))

    def label(self, text="", **_):
        self.log.append(("label", text))

    def box(self):
        return self

    def separator(self, **_):
        self.log.append(("separator", ""))

    def row(self, **_):
        return self

    column = row


def drawn(draw, context, **attributes):
    layout = Layout()
    draw(SimpleNamespace(layout=layout, **attributes), context)
    return layout.log


def test_preferences_are_the_addons_and_draw_the_core_settings(addon):
    ui = addon.ui
    assert ui.ClipassoPreferences.bl_idname == MODULE
    prefs = addon.prefs
    fields = ("python_path", "core_path", "status", "torch_build", "torch_index_url", "install_status", "clip_weights",
              "saliency_weights")
    for name in fields:
        assert name in prefs.bl_rna.properties.keys()
    values = {name: "" for name in fields}
    values.update(status="clipasso core: 0.1.0\ntorch: 2.14.1", torch_build="CPU",
                  install_status="Install Core 2/4: installing torch (CPU)")
    log = drawn(ui.ClipassoPreferences.draw, bpy.context, **values)
    for name in ("python_path", "core_path", "torch_build", "torch_index_url", "clip_weights", "saliency_weights"):
        assert ("prop", name) in log, name
    assert ("operator", "clipasso.check_core") in log and ("operator", "clipasso.install_core") in log
    assert ("label", "clipasso core: 0.1.0") in log and ("label", "torch: 2.14.1") in log
    assert ("label", "Install Core 2/4: installing torch (CPU)") in log
    assert ("label", f"In use (Python with clipasso_core): {prefs.python_path} -m clipasso_core") in log
    assert ("label", "Empty: https://download.pytorch.org/whl/cpu") in log


def test_menu_entry_is_in_the_add_menu(addon):
    ui = addon.ui
    menu = next(getattr(bpy.types, name) for name in ui.MENUS if hasattr(bpy.types, name))
    assert ui.menu_entry in menu._dyn_ui_initialize()
    assert drawn(ui.menu_entry, bpy.context) == MAKERS


def test_panel_shows_style_and_refine_for_a_sketch_only(addon, gp_sketch):
    ui = addon.ui
    log = drawn(ui.VIEW3D_PT_clipasso.draw, bpy.context)
    assert log[0] == ("operator", "clipasso.sketch_from_image")
    for entry in (("prop", "width_px"), ("prop", "brush"), ("operator", "clipasso.restyle"),
                  ("operator", "clipasso.revert_style"), ("operator", "clipasso.refine")):
        assert entry in log
    assert ("prop", "jitter") not in log
    bpy.context.scene.clipasso_style.brush = "sketchy"
    assert ("prop", "jitter") in drawn(ui.VIEW3D_PT_clipasso.draw, bpy.context)
    bpy.context.view_layer.objects.active = None
    assert drawn(ui.VIEW3D_PT_clipasso.draw, bpy.context) == MAKERS
