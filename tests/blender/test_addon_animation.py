"""Animated sketches in Blender (issue 12): Sketch from Movie over a movie or image-sequence image
empty or a picked file, one Grease Pencil object with a drawing per sketched frame on the scene
frames the input shows them, the same strokes in the same order in every drawing, restyle/revert
on every frame, frames appearing as they arrive, Esc keeping the frames done, and bad inputs as
one report.

Most tests run the add-on against fake_animate.py (a stand-in for ``clipasso animate`` that speaks
the contract and draws known strokes, no torch); the ``real_core`` ones run the real command with
--backbone tiny-random."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from types import SimpleNamespace

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from conftest import MOVIE_FRAMES, MOVIE_SIZE, fake_strokes, keyframes  # noqa: E402
from test_addon_operators import TIMER, Harness  # noqa: E402
from test_addon_ui import drawn  # noqa: E402

from addon_paths import CAT, CORE_PYTHON  # noqa: E402

QUICK = dict(strokes=4, seeds=1, iterations=2, mask="off", backbone="tiny-random", preset="fast")
"""Run options of the tests' animations."""


def movie_empty(path, name="Clip", frame_start=1, frame_offset=0, frame_duration=None, source="MOVIE"):
    """An image empty showing a movie or image sequence, active, with its image user set."""
    image = bpy.data.images.load(str(path))
    image.source = source
    empty = bpy.data.objects.new(name, None)
    empty.empty_display_type = "IMAGE"
    empty.data = image
    empty.empty_display_size = 3.0
    empty.location = (1.0, 2.0, 3.0)
    empty.rotation_euler = (0.3, 0.0, 0.5)
    bpy.context.collection.objects.link(empty)
    bpy.context.view_layer.objects.active = empty
    user = empty.image_user
    user.frame_start, user.frame_offset = frame_start, frame_offset
    user.frame_duration = frame_duration if frame_duration is not None else image.frame_duration
    bpy.context.view_layer.update()
    return empty


def check_frames(addon, obj, expected: dict, size, count: int = QUICK["strokes"]):
    """The object's key frames are ``expected`` (scene frame -> input frame index) and each drawing
    holds fake_animate's strokes of that input frame, in order, mapped like a still sketch."""
    build, shared, samples = addon.build, addon.contract.geometry, addon.geometry.SAMPLES
    data = build.load_data(obj)
    frame = build.frame_of(data)
    assert obj.type == "GREASEPENCIL" and [layer.name for layer in obj.data.layers] == ["Sketch"]
    drawings = keyframes(obj)
    assert sorted(drawings) == sorted(expected)
    assert [(f["scene_frame"], f["index"]) for f in data["frames"]] == sorted(expected.items())
    for scene_frame, index in expected.items():
        drawing = drawings[scene_frame]
        assert len(drawing.strokes) == count
        for stroke, want in zip(drawing.strokes, fake_strokes(index, *size, count)):
            sampled = shared.sample_cubic([frame.to_object(x, y) for x, y in want.points], samples)
            assert np.allclose([tuple(p.position) for p in stroke.points], sampled, atol=1e-5)
    assert {tuple(f["ids"]) for f in data["frames"]} == {tuple(range(count))}  # stroke k is stroke k
    return data


# where the frames land


