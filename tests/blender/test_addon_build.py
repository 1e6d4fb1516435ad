"""Sketch objects in the scene (blender_addon/build.py): Grease Pencil and Curve geometry from the
strokes, restyling with the contract's brushes, saving, and a render against the SVG."""
from __future__ import annotations

import io
import os
import shutil

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from addon_paths import CAT_SIZE  # noqa: E402


def test_grease_pencil_strokes_match_the_sketch(addon, gp_sketch, gp_points):
    build, shared = addon.build, addon.contract.geometry
    obj = gp_sketch
    assert obj.type == "GREASEPENCIL" and obj.name.startswith("Sketch of cat")
    data = build.load_data(obj)
    assert data["metadata"]["backbone"] == "tiny-random" and len(data["strokes"]) == 12
    positions, radii = gp_points(obj)
    assert len(positions) == 12
    frame = build.frame_of(data)
    assert frame.extent == pytest.approx((2.0, 2.0 * CAT_SIZE[1] / CAT_SIZE[0]))
    for control, pts in zip(data["strokes"], positions):
        expected = shared.sample_cubic([frame.to_object(x, y) for x, y in control], addon.geometry.SAMPLES)
        assert np.allclose(np.array(pts), np.array(expected), atol=1e-5)
    # y-down image px become y-up object space: the first point's image y maps to origin + (H - y)
    x, y = data["strokes"][0][0]
    assert positions[0][0][1] == pytest.approx(frame.origin[1] + (CAT_SIZE[1] - y) * frame.units_per_px, abs=1e-5)
    width_px = data["style"]["width_px"]
    assert radii[0][0] == pytest.approx(width_px / 2 * frame.units_per_px, rel=1e-4)
    assert obj.data.materials[0].grease_pencil.color[:3] == pytest.approx((0, 0, 0))
    # the centrelines read back from the Grease Pencil points are the stored cubics
    assert np.allclose(build.current_centrelines(obj), data["strokes"], atol=1e-3)


def test_curve_output_has_one_spline_per_stroke(addon, curve_sketch):
    build = addon.build
    obj = curve_sketch
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


def test_restyle_changes_radius_profile_and_revert_restores(addon, gp_sketch, gp_points):
    build, shared = addon.build, addon.contract.geometry
    obj = gp_sketch
    _, before = gp_points(obj)
    style = bpy.context.scene.clipasso_style
    assert [item.identifier for item in style.bl_rna.properties["brush"].enum_items] == list(shared.BRUSHES)
    style.width_px, style.brush = 10.0, "tapered"
    assert bpy.ops.clipasso.restyle() == {"FINISHED"}
    _, tapered = gp_points(obj)
    frame = build.frame_of(build.load_data(obj))
    full = 10.0 / 2 * frame.units_per_px
    profile = shared.width_profile_samples("tapered", addon.geometry.SAMPLES)
    assert tapered[0] == pytest.approx([full * v for v in profile], rel=1e-4)
    assert tapered[0][0] < 0.1 * full and max(tapered[0]) == pytest.approx(full, rel=1e-4)
    style.brush = "sketchy"
    bpy.ops.clipasso.restyle()
    assert obj.modifiers.get("Clipasso jitter") is not None
    assert bpy.ops.clipasso.revert_style() == {"FINISHED"}
    _, reverted = gp_points(obj)
    assert np.allclose(reverted, before) and obj.modifiers.get("Clipasso jitter") is None


def test_curve_taper_follows_the_brush(addon, curve_sketch):
    obj = curve_sketch
    style = bpy.context.scene.clipasso_style
    style.brush = "pressure"
    assert bpy.ops.clipasso.restyle() == {"FINISHED"}
    taper = obj.data.taper_object
    assert taper is not None
    heights = [p.co[1] for p in taper.data.splines[0].points]
    assert heights == pytest.approx(addon.contract.geometry.width_profile_samples("pressure", 17), rel=1e-6)
    style.brush = "uniform"
    bpy.ops.clipasso.restyle()
    assert obj.data.taper_object is None


def test_save_and_reload_keeps_strokes_and_settings(addon, gp_sketch, gp_points, tmp_path):
    build = addon.build
    obj = gp_sketch
    name, stored = obj.name, build.load_data(obj)
    positions, _ = gp_points(obj)
    path = tmp_path / "sketch.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    assert name not in bpy.data.objects
    bpy.ops.wm.open_mainfile(filepath=str(path))
    again = bpy.data.objects[name]
    assert build.load_data(again) == stored
    assert np.allclose(gp_points(again)[0], positions)


def test_workbench_render_matches_svg(addon, gp_sketch, tmp_path):
    """A Workbench render of the Grease Pencil sketch, framed to the image, against resvg's render
    of the same strokes as SVG."""
    import resvg_py
    from mathutils import Matrix
    from PIL import Image

    build = addon.build
    obj = gp_sketch
    data = build.load_data(obj)
    obj.matrix_world = Matrix()
    frame = build.frame_of(data)
    scene = bpy.context.scene
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    cam.data.type = "ORTHO"
    cam.data.ortho_scale = max(frame.extent)
    cam.location = (frame.origin[0] + frame.extent[0] / 2, frame.origin[1] + frame.extent[1] / 2, 5)
    w, h = CAT_SIZE
    scene.render.resolution_x, scene.render.resolution_y = w, h
    scene.render.resolution_percentage = 100
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.film_transparent = False
    scene.world = bpy.data.worlds.new("w")
    scene.world.color = (1, 1, 1)
    scene.view_settings.view_transform = "Standard"
    scene.display.shading.light = "FLAT"
    scene.display.shading.color_type = "MATERIAL"
    if hasattr(scene.display.shading, "background_type"):
        scene.display.shading.background_type = "WORLD"
    out = tmp_path / "render.png"
    scene.render.filepath = str(out)
    bpy.ops.render.render(write_still=True)

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
