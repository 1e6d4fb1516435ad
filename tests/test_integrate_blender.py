"""``clipasso integrate blender`` (clipasso_core/integrate_blender.py) and tools/build_blender_addon.py:
the extension zip (add-on, contract, core wheel, preset), written atomically, and the install through
Blender's own command line (a fake ``blender`` that records its arguments: the bpy module has no
binary; tests/blender installs the zip in real bpy)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from clipasso_core import integrate_blender
from clipasso_core.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
ADDON = ROOT / "blender_addon"
CONTRACT = ROOT / "clipasso_core" / "contract"


def clipasso(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "clipasso_core", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def fake_blender(tmp_path: Path, code: int = 0, say: str = "") -> tuple[Path, Path]:
    """A stand-in ``blender`` that writes its arguments (one JSON list) to a file, prints ``say`` and
    exits ``code``."""
    log = tmp_path / "blender-args.json"
    script = tmp_path / "blender"
    script.write_text(f"#!{sys.executable}\nimport json, sys\n"
                      f"open({str(log)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
                      f"print({say!r})\nsys.exit({code})\n")
    script.chmod(0o755)
    return script, log


def names(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as archive:
        return set(archive.namelist())


def test_integrate_blender_builds_the_zip_preset_to_this_python(tmp_path):
    done = clipasso("integrate", "blender", "-o", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    zip_path = tmp_path / "clipasso_sketch-0.1.0.zip"
    lines = done.stdout.splitlines()
    assert lines[0] == f"Built the Blender extension {zip_path}"
    assert sys.executable in lines[1] and "Install from Disk" in done.stdout
    addon = {p.name for p in ADDON.iterdir() if p.suffix in (".py", ".toml")}
    contract = {f"contract/{p.name}" for p in CONTRACT.iterdir() if p.suffix == ".py" or p.name == "PROTOCOL.md"}
    assert names(zip_path) == addon | contract | {"core_preset.json", "core/clipasso-0.1.0-py3-none-any.whl"}
    with zipfile.ZipFile(zip_path) as archive:
        assert json.loads(archive.read("core_preset.json"))["python"] == sys.executable
        for path in ADDON.iterdir():
            if path.suffix in (".py", ".toml"):
                assert archive.read(path.name) == path.read_bytes(), path.name
    assert zip_path.stat().st_size < 1_000_000  # the add-on, the contract and a small wheel: no torch
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_the_zip_is_the_same_for_the_same_sources(tmp_path):
    first = integrate_blender.zip_bytes("/x/python")
    assert integrate_blender.zip_bytes("/x/python") == first
    assert integrate_blender.zip_bytes(None) != first


def test_the_core_wheel_installs_and_carries_everything(tmp_path):
    name, data = integrate_blender.core_wheel()
    assert name == "clipasso-0.1.0-py3-none-any.whl"
    wheel = tmp_path / name
    wheel.write_bytes(data)
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                           "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    package = target / "clipasso_core"
    for relative in ("contract/PROTOCOL.md", "contract/client.py", "data/cat.jpg", "model_configs/clipasso-tiny-rn.json",
                     "editors/blender_addon/blender_manifest.toml", "editors/blender_addon/operators.py",
                     "editors/inkscape_ext/clipasso_sketch.inx", "integrate_blender.py"):
        assert (package / relative).is_file(), relative
    meta = (target / "clipasso-0.1.0.dist-info" / "METADATA").read_text()
    assert "Name: clipasso" in meta and "Requires-Dist: torch>=2.1" in meta
    assert "clipasso = clipasso_core.launcher:main" in (target / "clipasso-0.1.0.dist-info" / "entry_points.txt").read_text()
    # the installed copy finds its editors inside itself, and builds the same zip from there
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from clipasso_core import editor_sources, integrate_blender;"
              "print(editor_sources.editor_source('blender')); print(sorted(n for _, n in integrate_blender.zip_entries()))")
    shown = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True, text=True, timeout=60,
                           cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == str(package / "editors" / "blender_addon")
    assert shown.stdout.splitlines()[1] == str(sorted(n for _, n in integrate_blender.zip_entries()))


def test_blender_path_installs_and_enables_it_with_blenders_command_line(tmp_path):
    blender, log = fake_blender(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    done = clipasso("integrate", "blender", "-o", str(out), "--blender", str(blender))
    assert done.returncode == 0, done.stderr
    zip_path = out / "clipasso_sketch-0.1.0.zip"
    assert json.loads(log.read_text()) == ["--command", "extension", "install-file", "--repo", "user_default",
                                           "--enable", str(zip_path)]
    assert f"Installed and enabled it with {blender}" in done.stdout


def test_a_missing_output_folder_is_made_as_integrate_inkscape_makes_its_folders(tmp_path, monkeypatch):
    missing = tmp_path / "new" / "dist"
    done = clipasso("integrate", "blender", "-o", str(missing))
    assert done.returncode == 0, done.stderr
    assert [p.name for p in missing.iterdir()] == ["clipasso_sketch-0.1.0.zip"]
    # a build that fails takes the folders it made away again
    def fail(path, data):
        raise InputError(f"could not write {path}: No space left on device")

    monkeypatch.setattr(integrate_blender, "write_bytes", fail)
    with pytest.raises(InputError, match="No space left"):
        integrate_blender.build(tmp_path / "other" / "dist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InputError, match="is not a folder"):
        integrate_blender.build(tmp_path / "a-file" / "dist")


def test_failures_are_one_message_exit_2_and_nothing_written(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    done = clipasso("integrate", "blender", "-o", str(out), "--blender", str(tmp_path / "no-blender"))
    assert done.returncode == 2 and done.stderr.startswith("clipasso: error: Blender not found:")
    assert list(out.iterdir()) == []  # checked before anything is written
    blender, _ = fake_blender(tmp_path, code=1, say="Error: package 'clipasso_sketch' requires Blender 4.5.0 or newer")
    done = clipasso("integrate", "blender", "-o", str(out), "--blender", str(blender))
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert "Blender could not install the extension: Error: package 'clipasso_sketch' requires" in done.stderr
    assert "Install from Disk" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_one_message(tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        with pytest.raises(InputError, match="could not write"):
            integrate_blender.integrate(str(out), None)
        assert list(out.iterdir()) == []
    finally:
        out.chmod(0o755)


def test_a_failed_write_leaves_no_zip(tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    from clipasso_core import atomic

    monkeypatch.setattr(atomic.os, "replace", full_disk)
    with pytest.raises(InputError, match="No space left on device"):
        integrate_blender.build(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_tool_is_a_thin_wrapper_without_a_preset(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_blender_addon.py"), "-o", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    zip_path = Path(done.stdout.strip())
    assert zip_path.parent == tmp_path / "d"
    assert "core_preset.json" not in names(zip_path) and "core/clipasso-0.1.0-py3-none-any.whl" in names(zip_path)
    tool = (ROOT / "tools" / "build_blender_addon.py").read_text()
    assert "zipfile" not in tool  # the logic lives in the package
