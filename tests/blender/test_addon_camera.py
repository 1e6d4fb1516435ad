"""Sketch Camera View (issue 12): the active camera rendered for the current frame or the frame
range, sketched as one animation, and the Grease Pencil object placed in front of the camera,
parented to it, covering its view exactly: checked against Blender's own projection (perspective
and orthographic, sensor fits, lens shift, pixel aspect) and by rendering the sketch through the
camera against the SVG of the same frame."""
from __future__ import annotations

import io
import os
import shutil
import tempfile

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from conftest import fake_strokes, keyframes  # noqa: E402

QUICK = dict(strokes=4, seeds=1, iterations=2, mask="off", backbone="tiny-random", preset="fast")

CAMERAS = {
    "perspective": dict(type="PERSP", lens=35.0, sensor_fit="AUTO", shift_x=0.1, resolution=(160, 100)),
    "perspective-vertical-fit-wide-pixels": dict(type="PERSP", lens=50.0, sensor_fit="VERTICAL", shift_y=-0.15,
                                                 resolution=(90, 120), pixel_aspect=(2.0, 1.0)),
    "orthographic": dict(type="ORTHO", ortho_scale=4.0, sensor_fit="HORIZONTAL", shift_y=0.2, resolution=(150, 100)),
    "orthographic-portrait": dict(type="ORTHO", ortho_scale=3.0, sensor_fit="AUTO", resolution=(80, 140)),
}


def make_scene(kind: str = "perspective", objects: bool = True):
    """A camera (rotated, moved, scaled: rendering ignores its scale) set up as CAMERAS[kind], and a
    few objects in its view."""
    spec = dict(CAMERAS[kind])
    scene = bpy.context.scene
    data = bpy.data.cameras.new("Cam")
    cam = bpy.data.objects.new("Cam", data)
    scene.collection.objects.link(cam)
    scene.camera = cam
    data.type = spec.pop("type")
    data.sensor_fit = spec.pop("sensor_fit")
    scene.render.resolution_x, scene.render.resolution_y = spec.pop("resolution")
    scene.render.pixel_aspect_x, scene.render.pixel_aspect_y = spec.pop("pixel_aspect", (1.0, 1.0))
    scene.render.resolution_percentage = 100
    for name, value in spec.items():
        setattr(data, name, value)
    cam.location = (7.0, -6.0, 5.0)
    cam.rotation_euler = (1.1, 0.0, 0.85)
    cam.scale = (1.5, 1.5, 1.5)
    if objects:
        bpy.ops.mesh.primitive_cube_add(size=2.0, location=(0.0, 0.0, 1.0))
        bpy.ops.mesh.primitive_uv_sphere_add(radius=0.8, location=(1.8, 1.2, 0.8))
    bpy.context.view_layer.update()
    return scene, cam


def render_size(scene) -> tuple[int, int]:
    r = scene.render
    return r.resolution_x * r.resolution_percentage // 100, r.resolution_y * r.resolution_percentage // 100


def project(scene, cam, world_points):
    """Blender's own render projection (``calc_matrix_camera``, independent of ``view_frame``):
    world points to render px (x right, y down)."""
    width, height = render_size(scene)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    projection = cam.calc_matrix_camera(depsgraph, x=width, y=height, scale_x=scene.render.pixel_aspect_x,
                                        scale_y=scene.render.pixel_aspect_y)
    view = cam.matrix_world.normalized().inverted()
    out = []
    for point in world_points:
        clip = projection @ view @ point.to_4d()
        out.append(((clip.x / clip.w + 1) / 2 * width, (1 - clip.y / clip.w) / 2 * height))
    return out


