"""The operators (blender_addon/operators.py): properties from the contract's run options, sketch over
an image empty (packed too), refine, check the core, errors, and Blender cancelling a modal run."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from types import SimpleNamespace

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from addon_paths import CAT, CAT_SIZE, CORE_PYTHON, scene_width  # noqa: E402

RUN_OPTION_PROPERTIES = {"strokes", "seeds", "preset", "mask", "color", "iterations", "backbone", "levels"}
"""The run options the sketch operator offers as the contract has them (opacity is a style, set afterwards;
the stroke width is asked in scene units or image px: test_stroke_width_in_scene_units_or_image_px)."""
WIDTH_PROPERTIES = {"width_unit", "stroke_width", "stroke_width_px"}


def _check_against_option(prop, option, contract):
    where = f"{option.name}: the operator's property and contract.options.RUN_OPTIONS disagree"
    if option.choices:
        assert prop.type == "ENUM", where
        offered = contract.options.EDITOR_BACKBONES if option.name == "backbone" else option.choices
        assert [item.identifier for item in prop.enum_items] == list(offered), where
        assert set(offered) <= set(option.choices) and prop.default == option.default, where
    elif isinstance(option.default, str) and option.name != "color":  # a text option (levels)
        assert prop.type == "STRING" and prop.default == option.default, where
    elif option.name == "color":
        assert tuple(prop.default_array) == pytest.approx(contract.geometry.hex_to_rgb(option.default)), where
    else:
        assert prop.type == ("INT" if isinstance(option.default, int) else "FLOAT"), where
        assert prop.default == pytest.approx(option.default), where
        assert prop.hard_min == pytest.approx(option.minimum), where
        assert prop.hard_max == pytest.approx(option.maximum), where


def test_run_option_properties_follow_the_contract(addon, contract):
    """Defaults, ranges and choices of the operators' run options are RUN_OPTIONS' (read back from
    the registered operators' RNA), so changing one side only fails here."""
    options = contract.options.RUN_OPTIONS
    sketch_props = bpy.ops.clipasso.sketch_from_image.get_rna_type().properties
    covered = {name for name in options if name in sketch_props.keys()} - WIDTH_PROPERTIES
    assert covered == RUN_OPTION_PROPERTIES and WIDTH_PROPERTIES <= set(sketch_props.keys())
    for name in covered:
        _check_against_option(sketch_props[name], options[name], contract)
    refine_props = bpy.ops.clipasso.refine.get_rna_type().properties
    for name in ("iterations", "backbone"):
        _check_against_option(refine_props[name], options[name], contract)


class Harness:
    """Stands in for a running modal operator (Blender without a window never invokes one): the
    operator's own methods on plain attributes."""

    def __init__(self, operator_class, **props):
        self.operator_class = operator_class
        self.reports = []
        self.__dict__.update(props)

    def __getattr__(self, name):
        method = getattr(self.__dict__["operator_class"], name)
        return method.__get__(self) if callable(method) else method

    def report(self, level, message):
        self.reports.append((level, message))


TIMER = SimpleNamespace(type="TIMER", value="NOTHING")


@pytest.mark.parametrize("which", ["sketch", "refine"])
def test_blender_cancelling_the_modal_run_stops_the_core_and_undoes(addon, curve_sketch_file, fresh_scene,
                                                                    open_saved, which):
    """``cancel`` (Blender calls it when it cancels a modal operator: a file loaded, the window closed,
    quitting) after a preview arrived: the core has exited, the half-built result is undone, the timer
    and the job are gone, the temp files deleted."""
    ops, build, formats = addon.operators, addon.build, addon.contract.formats
    context = bpy.context
    if which == "sketch":
        operator = ops.CLIPASSO_OT_sketch_from_image
        harness = Harness(operator, filepath=str(CAT), strokes=5, seeds=1, preset="fast", mask="off",
                          output="GPENCIL", width_unit="SCENE", stroke_width=scene_width(3.0),
                          color=(0.0, 0.0, 0.0), iterations=3000,
                          size=2.0, backbone="tiny-random", levels="")
        before = None
    else:
        operator = ops.CLIPASSO_OT_refine
        obj = open_saved(curve_sketch_file)
        before = build.load_data(obj)
        harness = Harness(operator, iterations=3000, backbone="tiny-random")
    assert operator.cancel is ops._RunsCore.cancel
    harness._prepare(context)
    job = harness._job
    if which == "refine":  # the --init file is the contract's sketch JSON of the current strokes
        init = formats.Sketch.from_json(open(os.path.join(job.tmp.name, "init.json"), encoding="utf-8").read())
        assert np.allclose([s.points for s in init.strokes], build.current_centrelines(obj), atol=1e-6)
        assert {s.width for s in init.strokes} == {before["style"]["width_px"]}
    harness._begin_ui(context)
    assert harness._timer is not None
    deadline = time.time() + 300

    def waiting() -> bool:  # for the first preview; a refine's until one moved the strokes (the first
        # ones may be the init's own strokes, exactly: unchanged strokes round-trip bit for bit)
        return job.shown == 0 or (which == "refine" and build.load_data(obj)["strokes"] == before["strokes"])

    while waiting() and time.time() < deadline:
        assert harness.modal(context, TIMER) == {"RUNNING_MODAL"}
        time.sleep(0.05)
    assert job.shown > 0 and job.run.running
    if which == "refine":
        assert build.load_data(obj)["strokes"] != before["strokes"]  # a preview replaced the strokes
    started = time.time()
    operator.cancel(harness, context)
    assert job.run.process.poll() is not None and time.time() - started < 15
    assert harness._timer is None and harness._job is None and job.state == "CANCELLED"
    assert not os.path.exists(job.tmp.name)
    if which == "sketch":
        assert len(bpy.data.objects) == 0 and len(bpy.data.materials) == 0
    else:
        assert build.load_data(obj) == before
        spline = obj.data.splines[0]
        frame = build.frame_of(before)
        assert tuple(spline.bezier_points[0].co) == pytest.approx(frame.to_object(*before["strokes"][0][0]), abs=1e-5)
    operator.cancel(harness, context)  # a second cancel is harmless


def test_over_a_selected_packed_image_empty(addon, fresh_scene, run_sketch, tmp_path, monkeypatch):
    """Over an image empty the sketch takes its transform and frame; a packed image (its file gone)
    is handed to the core as a temp file that is deleted when the run ends."""
    build = addon.build
    photo = tmp_path / "photo.jpg"
    shutil.copy(CAT, photo)
    image = bpy.data.images.load(str(photo))
    image.pack()
    photo.unlink()
    empty = bpy.data.objects.new("Photo", None)
    empty.empty_display_type = "IMAGE"
    empty.data = image
    empty.empty_display_size = 3.0
    empty.location = (1, 2, 3)
    empty.rotation_euler = (0.3, 0.0, 0.5)
    bpy.context.collection.objects.link(empty)
    bpy.context.view_layer.objects.active = empty
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # where the add-on's temp files go
    assert run_sketch(filepath="") == {"FINISHED"}
    assert list(temp.iterdir()) == []
    obj = bpy.data.objects["Sketch of Photo"]
    assert np.allclose(np.array(obj.matrix_world), np.array(empty.matrix_world), atol=1e-6)
    data = build.load_data(obj)
    frame = build.frame_of(data)
    assert frame.extent[0] == pytest.approx(3.0) and frame.origin == pytest.approx((-1.5, -1.5 * 300 / 451))
    assert data["settings"]["image_name"] == image.name


def test_core_missing_and_core_error_are_reported_without_leftovers(addon, fresh_scene, run_sketch, tmp_path):
    prefs = addon.prefs
    prefs.python_path = "/nonexistent/python"
    try:
        with pytest.raises(RuntimeError, match="the Python set in Edit > Preferences > Add-ons > Clipasso Sketch > "
                                           "Python with clipasso_core does not exist"):
            run_sketch()
    finally:
        prefs.python_path = CORE_PYTHON
    assert len(bpy.data.objects) == 0
    bad = tmp_path / "not_an_image.png"
    bad.write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match="not a readable image"):
        run_sketch(filepath=str(bad))
    assert len(bpy.data.objects) == 0 and len(bpy.data.materials) == 0
    with pytest.raises(RuntimeError, match="image not found"):
        run_sketch(filepath=str(tmp_path / "missing.png"))


