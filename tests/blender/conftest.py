"""Shared fixtures of the Blender add-on tests: real Blender (the bpy module) against the real core
CLI with --backbone tiny-random. Run with a bpy venv's Python; CLIPASSO_CORE_PYTHON names the core's
Python. The add-on is installed from the zip tools/build_blender_addon.py builds, the way a user
installs it (Install from Disk: ``extensions.package_install_files``), into a Blender user folder of
this session only."""
from __future__ import annotations

import atexit
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Blender's user folder (preferences, extension repositories) must be chosen before bpy starts:
# the tests install the add-on there, never into the user's own Blender.
USER_RESOURCES = tempfile.mkdtemp(prefix="clipasso-blender-user-")
os.environ["BLENDER_USER_RESOURCES"] = USER_RESOURCES
atexit.register(shutil.rmtree, USER_RESOURCES, True)

from addon_paths import CAT, CORE_PYTHON, MODULE, REPO, ROOT, scene_width  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "real_core: runs the real core's `clipasso animate` (slow; needs the core "
                                       "that has it)")
    config.addinivalue_line("markers", "install_core: runs Install Core against the package index (downloads "
                                       "torch; deselect with -m 'not install_core')")


class Addon:
    """The installed, enabled add-on: ``addon.build``, ``addon.job``, ... are its modules (looked up
    each time, so they stay right across a disable/enable), ``prefs`` its preferences."""

    def __init__(self, zip_path: Path):
        self.zip_path = zip_path
        self.module_name = MODULE

    @property
    def prefs(self):
        import bpy

        return bpy.context.preferences.addons[MODULE].preferences

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return importlib.import_module(f"{MODULE}.{name}")


@pytest.fixture(scope="session")
def addon_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zip")
    subprocess.run([sys.executable, str(ROOT / "tools" / "build_blender_addon.py"), "-o", str(out)], check=True)
    return next(out.glob("*.zip"))


@pytest.fixture(scope="session")
def addon(addon_zip):
    """The add-on installed from the zip into the user repository and enabled, its preferences set
    to the core's Python."""
    import addon_utils
    import bpy

    assert bpy.ops.extensions.package_install_files(filepath=str(addon_zip), repo=REPO,
                                                     enable_on_install=True) == {"FINISHED"}
    installed = Addon(addon_zip)
    installed.prefs.python_path = CORE_PYTHON
    yield installed
    addon_utils.disable(MODULE)


@pytest.fixture(scope="session")
def contract():
    """The contract as the core has it (clipasso_core/contract, loaded by path: bpy venvs have no
    clipasso_core), to hold the add-on against."""
    folder = ROOT / "clipasso_core" / "contract"
    name = "clipasso_contract_under_test"
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _fresh_scene() -> None:
    """An empty scene; the preferences and the enabled add-on stay (unlike read_factory_settings)."""
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)


@pytest.fixture
def fresh_scene(addon):
    _fresh_scene()
    return _fresh_scene


def _run_sketch(**kwargs):
    import bpy

    args = dict(filepath=str(CAT), strokes=6, seeds=1, iterations=4, mask="off", backbone="tiny-random",
                preset="fast")
    args.update(kwargs)
    return bpy.ops.clipasso.sketch_from_image(**args)


@pytest.fixture
def run_sketch(addon):
    """bpy.ops.clipasso.sketch_from_image with quick test settings (overridable)."""
    return _run_sketch


def gp_points_of(obj):
    """Positions and radii of a Grease Pencil object's points, per stroke."""
    import bpy

    drawing = obj.data.layers[0].get_frame_at(bpy.context.scene.frame_current).drawing
    return ([[tuple(p.position) for p in s.points] for s in drawing.strokes],
            [[p.radius for p in s.points] for s in drawing.strokes])


@pytest.fixture
def gp_points():
    return gp_points_of


def _saved_sketch(tmp_path_factory, name: str, **kwargs) -> tuple[Path, str]:
    import bpy

    _fresh_scene()
    assert _run_sketch(**kwargs) == {"FINISHED"}
    obj = bpy.context.scene.objects[-1]
    path = tmp_path_factory.mktemp(name) / f"{name}.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path, obj.name


@pytest.fixture(scope="session")
def gp_sketch_file(addon, tmp_path_factory):
    """A .blend with one Grease Pencil sketch of the cat (12 strokes, 4 px of the core's canvas wide),
    made once: tests open it (``open_sketch``) instead of each running the core."""
    return _saved_sketch(tmp_path_factory, "gp_sketch", strokes=12, stroke_width=scene_width(4.0), output="GPENCIL")


