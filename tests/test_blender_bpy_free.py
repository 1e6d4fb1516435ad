"""The Blender add-on's bpy-free modules (blender_addon/geometry.py, job_logic.py, levels.py,
animation.py, core_setup.py: which core runs and Install Core, with tests/fake_python.py), in
the core's venv without Blender: loaded by path as submodules of a stand-in package whose
``contract`` is clipasso_core/contract, the way the extension zip carries it (the real package's
__init__ imports bpy)."""
from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import time
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ADDON = ROOT / "blender_addon"
CONTRACT = ROOT / "clipasso_core" / "contract"
PACKAGE = "clipasso_sketch_bpy_free"


def addon_module(name: str):
    """blender_addon/<name>.py, imported without running blender_addon/__init__.py."""
    if PACKAGE not in sys.modules:
        package = types.ModuleType(PACKAGE)
        package.__path__ = [str(ADDON)]
        sys.modules[PACKAGE] = package
        spec = importlib.util.spec_from_file_location(f"{PACKAGE}.contract", CONTRACT / "__init__.py",
                                                      submodule_search_locations=[str(CONTRACT)])
        contract = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = contract
        spec.loader.exec_module(contract)
        package.contract = contract
    return importlib.import_module(f"{PACKAGE}.{name}")


geometry = addon_module("geometry")
job_logic = addon_module("job_logic")
levels = addon_module("levels")
animation = addon_module("animation")
core_setup = addon_module("core_setup")
locking = addon_module("locking")
contract = sys.modules[f"{PACKAGE}.contract"]
CUBIC = [(10.0, 20.0), (60.0, -5.0), (140.0, 90.0), (200.0, 40.0)]


def test_no_bpy_needed():
    assert "bpy" not in sys.modules


# geometry.py


def test_image_frame_maps_px_to_object_space_and_back():
    frame = geometry.ImageFrame(451, 300, size=2.0)
    assert frame.units_per_px == pytest.approx(2.0 / 451)
    assert frame.extent == pytest.approx((2.0, 2.0 * 300 / 451))
    assert frame.origin == pytest.approx((-1.0, -300 / 451))  # centred on the origin
    # y-down image px to y-up object space: the top-left corner is at (-w/2, +h/2)
    assert frame.to_object(0, 0) == pytest.approx((-1.0, 300 / 451, 0.0))
    assert frame.to_object(451, 300) == pytest.approx((1.0, -300 / 451, 0.0))
    for x, y in [(0, 0), (12.5, 280.25), (451, 300)]:
        ox, oy, _ = frame.to_object(x, y)
        assert frame.to_image(ox, oy) == pytest.approx((x, y))
    # like an image empty: the offset moves the image, the long side is ``size``
    tall = geometry.ImageFrame(100, 400, size=3.0, offset=(0.0, 0.0))
    assert tall.extent == pytest.approx((0.75, 3.0)) and tall.origin == (0.0, 0.0)
    assert tall.to_object(0, 400) == pytest.approx((0.0, 0.0, 0.0))


def test_fit_cubic_recovers_a_sampled_cubic():
    points = contract.geometry.sample_cubic(CUBIC, geometry.SAMPLES)
    fitted = geometry.fit_cubic(points)
    assert len(fitted) == 4
    for got, want in zip(fitted, CUBIC):
        assert got == pytest.approx(want, abs=1e-6)
    # 3-D points (Grease Pencil positions) fit on x, y
    fitted3 = geometry.fit_cubic([(*p, 0.5) for p in contract.geometry.sample_cubic(CUBIC, 4)])
    for got, want in zip(fitted3, CUBIC):
        assert got == pytest.approx(want, abs=1e-6)


def test_fit_cubic_is_least_squares_on_noisy_points():
    points = contract.geometry.sample_cubic(CUBIC, 40)
    noisy = [(x + (0.3 if i % 2 else -0.3), y) for i, (x, y) in enumerate(points)]
    fitted = geometry.fit_cubic(noisy)
    assert fitted[0] == noisy[0] and fitted[3] == noisy[-1]  # the ends are kept
    again = contract.geometry.sample_cubic(fitted, 40)
    assert max(abs(a[1] - b[1]) for a, b in zip(again, points)) < 0.5
    with pytest.raises(ValueError, match="at least 4 points"):
        geometry.fit_cubic(points[:3])


def test_geometry_has_no_copy_of_the_contract():
    for name in ("bezier", "sample", "radius_profile", "hex_to_rgb", "BRUSHES"):
        assert not hasattr(geometry, name), name


# job_logic.py


def test_core_args_use_the_contracts_flags():
    options = contract.options.RUN_OPTIONS
    values = {"strokes": 12, "seeds": 2, "preset": "fast", "mask": "off", "stroke_width": 2.5,
              "color": "#ff0000", "iterations": 0, "backbone": "tiny-random"}
    args = job_logic.core_args(values, preview_every=5)
    pairs = dict(zip(args[::2], args[1::2]))
    assert pairs == {options["strokes"].flag: "12", options["seeds"].flag: "2", options["preset"].flag: "fast",
                     options["mask"].flag: "off", options["stroke_width"].flag: "2.5",
                     options["color"].flag: "#ff0000",  # 0 iterations: the preset's, left out
                     options["backbone"].flag: "tiny-random", "--preview-every": "5"}
    with pytest.raises(ValueError, match="preset must be one of"):
        job_logic.core_args({"preset": "slowest"})
    with pytest.raises(ValueError, match="not a run option"):
        job_logic.core_args({"frames": 3})
    assert job_logic.core_args({"levels": ""}, preview_every=5) == ["--preview-every", "5"]  # one level
    assert job_logic.core_args({"levels": "4, 16,8"})[:2] == [options["levels"].flag, "16,8,4"]
    with pytest.raises(ValueError, match="whole numbers"):
        job_logic.core_args({"levels": "16,eight"})


