"""The artist in the loop in Blender (blender_addon/locking.py, build.py, operators.py): Lock/Unlock
Selected Strokes (their material, kept through save/reload), Re-sketch Unlocked (locked strokes keep
their points exactly and their ids), Add Strokes in a region, Fill Erased, each in place as one undo
step, on Grease Pencil and Curve sketches, against the real core (tiny-random); the modal path's Esc
and Blender cancelling it."""
from __future__ import annotations

import importlib
import os
import time
from types import SimpleNamespace

import pytest

bpy = pytest.importorskip("bpy")

from addon_paths import MODULE  # noqa: E402
from test_addon_operators import TIMER, Harness  # noqa: E402
from test_addon_ui import drawn  # noqa: E402

ESC = SimpleNamespace(type="ESC", value="PRESS")
QUICK = dict(iterations=3, backbone="tiny-random")


@pytest.fixture(params=["GPENCIL", "CURVE"])
def sketch(request, gp_sketch_file, curve_sketch_file, open_saved):
    """A saved sketch of the cat, opened: Grease Pencil (12 strokes) or Curve (6 strokes)."""
    return open_saved(gp_sketch_file if request.param == "GPENCIL" else curve_sketch_file)


def drawing_of(obj):
    return obj.data.layers[0].get_frame_at(bpy.context.scene.frame_current).drawing


def items(obj):
    """The object's strokes (Grease Pencil) or splines (Curve), in order."""
    return list(obj.data.splines) if obj.type == "CURVE" else list(drawing_of(obj).strokes)


def select(obj, indices) -> None:
    """Select exactly the strokes ``indices`` (as Edit Mode would)."""
    for i, item in enumerate(items(obj)):
        chosen = i in indices
        if obj.type == "CURVE":
            for p in item.bezier_points:
                p.select_control_point = p.select_left_handle = p.select_right_handle = chosen
        else:
            item.select = chosen
            for p in item.points:
                p.select = chosen


def coordinates(obj) -> dict:
    """id -> the stroke's coordinates in the scene (Curve: control points and handles; Grease Pencil:
    every point's position and radius), exactly as Blender holds them."""
    ids = [s.id for s in importlib.import_module(f"{MODULE}.build").current_strokes(obj)]
    out = {}
    for stroke_id, item in zip(ids, items(obj)):
        if obj.type == "CURVE":
            value = [tuple(v) for p in item.bezier_points for v in (p.co, p.handle_left, p.handle_right)]
        else:
            value = [(*p.position, p.radius) for p in item.points]
        out[stroke_id] = value
    return out


def locked_slots(obj) -> list[bool]:
    return [item.material_index == 1 for item in items(obj)]


def test_lock_and_unlock_the_selection_in_edit_mode_and_after_reload(addon, sketch, tmp_path):
    build, locking = addon.build, addon.locking
    obj = sketch
    ids = [s.id for s in build.current_strokes(obj)]
    assert ids == build.load_data(obj)["ids"] and None not in ids
    select(obj, {0, 2})
    bpy.ops.object.mode_set(mode="EDIT")  # the selection as Edit Mode has it
    assert bpy.ops.clipasso.lock_strokes() == {"FINISHED"}
    assert obj.mode == "EDIT"
    bpy.ops.object.mode_set(mode="OBJECT")
    assert locked_slots(obj)[:3] == [True, False, True] and sum(locked_slots(obj)) == 2
    assert build.load_data(obj)["locked"] == sorted([ids[0], ids[2]])
    locked_material = obj.data.materials[1]
    assert locked_material.name.endswith("locked")
    ink = build.load_data(obj)["style"]["color"]
    assert addon.contract.geometry.rgb_to_hex(locked_material.diffuse_color) == locking.lock_color(ink) != ink
    # saved and opened again: still locked (the material is on the stroke), ids kept
    path, name = tmp_path / "locked.blend", obj.name
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    obj = bpy.data.objects[name]
    bpy.context.view_layer.objects.active = obj
    strokes = build.current_strokes(obj)
    assert [s.locked for s in strokes][:3] == [True, False, True] and [s.id for s in strokes] == ids
    # a restyle rebuilds the strokes: the locks stay
    assert bpy.ops.clipasso.restyle() == {"FINISHED"}
    assert sum(locked_slots(obj)) == 2
    # unlock one of them (selected in Object Mode: the selection kept from Edit Mode)
    select(obj, {2, 3})
    assert bpy.ops.clipasso.unlock_strokes() == {"FINISHED"}
    assert locked_slots(obj)[:4] == [True, False, False, False]
    assert build.load_data(obj)["locked"] == [ids[0]]
    select(obj, set())
    assert bpy.ops.clipasso.lock_strokes() == {"CANCELLED"}  # a warning: no unlocked stroke is selected


