"""Clipasso Sketch: turn an image into an editable, restylable Grease Pencil or curve line sketch.

The optimisation runs in the clipasso core, a separate process found through the add-on
preferences; this add-on needs no torch.
"""
import bpy

from . import operators, ui

_menu = None


def register():
    global _menu
    for cls in (*operators.CLASSES, *ui.CLASSES):
        bpy.utils.register_class(cls)
    bpy.types.Scene.clipasso_style = bpy.props.PointerProperty(type=operators.ClipassoStyle)
    _menu = ui.add_menu()


def unregister():
    global _menu
    if _menu is not None:
        _menu.remove(ui.menu_entry)
        _menu = None
    del bpy.types.Scene.clipasso_style
    for cls in reversed((*operators.CLASSES, *ui.CLASSES)):
        bpy.utils.unregister_class(cls)