@pytest.fixture(scope="session")
def curve_sketch_file(addon, tmp_path_factory):
    """A .blend with one red Curve sketch of the cat (6 strokes), made once."""
    return _saved_sketch(tmp_path_factory, "curve_sketch", output="CURVE", color=(1.0, 0.0, 0.0))


def open_sketch(saved):
    """Open a saved sketch file; its sketch object, made active."""
    import bpy

    path, name = saved
    bpy.ops.wm.open_mainfile(filepath=str(path))
    obj = bpy.data.objects[name]
    bpy.context.view_layer.objects.active = obj
    return obj


@pytest.fixture
def open_saved():
    return open_sketch


@pytest.fixture
def gp_sketch(gp_sketch_file):
    return open_sketch(gp_sketch_file)


@pytest.fixture
def curve_sketch(curve_sketch_file):
    return open_sketch(curve_sketch_file)


LEVELS = "6,3,2"
"""The levels of the levels sketches the tests make (largest first)."""


@pytest.fixture(scope="session")
def gp_levels_file(addon, tmp_path_factory):
    """A .blend with one Grease Pencil levels sketch of the cat (levels 6, 3, 2), made once."""
    return _saved_sketch(tmp_path_factory, "gp_levels", levels=LEVELS, output="GPENCIL")


@pytest.fixture(scope="session")
def curve_levels_file(addon, tmp_path_factory):
    """A .blend with one Curve levels sketch of the cat (levels 6, 3, 2), made once."""
    return _saved_sketch(tmp_path_factory, "curve_levels", levels=LEVELS, output="CURVE")


@pytest.fixture
def gp_levels(gp_levels_file):
    return open_sketch(gp_levels_file)


@pytest.fixture
def curve_levels(curve_levels_file):
    return open_sketch(curve_levels_file)


# animated sketches (clipasso animate)

FAKE_ANIMATE = Path(__file__).resolve().parent / "fake_animate.py"
"""A stand-in for ``clipasso animate`` (fake_animate.py): contract events, known strokes, no torch."""
FAKE_COMMAND = [CORE_PYTHON, str(FAKE_ANIMATE)]
MOVIE_FRAMES, MOVIE_SIZE = 5, (96, 64)


def _write_movie(path: Path, frames: int = MOVIE_FRAMES, size=MOVIE_SIZE) -> Path:
    """A small MPEG-4 movie of the cat sliding sideways, written with the core's PyAV (Blender reads
    it as a MOVIE image, the core as a video)."""
    script = (
        "import sys, av, numpy as np\n"
        "from PIL import Image\n"
        "path, frames, w, h, cat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]\n"
        "image = np.asarray(Image.open(cat).convert('RGB').resize((w, h)))\n"
        "with av.open(path, 'w') as out:\n"
        "    stream = out.add_stream('mpeg4', rate=24)\n"
        "    stream.width, stream.height, stream.pix_fmt = w, h, 'yuv420p'\n"
        "    for i in range(frames):\n"
        "        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.roll(image, 4 * i, axis=1)), 'rgb24')\n"
        "        for packet in stream.encode(frame):\n"
        "            out.mux(packet)\n"
        "    for packet in stream.encode():\n"
        "        out.mux(packet)\n")
    subprocess.run([CORE_PYTHON, "-c", script, str(path), str(frames), str(size[0]), str(size[1]), str(CAT)],
                   check=True)
    return path


@pytest.fixture(scope="session")
def movie(tmp_path_factory) -> Path:
    """clip.mp4: MOVIE_FRAMES frames of MOVIE_SIZE px."""
    return _write_movie(tmp_path_factory.mktemp("movie") / "clip.mp4")


@pytest.fixture
def fake_core(addon, tmp_path):
    """The add-on's preferences point at fake_animate.py (through a launcher script) for one test."""
    launcher = tmp_path / "fake-clipasso"
    launcher.write_text(f'#!/bin/sh\nexec "{CORE_PYTHON}" "{FAKE_ANIMATE}" "$@"\n')
    launcher.chmod(0o755)
    prefs = addon.prefs
    prefs.python_path, prefs.core_path = "", str(launcher)
    yield FAKE_COMMAND
    prefs.python_path, prefs.core_path = CORE_PYTHON, ""


def fake_strokes(index: int, width: float, height: float, count: int):
    """The strokes fake_animate.py draws on input frame ``index`` (contract Strokes)."""
    spec = importlib.util.spec_from_file_location("fake_animate_for_tests", FAKE_ANIMATE)
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module.strokes_of(index, width, height, count)


def keyframes(obj) -> dict:
    """Scene frame -> drawing of an animated Grease Pencil sketch's layer."""
    layer = obj.data.layers["Sketch"]
    return {frame.frame_number: frame.drawing for frame in layer.frames}