def test_core_args_are_accepted_by_the_cli():
    """The arguments parse with the core's own parser into the values given."""
    from clipasso_core import cli

    args = job_logic.core_args({"strokes": 7, "seeds": 1, "preset": "paper", "mask": "on", "stroke_width": 4.0,
                                "color": "#00ff00", "iterations": 12, "backbone": "openai", "levels": "2,7,4"})
    parsed = cli.build_parser().parse_args(["sketch", "in.png", "-o", "out.svg", *args])
    assert parsed.levels == "7,4,2" and "--strokes" not in args  # with levels, the largest is the count
    assert (cli._config(parsed).strokes, parsed.seeds, parsed.preset, parsed.mask, parsed.stroke_width, parsed.color,
            parsed.iterations, parsed.backbone, parsed.preview_every) == (7, 1, "paper", "on", 4.0, "#00ff00", 12,
                                                                          "openai", job_logic.PREVIEW_EVERY)


def test_init_sketch_is_the_contracts_sketch_json():
    style = {"width_px": 6.0, "color": "#112233", "opacity": 0.5, "brush": "tapered", "jitter": 0.0}
    sketch = job_logic.init_sketch(451, 300, [CUBIC, list(reversed(CUBIC))], style)
    again = contract.formats.Sketch.from_json(sketch.to_json())
    assert again.width == 451 and again.height == 300 and len(again.strokes) == 2
    assert again.strokes[0].points == CUBIC
    assert {(s.width, s.color, s.opacity) for s in again.strokes} == {(6.0, "#112233", 0.5)}
    with pytest.raises(contract.formats.FormatError):
        job_logic.init_sketch(451, 300, [[(0.0, 0.0), (1.0, float("nan")), (2, 2), (3, 3)]], style)
    with pytest.raises(contract.formats.FormatError, match="4 control points"):
        job_logic.init_sketch(451, 300, [CUBIC[:3]], style)


def test_status_and_fraction_of_a_progress_event():
    progress = contract.events.Progress(iteration=30, total=120, loss=1.5, best_loss=1.23456, elapsed_s=10,
                                        eta_s=33.4)
    assert job_logic.fraction(progress) == 0.25
    text = job_logic.status_text(progress)
    assert "30/120" in text and "1.235" in text and "33 s left" in text and "Esc" in text
    assert job_logic.fraction(contract.events.Progress(0, 0, 0, 0, 0, 0)) == 0.0
    level = contract.events.Progress(3, 14, 1.5, 1.2, 10, 5, level=16)
    assert "level of 16 strokes 3/14" in job_logic.status_text(level) and "keep the levels done" in job_logic.status_text(level)


@pytest.mark.parametrize("cancel, shows, done, failure, state", [
    (False, True, True, None, "FINISHED"),
    (False, False, True, None, "FINISHED"),     # no preview before the end: the result is shown then
    (False, True, False, "boom", "FAILED"),
    (False, True, True, "boom", "FAILED"),
    (False, False, False, None, "FAILED"),      # exited without done or a message
    (True, False, True, None, "CANCELLED"),     # Esc before the first strokes: scene as it was
    (True, False, False, "cancelled before the optimisation", "CANCELLED"),
    (True, True, True, None, "FINISHED"),       # Esc after a preview: keep the best so far
    (True, True, False, None, "CANCELLED"),     # Esc and no result came back
])
def test_end_state(cancel, shows, done, failure, state):
    assert job_logic.end_state(cancel, shows, done, failure) == state


# levels of abstraction (job_logic, levels.py)


def test_levels_value_checks_the_levels_field():
    assert job_logic.levels_value("") == [] and job_logic.levels_value("  ") == []
    assert job_logic.levels_value("4,16, 8") == [16, 8, 4]
    for text, message in (("16,x", "whole numbers"), ("8,8", "different"), ("0,4", "from 1 to"),
                          (",".join(str(c) for c in range(1, 11)), "at most")):
        with pytest.raises(contract.formats.FormatError, match=message):
            job_logic.levels_value(text)
    assert job_logic.level_text([16, 8]).startswith("Levels done: 16, 8 strokes")


def _stroke(i):
    return contract.formats.Stroke([(i, 0.0), (i, 1.0), (i, 2.0), (i, 3.0)], 2.0, id=i, rank=0)


def _entry(count, ids):
    return levels.entry(count, 1.0 / count, [_stroke(i) for i in ids])