def test_movie_over_an_image_empty_keys_the_scene_frames_it_shows(addon, fresh_scene, fake_core, movie):
    """The empty shows movie frames 1..3 (offset 1, 3 frames) on scene frames 10..12: one drawing
    on each, placed exactly like a still sketch over that empty."""
    empty = movie_empty(movie, frame_start=10, frame_offset=1, frame_duration=3)
    assert bpy.ops.clipasso.sketch_from_movie(**QUICK) == {"FINISHED"}
    obj = bpy.data.objects["Sketch of Clip"]
    data = check_frames(addon, obj, {10: 1, 11: 2, 12: 3}, MOVIE_SIZE)
    assert np.allclose(np.array(obj.matrix_world), np.array(empty.matrix_world), atol=1e-6)
    frame = addon.build.frame_of(data)
    assert frame.extent[0] == pytest.approx(3.0) and frame.origin == pytest.approx((-1.5, -1.5 * 64 / 96))
    assert data["settings"]["input"] == str(movie) and data["metadata"]["fps"] == pytest.approx(24)
    assert data["strokes"] == data["frames"][0]["strokes"]
    # Start/End/Step count from the first frame the empty shows: every 2nd of them
    assert bpy.ops.clipasso.sketch_from_movie(step=2, **QUICK) == {"FINISHED"}
    check_frames(addon, bpy.data.objects["Sketch of Clip.001"], {10: 1, 12: 3}, MOVIE_SIZE)


@pytest.fixture
def sequence_files(tmp_path):
    """shot_005.png .. shot_011.png, 48 x 36 px (the core refuses images under 32 px on a side)."""
    from PIL import Image

    folder = tmp_path / "shots"
    folder.mkdir()
    for number in range(5, 12):
        Image.new("RGB", (48, 36), (number * 20, 0, 0)).save(folder / f"shot_{number:03d}.png")
    return folder


def test_image_sequence_over_an_empty_in_blenders_frame_order(addon, fresh_scene, fake_core, sequence_files):
    """An image sequence (its files shot_005..shot_011, picture #1 = shot_005 with offset 4) shown
    from scene frame 20: each file's drawing on the scene frame that shows that file; a missing file
    has no drawing (the one before holds)."""
    (sequence_files / "shot_008.png").unlink()
    empty = movie_empty(sequence_files / "shot_005.png", "Shots", frame_start=20, frame_offset=4, frame_duration=7,
                        source="SEQUENCE")
    source = addon.sources.from_image_empty(empty)
    with tempfile.TemporaryDirectory() as folder:
        frames = source.inputs(folder)
        linked = [os.path.realpath(os.path.join(frames, name)) for name in sorted(os.listdir(frames))]
    numbers = [5, 6, 7, 9, 10, 11]
    assert linked == [str(sequence_files / f"shot_{n:03d}.png") for n in numbers]
    scene_frames = [20 + n - 5 for n in numbers]
    assert [source.frame_map.scene_frame(k) for k in range(len(numbers))] == scene_frames
    assert bpy.ops.clipasso.sketch_from_movie(**QUICK) == {"FINISHED"}
    check_frames(addon, bpy.data.objects["Sketch of Shots"], dict(zip(scene_frames, range(6))), (48, 36))
    assert empty.image_user.frame_current == 0  # the image user is left as it was


def test_a_picked_folder_or_pattern(addon, fresh_scene, fake_core, sequence_files):
    """A folder of images or a glob pattern goes to the core as it is (its natural order)."""
    bpy.context.scene.frame_current = 3
    assert bpy.ops.clipasso.sketch_from_movie(filepath=str(sequence_files) + os.sep, **QUICK) == {"FINISHED"}
    check_frames(addon, bpy.data.objects["Sketch of shots"], {3 + k: k for k in range(7)}, (48, 36))
    pattern = str(sequence_files / "shot_01*.png")
    assert bpy.ops.clipasso.sketch_from_movie(filepath=pattern, step=2, **QUICK) == {"FINISHED"}
    check_frames(addon, bpy.data.objects["Sketch of shot_01*"], {3: 0}, (48, 36))


def test_a_picked_file_starts_on_the_current_frame(addon, fresh_scene, fake_core, movie):
    bpy.context.scene.frame_current = 7
    bpy.context.scene.cursor.location = (0.0, 0.0, 1.0)
    assert bpy.ops.clipasso.sketch_from_movie(filepath=str(movie), start=1, end=3, size=4.0, **QUICK) == {"FINISHED"}
    obj = bpy.data.objects["Sketch of clip"]
    data = check_frames(addon, obj, {7: 1, 8: 2, 9: 3}, MOVIE_SIZE)
    assert addon.build.frame_of(data).extent[0] == pytest.approx(4.0)
    assert tuple(obj.matrix_world.translation) == pytest.approx((0.0, 0.0, 1.0))


