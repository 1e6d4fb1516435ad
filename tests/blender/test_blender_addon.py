"""The Blender add-on in real Blender (the bpy module), against the real core CLI with
--backbone tiny-random. Run with a bpy venv's Python; CLIPASSO_CORE_PYTHON names the core's Python."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

ROOT = Path(__file__).resolve().parents[2]
CAT = ROOT / "clipasso_core" / "data" / "cat.jpg"
CORE_PYTHON = os.environ.get("CLIPASSO_CORE_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
MODULE = "clipasso_sketch"


@pytest.fixture(scope="module")
def addon(tmp_path_factory):
    """The add-on installed from the zip that tools/build_blender_addon.py builds, enabled."""
    out = tmp_path_factory.mktemp("zip")
    subprocess.run([sys.executable, str(ROOT / "tools" / "build_blender_addon.py"), "-o", str(out)], check=True)
    zip_path = next(out.glob("*.zip"))
    target = tmp_path_factory.mktemp("addons")
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(target / MODULE)
    sys.path.insert(0, str(target))
    module = __import__(MODULE)
    module.register()
    prefs = type("Prefs", (), {"python_path": CORE_PYTHON, "core_path": "", "status": ""})()
    from clipasso_sketch import operators

    operators.addon_prefs = lambda context: prefs
    yield module, prefs, zip_path
    module.unregister()


def fresh_scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)


def sketch(**kwargs):
    args = dict(filepath=str(CAT), strokes=6, seeds=1, iterations=4, mask="off", backbone="tiny-random")
    args.update(kwargs)
    return bpy.ops.clipasso.sketch_from_image(**args)


def test_manifest_and_zip(addon):
    _, _, zip_path = addon
    import tomllib

    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        manifest = tomllib.loads(archive.read("blender_manifest.toml").decode())
    assert "__init__.py" in names and "blender_manifest.toml" in names
    for key in ("schema_version", "id", "version", "name", "tagline", "maintainer", "type",
                "blender_version_min", "license"):
        assert key in manifest, key
    assert manifest["id"] == MODULE and manifest["type"] == "add-on"
    # Blender's own extension tool validates the zip
    tool = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    check = subprocess.run([sys.executable, str(tool), "validate", str(zip_path)], capture_output=True, text=True)
    assert check.returncode == 0 and "Success" in check.stdout, check.stdout + check.stderr


def test_register_unregister_cleanly(addon):
    module, _, _ = addon
    module.unregister()
    assert not hasattr(bpy.types, "CLIPASSO_OT_sketch_from_image")
    assert not hasattr(bpy.types.Scene, "clipasso_style")
    assert not hasattr(bpy.types, "VIEW3D_PT_clipasso")
    module.register()
    assert hasattr(bpy.types, "CLIPASSO_OT_sketch_from_image") and hasattr(bpy.types.Scene, "clipasso_style")


def _gp_points(obj):

    layer = obj.data.layers[0]
    drawing = layer.get_frame_at(bpy.context.scene.frame_current).drawing
    return [[tuple(p.position) for p in s.points] for s in drawing.strokes], [
        [p.radius for p in s.points] for s in drawing.strokes]


def test_grease_pencil_strokes_match_the_sketch(addon):
    from clipasso_sketch import build, geometry

    fresh_scene()
    assert sketch() == {"FINISHED"}
    obj = bpy.context.scene.objects[-1]
    assert obj.type == "GREASEPENCIL" and obj.name.startswith("Sketch of cat")
    data = build.load_data(obj)
    assert data["metadata"]["backbone"] == "tiny-random" and len(data["strokes"]) == 6
    positions, radii = _gp_points(obj)
    assert len(positions) == 6
    frame = build.frame_of(data)
    assert frame.extent == pytest.approx((2.0, 2.0 * 300 / 451))
    for control, pts in zip(data["strokes"], positions):
        expected = geometry.sample([frame.to_object(x, y) for x, y in control])
        assert np.allclose(np.array(pts), np.array(expected), atol=1e-5)
    # y-down image px become y-up object space: the first point's image y maps to origin + (H - y)
    x, y = data["strokes"][0][0]
    assert positions[0][0][1] == pytest.approx(frame.origin[1] + (300 - y) * frame.units_per_px, abs=1e-5)
    width_px = data["style"]["width_px"]
    assert radii[0][0] == pytest.approx(width_px / 2 * frame.units_per_px, rel=1e-4)
    assert obj.data.materials[0].grease_pencil.color[:3] == pytest.approx((0, 0, 0))


def test_curve_output_has_one_spline_per_stroke(addon):
    from clipasso_sketch import build

    fresh_scene()
    assert sketch(output="CURVE", color=(1.0, 0.0, 0.0)) == {"FINISHED"}
    obj = bpy.context.scene.objects[-1]
    data = build.load_data(obj)
    frame = build.frame_of(data)
    assert obj.type == "CURVE" and len(obj.data.splines) == 6
    for control, spline in zip(data["strokes"], obj.data.splines):
        a, b = spline.bezier_points
        got = [a.co, a.handle_right, b.handle_left, b.co]
        for (x, y), point in zip(control, got):
            assert tuple(point) == pytest.approx(frame.to_object(x, y), abs=1e-5)
    assert obj.data.bevel_depth == pytest.approx(data["style"]["width_px"] / 2 * frame.units_per_px)
    assert data["style"]["color"] == "#ff0000"


def test_over_a_selected_image_empty(addon):
    from clipasso_sketch import build

    fresh_scene()
    image = bpy.data.images.load(str(CAT))
    empty = bpy.data.objects.new("Photo", None)
    empty.empty_display_type = "IMAGE"
    empty.data = image
    empty.empty_display_size = 3.0
    empty.location = (1, 2, 3)
    empty.rotation_euler = (0.3, 0.0, 0.5)
    bpy.context.collection.objects.link(empty)
    bpy.context.view_layer.objects.active = empty
    assert sketch(filepath="") == {"FINISHED"}
    obj = bpy.data.objects["Sketch of Photo"]
    assert np.allclose(np.array(obj.matrix_world), np.array(empty.matrix_world), atol=1e-6)
    frame = build.frame_of(build.load_data(obj))
    assert frame.extent[0] == pytest.approx(3.0) and frame.origin == pytest.approx((-1.5, -1.5 * 300 / 451))


def test_restyle_changes_radius_profile_and_revert_restores(addon):
    from clipasso_sketch import build, geometry

    fresh_scene()
    sketch()
    obj = bpy.context.scene.objects[-1]
    bpy.context.view_layer.objects.active = obj
    _, before = _gp_points(obj)
    style = bpy.context.scene.clipasso_style
    style.width_px, style.brush = 10.0, "TAPERED"
    assert bpy.ops.clipasso.restyle() == {"FINISHED"}
    _, tapered = _gp_points(obj)
    frame = build.frame_of(build.load_data(obj))
    full = 10.0 / 2 * frame.units_per_px
    assert tapered[0] == pytest.approx([full * v for v in geometry.radius_profile("TAPERED")], rel=1e-4)
    assert tapered[0][0] < 0.1 * full and max(tapered[0]) == pytest.approx(full, rel=1e-4)
    style.brush = "SKETCHY"
    bpy.ops.clipasso.restyle()
    assert obj.modifiers.get("Clipasso jitter") is not None
    assert bpy.ops.clipasso.revert_style() == {"FINISHED"}
    _, reverted = _gp_points(obj)
    assert np.allclose(reverted, before) and obj.modifiers.get("Clipasso jitter") is None


def test_cancel_keeps_best_and_cancel_before_preview_leaves_scene(addon):
    from clipasso_sketch import build
    from clipasso_sketch.job import SketchJob
    from mathutils import Matrix

    fresh_scene()
    command = [CORE_PYTHON, "-m", "clipasso_core"]
    args = ["--strokes", "5", "--seeds", "1", "--iterations", "3000", "--mask", "off", "--backbone",
            "tiny-random", "--preview-every", "2"]
    job = SketchJob(bpy.context, command, str(CAT), args, "GPENCIL", 2.0, (-0.5, -0.5), Matrix(), {}, "Cancelled")
    deadline = time.time() + 300
    while job.obj is None and time.time() < deadline:
        assert job.step(bpy.context) == "RUNNING"
        time.sleep(0.05)
    job.cancel()
    state = "RUNNING"
    while state == "RUNNING":
        state = job.step(bpy.context)
        time.sleep(0.05)
    assert state == "FINISHED"
    data = build.load_data(job.obj)
    assert data["metadata"]["cancelled"] is True and len(data["strokes"]) == 5

    fresh_scene()
    before = set(bpy.data.objects.keys())
    job = SketchJob(bpy.context, command, str(CAT), args, "GPENCIL", 2.0, (-0.5, -0.5), Matrix(), {}, "Early")
    job.cancel()
    state = "RUNNING"
    while state == "RUNNING":
        state = job.step(bpy.context)
        time.sleep(0.05)
    assert state == "CANCELLED" and set(bpy.data.objects.keys()) == before


def test_core_missing_and_core_error_are_reported_without_leftovers(addon):
    _, prefs, _ = addon
    fresh_scene()
    prefs.python_path = "/nonexistent/python"
    try:
        with pytest.raises(RuntimeError, match="Python interpreter not found"):
            sketch()
    finally:
        prefs.python_path = CORE_PYTHON
    assert len(bpy.data.objects) == 0
    bad = Path(bpy.app.tempdir or "/tmp") / "not_an_image.png"
    bad.write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match="not a readable image"):
        sketch(filepath=str(bad))
    assert len(bpy.data.objects) == 0 and len(bpy.data.materials) == 0


def test_check_core_reports_version(addon):
    assert bpy.ops.clipasso.check_core() == {"FINISHED"}
    _, prefs, _ = addon
    assert prefs.status.startswith("clipasso core 0.1.0")


def test_save_and_reload_keeps_strokes_and_settings(addon, tmp_path):
    from clipasso_sketch import build

    fresh_scene()
    sketch(output="GPENCIL")
    obj = bpy.context.scene.objects[-1]
    name, stored = obj.name, build.load_data(obj)
    positions, _ = _gp_points(obj)
    path = tmp_path / "sketch.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    again = bpy.data.objects[name]
    assert build.load_data(again) == stored
    assert np.allclose(_gp_points(again)[0], positions)


def test_refine_starts_from_edited_strokes(addon):
    from clipasso_sketch import build

    fresh_scene()
    sketch(output="CURVE")
    obj = bpy.context.scene.objects[-1]
    bpy.context.view_layer.objects.active = obj
    spline = obj.data.splines[0]
    spline.bezier_points[0].co.x += 0.05  # a hand edit
    edited = build.current_centrelines(obj)
    assert bpy.ops.clipasso.refine(iterations=1, backbone="tiny-random") == {"FINISHED"}
    refined = build.load_data(obj)["strokes"]
    assert len(refined) == 6
    assert np.abs(np.array(refined) - np.array(edited)).max() < 10  # one step from the edited strokes


def test_workbench_render_matches_svg(addon, tmp_path):
    """A Workbench render of the Grease Pencil sketch, framed to the image, against resvg's render
    of the same strokes as SVG."""
    import resvg_py

    from clipasso_sketch import build

    fresh_scene()
    sketch(strokes=12, stroke_width=4.0)
    obj = bpy.context.scene.objects[-1]
    data = build.load_data(obj)
    obj.matrix_world = __import__("mathutils").Matrix()
    frame = build.frame_of(data)
    scene = bpy.context.scene
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    cam.data.type = "ORTHO"
    cam.data.ortho_scale = max(frame.extent)
    cam.location = (frame.origin[0] + frame.extent[0] / 2, frame.origin[1] + frame.extent[1] / 2, 5)
    w, h = 451, 300
    scene.render.resolution_x, scene.render.resolution_y = w, h
    scene.render.resolution_percentage = 100
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.film_transparent = False
    scene.world = bpy.data.worlds.new("w")
    scene.world.color = (1, 1, 1)
    scene.view_settings.view_transform = "Standard"
    scene.display.shading.light = "FLAT"
    scene.display.shading.color_type = "MATERIAL"
    scene.display.shading.background_type = "WORLD" if hasattr(scene.display.shading, "background_type") else None
    out = tmp_path / "render.png"
    scene.render.filepath = str(out)
    bpy.ops.render.render(write_still=True)
    from PIL import Image

    rendered = np.asarray(Image.open(out).convert("L"), np.float32) / 255
    paths = "".join(
        f'<path d="M {p[0][0]} {p[0][1]} C {p[1][0]} {p[1][1]} {p[2][0]} {p[2][1]} {p[3][0]} {p[3][1]}" '
        f'stroke="#000" stroke-width="{data["style"]["width_px"]}" fill="none" stroke-linecap="round"/>'
        for p in data["strokes"])
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">{paths}</svg>'
    ref = np.asarray(Image.open(io.BytesIO(bytes(resvg_py.svg_to_bytes(svg_string=svg, background="white"))))
                     .convert("L"), np.float32) / 255
    Image.fromarray((np.concatenate([rendered, ref], 1) * 255).astype(np.uint8)).save(tmp_path / "compare.png")
    shutil.copy(tmp_path / "compare.png", os.environ.get("CLIPASSO_RENDER_OUT", tmp_path / "keep.png"))
    ink_a, ink_b = rendered < 0.5, ref < 0.5
    iou = (ink_a & ink_b).sum() / max((ink_a | ink_b).sum(), 1)
    print(f"Blender {bpy.app.version_string}: Workbench vs resvg ink IoU {iou:.3f}")
    assert iou >= 0.8