def test_check_core_reports_version_or_the_problem(addon):
    prefs = addon.prefs
    assert bpy.ops.clipasso.check_core() == {"FINISHED"}
    lines = prefs.status.splitlines()
    assert lines[0] == f"Core (Python with clipasso_core): {CORE_PYTHON} -m clipasso_core"
    assert lines[1] == "clipasso core: 0.1.0"
    assert lines[2].startswith("torch: ") and lines[3] in ("device: cpu", "device: cuda", "device: mps")
    assert lines[4].startswith("CLIP RN101 weights: ") and lines[5].startswith("CLIP ViT-B-32 weights: ")
    prefs.python_path, prefs.core_path = "", shutil.which("false")  # runs, but is no core
    try:
        with pytest.raises(RuntimeError, match="not a working clipasso core"):
            bpy.ops.clipasso.check_core()
        assert "not a working clipasso core" in prefs.status
    finally:
        prefs.python_path, prefs.core_path = CORE_PYTHON, ""


def test_refine_starts_from_edited_strokes(addon, curve_sketch):
    build = addon.build
    obj = curve_sketch
    spline = obj.data.splines[0]
    spline.bezier_points[0].co.x += 0.05  # a hand edit
    edited = build.current_centrelines(obj)
    assert bpy.ops.clipasso.refine(iterations=1, backbone="tiny-random") == {"FINISHED"}
    refined = build.load_data(obj)["strokes"]
    assert len(refined) == 6
    # one step from the edited strokes (the core lists them most important first: match each to its nearest)
    distance = np.abs(np.array(refined)[:, None] - np.array(edited)[None]).max(axis=(2, 3))
    assert distance.min(axis=1).max() < 10 and sorted(distance.argmin(axis=1)) == list(range(6))