# styles, panel, other operators


def test_restyle_and_revert_act_on_every_frame(addon, fresh_scene, fake_core, movie):
    movie_empty(movie)
    assert bpy.ops.clipasso.sketch_from_movie(**QUICK) == {"FINISHED"}
    obj = bpy.data.objects["Sketch of Clip"]
    bpy.context.view_layer.objects.active = obj
    frame = addon.build.frame_of(addon.build.load_data(obj))
    before = {f: [[p.radius for p in s.points] for s in d.strokes] for f, d in keyframes(obj).items()}
    assert len(before) == MOVIE_FRAMES
    style = bpy.context.scene.clipasso_style
    style.width_px, style.brush, style.opacity = 10.0, "tapered", 0.5
    assert bpy.ops.clipasso.restyle() == {"FINISHED"}
    profile = addon.contract.geometry.width_profile_samples("tapered", addon.geometry.SAMPLES)
    full = 10.0 / 2 * frame.units_per_px
    for drawing in keyframes(obj).values():
        assert len(drawing.strokes) == QUICK["strokes"]
        for stroke in drawing.strokes:
            assert [p.radius for p in stroke.points] == pytest.approx([full * v for v in profile], rel=1e-4)
            assert {round(p.opacity, 4) for p in stroke.points} == {0.5}
    assert bpy.ops.clipasso.revert_style() == {"FINISHED"}
    after = {f: [[p.radius for p in s.points] for s in d.strokes] for f, d in keyframes(obj).items()}
    assert after.keys() == before.keys() and all(np.allclose(after[f], before[f]) for f in before)
    check_frames(addon, obj, {f: f - 1 for f in range(1, MOVIE_FRAMES + 1)}, MOVIE_SIZE)


def test_panel_and_still_only_operators(addon, fresh_scene, fake_core, movie):
    movie_empty(movie, frame_duration=2)
    assert bpy.ops.clipasso.sketch_from_movie(**QUICK) == {"FINISHED"}
    obj = bpy.data.objects["Sketch of Clip"]
    bpy.context.view_layer.objects.active = obj
    log = drawn(addon.ui.VIEW3D_PT_clipasso.draw, bpy.context)
    assert log[:3] == [("operator", "clipasso.sketch_from_image"), ("operator", "clipasso.sketch_from_movie"),
                       ("operator", "clipasso.sketch_camera_view")]
    assert ("label", "Animation: 2 key frames (frames 1-2), 4 strokes") in log
    assert ("operator", "clipasso.restyle") in log and ("operator", "clipasso.revert_style") in log
    assert ("operator", "clipasso.refine") not in log and ("operator", "clipasso.draw_on") not in log
    assert not bpy.ops.clipasso.refine.poll() and not bpy.ops.clipasso.draw_on.poll()
    with pytest.raises(ValueError, match="still sketches"):
        addon.build.draw_on(obj, 1, 10)


def test_saved_and_reloaded_animation_keeps_its_frames(addon, fresh_scene, fake_core, movie, tmp_path):
    movie_empty(movie, frame_duration=3)
    assert bpy.ops.clipasso.sketch_from_movie(**QUICK) == {"FINISHED"}
    stored = addon.build.load_data(bpy.data.objects["Sketch of Clip"])
    path = tmp_path / "animation.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    obj = bpy.data.objects["Sketch of Clip"]
    assert addon.build.load_data(obj) == stored
    check_frames(addon, obj, {1: 0, 2: 1, 3: 2}, MOVIE_SIZE)