def test_resketch_unlocked_keeps_locked_strokes_exactly_one_undo_step(addon, sketch):
    build = addon.build
    obj = sketch
    select(obj, {0, 1})
    assert bpy.ops.clipasso.lock_strokes() == {"FINISHED"}
    before = coordinates(obj)
    stored = build.load_data(obj)
    locked = stored["locked"]
    assert len(locked) == 2
    name, block = obj.name, obj.data.name
    # Background Blender pushes no undo step after an operator: push them as Blender does around one
    # (its own step when it finishes); a step pushed inside the run would make one undo land on it.
    assert "UNDO" in addon.operators.CLIPASSO_OT_resketch_unlocked.bl_options
    bpy.ops.ed.undo_push(message="before")
    assert bpy.ops.clipasso.resketch_unlocked(**QUICK) == {"FINISHED"}
    bpy.ops.ed.undo_push(message="Re-sketch Unlocked")
    after = coordinates(obj)
    data = build.load_data(obj)
    assert obj.name == name and obj.data.name == block and bpy.data.objects[name] == obj  # the same object
    assert sorted(after) == sorted(before)  # every id kept (none added, none lost)
    for stroke_id in locked:
        assert after[stroke_id] == before[stroke_id]  # bit for bit
    moved = [i for i in before if i not in locked and after[i] != before[i]]
    assert moved, "the unlocked strokes should move"
    assert data["locked"] == locked and sum(locked_slots(obj)) == 2
    assert data["metadata"]["locked"] == 2 and data["metadata"]["moved"] == len(before) - 2
    assert data["style"] == stored["style"]  # the strokes keep their looks
    bpy.ops.ed.undo()  # one step takes the whole re-sketch back
    obj = bpy.data.objects[name]
    assert build.load_data(obj) == stored and coordinates(obj) == before


def test_add_strokes_around_the_selection(addon, sketch):
    build = addon.build
    obj = sketch
    before = coordinates(obj)
    data = build.load_data(obj)
    select(obj, {1})
    strokes = build.current_strokes(obj)
    width, height = data["image"]["width"], data["image"]["height"]
    margin = max(data["style"]["width_px"], 0.02 * max(width, height))
    x0, y0, x1, y1 = addon.locking.selected_box(strokes, margin, width, height)
    assert bpy.ops.clipasso.add_strokes(count=3, region="SELECTION", **QUICK) == {"FINISHED"}
    after = build.current_strokes(obj)
    assert len(after) == len(before) + 3
    new = [s for s in after if s.id not in before]
    assert len(new) == 3 and len({s.id for s in after}) == len(after)  # fresh ids, no collision
    for stroke in new:
        for x, y in stroke.points:
            assert x0 - 1e-3 <= x <= x1 + 1e-3 and y0 - 1e-3 <= y <= y1 + 1e-3
    assert build.load_data(obj)["metadata"]["added"] == 3
    with pytest.raises(RuntimeError, match="select the strokes around the place for new strokes"):
        select(obj, set())
        bpy.ops.clipasso.add_strokes(count=2, region="SELECTION", **QUICK)