def test_levels_data_add_show_and_layers():
    data = {"strokes": [[[0.0, 0.0]] * 4]}
    assert levels.counts(data) == [] and levels.shown(data) == 0
    assert levels.layer_plan(data) == [(levels.SKETCH_LAYER, data["strokes"], None, False)]
    assert levels.curve_strokes(data) is data["strokes"]
    levels.add(data, _entry(4, [3, 1, 0, 2]))  # levels arrive largest first, each shown
    assert levels.counts(data) == [4] and levels.shown(data) == 4
    assert data["strokes"] == data["levels"][0]["strokes"] and data["levels"][0]["ids"] == [3, 1, 0, 2]
    levels.add(data, _entry(2, [3, 1]))
    assert levels.counts(data) == [4, 2] and levels.shown(data) == 2
    plan = levels.layer_plan(data)
    assert [(name, ids, hidden) for name, _, ids, hidden in plan] == [("Level 4", [3, 1, 0, 2], True),
                                                                     ("Level 2", [3, 1], False)]
    assert levels.curve_strokes(data) == levels.strokes_of(data, 2) and len(levels.curve_strokes(data)) == 2
    levels.set_levels(data, data["levels"], show=4)
    assert levels.shown(data) == 4 and [h for *_, h in levels.layer_plan(data)] == [False, True]
    with pytest.raises(ValueError, match="no level of 3"):
        levels.set_levels(data, data["levels"], show=3)
    levels.set_levels(data, data["levels"], show=2)
    levels.set_levels(data, [_entry(4, [3, 1, 0, 2])])  # fewer levels (cancelled): the shown one is gone
    assert levels.counts(data) == [4] and levels.shown(data) == 4
    levels.set_levels(data, [])  # a preview of a refine: one level again
    assert "levels" not in data and "shown_level" not in data
    assert levels.is_managed_layer("Level 8") and levels.is_managed_layer("Sketch")
    assert not levels.is_managed_layer("My notes")


# animated sketches (animation.py, job_logic, geometry)


def test_frame_map_affine_and_table():
    assert animation.FrameMap(base=10).scene_frame(3) == 13
    table = animation.FrameMap(table=[2, 4, 6])
    assert [table.scene_frame(k) for k in range(3)] == [2, 4, 6]
    with pytest.raises(contract.formats.FormatError, match="input has 3 frames"):
        table.scene_frame(3)


def test_image_user_frames_and_movie_range():
    # picture #1 at frame_start, offset shifts the pictures
    assert animation.image_user_frames(1, 0, 3) == [(1, 1), (2, 2), (3, 3)]
    assert animation.image_user_frames(10, 4, 2) == [(10, 5), (11, 6)]
    values, frame_map = animation.movie_range(10, 1, 3, 5)  # movie frames 1..3 on scene frames 10..12
    assert values == {"start": 1, "end": 3, "step": 1}
    assert [frame_map.scene_frame(i) for i in (1, 2, 3)] == [10, 11, 12]
    values, _ = animation.movie_range(10, 1, 3, 5, start=1, step=2)  # counted from the first shown
    assert values == {"start": 2, "end": 2, "step": 2}
    values, _ = animation.movie_range(1, 0, 100, 5)  # the image user is longer than the movie
    assert values == {"start": 0, "end": 4, "step": 1}
    values, frame_map = animation.movie_range(5, -2, 4, 0)  # negative offset; length unknown
    assert values == {"start": 0, "end": 1, "step": 1} and frame_map.scene_frame(0) == 7
    with pytest.raises(contract.formats.FormatError, match="shows no frame of its movie"):
        animation.movie_range(1, 10, 3, 5)
    with pytest.raises(contract.formats.FormatError, match="no frames to sketch"):
        animation.movie_range(1, 0, 3, 5, start=3)


def test_select_frames():
    assert animation.select(5) == [0, 1, 2, 3, 4]
    assert animation.select(5, 1, 3) == [1, 2, 3]
    assert animation.select(5, 0, -1, 2) == [0, 2, 4]
    assert animation.select(5, 2, 100) == [2, 3, 4]
    with pytest.raises(contract.formats.FormatError, match="no frames to sketch"):
        animation.select(5, 5)


def test_animation_frames_in_the_stored_data():
    data = {"strokes": []}
    assert not animation.is_animation(data)
    animation.add(data, animation.entry(2, 12, [_stroke(0), _stroke(1)]))
    animation.add(data, animation.entry(0, 10, [_stroke(5), _stroke(6)], cut=True))
    assert animation.is_animation(data) and animation.scene_frames(data) == [10, 12]  # in scene order
    first = data["frames"][0]
    assert first == {"index": 0, "scene_frame": 10, "cut": True, "ids": [5, 6],
                     "strokes": [[[5.0, 0.0], [5.0, 1.0], [5.0, 2.0], [5.0, 3.0]],
                                 [[6.0, 0.0], [6.0, 1.0], [6.0, 2.0], [6.0, 3.0]]]}
    assert data["strokes"] == first["strokes"]
    animation.add(data, animation.entry(1, 12, [_stroke(3), _stroke(4)]))  # the same scene frame: replaced
    assert [f["index"] for f in data["frames"]] == [0, 1]
    assert animation.summary(data) == "Animation: 2 key frames (frames 10-12), 2 strokes"
    with pytest.raises(contract.formats.FormatError, match="same number of strokes"):
        animation.add(data, animation.entry(3, 13, [_stroke(0)]))
    with pytest.raises(contract.formats.FormatError, match="at least one frame"):
        animation.set_frames(data, [])