# Blender's words: stroke width units, weight files, downloads


def _last_sketch(addon):
    obj = bpy.context.scene.objects[-1]
    assert addon.build.is_sketch(obj)
    return addon.build.load_data(obj)


def test_stroke_width_in_scene_units_or_image_px(addon, fresh_scene, run_sketch):
    """The width is asked in scene units or image px and reaches the core as px of its 224 px canvas
    (which spans the image's long side); 0 is automatic (the core's default)."""
    default = addon.contract.options.RUN_OPTIONS["stroke_width"].default
    assert run_sketch(width_unit="SCENE", stroke_width=0.05, size=2.0) == {"FINISHED"}
    data = _last_sketch(addon)
    assert data["settings"]["stroke_width"] == pytest.approx(0.05 * 224 / 2.0)
    assert data["style"]["width_px"] == pytest.approx(0.05 * 224 / 2.0 * max(CAT_SIZE) / 224, rel=1e-3)
    # the same 0.05 units on a sketch twice as large: half the canvas px
    assert run_sketch(width_unit="SCENE", stroke_width=0.05, size=4.0) == {"FINISHED"}
    assert _last_sketch(addon)["settings"]["stroke_width"] == pytest.approx(0.05 * 224 / 4.0)
    assert run_sketch(width_unit="PIXELS", stroke_width_px=10.0) == {"FINISHED"}
    data = _last_sketch(addon)
    assert data["settings"]["stroke_width"] == pytest.approx(10.0 * 224 / max(CAT_SIZE))
    assert data["style"]["width_px"] == pytest.approx(10.0, rel=1e-3)
    assert run_sketch() == {"FINISHED"}  # 0: automatic
    assert _last_sketch(addon)["settings"]["stroke_width"] == pytest.approx(default)
    objects = len(bpy.data.objects)
    with pytest.raises(RuntimeError, match=r"Stroke Width 1 scene units is too thick for this sketch \(2 scene units "
                                           r"on its long side\): choose from 0.00223 to 0.179 scene units"):
        run_sketch(width_unit="SCENE", stroke_width=1.0)
    with pytest.raises(RuntimeError, match="Stroke Width 0.1 image px is too thin"):
        run_sketch(width_unit="PIXELS", stroke_width_px=0.1)
    assert len(bpy.data.objects) == objects