def test_add_strokes_inside_a_selected_object(addon, gp_sketch):
    """A plane over part of the sketch (seen straight onto its plane) is the region."""
    obj = gp_sketch
    build = addon.build
    ids = {s.id for s in build.current_strokes(obj)}
    mesh = bpy.data.meshes.new("Region")
    mesh.from_pydata([(-0.5, -0.2, 0.3), (0.1, -0.2, 0.3), (0.1, 0.4, 0.3), (-0.5, 0.4, 0.3)], [], [(0, 1, 2, 3)])
    plane = bpy.data.objects.new("Region", mesh)
    bpy.context.collection.objects.link(plane)
    plane.matrix_world = obj.matrix_world.copy()  # lies over the sketch, 0.3 in front of it
    plane.select_set(True)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj
    frame = build.frame_of(build.load_data(obj))
    (ax, ay), (bx, by) = frame.to_image(-0.5, 0.4), frame.to_image(0.1, -0.2)
    assert bpy.ops.clipasso.add_strokes(count=2, region="OBJECT", **QUICK) == {"FINISHED"}
    strokes = build.current_strokes(obj)
    new = [s for s in strokes if s.id not in ids]
    assert len(strokes) == len(ids) + 2 and len(new) == 2
    for stroke in new:
        for x, y in stroke.points:
            assert ax - 1e-3 <= x <= bx + 1e-3 and ay - 1e-3 <= y <= by + 1e-3


def remove_strokes(obj, indices) -> None:
    if obj.type == "CURVE":
        for spline in [s for i, s in enumerate(obj.data.splines) if i in indices]:
            obj.data.splines.remove(spline)
    else:
        drawing_of(obj).remove_strokes(indices=tuple(indices))


def test_fill_erased_restores_the_count_keeping_the_locked(addon, sketch):
    build = addon.build
    obj = sketch
    count = len(build.load_data(obj)["strokes"])
    with pytest.raises(RuntimeError, match=f"nothing to fill: the sketch has {count} strokes"):
        bpy.ops.clipasso.fill_erased(**QUICK)
    select(obj, {0})
    assert bpy.ops.clipasso.lock_strokes() == {"FINISHED"}
    remove_strokes(obj, [2, 4])  # erased by hand
    before = coordinates(obj)
    ids = [s.id for s in build.current_strokes(obj)]
    assert len(ids) == count - 2 and None not in ids  # the others keep their ids (Curve: matched)
    locked = build.load_data(obj)["locked"]
    assert bpy.ops.clipasso.fill_erased(**QUICK) == {"FINISHED"}
    after = coordinates(obj)
    assert len(after) == count and set(ids) <= set(after)
    assert after[locked[0]] == before[locked[0]]
    assert build.load_data(obj)["metadata"]["added"] == 2


def test_the_loop_needs_a_one_level_still_sketch(addon, gp_levels):
    assert not bpy.ops.clipasso.lock_strokes.poll()
    assert not bpy.ops.clipasso.add_strokes.poll()
    log = drawn(addon.ui.VIEW3D_PT_clipasso.draw, bpy.context)
    assert ("operator", "clipasso.lock_strokes") not in log


def test_panel_and_edit_menus_offer_the_loop(addon, curve_sketch):
    ui = addon.ui
    log = drawn(ui.VIEW3D_PT_clipasso.draw, bpy.context)
    for idname, _ in ui.LOOP_OPERATORS:
        assert ("operator", idname) in log
    assert ("label", "Artist in the loop: 0 locked (select strokes in Edit Mode)") in log
    for name in ui.EDIT_MENUS:
        assert ui.edit_menu_entry in getattr(bpy.types, name)._dyn_ui_initialize()
    assert [e for e in drawn(ui.edit_menu_entry, bpy.context) if e[0] == "operator"] == \
        [("operator", "clipasso.lock_strokes"), ("operator", "clipasso.unlock_strokes")]