def test_animate_args_use_the_contracts_flags_and_the_cli_accepts_them():
    from clipasso_core import cli

    options = {**contract.options.RUN_OPTIONS, **contract.options.ANIMATE_OPTIONS}
    values = {"strokes": 8, "seeds": 1, "preset": "fast", "mask": "off", "stroke_width": 2.5, "color": "#00ff00",
              "iterations": 3, "backbone": "tiny-random", "start": 2, "end": 9, "step": 3}
    args = job_logic.animate_args(values)
    pairs = dict(zip(args[::2], args[1::2]))
    assert pairs[options["start"].flag] == "2" and pairs[options["step"].flag] == "3"
    assert "--preview-every" not in args
    parsed = cli.build_parser().parse_args(["animate", "clip.mp4", "-o", "out.svg", *args])
    assert (parsed.strokes, parsed.preset, parsed.start, parsed.end, parsed.step, parsed.iterations) == \
        (8, "fast", 2, 9, 3, 3)
    defaults = job_logic.animate_args({"start": 0, "end": -1, "step": 1})
    assert options["end"].flag not in defaults  # -1: the input's last, left to the core
    with pytest.raises(contract.formats.FormatError, match="one level"):
        job_logic.animate_args({"levels": "4,2"})


def test_animation_status_and_fraction():
    progress = contract.events.Progress(5, 20, 1.0, 0.5, 1.0, 2.0, frame=12)
    text = job_logic.frame_status_text(progress, done=2, total=4)
    assert text.startswith("Sketching frame 12 (3/4)  step 5/20") and "Esc" in text
    assert "(3)" in job_logic.frame_status_text(progress, done=2, total=None)
    assert job_logic.frame_status_text(progress, 2, 4, scene_frame=40).startswith("Sketching frame 40 (3/4)")
    assert job_logic.frame_status_text(contract.events.Progress(5, 20, 1.0, 0.5, 1.0, 2.0), 0, None) == \
        job_logic.status_text(contract.events.Progress(5, 20, 1.0, 0.5, 1.0, 2.0))
    assert job_logic.animation_fraction(progress, 2, 4) == pytest.approx((2 + 0.25) / 4)
    assert job_logic.animation_fraction(None, 4, 4) == 1.0
    assert job_logic.animation_fraction(progress, 2, None) == 0.25
    assert job_logic.frames_text(2, 4).startswith("Frames done: 2/4")


def test_batch_status_and_end_report():
    """Several images in one run: the status names the image, the report counts them."""
    progress = contract.events.Progress(40, 90, 1.0, 0.8312, 10.0, 12.0, image=1)
    text = job_logic.batch_status_text(progress, 2, 3, "horse.png")
    assert text.startswith("Image 2/3 horse.png: step 40/90  loss 0.8312") and "Esc" in text
    level = contract.events.Progress(3, 14, 1.5, 1.2, 10, 5, level=8, image=0)
    assert job_logic.batch_status_text(level, 1, 2, "cat.jpg").startswith(
        "Image 1/2 cat.jpg: fine-tuning the level of 8 strokes 3/14")
    assert job_logic.batch_end_text(3, 3, 0, False) == "done, 3 of 3 images sketched"
    assert job_logic.batch_end_text(2, 3, 1, False) == "done, 2 of 3 images sketched; 1 failed"
    assert job_logic.batch_end_text(2, 3, 0, True).startswith("stopped, kept 2 of 3 sketches")
    assert job_logic.image_failure("cat.jpg", "--strokes must be >= 1") == "cat.jpg failed: Strokes must be >= 1"


def test_camera_view_rectangle_and_covering_frame():
    # Blender's view_frame of a 50 mm lens, 36 mm sensor, 320 x 200 px (AUTO fit: horizontal)
    corners = [(0.5, 0.3125, -1.3888889), (0.5, -0.3125, -1.3888889), (-0.5, -0.3125, -1.3888889),
               (-0.5, 0.3125, -1.3888889)]
    cx, cy, w, h = geometry.view_rectangle(corners, ortho=False, distance=5.0)
    assert (cx, cy) == pytest.approx((0.0, 0.0)) and w == pytest.approx(5.0 * 36 / 50)
    assert w / h == pytest.approx(320 / 200)
    shifted = [(x + 0.1, y, z) for x, y, z in corners]
    assert geometry.view_rectangle(shifted, False, 1.3888889)[0] == pytest.approx(0.1)
    ortho = [(3.0, 1.875, -1.0), (3.0, -1.875, -1.0), (-3.0, -1.875, -1.0), (-3.0, 1.875, -1.0)]
    assert geometry.view_rectangle(ortho, True, 42.0) == pytest.approx((0.0, 0.0, 6.0, 3.75))
    with pytest.raises(ValueError, match="in front of it"):
        geometry.view_rectangle([(x, y, -z) for x, y, z in corners], False, 1.0)
    # a 320 x 200 px sketch over that view: the long side spans the width; square pixels: no y scale
    size, scale_y = geometry.covering_frame(320, 200, (0.0, 0.0, 6.0, 3.75))
    frame = geometry.ImageFrame(320, 200, size)
    assert frame.extent == pytest.approx((6.0, 3.75)) and scale_y == pytest.approx(1.0)
    # pixels twice as wide as high: the view is twice as wide for the same px, the y scale halves
    size, scale_y = geometry.covering_frame(160, 200, (0.0, 0.0, 6.0, 3.75))
    frame = geometry.ImageFrame(160, 200, size)
    assert frame.extent[0] == pytest.approx(6.0) and frame.extent[1] * scale_y == pytest.approx(3.75)


# job_logic.py: Blender's words (stroke width units, downloads, messages)