def placed_sketch(addon, scene, cam, distance=0.0, count=5):
    """The fake strokes of frame 0 at the render's size, made and placed as the camera operator does."""
    width, height = render_size(scene)
    place = addon.camera.placement(scene, cam, addon.camera.distance_of(cam, distance))
    size, offset, matrix, parent = place(width, height)
    strokes = fake_strokes(0, width, height, count)
    sketch = addon.contract.formats.Sketch(width, height, strokes)
    entries = [addon.animation.entry(0, scene.frame_current, strokes)]
    obj = addon.build.create(bpy.context, "Placed", sketch, "GPENCIL", size, offset, {}, frames=entries)
    addon.build.place(obj, matrix, parent)
    bpy.context.view_layer.update()
    return obj, strokes


@pytest.mark.parametrize("kind", sorted(CAMERAS))
def test_the_sketch_covers_the_camera_view(addon, fresh_scene, kind):
    """Every stroke point of the placed sketch projects through the camera onto its px in the
    render (perspective and orthographic, sensor fits, shift, non-square pixels), the sketch sits
    at the chosen distance in front of the camera, and it is parented to the camera."""
    scene, cam = make_scene(kind, objects=False)
    obj, strokes = placed_sketch(addon, scene, cam)
    assert obj.parent == cam
    frame = addon.build.frame_of(addon.build.load_data(obj))
    shared = addon.contract.geometry
    drawing = keyframes(obj)[scene.frame_current]
    distance = 2.0 * cam.data.clip_start
    for stroke, want in zip(drawing.strokes, strokes):
        world = [obj.matrix_world @ p.position for p in stroke.points]
        expected = shared.sample_cubic(want.points, addon.geometry.SAMPLES)
        assert np.allclose(project(scene, cam, world), expected, atol=1e-3 * max(render_size(scene)))
        depth = [(cam.matrix_world.normalized().inverted() @ w).z for w in world]
        assert depth == pytest.approx([-distance] * len(depth), abs=1e-5)
    assert frame.units_per_px > 0
    # the camera moves: the sketch goes with it
    cam.location.x += 3.0
    bpy.context.view_layer.update()
    world = [obj.matrix_world @ p.position for p in drawing.strokes[0].points]
    assert np.allclose(project(scene, cam, world), shared.sample_cubic(strokes[0].points, addon.geometry.SAMPLES),
                       atol=1e-3 * max(render_size(scene)))


def test_distance_and_camera_checks(addon, fresh_scene):
    camera = addon.camera
    with pytest.raises(RuntimeError, match="the scene has no active camera"):
        bpy.ops.clipasso.sketch_camera_view(**QUICK)
    scene, cam = make_scene(objects=False)
    cam.data.clip_start, cam.data.clip_end = 0.5, 50.0
    assert camera.distance_of(cam, 0.0) == pytest.approx(1.0)
    assert camera.distance_of(cam, 3.0) == 3.0
    with pytest.raises(camera.InputError, match="outside its clipping range"):
        camera.distance_of(cam, 60.0)
    with pytest.raises(RuntimeError, match="outside its clipping range"):
        bpy.ops.clipasso.sketch_camera_view(distance=0.1, **QUICK)
    cam.data.type = "PANO"
    with pytest.raises(RuntimeError, match="panoramic"):
        bpy.ops.clipasso.sketch_camera_view(**QUICK)
    assert not [o for o in bpy.data.objects if addon.build.is_sketch(o)]


