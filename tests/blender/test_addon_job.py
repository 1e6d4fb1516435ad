"""One run of the core driven from Blender (blender_addon/job.py): previews, Esc (keep the best, or
leave the scene as it was), aborting, and never a core or a temp file left behind."""
from __future__ import annotations

import os
import time

import pytest

bpy = pytest.importorskip("bpy")

from addon_paths import CAT, CORE_COMMAND, MODULE  # noqa: E402

LONG_RUN = ["--strokes", "5", "--seeds", "1", "--iterations", "3000", "--mask", "off", "--backbone",
            "tiny-random", "--preset", "fast", "--preview-every", "2"]


def new_job(addon, name: str, args=LONG_RUN):
    from mathutils import Matrix

    return addon.job.SketchJob(CORE_COMMAND, str(CAT), args, "GPENCIL", 2.0, (-0.5, -0.5), Matrix(), {}, name)


def step_until(job, condition, timeout: float = 300) -> str:
    deadline = time.time() + timeout
    state = job.step(bpy.context)
    while not condition(state) and time.time() < deadline:
        time.sleep(0.05)
        state = job.step(bpy.context)
    assert condition(state), f"timed out in state {state}"
    return state


def test_cancel_keeps_best_and_cancel_before_preview_leaves_scene(addon, fresh_scene):
    build = addon.build
    job = new_job(addon, "Cancelled")
    step_until(job, lambda state: job.obj is not None or state != "RUNNING")
    assert job.state == "RUNNING" and job.obj is not None
    job.cancel()
    assert step_until(job, lambda state: state != "RUNNING") == "FINISHED"
    data = build.load_data(job.obj)
    assert data["metadata"]["cancelled"] is True and len(data["strokes"]) == 5
    assert job.done.cancelled and job.run.returncode == 3
    assert not os.path.exists(job.tmp.name)

    fresh_scene()
    before = set(bpy.data.objects.keys())
    job = new_job(addon, "Early")
    job.cancel()
    assert step_until(job, lambda state: state != "RUNNING") == "CANCELLED"
    assert set(bpy.data.objects.keys()) == before and len(bpy.data.materials) == 0
    assert job.run.process.poll() is not None and not os.path.exists(job.tmp.name)


def test_a_failed_run_reports_the_core_message_and_leaves_nothing(addon, fresh_scene, tmp_path):
    bad = tmp_path / "not_an_image.png"
    bad.write_bytes(b"garbage")
    from mathutils import Matrix

    job = addon.job.SketchJob(CORE_COMMAND, str(bad), LONG_RUN, "CURVE", 2.0, (-0.5, -0.5), Matrix(), {}, "Bad")
    assert step_until(job, lambda state: state != "RUNNING") == "FAILED"
    assert "not a readable image" in job.error
    assert len(bpy.data.objects) == 0 and len(bpy.data.materials) == 0 and len(bpy.data.curves) == 0
    assert not os.path.exists(job.tmp.name)


def test_disabling_the_addon_aborts_its_running_jobs(addon, fresh_scene):
    import addon_utils

    job = new_job(addon, "Orphan")
    process = job.run.process
    try:
        addon_utils.disable(MODULE)
        assert job.state == "CANCELLED" and process.poll() is not None
        assert not os.path.exists(job.tmp.name)
    finally:
        if process.poll() is None:
            process.kill()
        addon_utils.enable(MODULE, default_set=True)
    assert hasattr(bpy.types, "CLIPASSO_OT_sketch_from_image")