def test_canvas_px_is_the_cores_canvas():
    from clipasso_core.config import CANVAS

    assert job_logic.CANVAS_PX == CANVAS


def test_stroke_width_in_scene_units_or_image_px_becomes_canvas_px():
    # a sketch 2 units / 451 px on its long side: the core's 224 px canvas spans that long side
    assert job_logic.canvas_width(2 * 3 / 224, "SCENE", 2.0, 451) == pytest.approx(3.0)
    assert job_logic.canvas_width(0.05, "SCENE", 4.0, 0) == pytest.approx(0.05 * 224 / 4)
    assert job_logic.canvas_width(451 * 3 / 224, "PIXELS", 2.0, 451) == pytest.approx(3.0)
    for unit in ("SCENE", "PIXELS"):
        width = job_logic.canvas_width(5.0, unit, 300.0, 300.0)
        assert job_logic.from_canvas_width(width, unit, 300.0, 300.0) == pytest.approx(5.0)
    option = contract.options.RUN_OPTIONS["stroke_width"]
    with pytest.raises(ValueError, match=r"Stroke Width 1 scene units is too thick .* from 0\.00223 to 0\.179 scene"):
        job_logic.canvas_width(1.0, "SCENE", 2.0, 451)
    with pytest.raises(ValueError, match=r"Stroke Width 0\.1 image px is too thin .* image px"):
        job_logic.canvas_width(0.1, "PIXELS", 2.0, 451)
    with pytest.raises(ValueError, match="no size"):
        job_logic.canvas_width(1.0, "PIXELS", 2.0, 0)
    assert job_logic.canvas_width(option.maximum * 451 / 224, "PIXELS", 2.0, 451) == option.maximum
    for unit in ("SCENE", "PIXELS"):  # 0: automatic, the core's default, whatever the size
        assert job_logic.canvas_width(0.0, unit, 0.001, 0) == option.default


def test_download_status_text():
    event = contract.events.Download("CLIP RN101 weights", 120_000_000, 290_000_000, "/cache/hub")
    assert job_logic.download_text(event).startswith("Downloading CLIP RN101 weights: 120/290 MB")
    assert "/cache/hub" in job_logic.download_text(event)
    assert job_logic.download_text(contract.events.Download("u2net", 5_000_000)).startswith(
        "Downloading u2net: 5 MB")


def test_weight_files_become_the_cores_flags(tmp_path):
    clip = tmp_path / "rn101.pt"
    clip.write_bytes(b"x")
    assert job_logic.weight_args({"clip_weights": str(clip), "saliency_weights": ""}) == ["--clip-weights", str(clip)]
    with pytest.raises(ValueError, match="CLIP ViT-B/32 Weights file set in Edit > Preferences > Add-ons"):
        job_logic.weight_args({"saliency_weights": str(tmp_path / "missing.pt")})
    from clipasso_core import cli

    parsed = cli.build_parser().parse_args(["sketch", "-o", "x.svg", *job_logic.weight_args(
        {"clip_weights": str(clip), "saliency_weights": str(clip)})])
    assert parsed.clip_weights == str(clip) and parsed.saliency_weights == str(clip)


def test_core_messages_in_blenders_words():
    offline = ("CLIP RN101 weights (loss model) is not cached in /c and the model hub cannot be reached. Connect "
               "once and run again to download it, or pass a local checkpoint with --clip-weights PATH (or set "
               "CLIPASSO_CLIP_WEIGHTS).")
    said = job_logic.blender_message(offline)
    assert "--" not in said and "CLIPASSO_" not in said
    assert "the CLIP RN101 Weights file (in Edit > Preferences > Add-ons > Clipasso Sketch)" in said
    said = job_logic.blender_message("model u2net is not available; offline, copy u2net.onnx there, or run with "
                                     "--mask off.")
    assert said.endswith("or run with Remove Background: Off.")
    said = job_logic.blender_message("--width must be from 0.25 to 20, got 30 (see clipasso sketch --help)")
    assert said == "Stroke Width must be from 0.25 to 20, got 30"
    assert job_logic.blender_message("--backbone tiny-random uses RANDOM CLIP weights").startswith(
        "CLIP Weights: Tiny Random uses")


# core_setup.py: which core runs, Install Core


