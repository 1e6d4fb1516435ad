"""Sketch from Image over several selected image empties (blender_addon/batch_job.py): one run of the
real core (``clipasso batch``, tiny-random), a sketch over each empty placed as a single sketch is,
a failed image reported while the others are placed, Esc keeping the best so far, and Blender
cancelling the modal run."""
from __future__ import annotations

import csv
import os
import shutil
import tempfile
import time
from types import SimpleNamespace

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from addon_paths import CAT, CAT_SIZE, CORE_PYTHON  # noqa: E402
from test_addon_operators import TIMER, Harness  # noqa: E402

TALL_SIZE = (120, 200)
ESC = SimpleNamespace(type="ESC", value="PRESS")


@pytest.fixture
def counted_core(addon, tmp_path):
    """The real core behind a launcher that logs each run's subcommand and its arguments (``args.log``
    beside it) and keeps a copy of each list file given (``lists/``); the log's path."""
    log = tmp_path / "runs.log"
    (tmp_path / "lists").mkdir()
    launcher = tmp_path / "counting-clipasso"
    launcher.write_text(f'#!/bin/sh\necho "$1" >> "{log}"\necho "$@" >> "{tmp_path / "args.log"}"\n'
                        f'for a in "$@"; do case "$a" in *.csv) cp "$a" "{tmp_path / "lists"}/";; esac; done\n'
                        f'exec "{CORE_PYTHON}" -m clipasso_core "$@"\n')
    launcher.chmod(0o755)
    prefs = addon.prefs
    prefs.python_path, prefs.core_path = "", str(launcher)
    yield log
    prefs.python_path, prefs.core_path = CORE_PYTHON, ""


def image_empty(name: str, image, size: float, location, rotation=(0.0, 0.0, 0.0)):
    empty = bpy.data.objects.new(name, None)
    empty.empty_display_type = "IMAGE"
    empty.data = image
    empty.empty_display_size = size
    empty.location = location
    empty.rotation_euler = rotation
    bpy.context.collection.objects.link(empty)
    empty.select_set(True)
    return empty


def tall_image():
    """A packed 120 x 200 px image (a disc on grey), made in Blender."""
    width, height = TALL_SIZE
    image = bpy.data.images.new("tall", width, height)
    y, x = np.mgrid[0:height, 0:width]
    disc = ((x - width / 2) ** 2 + (y - height / 2) ** 2 < (width / 3) ** 2).astype(np.float32)
    rgba = np.stack([0.8 - 0.6 * disc] * 3 + [np.ones_like(disc)], axis=-1)
    image.pixels.foreach_set(rgba.ravel())
    image.pack()
    return image


def two_empties():
    """The cat (its file) on a turned empty 3 units long, and the tall packed image 1.5 units long
    elsewhere; the cat's empty active."""
    cat = image_empty("Cat", bpy.data.images.load(str(CAT)), 3.0, (1, 2, 3), (0.3, 0.0, 0.5))
    tall = image_empty("Tall", tall_image(), 1.5, (-4, 0, 1))
    bpy.context.view_layer.objects.active = cat
    return cat, tall


def frame_extent(size: float, px) -> tuple[float, float]:
    return (size, size * px[1] / px[0]) if px[0] >= px[1] else (size * px[0] / px[1], size)


def check_over(addon, obj, empty, px) -> dict:
    """The sketch lies over its empty as a single sketch does: its transform, frame and image."""
    data = addon.build.load_data(obj)
    assert np.allclose(np.array(obj.matrix_world), np.array(empty.matrix_world), atol=1e-6)
    frame = addon.build.frame_of(data)
    assert frame.extent == pytest.approx(frame_extent(empty.empty_display_size, px))
    assert (data["image"]["width"], data["image"]["height"]) == px
    assert data["settings"]["image_name"] == empty.data.name
    return data


