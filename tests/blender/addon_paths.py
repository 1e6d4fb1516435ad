"""Where things are for the Blender add-on tests (imported by conftest.py and the test modules)."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CAT = ROOT / "clipasso_core" / "data" / "cat.jpg"
CAT_SIZE = (451, 300)
CORE_PYTHON = os.environ.get("CLIPASSO_CORE_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
CORE_COMMAND = [CORE_PYTHON, "-m", "clipasso_core"]
PACKAGE_ID = "clipasso_sketch"
REPO = "user_default"
MODULE = f"bl_ext.{REPO}.{PACKAGE_ID}"
"""The add-on's module name once installed as an extension in the user repository."""
CANVAS_PX = 224
"""The core's working canvas (px): its --width is in px of it."""


def scene_width(canvas_px: float, size: float = 2.0) -> float:
    """The Stroke Width (scene units) of a sketch ``size`` units long that the core draws ``canvas_px``
    px wide."""
    return canvas_px * size / CANVAS_PX