def test_render_frames_renders_each_frame_and_puts_the_scene_back(addon, fresh_scene):
    """One PNG per frame (in order, the scene as it is on that frame), sketches hidden from the
    renders, and every render setting, the sketches' visibility and the current frame put back."""
    from PIL import Image

    scene, cam = make_scene()
    cube = bpy.data.objects["Cube"]
    cube.location = (-2.0, 0.0, 1.0)
    cube.keyframe_insert("location", frame=1)
    cube.location = (2.0, 0.0, 1.0)
    cube.keyframe_insert("location", frame=5)
    old_sketch, _ = placed_sketch(addon, scene, cam)
    render = scene.render
    engine, path, current = render.engine, "//elsewhere/out_", 3
    assert engine != "BLENDER_WORKBENCH"  # the renders are Workbench's; the scene's engine comes back
    render.filepath = path
    render.use_stamp = True
    settings = render.image_settings
    if hasattr(settings, "media_type"):  # 5.0+: a movie output (its formats exclude PNG)
        settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
    scene.frame_set(current)
    with tempfile.TemporaryDirectory() as folder:
        out = addon.camera.render_frames(scene, [1, 5], folder)
        files = sorted(os.listdir(out))
        assert files == ["frame_000000.png", "frame_000001.png"]
        first, last = (np.asarray(Image.open(os.path.join(out, f)).convert("L"), np.float32) for f in files)
    assert first.shape == (100, 160) and np.abs(first - last).mean() > 1  # the cube moved
    assert (render.engine, render.filepath, render.use_stamp, settings.file_format) == (engine, path, True, "FFMPEG")
    assert scene.frame_current == current and not old_sketch.hide_render


def _white_world_render(scene, path):
    """Render only the sketch (every other object hidden), flat black ink on white."""
    for obj in scene.objects:
        if obj.type != "GREASEPENCIL" and obj.type != "CAMERA":
            obj.hide_render = True
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.film_transparent = False
    scene.world = bpy.data.worlds.new("white")
    scene.world.color = (1, 1, 1)
    scene.view_settings.view_transform = "Standard"
    scene.display.shading.light = "FLAT"
    scene.display.shading.color_type = "MATERIAL"
    if hasattr(scene.display.shading, "background_type"):
        scene.display.shading.background_type = "WORLD"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)


def _svg_render(strokes, width_px, size):
    import resvg_py
    from PIL import Image

    w, h = size
    paths = "".join(
        f'<path d="M {p[0][0]} {p[0][1]} C {p[1][0]} {p[1][1]} {p[2][0]} {p[2][1]} {p[3][0]} {p[3][1]}" '
        f'stroke="#000" stroke-width="{width_px}" fill="none" stroke-linecap="round"/>' for p in strokes)
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">{paths}</svg>'
    png = bytes(resvg_py.svg_to_bytes(svg_string=svg, background="white"))
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), np.float32) / 255


def compare_render_with_svg(addon, scene, obj, scene_frame, tmp_path, name):
    """Ink IoU of a Workbench render through the camera of the sketch on ``scene_frame`` against
    the SVG of that frame's stored strokes (the render's px)."""
    from PIL import Image

    data = addon.build.load_data(obj)
    entry = next(f for f in data["frames"] if f["scene_frame"] == scene_frame)
    scene.frame_set(scene_frame)
    out = tmp_path / f"{name}.png"
    _white_world_render(scene, out)
    rendered = np.asarray(Image.open(out).convert("L"), np.float32) / 255
    ref = _svg_render(entry["strokes"], data["style"]["width_px"], render_size(scene))
    Image.fromarray((np.concatenate([rendered, ref], 1) * 255).astype(np.uint8)).save(tmp_path / f"{name}-vs-svg.png")
    keep = os.environ.get("CLIPASSO_RENDER_OUT")
    if keep:
        shutil.copy(tmp_path / f"{name}-vs-svg.png", os.path.join(os.path.dirname(keep), f"{name}-vs-svg.png"))
    ink_a, ink_b = rendered < 0.5, ref < 0.5
    iou = (ink_a & ink_b).sum() / max((ink_a | ink_b).sum(), 1)
    print(f"Blender {bpy.app.version_string} {name}: render through the camera vs SVG, ink IoU {iou:.3f}")
    return iou