def test_the_operator_shows_the_width_in_the_chosen_unit(addon):
    from test_addon_ui import Layout

    harness = Harness(addon.operators.CLIPASSO_OT_sketch_from_image, width_unit="SCENE")
    harness.bl_rna = bpy.ops.clipasso.sketch_from_image.get_rna_type()
    layout = Layout()
    addon.operators.draw_fields(harness, layout)
    shown = {name for kind, name in layout.log if kind == "prop"}
    assert {"width_unit", "stroke_width", "strokes", "backbone"} <= shown
    assert not shown & {"stroke_width_px", "filepath", "filter_image"}
    harness.width_unit = "PIXELS"
    layout = Layout()
    addon.operators.draw_fields(harness, layout)
    shown = {name for kind, name in layout.log if kind == "prop"}
    assert "stroke_width_px" in shown and "stroke_width" not in shown
    props = bpy.ops.clipasso.sketch_from_image.get_rna_type().properties
    assert props["stroke_width"].name == "Stroke Width (scene units)" and props["stroke_width"].unit == "LENGTH"
    assert props["stroke_width_px"].name == "Stroke Width (image px)"


def test_weight_files_from_the_preferences_and_messages_in_blenders_words(addon, fresh_scene, run_sketch, tmp_path):
    prefs = addon.prefs
    try:
        prefs.clip_weights = str(tmp_path / "missing.pt")
        with pytest.raises(RuntimeError, match="the CLIP RN101 Weights file set in Edit > Preferences > Add-ons > "
                                               "Clipasso Sketch does not exist"):
            run_sketch(backbone="openai")
        bad = tmp_path / "bad.pt"
        bad.write_bytes(b"not a checkpoint")
        prefs.clip_weights = prefs.saliency_weights = str(bad)
        with pytest.raises(RuntimeError) as failure:
            run_sketch(backbone="openai")
        assert str(bad) in str(failure.value) and "--" not in str(failure.value)
        assert len(bpy.data.objects) == 0
        assert run_sketch() == {"FINISHED"}  # random weights: the files are not passed
    finally:
        prefs.clip_weights = prefs.saliency_weights = ""


def test_download_events_show_in_the_status(addon, fresh_scene, tmp_path):
    """A first run's ``download`` event becomes the status bar line ("Downloading ...: 120/290 MB")."""
    from mathutils import Matrix

    events = addon.contract.events
    line = events.to_line(events.Download("CLIP RN101 weights", 120_000_000, 290_000_000, "/hub"))
    fake = tmp_path / "downloading-core"
    fake.write_text(f"#!{sys.executable}\nimport sys\nprint({line!r}, flush=True)\nsys.stdin.read()\n")
    fake.chmod(0o755)
    job = addon.job.SketchJob([str(fake)], str(CAT), [], "GPENCIL", 2.0, (-0.5, -0.5), Matrix(), {}, "Downloading")
    try:
        deadline = time.time() + 30
        while not job.status.startswith("Downloading") and time.time() < deadline:
            job.step(bpy.context)
            time.sleep(0.05)
        assert job.status.startswith("Downloading CLIP RN101 weights: 120/290 MB")
    finally:
        job.abort()
    assert job.run.process.poll() is not None
