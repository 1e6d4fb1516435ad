"""A zip from ``clipasso integrate blender`` (run with the core's Python) installed the way a user does
(Install from Disk: ``extensions.package_install_files``) sketches with no preference set: its
"Python with clipasso_core" defaults to the interpreter that ran the command."""
from __future__ import annotations

import json
import subprocess
import zipfile

import pytest

bpy = pytest.importorskip("bpy")

from addon_paths import CAT, CORE_PYTHON, MODULE, REPO  # noqa: E402


@pytest.fixture
def integrated_zip(addon, tmp_path):
    """The zip of ``clipasso integrate blender -o DIR`` run by the core's Python, installed over the
    session's add-on; the session's zip and preferences are put back afterwards."""
    done = subprocess.run([CORE_PYTHON, "-m", "clipasso_core", "integrate", "blender", "-o", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    zip_path = next(tmp_path.glob("clipasso_sketch-*.zip"))
    assert bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo=REPO,
                                                     enable_on_install=True) == {"FINISHED"}
    yield zip_path, done.stdout
    assert bpy.ops.extensions.package_install_files(filepath=str(addon.zip_path), repo=REPO,
                                                     enable_on_install=True) == {"FINISHED"}
    addon.prefs.python_path, addon.prefs.core_path = CORE_PYTHON, ""


def test_integrated_zip_sketches_with_no_preference_set(addon, integrated_zip, fresh_scene):
    zip_path, printed = integrated_zip
    with zipfile.ZipFile(zip_path) as archive:
        assert json.loads(archive.read("core_preset.json"))["python"] == CORE_PYTHON
    assert MODULE in bpy.context.preferences.addons
    prefs = addon.prefs
    prefs.property_unset("python_path")  # nothing set by the user: the field shows its default
    prefs.core_path = ""
    assert prefs.python_path == CORE_PYTHON and not prefs.is_property_set("python_path")
    assert addon.ui.PRESET_PYTHON == CORE_PYTHON
    core = addon.operators.find_core(bpy.context)
    assert core.command == [CORE_PYTHON, "-m", "clipasso_core"] and core.source == "preset by clipasso integrate blender"
    assert bpy.ops.clipasso.sketch_from_image(filepath=str(CAT), strokes=4, seeds=1, iterations=3, mask="off",
                                              backbone="tiny-random", preset="fast") == {"FINISHED"}
    obj = bpy.context.scene.objects[-1]
    assert addon.build.is_sketch(obj) and len(addon.build.load_data(obj)["strokes"]) == 4
    assert bpy.ops.clipasso.check_core() == {"FINISHED"}
    assert prefs.status.splitlines()[0] == f"Core (preset by clipasso integrate blender): {CORE_PYTHON} -m clipasso_core"
    # a value the user sets wins over the preset
    prefs.python_path = "/nonexistent/python"
    with pytest.raises(RuntimeError, match="Python with clipasso_core does not exist"):
        bpy.ops.clipasso.check_core()