def test_animation_operators_follow_the_contract(addon, contract):
    """Start, End and Step are ANIMATE_OPTIONS' (defaults and ranges); the run options RUN_OPTIONS'."""
    from test_addon_operators import _check_against_option

    for op in (bpy.ops.clipasso.sketch_from_movie, bpy.ops.clipasso.sketch_camera_view):
        props = op.get_rna_type().properties
        for name in ("strokes", "seeds", "preset", "mask", "color", "iterations", "backbone"):
            _check_against_option(props[name], contract.options.RUN_OPTIONS[name], contract)
        assert "levels" not in props.keys() and {"width_unit", "stroke_width", "stroke_width_px"} <= set(props.keys())
    props = bpy.ops.clipasso.sketch_from_movie.get_rna_type().properties
    for name in ("start", "end", "step"):
        _check_against_option(props[name], contract.options.ANIMATE_OPTIONS[name], contract)


# modal: frames as they arrive, Esc, Blender cancelling


def _movie_harness(addon, iterations: int, **props):
    values = dict(filepath="", strokes=3, seeds=1, preset="fast", mask="off", width_unit="SCENE",
                  stroke_width=3.0 * 2.0 / 224, color=(0.0, 0.0, 0.0),
                  iterations=iterations, backbone="tiny-random", start=0, end=-1, step=1, size=2.0)
    values.update(props)
    return Harness(addon.operators.CLIPASSO_OT_sketch_from_movie, **values)


def _run_modal(harness, context, until, timeout=300):
    deadline = time.time() + timeout
    state = {"RUNNING_MODAL"}
    while state == {"RUNNING_MODAL"} and not until() and time.time() < deadline:
        state = harness.modal(context, TIMER)
        time.sleep(0.02)
    return state


def test_modal_frames_appear_as_they_arrive_and_esc_keeps_them(addon, fresh_scene, fake_core, movie, monkeypatch):
    monkeypatch.setenv("FAKE_ANIMATE_STEP_S", "0.05")
    context = bpy.context
    movie_empty(movie, frame_start=3)
    harness = _movie_harness(addon, iterations=20)  # 1 s a frame
    harness._prepare(context)
    job = harness._job
    harness._begin_ui(context)
    assert _run_modal(harness, context, lambda: job.status.startswith("Sketching frame")) == {"RUNNING_MODAL"}
    assert "(1/5)" in job.status and "step" in job.status and job.obj is None
    assert _run_modal(harness, context, lambda: job.frames_done) == {"RUNNING_MODAL"}
    assert sorted(keyframes(job.obj)) == [3] and job.status.startswith("Frames done: 1/5")
    assert harness.modal(context, SimpleNamespace(type="ESC", value="PRESS")) == {"RUNNING_MODAL"}
    assert _run_modal(harness, context, lambda: False) == {"FINISHED"}
    obj = bpy.data.objects["Sketch of Clip"]
    done = len(job.frames_done)
    assert 1 <= done < MOVIE_FRAMES and job.done.cancelled
    check_frames(addon, obj, {3 + i: i for i in range(done)}, MOVIE_SIZE, count=3)
    assert ({"INFO"}, f"Clipasso: stopped, kept the {done} frame{'s' if done > 1 else ''} done") in harness.reports
    assert harness._timer is None and not os.path.exists(job.tmp.name)


def test_esc_before_the_first_frame_leaves_the_scene_as_it_was(addon, fresh_scene, fake_core, movie, monkeypatch):
    monkeypatch.setenv("FAKE_ANIMATE_STEP_S", "0.05")
    context = bpy.context
    movie_empty(movie)
    before = set(bpy.data.objects.keys())
    harness = _movie_harness(addon, iterations=40)
    harness._prepare(context)
    job = harness._job
    harness._begin_ui(context)
    assert _run_modal(harness, context, lambda: job.status.startswith("Sketching frame")) == {"RUNNING_MODAL"}
    harness.modal(context, SimpleNamespace(type="ESC", value="PRESS"))
    assert _run_modal(harness, context, lambda: False) == {"CANCELLED"}
    assert set(bpy.data.objects.keys()) == before and len(addon.build.gp_datablocks()) == 0
    assert ({"INFO"}, "Clipasso: cancelled, nothing changed") in harness.reports


