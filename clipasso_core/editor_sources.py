"""Where the editor add-ons' sources are: inside the installed package (a wheel carries them under
``clipasso_core/editors/``), else the folders of the checkout (an editable install)."""
from __future__ import annotations

from pathlib import Path

from .errors import InputError

PACKAGED = Path(__file__).resolve().parent / "editors"
CHECKOUT = Path(__file__).resolve().parents[1]
FOLDERS = {"blender": "blender_addon", "inkscape": "inkscape_ext"}
"""Editor -> the folder of its add-on's sources."""


def editor_source(editor: str) -> Path:
    """The folder of ``editor``'s add-on sources ("blender" or "inkscape")."""
    name = FOLDERS[editor]
    for base in (PACKAGED, CHECKOUT):
        if (base / name).is_dir():
            return base / name
    raise InputError(f"this clipasso installation does not include the {editor} add-on's files "
                     f"(looked in {PACKAGED} and {CHECKOUT}); reinstall clipasso")
