"""Install Core for real (blender_addon/core_setup.py, operators.CLIPASSO_OT_install_core): Blender's
own Python makes the private environment in the extension's user folder and pip installs torch (pinned)
and the core wheel the zip carries from the package index reachable here. Esc (``cancel``) during
the torch download kills pip and leaves an environment that is not used; Install Core again repairs
it; Check then reports the core, torch, the device and the weights, and the add-on sketches with no
core set. Downloads torch (several GB on Linux): marked ``install_core`` (deselect with
``-m 'not install_core'``). CLIPASSO_TORCH_INDEX_URL: the index torch comes from (default
https://pypi.org/simple, pip's own; the add-on's default for the CPU build is PyTorch's CPU index)."""
from __future__ import annotations

import os
import shutil
import sys
import time

import pytest

bpy = pytest.importorskip("bpy")

from addon_paths import CAT, CORE_PYTHON  # noqa: E402

pytestmark = pytest.mark.install_core
INDEX = os.environ.get("CLIPASSO_TORCH_INDEX_URL", "https://pypi.org/simple")


def test_install_core_cancel_repair_check_and_sketch(addon, fresh_scene, tmp_path, monkeypatch):
    core_setup, ops = addon.core_setup, addon.operators
    prefs = addon.prefs
    monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                               if not os.path.isfile(os.path.join(p, "clipasso"))))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no weights downloaded yet
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    prefs.python_path, prefs.core_path = "", ""
    prefs.torch_build, prefs.torch_index_url = "CPU", INDEX
    user = ops.user_folder(create=True)
    env = os.path.join(user, core_setup.ENV_FOLDER)
    try:
        assert sys.executable and core_setup.core_wheel()  # Blender's Python; the wheel the zip carries
        with pytest.raises(RuntimeError, match="no clipasso core yet: press Install Core in Edit > Preferences"):
            bpy.ops.clipasso.check_core()

        # Esc while pip downloads torch: pip is killed, the environment is not used
        started = time.time()
        installer = core_setup.Installer(sys.executable, user, core_setup.core_wheel(), "CPU", INDEX)
        assert installer.use_venv  # bpy's Python has venv and ensurepip
        seen = []
        while installer.step() == installer.RUNNING and not (
                installer.index == 1 and installer._last.startswith(("Downloading", "Using cached"))):
            seen.append(installer.status)
            assert time.time() - started < 300, installer.status
            time.sleep(0.1)
        print(f"\nInstall Core status before Esc: {installer.status}")
        process = installer.process
        installer.cancel()
        assert installer.state == installer.CANCELLED and process.poll() is not None
        assert core_setup.install_state(env) == "incomplete"
        with pytest.raises(RuntimeError, match="the last install did not finish: press it again"):
            bpy.ops.clipasso.check_core()

        # Install Core again (the operator, blocking) repairs it
        started = time.time()
        assert bpy.ops.clipasso.install_core() == {"FINISHED"}, prefs.install_status
        seconds = time.time() - started
        print(f"Install Core took {seconds:.0f} s: {prefs.install_status}")
        assert core_setup.install_state(env) == "complete"
        assert prefs.install_status.startswith("clipasso core 0.1.0 installed in")
        core = ops.find_core(bpy.context)
        assert core.source == "Install Core" and core.command[0].startswith(env)

        assert bpy.ops.clipasso.check_core() == {"FINISHED"}
        lines = prefs.status.splitlines()
        print("Check:\n  " + "\n  ".join(lines))
        assert lines[0].startswith("Core (Install Core): ")
        assert lines[1] == "clipasso core: 0.1.0" and lines[2].startswith("torch: 2.14.1")
        assert lines[3] == "device: cpu"
        assert lines[4].startswith("CLIP RN101 weights: not downloaded yet")

        assert bpy.ops.clipasso.sketch_from_image(filepath=str(CAT), strokes=4, seeds=1, iterations=3, mask="off",
                                                  backbone="tiny-random", preset="fast") == {"FINISHED"}
        assert addon.build.is_sketch(bpy.context.scene.objects[-1])
    finally:
        prefs.python_path, prefs.core_path, prefs.torch_index_url = CORE_PYTHON, "", ""
        shutil.rmtree(env, ignore_errors=True)  # later tests of this session must not find this core
