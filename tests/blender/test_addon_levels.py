"""Levels of abstraction and drawing order (issue 13) in Blender: one layer per level (Grease
Pencil) or the shown level's splines (Curve), the Abstraction control, Draw On (a Build modifier),
restyle on every level, the Levels option checked, levels shown as they arrive and Esc keeping the
levels done. Real bpy against the real core (--backbone tiny-random)."""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

bpy = pytest.importorskip("bpy")

from conftest import LEVELS  # noqa: E402
from test_addon_operators import TIMER, Harness  # noqa: E402
from test_addon_ui import drawn  # noqa: E402

from addon_paths import CAT  # noqa: E402

COUNTS = [int(c) for c in LEVELS.split(",")]


def _drawing(obj, name):
    return obj.data.layers[name].get_frame_at(bpy.context.scene.frame_current).drawing


def _check_layers_match_the_data(addon, obj):
    """Every stored level has its layer, with its strokes in rank order at the stored centrelines."""
    build, levels = addon.build, addon.levels
    data = build.load_data(obj)
    frame = build.frame_of(data)
    names = sorted(layer.name for layer in obj.data.layers)
    assert names == sorted(levels.layer_name(c) for c in levels.counts(data))
    for level in data["levels"]:
        drawing = _drawing(obj, levels.layer_name(level["count"]))
        assert len(drawing.strokes) == level["count"] == len(level["ids"])
        for stroke, control in zip(drawing.strokes, level["strokes"]):
            assert tuple(stroke.points[0].position) == pytest.approx(frame.to_object(*control[0]), abs=1e-5)
            assert tuple(stroke.points[-1].position) == pytest.approx(frame.to_object(*control[-1]), abs=1e-5)
    return data


def _visible(obj):
    return [layer.name for layer in obj.data.layers if not layer.hide]


def test_levels_sketch_is_one_object_with_a_layer_per_level(addon, gp_levels):
    obj = gp_levels
    assert len([o for o in bpy.data.objects if addon.build.is_sketch(o)]) == 1
    data = _check_layers_match_the_data(addon, obj)
    assert addon.levels.counts(data) == COUNTS
    assert data["settings"]["levels"] == LEVELS and data["settings"]["strokes"] == COUNTS[0]
    assert data["strokes"] == data["levels"][0]["strokes"]  # the full sketch, for one-level readers
    ids = [level["ids"] for level in data["levels"]]
    for larger, smaller in zip(ids, ids[1:]):  # nested: a smaller level's strokes are the larger's
        assert len(set(smaller)) == len(smaller) and set(smaller) <= set(larger)
    assert _visible(obj) == ["Level 6"]  # a finished levels sketch shows its largest level
    assert obj.clipasso_abstraction == "6"


def test_abstraction_control_switches_the_visible_layer(addon, gp_levels):
    obj = gp_levels
    items = addon.operators._abstraction_items(obj, bpy.context)  # the enum's dynamic items
    assert [(item[0], item[3]) for item in items] == [(str(c), c) for c in COUNTS]
    for count in (3, 2, 6):
        obj.clipasso_abstraction = str(count)
        assert _visible(obj) == [f"Level {count}"]
        assert addon.build.load_data(obj)["shown_level"] == count
    # the panel offers it (and Draw On) for a levels sketch only
    log = drawn(addon.ui.VIEW3D_PT_clipasso.draw, bpy.context)
    assert ("prop", "clipasso_abstraction") in log and ("operator", "clipasso.draw_on") in log
    assert any(kind == "label" and text.startswith("Levels 6, 3, 2: showing 6 strokes") for kind, text in log)


def test_abstraction_of_a_curve_levels_sketch_swaps_its_splines(addon, curve_levels):
    obj = curve_levels
    build = addon.build
    for count in (2, 3, 6):
        obj.clipasso_abstraction = str(count)
        assert len(obj.data.splines) == count
        assert len(build.current_centrelines(obj)) == COUNTS[0]  # refine starts from the largest
    data = build.load_data(obj)
    frame = build.frame_of(data)
    obj.clipasso_abstraction = "3"
    spline = obj.data.splines[0]
    first = build.levels.strokes_of(data, 3)[0]
    assert tuple(spline.bezier_points[0].co) == pytest.approx(frame.to_object(*first[0]), abs=1e-5)
    # Draw On needs Grease Pencil: not offered, and the panel says so
    assert not bpy.ops.clipasso.draw_on.poll()
    log = drawn(addon.ui.VIEW3D_PT_clipasso.draw, bpy.context)
    assert ("label", "Draw On needs Grease Pencil output") in log
    assert ("operator", "clipasso.draw_on") not in log


def _evaluated_points(obj, frame: int, name: str) -> list[int]:
    scene = bpy.context.scene
    scene.frame_set(frame)
    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    layer = evaluated.data.layers[name]
    drawing = layer.get_frame_at(frame).drawing
    return [len(stroke.points) for stroke in drawing.strokes]


def test_draw_on_adds_a_build_modifier_over_the_frame_range(addon, gp_levels):
    obj = gp_levels
    assert bpy.ops.clipasso.draw_on(start=10, length=30) == {"FINISHED"}
    modifier = obj.modifiers[addon.build.BUILD_MODIFIER]
    assert modifier.type == "GREASE_PENCIL_BUILD"
    assert (modifier.mode, modifier.transition, modifier.time_mode) == ("SEQUENTIAL", "GROW", "FRAMES")
    keyframe = obj.data.layers["Level 6"].frames[0].frame_number
    assert keyframe + modifier.start_delay == 10 and modifier.length == 30
    full = _evaluated_points(obj, 60, "Level 6")
    assert len(full) == 6
    assert sum(_evaluated_points(obj, 9, "Level 6")) == 0  # nothing yet
    middle = _evaluated_points(obj, 25, "Level 6")
    assert 0 < sum(middle) < sum(full)
    # drawn in rank order: the strokes drawn so far are the first (most important) ones
    drawn_so_far = len(middle)
    assert middle[:drawn_so_far - 1] == full[:drawn_so_far - 1]
    # a second Draw On changes the range of the same modifier
    assert bpy.ops.clipasso.draw_on(start=1, length=12) == {"FINISHED"}
    builds = [m for m in obj.modifiers if m.type == "GREASE_PENCIL_BUILD"]
    assert len(builds) == 1 and builds[0].length == 12


