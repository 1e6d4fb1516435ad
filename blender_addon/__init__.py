"""Clipasso Sketch: turn an image into an editable, restylable Grease Pencil or curve line sketch.

The optimisation runs in the clipasso core, a separate process found through the add-on
preferences (or installed by their "Install Core" into a private environment, ``core_setup``); this
add-on needs no torch. What it exchanges with the core (the sketch JSON, the
progress events, the run options, running and checking the core) is the contract, carried in
``contract/`` (a copy of clipasso_core/contract made by tools/build_blender_addon.py).
"""
import bpy

from . import job, operators, ui

_menu = None
_edit_menus: list = []


def register():
    global _menu, _edit_menus
    for cls in (*operators.CLASSES, *ui.CLASSES):
        bpy.utils.register_class(cls)
    bpy.types.Scene.clipasso_style = bpy.props.PointerProperty(type=operators.ClipassoStyle)
    bpy.types.Object.clipasso_abstraction = operators.abstraction_property()
    _menu = ui.add_menu()
    _edit_menus = ui.add_edit_menus()


def unregister():
    global _menu, _edit_menus
    job.abort_all()  # a run still going when the add-on is disabled: stop its core, keep nothing
    installing = operators.CLIPASSO_OT_install_core._running
    if installing is not None:  # Install Core still going: stop pip (the environment stays unused)
        installing.cancel()
    if _menu is not None:
        _menu.remove(ui.menu_entry)
        _menu = None
    for menu in _edit_menus:
        menu.remove(ui.edit_menu_entry)
    _edit_menus = []
    del bpy.types.Scene.clipasso_style
    del bpy.types.Object.clipasso_abstraction
    for cls in reversed((*operators.CLASSES, *ui.CLASSES)):
        bpy.utils.unregister_class(cls)