@pytest.mark.parametrize("output", ["GPENCIL", "CURVE"])
def test_several_empties_one_core_run_each_sketch_over_its_empty(addon, fresh_scene, counted_core, tmp_path,
                                                                 monkeypatch, capfd, output):
    """Four image empties (a file, a packed image of another size, a broken file, a file gone): one
    run of the core; a sketch over each good one, the others reported; each image sketched at its
    own width in scene units (the empties' sizes differ), the --width it gets alone."""
    cat, tall = two_empties()
    broken_file = tmp_path / "broken.jpg"
    shutil.copy(CAT, broken_file)
    broken = image_empty("Broken", bpy.data.images.load(str(broken_file)), 2.0, (0, 5, 0))
    broken_file.write_bytes(b"garbage")
    gone_file = tmp_path / "gone.jpg"
    shutil.copy(CAT, gone_file)
    image_empty("Gone", bpy.data.images.load(str(gone_file)), 2.0, (0, -5, 0))
    gone_file.unlink()
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # where the add-on's temp files go
    width = 0.02
    assert bpy.ops.clipasso.sketch_from_image(filepath="", strokes=5, seeds=1, iterations=3, mask="off",
                                              backbone="tiny-random", preset="fast", output=output,
                                              width_unit="SCENE", stroke_width=width) == {"FINISHED"}
    reports = capfd.readouterr()
    assert counted_core.read_text().split().count("batch") == 1
    assert "sketch" not in counted_core.read_text().split()
    assert "--width" not in (tmp_path / "args.log").read_text().split()  # the list gives each image its own
    with open(tmp_path / "lists" / "images.csv", newline="") as handle:
        listed = {row["path"]: row["width"] for row in csv.DictReader(handle)}
    alone = [addon.operators.run_args(5, 1, "fast", "off", width * 224 / empty.empty_display_size, "#000000", 3,
                                      "tiny-random") for empty in (cat, broken, tall)]  # the images sent
    assert sorted(listed.values()) == sorted(args[args.index("--width") + 1] for args in alone)
    assert [w for name, w in listed.items() if name.endswith(".png")] == [alone[2][alone[2].index("--width") + 1]]
    assert list(temp.iterdir()) == []
    sketches = [obj for obj in bpy.data.objects if addon.build.is_sketch(obj)]
    assert sorted(obj.name for obj in sketches) == ["Sketch of Cat", "Sketch of Tall"]
    for name, empty, px in (("Sketch of Cat", cat, CAT_SIZE), ("Sketch of Tall", tall, TALL_SIZE)):
        obj = bpy.data.objects[name]
        assert obj.type == ("CURVE" if output == "CURVE" else "GREASEPENCIL")
        data = check_over(addon, obj, empty, px)
        assert len(data["strokes"]) == 5 and data["metadata"]["backbone"] == "tiny-random"
        canvas = width * 224 / empty.empty_display_size  # the empties are not scaled
        assert data["settings"]["stroke_width"] == pytest.approx(canvas)
        drawn = float(f"{canvas:g}") * max(px) / 224  # the core's width alone, in image px: no scaling after
        assert data["style"]["width_px"] == pytest.approx(drawn, rel=1e-9)
    text = reports.out + reports.err
    assert "broken.jpg failed: not a readable image" in text  # by the core
    assert "gone.jpg failed: image 'gone.jpg' has no file on disk" in text  # before the run
    assert "done, 2 of 4 images sketched; 2 failed" in text


def test_one_selected_empty_keeps_the_single_sketch_run(addon, fresh_scene, counted_core):
    cat = image_empty("Cat", bpy.data.images.load(str(CAT)), 2.0, (0, 0, 0))
    bpy.context.view_layer.objects.active = cat
    assert bpy.ops.clipasso.sketch_from_image(filepath="", strokes=4, seeds=1, iterations=2, mask="off",
                                              backbone="tiny-random", preset="fast") == {"FINISHED"}
    assert counted_core.read_text().split().count("sketch") == 1
    assert "batch" not in counted_core.read_text().split()
    check_over(addon, bpy.data.objects["Sketch of Cat"], cat, CAT_SIZE)


def batch_harness(addon, **props):
    values = dict(filepath="", strokes=5, seeds=1, preset="fast", mask="off", output="GPENCIL", width_unit="SCENE",
                  stroke_width=0.0, stroke_width_px=0.0, color=(0.0, 0.0, 0.0), iterations=3000, size=2.0,
                  backbone="tiny-random", levels="")
    values.update(props)
    return Harness(addon.operators.CLIPASSO_OT_sketch_from_image, **values)


def run_until_shown(harness, context, count: int):
    """Step the modal operator until the previews of ``count`` images made their objects; the
    status lines seen (up to their first colon)."""
    job, seen = harness._job, set()
    deadline = time.time() + 300
    while len(job.objects) < count and time.time() < deadline:
        assert harness.modal(context, TIMER) == {"RUNNING_MODAL"}
        seen.add(job.status.split(":")[0])
        time.sleep(0.05)
    assert len(job.objects) >= count and job.run.running
    return seen


def test_esc_keeps_the_best_of_each_and_blender_cancel_leaves_nothing(addon, fresh_scene):
    """Modal: the previews of each image update its own object and the status names the image; Esc
    keeps every image's best strokes so far over its own empty. Blender cancelling the operator
    stops the core and removes what it made."""
    context = bpy.context
    cat, tall = two_empties()
    harness = batch_harness(addon)
    harness._prepare(context)
    job = harness._job
    harness._begin_ui(context)
    seen = run_until_shown(harness, context, 2)
    assert seen & {"Image 1/2 cat.jpg", "Image 2/2 tall"}, seen
    assert harness.modal(context, ESC) == {"RUNNING_MODAL"} and job.cancel_requested
    deadline = time.time() + 120
    while (result := harness.modal(context, TIMER)) == {"RUNNING_MODAL"} and time.time() < deadline:
        time.sleep(0.05)
    assert result == {"FINISHED"} and harness._timer is None and harness._job is None
    assert ({"INFO"}, "Clipasso: stopped, kept 2 of 2 sketches (the best strokes so far)") in harness.reports
    for name, empty, px in (("Sketch of Cat", cat, CAT_SIZE), ("Sketch of Tall", tall, TALL_SIZE)):
        data = check_over(addon, bpy.data.objects[name], empty, px)
        assert data["metadata"]["cancelled"] is True and len(data["strokes"]) == 5
    assert not os.path.exists(job.tmp.name)

    fresh_scene()
    two_empties()
    harness = batch_harness(addon, output="CURVE")
    harness._prepare(context)
    job = harness._job
    harness._begin_ui(context)
    run_until_shown(harness, context, 1)
    addon.operators.CLIPASSO_OT_sketch_from_image.cancel(harness, context)
    assert job.run.process.poll() is not None and job.state == "CANCELLED"
    assert harness._timer is None and harness._job is None and not os.path.exists(job.tmp.name)
    assert not [obj for obj in bpy.data.objects if addon.build.is_sketch(obj)] and len(bpy.data.curves) == 0