def test_blender_cancelling_the_run_stops_the_core_and_removes_the_frames(addon, fresh_scene, fake_core, movie,
                                                                           monkeypatch):
    monkeypatch.setenv("FAKE_ANIMATE_STEP_S", "0.05")
    context = bpy.context
    movie_empty(movie)
    harness = _movie_harness(addon, iterations=10)
    harness._prepare(context)
    job = harness._job
    harness._begin_ui(context)
    assert _run_modal(harness, context, lambda: job.frames_done) == {"RUNNING_MODAL"}
    assert job.obj is not None and job.run.running
    addon.operators.CLIPASSO_OT_sketch_from_movie.cancel(harness, context)
    assert job.run.process.poll() is not None and job.state == "CANCELLED"
    assert "Sketch of Clip" not in bpy.data.objects and len(addon.build.gp_datablocks()) == 0
    assert len(bpy.data.materials) == 0 and not os.path.exists(job.tmp.name) and harness._timer is None


def test_a_core_failing_after_some_frames_leaves_nothing(addon, fresh_scene, fake_core, movie, monkeypatch):
    """Frames were shown, then the core broke down: one report, and the half-made animation is gone."""
    monkeypatch.setenv("FAKE_ANIMATE_CRASH_AFTER", "2")
    movie_empty(movie)
    with pytest.raises(RuntimeError, match=r"the clipasso core failed \(exit 1\): RuntimeError: the fake core broke"):
        bpy.ops.clipasso.sketch_from_movie(**QUICK)
    assert "Sketch of Clip" not in bpy.data.objects and len(addon.build.gp_datablocks()) == 0
    assert len(bpy.data.materials) == 0


# bad inputs: one report, nothing made


def test_bad_inputs_are_one_report_and_leave_nothing(addon, fresh_scene, fake_core, movie, tmp_path):
    with pytest.raises(RuntimeError, match="select an image empty that shows a movie"):
        bpy.ops.clipasso.sketch_from_movie(**QUICK)
    still = bpy.data.objects.new("Photo", None)
    still.empty_display_type = "IMAGE"
    still.data = bpy.data.images.load(str(CAT))
    bpy.context.collection.objects.link(still)
    bpy.context.view_layer.objects.active = still
    with pytest.raises(RuntimeError, match="'Photo' shows a still image"):
        bpy.ops.clipasso.sketch_from_movie(**QUICK)
    with pytest.raises(RuntimeError, match="file not found"):
        bpy.ops.clipasso.sketch_from_movie(filepath=str(tmp_path / "missing.mp4"), **QUICK)
    with pytest.raises(RuntimeError, match="no file matches"):
        bpy.ops.clipasso.sketch_from_movie(filepath=str(tmp_path / "shot_*.png"), **QUICK)
    empty = movie_empty(movie, frame_duration=3)
    with pytest.raises(RuntimeError, match="'Clip' shows a movie or an image sequence: use Sketch from Movie"):
        bpy.ops.clipasso.sketch_from_image(filepath="", **QUICK)
    with pytest.raises(RuntimeError, match="no frames to sketch"):
        bpy.ops.clipasso.sketch_from_movie(start=5, **QUICK)
    empty.image_user.frame_offset = 10  # shows frames past the movie's end
    with pytest.raises(RuntimeError, match="shows no frame of its movie"):
        bpy.ops.clipasso.sketch_from_movie(**QUICK)
    gone = movie_empty(shutil.copy(movie, tmp_path / "gone.mp4"), "Gone")
    os.unlink(tmp_path / "gone.mp4")
    with pytest.raises(RuntimeError, match="movie of image 'gone.mp4' is not on disk"):
        bpy.ops.clipasso.sketch_from_movie(**QUICK)
    bpy.data.objects.remove(gone)
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not an image")
    with pytest.raises(RuntimeError, match="Clipasso: cannot read"):  # the core's error event, reported
        bpy.ops.clipasso.sketch_from_movie(filepath=str(garbage), **QUICK)
    assert not [o for o in bpy.data.objects if addon.build.is_sketch(o)] and len(addon.build.gp_datablocks()) == 0