def add_harness(addon, **props):
    values = dict(count=2, region="WHOLE", move="unlocked", iterations=3000, backbone="tiny-random")
    values.update(props)
    return Harness(addon.operators.CLIPASSO_OT_add_strokes, **values)


def test_modal_esc_keeps_the_best_and_blender_cancel_puts_back_the_hand_edits(addon, sketch):
    """Modal Add Strokes: previews update the same object (the locked strokes stay exactly, shown
    locked); Esc keeps the best so far. Blender cancelling the run puts the sketch back exactly as it
    was, hand edits (an erased stroke) included."""
    build, context = addon.build, bpy.context
    obj = sketch
    select(obj, {0})
    assert bpy.ops.clipasso.lock_strokes() == {"FINISHED"}
    locked = build.load_data(obj)["locked"][0]
    before = coordinates(obj)
    harness = add_harness(addon)
    harness._prepare(context)
    job = harness._job
    harness._begin_ui(context)
    deadline = time.time() + 300
    while job.shown == 0 and time.time() < deadline:
        assert harness.modal(context, TIMER) == {"RUNNING_MODAL"}
        time.sleep(0.05)
    assert job.shown > 0 and job.run.running
    preview = coordinates(obj)
    assert len(preview) == len(before) + 2 and preview[locked] == before[locked]  # the new ones have ids
    assert sum(locked_slots(obj)) == 1
    assert harness.modal(context, ESC) == {"RUNNING_MODAL"} and job.cancel_requested
    while (result := harness.modal(context, TIMER)) == {"RUNNING_MODAL"} and time.time() < deadline:
        time.sleep(0.05)
    assert result == {"FINISHED"} and harness._timer is None and harness._job is None
    assert ({"INFO"}, "Clipasso: stopped, kept the best strokes so far") in harness.reports
    after = coordinates(obj)
    assert len(after) == len(before) + 2 and after[locked] == before[locked]
    assert build.load_data(obj)["metadata"]["cancelled"] is True and not os.path.exists(job.tmp.name)
    assert len([b for b in (bpy.data.curves if obj.type == "CURVE" else build.gp_datablocks())
                if b.name.startswith(obj.data.name)]) == 1  # no snapshot left behind

    remove_strokes(obj, [1])  # a hand edit, then a run Blender cancels
    edited, stored = coordinates(obj), build.load_data(obj)
    harness = add_harness(addon)
    harness._prepare(context)
    job = harness._job
    harness._begin_ui(context)
    while job.shown == 0 and time.time() < deadline + 300:
        harness.modal(context, TIMER)
        time.sleep(0.05)
    addon.operators.CLIPASSO_OT_add_strokes.cancel(harness, context)
    assert job.run.process.poll() is not None and job.state == "CANCELLED"
    assert harness._timer is None and harness._job is None and not os.path.exists(job.tmp.name)
    obj = bpy.context.active_object
    assert coordinates(obj) == edited and build.load_data(obj) == stored
    assert sum(locked_slots(obj)) == 1


def test_a_failed_run_is_one_line_and_changes_nothing(addon, sketch):
    """Every stroke locked: Re-sketch Unlocked says so before running; the core's own refusal (a
    region with nothing to move) comes back as one line and the sketch is as it was."""
    build = addon.build
    obj = sketch
    select(obj, set(range(len(items(obj)))))
    assert bpy.ops.clipasso.lock_strokes() == {"FINISHED"}
    with pytest.raises(RuntimeError, match="every stroke is locked: unlock some first"):
        bpy.ops.clipasso.resketch_unlocked(**QUICK)
    before, stored = coordinates(obj), build.load_data(obj)
    with pytest.raises(RuntimeError) as failure:  # Refine leaves it to the core
        bpy.ops.clipasso.refine(**QUICK)
    message = str(failure.value)
    assert "locked" in message and "\n" not in message.strip() and "--" not in message
    assert coordinates(obj) == before and build.load_data(obj) == stored