def _program(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def test_find_core_order(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    mine, preset, exe = (_program(tmp_path / name) for name in ("mine-python", "preset-python", "clipasso-exe"))
    env = tmp_path / "user" / core_setup.ENV_FOLDER
    with pytest.raises(core_setup.SetupError, match="press Install Core in Edit > Preferences > Add-ons > Clipasso"):
        core_setup.find_core("", "", str(env))
    # the preset (the field's default) when nothing else is there
    core = core_setup.find_core(preset, "", str(env), preset)
    assert core.command == [preset, "-m", "clipasso_core"] and "preset" in core.source
    # a complete Install Core environment beats the preset ...
    env_python = _program(Path(core_setup.env_python(str(env))))
    core_setup.write_marker(str(env), {"complete": True, "command": [env_python, "-m", "clipasso_core"]})
    assert core_setup.find_core(preset, "", str(env), preset).source == "Install Core"
    assert core_setup.find_core("", "", str(env)).command == [env_python, "-m", "clipasso_core"]
    # ... but not what the user set
    assert core_setup.find_core(mine, "", str(env), preset).command == [mine, "-m", "clipasso_core"]
    assert core_setup.find_core("", exe, str(env), preset).command == [exe]
    # an unfinished environment is not used, and the message says so
    core_setup.write_marker(str(env), {"complete": False})
    assert core_setup.install_state(str(env)) == "incomplete"
    with pytest.raises(core_setup.SetupError, match="did not finish: press it again"):
        core_setup.find_core("", "", str(env))
    with pytest.raises(core_setup.SetupError, match="preset to .* is gone"):
        core_setup.find_core(str(tmp_path / "gone"), "", str(env), str(tmp_path / "gone"))
    with pytest.raises(core_setup.SetupError, match="Python with clipasso_core does not exist"):
        core_setup.find_core(str(tmp_path / "gone"), "", str(env))
    # clipasso on PATH last
    _program(tmp_path / "bin" / "clipasso")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert core_setup.find_core("", "", str(env)).source == "clipasso on PATH"


def test_preset_and_wheel_of_the_zip(tmp_path):
    assert core_setup.read_preset(str(tmp_path)) == {} and core_setup.preset_python(str(tmp_path)) == ""
    (tmp_path / core_setup.PRESET_FILE).write_text('{"python": "/x/python"}')
    assert core_setup.preset_python(str(tmp_path)) == "/x/python"
    (tmp_path / core_setup.PRESET_FILE).write_text("not json")
    assert core_setup.preset_python(str(tmp_path)) == ""
    assert core_setup.core_wheel(str(tmp_path)) == ""
    wheel = tmp_path / core_setup.WHEEL_FOLDER / "clipasso-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"")
    assert core_setup.core_wheel(str(tmp_path)) == str(wheel)


def test_the_zip_layout_names_agree_with_the_builder():
    from clipasso_core import integrate_blender

    assert core_setup.PRESET_FILE == integrate_blender.PRESET_FILE
    assert core_setup.WHEEL_FOLDER == integrate_blender.WHEEL_FOLDER


def test_install_plan_and_torch_index(monkeypatch):
    steps, core = core_setup.install_plan("/blender/python", "/u/core-env", "/ext/core/c.whl", "CPU",
                                          "https://download.pytorch.org/whl/cpu")
    python = core_setup.env_python("/u/core-env")
    assert [s.command[:3] for s in steps[:3]] == [["/blender/python", "-m", "venv"], [python, "-m", "pip"],
                                                  [python, "-m", "pip"]]
    assert steps[3].command is None and steps[3].title == "checking the core"  # the core's info, once it exists
    with pytest.raises(contract.client.CoreError, match="not found"):
        core()
    assert "--clear" in steps[0].command
    torch = steps[1].command
    assert torch[-2:] == list(core_setup.TORCH_REQUIREMENTS)
    assert torch[torch.index("--index-url") + 1] == "https://download.pytorch.org/whl/cpu"
    assert steps[2].command[-1] == "/ext/core/c.whl" and "--index-url" not in steps[2].command
    steps, core = core_setup.install_plan("/blender/python", "/u/core-env", "/ext/core/c.whl", "CUDA", "", False)
    assert len(steps) == 2 and steps[0].command[:4] == ["/blender/python", "-m", "pip", "install"]
    assert "--target" in steps[0].command and "--index-url" not in steps[0].command
    assert steps[0].command[-3:] == [*core_setup.TORCH_REQUIREMENTS, "/ext/core/c.whl"]
    assert core() == ["/blender/python", core_setup.launcher_path("/u/core-env")]
    steps, _ = core_setup.install_plan("/blender/python", "/u/core-env", "/ext/core/c.whl", "CPU", "https://t/cpu", False)
    assert steps[0].command[steps[0].command.index("--extra-index-url") + 1] == core_setup.PYPI
    monkeypatch.setattr(core_setup.sys, "platform", "linux")
    assert core_setup.torch_index("CPU") == "https://download.pytorch.org/whl/cpu"
    assert core_setup.torch_index("CUDA") == "" and core_setup.torch_index("CPU", " https://mirror/simple ") == \
        "https://mirror/simple"
    monkeypatch.setattr(core_setup.sys, "platform", "darwin")
    assert core_setup.default_torch_build() == "MACOS" and core_setup.torch_index("MACOS") == ""
    assert {key for key, _, _ in core_setup.TORCH_BUILDS} == {"CPU", "CUDA", "MACOS"}


def test_pip_lines_for_the_status_bar():
    assert core_setup.line_status("  Downloading torch-2.14.1-cp311.whl (900.1 MB)\n") == \
        "Downloading torch-2.14.1-cp311.whl (900.1 MB)"
    assert core_setup.line_status("Looking in indexes: https://x") == "" and core_setup.line_status("  \n") == ""
    assert len(core_setup.line_status("x" * 500)) == 90


@pytest.fixture
def fake_python(tmp_path, monkeypatch):
    """Blender's Python played by tests/fake_python.py (no downloads); its calls logged."""
    launcher = tmp_path / "fake-python"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests" / "fake_python.py"}" "$@"\n')
    launcher.chmod(0o755)
    monkeypatch.setenv("FAKE_PYTHON_LAUNCHER", str(launcher))
    monkeypatch.setenv("FAKE_PYTHON_LOG", str(tmp_path / "calls.log"))
    wheel = tmp_path / "ext" / "core" / "clipasso-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(b"")
    return str(launcher), str(wheel), tmp_path / "user"


def test_install_core_runs_its_steps_and_marks_the_environment(fake_python):
    python, wheel, user = fake_python
    installer = core_setup.Installer(python, str(user), wheel, "CPU", "https://index.example/simple")
    assert installer.use_venv and installer.step() == installer.RUNNING
    assert installer.status.startswith("Install Core 1/4: making the environment")
    statuses = set()
    while installer.step() == installer.RUNNING:
        statuses.add(installer.status.split("  ")[0])
        time.sleep(0.02)
    assert installer.state == installer.FINISHED, installer.error
    assert installer.version == "0.1.0" and installer.progress == 1.0
    assert {"Install Core 2/4: installing torch (CPU)", "Install Core 3/4: installing the core"} <= statuses
    env = user / core_setup.ENV_FOLDER
    marker = core_setup.read_marker(str(env))
    assert marker["complete"] and marker["core"] == "0.1.0" and marker["torch_build"] == "CPU"
    assert core_setup.find_core("", "", str(env)).command == [core_setup.env_python(str(env)), "-m", "clipasso_core"]
    log = (user / core_setup.LOG_FILE).read_text()
    assert "Collecting torch==2.14.1" in log and "Successfully installed" in log


def test_install_core_failure_names_the_step_and_the_log(fake_python, monkeypatch):
    python, wheel, user = fake_python
    monkeypatch.setenv("FAKE_PIP_FAIL", "torch")
    installer = core_setup.Installer(python, str(user), wheel, "CUDA", "")
    assert installer.run_to_end(poll=0.02) == installer.FAILED
    assert installer.error.startswith("Install Core failed while installing torch (NVIDIA GPU (CUDA)): ERROR: No "
                                      "matching distribution found for torch==2.14.1")
    assert str(user / core_setup.LOG_FILE) in installer.error and "press Install Core in Edit > Preferences" in \
        installer.error
    assert core_setup.install_state(str(user / core_setup.ENV_FOLDER)) == "incomplete"


def test_install_core_cancel_kills_pip_and_running_it_again_repairs(fake_python, monkeypatch):
    python, wheel, user = fake_python
    env = str(user / core_setup.ENV_FOLDER)
    monkeypatch.setenv("FAKE_PIP_SLEEP", "30")
    installer = core_setup.Installer(python, str(user), wheel, "CPU", "")
    deadline = time.time() + 30
    while installer.index < 1 and time.time() < deadline:  # into the torch step
        installer.step()
        time.sleep(0.02)
    process = installer.process
    started = time.time()
    installer.cancel()
    assert installer.state == installer.CANCELLED and process.poll() is not None and time.time() - started < 5
    assert installer.step() == installer.CANCELLED
    assert core_setup.install_state(env) == "incomplete" and core_setup.installed_command(env) is None
    monkeypatch.setenv("FAKE_PIP_SLEEP", "0")
    again = core_setup.Installer(python, str(user), wheel, "CPU", "")
    assert again.run_to_end(poll=0.02) == again.FINISHED
    assert core_setup.install_state(env) == "complete"
    calls = [json.loads(line) for line in (user.parent / "calls.log").read_text().splitlines()]
    assert sum(call[1:3] == ["-m", "venv"] and "--clear" in call for call in calls) == 2  # made afresh


def test_install_core_without_venv_uses_pip_target_and_a_launcher(fake_python, monkeypatch):
    python, wheel, user = fake_python
    monkeypatch.setenv("FAKE_NO_VENV", "1")
    installer = core_setup.Installer(python, str(user), wheel, "CPU", "")
    assert not installer.use_venv
    assert installer.run_to_end(poll=0.02) == installer.FINISHED, installer.error
    env = user / core_setup.ENV_FOLDER
    assert core_setup.installed_command(str(env)) == [python, core_setup.launcher_path(str(env))]
    assert "site" in Path(core_setup.launcher_path(str(env))).read_text()


def test_install_core_refuses_without_a_wheel(tmp_path):
    with pytest.raises(core_setup.SetupError, match="carries no core to install"):
        core_setup.Installer(sys.executable, str(tmp_path), "", "CPU", "")


def test_check_shows_what_the_core_says_about_itself(tmp_path, monkeypatch):
    """Check runs ``clipasso info --check`` (the core's lines for a person, then its info event); a
    core from before --check still gives its version."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "rembg"))
    lines = core_setup.check([sys.executable, "-m", "clipasso_core"])
    assert lines[0] == "clipasso core: 0.1.0" and lines[1].startswith("torch: ")
    assert lines[2] in ("device: cpu", "device: cuda", "device: mps")
    hub, rembg = tmp_path / "hf" / "hub", tmp_path / "rembg" / "models" / "u2net"
    assert lines[3:] == [f"CLIP RN101 weights: not downloaded yet; the first sketch downloads it into {hub}",
                         f"CLIP ViT-B-32 weights: not downloaded yet; the first sketch downloads it into {hub}",
                         "background mask model u2net: not downloaded yet; the first sketch that masks a "
                         f"background (--mask auto or on) downloads it into {rembg}"]
    old = _program(tmp_path / "old-core", f"""#!{sys.executable}
import sys
if "--check" in sys.argv:
    sys.exit("clipasso: error: unrecognized arguments: --check (see clipasso --help)")
print('{{"protocol": 1, "event": "info", "version": "0.0.9"}}')
""")
    assert core_setup.check([old]) == ["clipasso core: 0.0.9", "(this core cannot tell torch, the device or the "
                                                                "weights: update it)"]
    with pytest.raises(contract.client.CoreError, match="not a working clipasso core"):
        core_setup.check([_program(tmp_path / "not-a-core", "#!/bin/sh\necho hello\n")])


# locking.py: the artist in the loop


def _shifted(cubic, dx):
    return [(x + dx, y) for x, y in cubic]


def test_match_ids_keeps_ids_through_hand_edits_and_deletions():
    stored = [_shifted(CUBIC, 10 * k) for k in range(6)]
    ids = [7, 3, 11, 0, 5, 9]
    assert locking.match_ids(stored, stored, ids) == ids
    # strokes 1 and 4 erased, stroke 2 edited (moved by hand), a stroke drawn by hand at the end
    current = [stored[0], _shifted(stored[2], 0.5), stored[3], stored[5], _shifted(CUBIC, 999)]
    assert locking.match_ids(current, stored, ids) == [7, 11, 0, 9, None]
    # an unchanged stroke is found wherever it is; a duplicate gets no id
    assert locking.match_ids([stored[3], stored[0], stored[0]], stored, ids) == [0, 7, None]
    assert locking.match_ids([], stored, ids) == []


def test_snap_to_stored_gives_unchanged_strokes_their_stored_points_exactly():
    stored = [CUBIC, _shifted(CUBIC, 50)]
    near = locking.CurrentStroke(_shifted(CUBIC, 1e-5), id=4)
    edited = locking.CurrentStroke(_shifted(CUBIC, 52), id=8)
    unknown = locking.CurrentStroke(_shifted(CUBIC, 1e-5), id=None)
    locking.snap_to_stored([near, edited, unknown], stored, [4, 8])
    assert near.points == CUBIC and edited.points == _shifted(CUBIC, 52) and unknown.points != CUBIC


def test_region_of_the_selection_and_of_an_outline_parse_as_the_cores():
    from clipasso_core.edit.region import parse_region

    strokes = [locking.CurrentStroke(CUBIC, 0, selected=True), locking.CurrentStroke(_shifted(CUBIC, 300), 1)]
    box = locking.selected_box(strokes, 5.0, 451, 300)
    assert box == (5.0, 0.0, 205.0, 95.0)  # the selected stroke's points, 5 px wider, inside the image
    rect = locking.region_text(box)
    assert rect == "5.000,0.000,205.000,95.000"
    with pytest.raises(ValueError, match="select the strokes around the place"):
        locking.selected_box([strokes[1]], 5.0, 451, 300)
    hull = locking.outline_polygon([(10, 10), (100, 10), (55, 40), (100, 80), (10, 80)])
    assert sorted(hull) == [(10, 10), (10, 80), (100, 10), (100, 80)]  # the inner point is dropped
    with pytest.raises(ValueError, match="encloses no area"):
        locking.outline_polygon([(0, 0), (10, 10), (20, 20)])
    import torch

    for text in (rect, locking.region_text(hull)):
        region = parse_region(text, 451, 300)
        inside = region.contains(torch.tensor([[50.0, 30.0], [300.0, 200.0]], dtype=torch.float64)).tolist()
        assert inside == [True, False], text


def test_fill_count_lock_color_and_locked_ids():
    assert locking.fill_count(16, 13) == 16
    with pytest.raises(ValueError, match="nothing to fill: the sketch has 16 strokes, its last run made 16"):
        locking.fill_count(16, 16)
    assert locking.lock_color("#000000") == "#ff7f00" and locking.lock_color("#ff8000") == "#1f7fff"
    strokes = [contract.formats.Stroke(CUBIC, id=4, locked=True), contract.formats.Stroke(CUBIC, id=1),
               contract.formats.Stroke(CUBIC, id=2, locked=True), contract.formats.Stroke(CUBIC, locked=True)]
    assert locking.locked_ids(strokes) == [2, 4]
    assert [locking.stored_id(locking.attribute_value(i)) for i in (None, 0, 41)] == [None, 0, 41]


def test_init_sketch_carries_ids_and_locks_and_previews_get_them_back():
    style = {"width_px": 6.0, "color": "#112233", "opacity": 0.5}
    init = job_logic.init_sketch(451, 300, [CUBIC, _shifted(CUBIC, 5)], style, [7, None], [True, False])
    again = contract.formats.Sketch.from_json(init.to_json())
    assert [(s.id, s.locked) for s in again.strokes] == [(7, True), (None, False)]
    # the core's preview: the init's strokes in order (moved, without ids or locks), then the added
    moved = [contract.formats.Stroke(_shifted(CUBIC, 1 + k)) for k in range(3)]
    preview = locking.refine_preview(contract.formats.Sketch(451, 300, moved), again)
    assert preview.strokes[0].points == CUBIC and preview.strokes[0].locked and preview.strokes[0].id == 7
    assert preview.strokes[1].points == _shifted(CUBIC, 2) and preview.strokes[1].id is None
    assert preview.strokes[2].points == _shifted(CUBIC, 3) and len(preview.strokes) == 3


def test_edit_option_flags_in_blenders_words():
    assert job_logic.blender_message("--fill-to 16: the sketch already has 16 strokes") == \
        "Fill Erased 16: the sketch already has 16 strokes"
    assert "Region" in job_logic.blender_message("no unlocked stroke lies in --region")