# the real core (clipasso animate, tiny-random)


@pytest.mark.real_core
def test_real_core_movie_over_an_image_empty(addon, fresh_scene, movie):
    """Blocking, end to end: the real ``clipasso animate`` on frames 1..3 of the movie shown from
    scene frame 5: a drawing on frames 5..7 with the same strokes (ids) in the same order, points
    at the stored centrelines mapped like a still sketch."""
    build, shared = addon.build, addon.contract.geometry
    assert addon.prefs.python_path == CORE_PYTHON
    movie_empty(movie, frame_start=5, frame_offset=1, frame_duration=3)
    assert bpy.ops.clipasso.sketch_from_movie(**QUICK) == {"FINISHED"}
    obj = bpy.data.objects["Sketch of Clip"]
    data = build.load_data(obj)
    frame = build.frame_of(data)
    assert (data["image"]["width"], data["image"]["height"]) == MOVIE_SIZE
    assert [(f["scene_frame"], f["index"]) for f in data["frames"]] == [(5, 1), (6, 2), (7, 3)]
    assert len({tuple(f["ids"]) for f in data["frames"]}) == 1 and len(data["frames"][0]["ids"]) == 4
    drawings = keyframes(obj)
    assert sorted(drawings) == [5, 6, 7]
    for entry in data["frames"]:
        strokes = drawings[entry["scene_frame"]].strokes
        assert len(strokes) == 4
        for stroke, control in zip(strokes, entry["strokes"]):
            sampled = shared.sample_cubic([frame.to_object(x, y) for x, y in control], addon.geometry.SAMPLES)
            assert np.allclose([tuple(p.position) for p in stroke.points], sampled, atol=1e-5)
    assert data["frames"][0]["strokes"] != data["frames"][1]["strokes"]  # the strokes move


@pytest.mark.real_core
def test_real_core_esc_keeps_the_frames_done(addon, fresh_scene, sequence_files):
    """Modal with the real core over an image sequence: frames appear as they arrive; Esc after the
    first keeps the frames done (a valid, shorter animation)."""
    context = bpy.context
    movie_empty(sequence_files / "shot_005.png", "Shots", frame_start=1, frame_offset=4, frame_duration=7,
                source="SEQUENCE")
    harness = _movie_harness(addon, iterations=10, mask="off")
    harness._prepare(context)
    job = harness._job
    harness._begin_ui(context)
    assert _run_modal(harness, context, lambda: job.frames_done) == {"RUNNING_MODAL"}
    assert sorted(keyframes(job.obj)) == [1]
    harness.modal(context, SimpleNamespace(type="ESC", value="PRESS"))
    assert _run_modal(harness, context, lambda: False) == {"FINISHED"}
    data = addon.build.load_data(job.obj)
    kept = [f["scene_frame"] for f in data["frames"]]
    assert kept == list(range(1, len(kept) + 1)) and 1 <= len(kept) < 7 and job.done.cancelled
    assert sorted(keyframes(job.obj)) == kept
    print("frames kept after Esc:", kept)


@pytest.mark.real_core
def test_real_core_bad_input_is_one_report(addon, fresh_scene, tmp_path):
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not an image")
    with pytest.raises(RuntimeError) as error:
        bpy.ops.clipasso.sketch_from_movie(filepath=str(garbage), **QUICK)
    message = str(error.value)
    assert "Clipasso:" in message and "Traceback" not in message
    print("reported:", message.strip())
    assert not [o for o in bpy.data.objects if addon.build.is_sketch(o)]