@pytest.mark.parametrize("kind", ["perspective", "orthographic"])
def test_camera_view_frame_range_render_matches_the_svg(addon, fresh_scene, fake_core, tmp_path, kind):
    """The operator over the frame range (every 2nd frame): a drawing on each rendered frame,
    parented to the camera; a render through the camera of each frame's drawing matches the SVG
    of that frame's strokes."""
    scene, cam = make_scene(kind)
    scene.frame_start, scene.frame_end, scene.frame_step = 2, 6, 2
    scene.frame_set(4)
    engine = scene.render.engine
    assert bpy.ops.clipasso.sketch_camera_view(frames="RANGE", width_unit="PIXELS",  # 8 px of the core's canvas
                                               stroke_width_px=8.0 * max(render_size(scene)) / 224,
                                               **QUICK) == {"FINISHED"}
    obj = bpy.data.objects["Sketch of Cam view"]
    assert obj.parent == cam and sorted(keyframes(obj)) == [2, 4, 6]
    assert scene.render.engine == engine and scene.frame_current == 4
    data = addon.build.load_data(obj)
    assert [f["index"] for f in data["frames"]] == [0, 1, 2]
    assert (data["image"]["width"], data["image"]["height"]) == render_size(scene)
    for scene_frame in (2, 6):
        assert compare_render_with_svg(addon, scene, obj, scene_frame, tmp_path, f"{kind}-{scene_frame}") >= 0.8


@pytest.fixture
def renders():
    """The (engine, frame, sketches shown) of each render while the test runs."""
    seen = []

    def record(scene, *_):
        shown = [o.name for o in scene.objects if o.type == "GREASEPENCIL" and not o.hide_render]
        seen.append((scene.render.engine, scene.frame_current, shown))

    bpy.app.handlers.render_pre.append(record)
    yield seen
    bpy.app.handlers.render_pre.remove(record)


def test_current_frame_and_the_scenes_engine(addon, fresh_scene, fake_core, renders):
    scene, cam = make_scene("orthographic")
    scene.render.engine = "CYCLES"  # the scene's engine (one sample: quick)
    scene.cycles.samples = 1
    scene.frame_set(9)
    assert bpy.ops.clipasso.sketch_camera_view(engine="SCENE", **QUICK) == {"FINISHED"}
    assert renders == [("CYCLES", 9, [])] and scene.render.engine == "CYCLES"
    obj = bpy.data.objects["Sketch of Cam view"]
    assert sorted(keyframes(obj)) == [9]
    # a second camera-view sketch (Workbench): the first one is hidden from its renders, then shown again
    assert bpy.ops.clipasso.sketch_camera_view(**QUICK) == {"FINISHED"}
    assert renders[1:] == [("BLENDER_WORKBENCH", 9, [])]
    assert not obj.hide_render and bpy.data.objects["Sketch of Cam view.001"].parent == cam


@pytest.mark.real_core
def test_real_core_camera_view_matches_the_svg(addon, fresh_scene, tmp_path):
    """End to end with the real ``clipasso animate`` on the rendered camera view: the render through
    the camera of the sketch matches the SVG of the same frame; also renders the sketch over the
    scene (CLIPASSO_RENDER_OUT: where to keep it) to look at."""
    scene, cam = make_scene("perspective")
    scene.render.resolution_x, scene.render.resolution_y = 400, 250
    assert bpy.ops.clipasso.sketch_camera_view(strokes=8, seeds=1, iterations=3, mask="off", backbone="tiny-random",
                                               preset="fast", width_unit="PIXELS",
                                               stroke_width_px=5.0 * 400 / 224) == {"FINISHED"}
    obj = bpy.data.objects["Sketch of Cam view"]
    assert obj.parent == cam and sorted(keyframes(obj)) == [scene.frame_current]
    keep = os.environ.get("CLIPASSO_RENDER_OUT")
    if keep:  # the sketch over the scene, as Workbench renders it
        scene.render.engine = "BLENDER_WORKBENCH"
        scene.render.filepath = os.path.join(os.path.dirname(keep), "camera-view-over-scene.png")
        bpy.ops.render.render(write_still=True)
    assert compare_render_with_svg(addon, scene, obj, scene.frame_current, tmp_path, "real-core-perspective") >= 0.8