def test_restyle_and_revert_apply_to_every_level(addon, gp_levels):
    obj = gp_levels
    build = addon.build
    data = build.load_data(obj)
    frame = build.frame_of(data)
    style = bpy.context.scene.clipasso_style
    style.width_px, style.color, style.opacity, style.brush = 10.0, (0.0, 0.0, 1.0), 0.5, "uniform"
    assert bpy.ops.clipasso.restyle() == {"FINISHED"}
    for count in COUNTS:
        drawing = _drawing(obj, f"Level {count}")
        assert len(drawing.strokes) == count
        radii = {round(p.radius, 6) for s in drawing.strokes for p in s.points}
        assert radii == {round(5.0 * frame.units_per_px, 6)}
        assert {round(p.opacity, 4) for s in drawing.strokes for p in s.points} == {0.5}
    assert _visible(obj) == ["Level 6"]  # the level shown stays
    assert bpy.ops.clipasso.revert_style() == {"FINISHED"}
    original = build.load_data(obj)["original_style"]
    for count in COUNTS:
        drawing = _drawing(obj, f"Level {count}")
        radii = {round(p.radius, 6) for s in drawing.strokes for p in s.points}
        assert radii == {round(original["width_px"] / 2 * frame.units_per_px, 6)}
    _check_layers_match_the_data(addon, obj)


def test_bad_levels_are_refused_before_the_run(addon, fresh_scene, run_sketch):
    for text, message in (("6,x", "whole numbers"), ("4,4", "different"), ("0,2", "from 1 to")):
        with pytest.raises(RuntimeError, match=message):
            run_sketch(levels=text)
        assert len(bpy.data.objects) == 0


def test_refine_keeps_the_levels(addon, gp_levels):
    obj = gp_levels
    obj.clipasso_abstraction = "3"
    assert bpy.ops.clipasso.refine(iterations=1, backbone="tiny-random") == {"FINISHED"}
    data = _check_layers_match_the_data(addon, obj)
    assert addon.levels.counts(data) == COUNTS


def test_modal_run_shows_levels_as_they_arrive_and_esc_keeps_them(addon, fresh_scene):
    """Levels appear as their events come (largest first); Esc after the first one keeps the
    levels done: the object has exactly the levels of the final JSON, a prefix of those asked."""
    ops, levels = addon.operators, addon.levels
    context = bpy.context
    harness = Harness(ops.CLIPASSO_OT_sketch_from_image, filepath=str(CAT), strokes=5, seeds=1, preset="fast",
                      mask="off", output="GPENCIL", width_unit="SCENE", stroke_width=3.0 * 2.0 / 224,
                      color=(0.0, 0.0, 0.0), iterations=30,
                      size=2.0, backbone="tiny-random", levels="8,6,4,3,2")
    harness._prepare(context)
    job = harness._job
    harness._begin_ui(context)
    deadline = time.time() + 300
    while not job.levels_done and time.time() < deadline:
        assert harness.modal(context, TIMER) == {"RUNNING_MODAL"}
        time.sleep(0.02)
    assert job.levels_done[0] == 8
    obj = job.obj
    assert levels.counts(addon.build.load_data(obj)) == job.levels_done
    assert "Level 8" in [layer.name for layer in obj.data.layers] and "Levels done" in job.status
    esc = SimpleNamespace(type="ESC", value="PRESS")
    assert harness.modal(context, esc) == {"RUNNING_MODAL"}
    state = {"RUNNING_MODAL"}
    while state == {"RUNNING_MODAL"} and time.time() < deadline:
        state = harness.modal(context, TIMER)
        time.sleep(0.02)
    assert state == {"FINISHED"}
    data = addon.build.load_data(obj)
    kept = levels.counts(data)
    assert kept == [8, 6, 4, 3, 2][:len(kept)] and kept  # the levels done, largest first
    assert job.done.cancelled and len(kept) < 5  # stopped while the smaller levels were fine-tuned
    print("levels kept after Esc:", kept)
    _check_layers_match_the_data(addon, obj)


def test_one_level_sketch_has_no_abstraction_but_draws_on(addon, gp_sketch):
    obj = gp_sketch
    log = drawn(addon.ui.VIEW3D_PT_clipasso.draw, bpy.context)
    assert ("prop", "clipasso_abstraction") not in log and ("operator", "clipasso.draw_on") in log
    assert [layer.name for layer in obj.data.layers] == ["Sketch"] and obj.clipasso_abstraction == "0"
    obj.clipasso_abstraction = "0"  # nothing to switch: harmless
    assert bpy.ops.clipasso.draw_on(start=5, length=20) == {"FINISHED"}
    modifier = obj.modifiers[addon.build.BUILD_MODIFIER]
    assert obj.data.layers["Sketch"].frames[0].frame_number + modifier.start_delay == 5
    assert sum(_evaluated_points(obj, 4, "Sketch")) == 0 and len(_evaluated_points(obj, 30, "Sketch")) == 12
