"""clipasso_core/integrate_inkscape.py: ``clipasso integrate inkscape [--profile DIR] [--uninstall]``.

Installs the bundle (scripts, .inx files, the contract as ``clipasso_contract/``) into
``<profile>/extensions/clipasso/`` with the core preset to the interpreter that ran the command,
finds the profile the way the issue asks, removes exactly what it installed, and turns every failure
into one message (exit 2) with nothing half-installed. The last test runs the menu entry in the
real Inkscape 1.2 binary from a profile set up by the command, with no Core-tab setting."""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clipasso_core import integrate_inkscape as ii
from clipasso_core.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
CAT = ROOT / "clipasso_core" / "data" / "cat.jpg"


def clipasso(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The command as a user runs it (this checkout's core, this interpreter)."""
    return subprocess.run([sys.executable, "-m", "clipasso_core", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` -> its bytes (None for a folder)."""
    return {p.relative_to(folder).as_posix(): (None if p.is_dir() else p.read_bytes())
            for p in sorted(folder.rglob("*"))}


def bundle_files() -> set[str]:
    return {name for _, name in ii.sources()}


@pytest.fixture
def profile(tmp_path) -> Path:
    """A profile with another extension of the user's in it (which must survive everything)."""
    root = tmp_path / "profile"
    (root / "extensions" / "other").mkdir(parents=True)
    (root / "extensions" / "other" / "other.inx").write_text("<x/>")
    (root / "extensions" / "mine.py").write_text("print('mine')\n")
    (root / "preferences.xml").write_text("<inkscape/>")
    return root


def test_install_then_uninstall_through_the_command(profile):
    before = tree(profile)
    run = clipasso("integrate", "inkscape", "--profile", str(profile))
    assert run.returncode == 0, run.stderr
    target = profile / "extensions" / "clipasso"
    assert f"into {target}" in run.stdout and sys.executable in run.stdout and "--uninstall" in run.stdout
    assert "Extensions > Sketch > Sketch from Image" in run.stdout
    count = len(bundle_files() | {ii.SETTINGS})  # the manifest's files: what both directions count
    assert f"({count} files) into {target}" in run.stdout
    installed = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert installed == bundle_files() | {ii.SETTINGS, ii.MANIFEST}
    assert "clipasso_contract/client.py" in installed and "clipasso_sketch.inx" in installed
    for source, name in ii.sources():
        assert (target / name).read_bytes() == source.read_bytes(), name
    settings = json.loads((target / ii.SETTINGS).read_text())
    assert settings["python"] == sys.executable  # the interpreter that ran the command, not resolved
    manifest = json.loads((target / ii.MANIFEST).read_text())
    assert set(manifest["files"]) == bundle_files() | {ii.SETTINGS} and manifest["created"] == []
    assert not [p for p in (profile / "extensions").iterdir() if p.name.startswith(".clipasso")]
    # the bytecode Inkscape's Python leaves next to the modules goes with them
    for cache in (target / "__pycache__", target / "clipasso_contract" / "__pycache__"):
        cache.mkdir()
    (target / "__pycache__" / "clipasso_bridge.cpython-311.pyc").write_bytes(b"x")
    (target / "clipasso_contract" / "__pycache__" / "client.cpython-311.pyc").write_bytes(b"x")

    run = clipasso("integrate", "inkscape", "--profile", str(profile), "--uninstall")
    assert run.returncode == 0, run.stderr
    assert f"({count} files) from {target}" in run.stdout
    assert tree(profile) == before

    again = clipasso("integrate", "inkscape", "--profile", str(profile), "--uninstall")
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.startswith("clipasso: error: no clipasso extensions installed")
    assert "nothing was removed" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and tree(profile) == before


def test_folders_made_for_the_install_go_with_it(tmp_path):
    root = tmp_path / "new" / "profile"
    lines = ii.integrate(str(root), uninstall=False)
    assert (root / "extensions" / "clipasso" / "clipasso_sketch.py").is_file() and lines
    created = json.loads((root / "extensions" / "clipasso" / ii.MANIFEST).read_text())["created"]
    assert created == [str(tmp_path / "new"), str(root), str(root / "extensions")]
    ii.integrate(str(root), uninstall=True)
    assert list(tmp_path.iterdir()) == []


def test_reinstall_replaces_its_own_files_and_drops_stale_ones(profile):
    ii.integrate(str(profile), uninstall=False)
    target = profile / "extensions" / "clipasso"
    manifest = json.loads((target / ii.MANIFEST).read_text())
    manifest["files"].append("clipasso_old_module.py")  # a module of an older version
    (target / "clipasso_old_module.py").write_text("old")
    (target / ii.MANIFEST).write_text(json.dumps(manifest))
    (target / "clipasso_sketch.inx").write_text("changed")
    lines = ii.integrate(str(profile), uninstall=False)
    assert lines[0].startswith("Installed")
    assert not (target / "clipasso_old_module.py").exists()
    source = ii.editor_source("inkscape") / "clipasso_sketch.inx"
    assert (target / "clipasso_sketch.inx").read_bytes() == source.read_bytes()
    assert not [p for p in (profile / "extensions").iterdir() if p.name.startswith(".clipasso")]


def test_files_it_did_not_install_are_never_removed(profile):
    ii.integrate(str(profile), uninstall=False)
    target = profile / "extensions" / "clipasso"
    (target / "notes.txt").write_text("the user's")
    with pytest.raises(InputError, match=r"holds files clipasso did not install \(notes.txt\)"):
        ii.integrate(str(profile), uninstall=False)
    # a manifest that names paths outside the folder (edited by hand) removes none of them
    manifest = json.loads((target / ii.MANIFEST).read_text())
    manifest["files"] += ["../mine.py", str(profile / "preferences.xml"), "../other/other.inx"]
    (target / ii.MANIFEST).write_text(json.dumps(manifest))
    lines = ii.integrate(str(profile), uninstall=True)
    assert "Left" in lines[-1] and "notes.txt" in lines[-1]
    assert tree(target) == {"notes.txt": b"the user's"}
    assert (profile / "extensions" / "mine.py").is_file() and (profile / "preferences.xml").is_file()
    assert (profile / "extensions" / "other" / "other.inx").is_file()


def test_a_folder_installed_by_hand_is_left_alone(profile):
    hand = profile / "extensions" / "clipasso"
    hand.mkdir()
    (hand / "clipasso_sketch.inx").write_text("by hand")
    before = tree(profile)
    run = clipasso("integrate", "inkscape", "--profile", str(profile))
    assert run.returncode == 2 and "was not installed by 'clipasso integrate inkscape'" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and tree(profile) == before
    run = clipasso("integrate", "inkscape", "--profile", str(profile), "--uninstall")
    assert run.returncode == 2 and tree(profile) == before


def test_a_folder_that_cannot_be_written_is_one_message():
    # /proc takes no new folders, even for root
    run = clipasso("integrate", "inkscape", "--profile", "/proc/self/clipasso-profile")
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith("clipasso: error: cannot create the folder /proc/self/clipasso-profile")
    assert len(run.stderr.strip().splitlines()) == 1
    run = clipasso("integrate", "inkscape", "--profile", "/proc/self")
    assert run.returncode == 2 and "cannot create the folder /proc/self/extensions" in run.stderr


@pytest.mark.parametrize("installed_before", [False, True])
def test_a_failed_copy_leaves_nothing_half_installed(profile, monkeypatch, installed_before):
    if installed_before:
        ii.integrate(str(profile), uninstall=False)
    before = tree(profile)
    copied = []
    real_copy = shutil.copyfile

    def failing_copy(source, destination, *args, **kwargs):
        if len(copied) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        copied.append(destination)
        return real_copy(source, destination, *args, **kwargs)

    monkeypatch.setattr(ii.shutil, "copyfile", failing_copy)
    with pytest.raises(InputError, match="cannot write the extension files into .*: No space left on device"):
        ii.integrate(str(profile), uninstall=False)
    assert tree(profile) == before  # no staging folder, the earlier install untouched


def test_a_failed_rename_leaves_the_earlier_install(profile, monkeypatch):
    ii.integrate(str(profile), uninstall=False)
    before = tree(profile)
    real_replace = os.replace

    def failing_replace(source, destination):
        if Path(source).name.startswith(".clipasso-install-"):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(source, destination)

    monkeypatch.setattr(ii.os, "replace", failing_replace)
    with pytest.raises(InputError, match="cannot install the extensions into"):
        ii.integrate(str(profile), uninstall=False)
    assert tree(profile) == before


def test_profile_from_inkscape_then_env_then_usual_folder(tmp_path, monkeypatch):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    told = tmp_path / "told-by-inkscape"
    script = fake_bin / "inkscape"
    script.write_text(f"#!/bin/sh\n[ \"$1\" = --user-data-directory ] && echo '{told}'\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake_bin))
    monkeypatch.setenv("INKSCAPE_PROFILE_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setattr(ii.sys, "platform", "linux")
    assert ii.find_profile(None) == (told, f"{script} --user-data-directory")
    assert ii.find_profile(str(tmp_path / "given"))[0] == tmp_path / "given"
    script.write_text("#!/bin/sh\nexit 1\n")  # an Inkscape that cannot say: the environment's
    assert ii.find_profile(None)[0] == tmp_path / "from-env"
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert ii.find_profile(None) == (tmp_path / "from-env", "INKSCAPE_PROFILE_DIR")
    monkeypatch.delenv("INKSCAPE_PROFILE_DIR")
    with pytest.raises(InputError, match=r"Inkscape was not found \(not on PATH\) and there is no Inkscape "
                                         r"profile at .*home/.config/inkscape.*--profile DIR"):
        ii.find_profile(None)
    (tmp_path / "home" / ".config" / "inkscape").mkdir(parents=True)
    assert ii.find_profile(None)[0] == tmp_path / "home" / ".config" / "inkscape"


def test_usual_profile_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(ii.sys, "platform", "darwin")
    assert ii.default_profile() == tmp_path / "Library/Application Support/org.inkscape.Inkscape/config/inkscape"
    monkeypatch.setattr(ii.sys, "platform", "win32")
    monkeypatch.setenv("APPDATA", str(tmp_path / "Roaming"))
    assert ii.default_profile() == tmp_path / "Roaming" / "inkscape"
    monkeypatch.delenv("APPDATA")
    assert ii.default_profile() is None
    monkeypatch.setattr(ii.sys, "platform", "linux")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert ii.default_profile() == tmp_path / "xdg" / "inkscape"


def test_no_profile_known_is_one_message(tmp_path):
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8"}
    run = clipasso("integrate", "inkscape", env=env)
    assert run.returncode == 2 and run.stdout == "" and len(run.stderr.strip().splitlines()) == 1
    assert "Inkscape was not found" in run.stderr and not (tmp_path / "home").exists()


def test_the_settings_name_is_the_one_the_extension_reads():
    text = (ii.editor_source("inkscape") / "clipasso_bridge.py").read_text()
    assert f'SETTINGS = "{ii.SETTINGS}"' in text


# --- the real Inkscape, from a profile set up by the command ---------------------------------------

needs_inkscape = pytest.mark.skipif(not (shutil.which("inkscape") and shutil.which("xvfb-run")),
                                    reason="inkscape or xvfb-run not installed")


@needs_inkscape
def test_inkscape_runs_the_menu_entry_with_no_core_tab_setting(profile, tmp_path):
    import base64
    import re
    import xml.etree.ElementTree as ET

    before = tree(profile / "extensions")
    run = clipasso("integrate", "inkscape", "--profile", str(profile))
    assert run.returncode == 0, run.stderr
    target = profile / "extensions" / "clipasso"
    # offline test settings (tiny random networks, few steps); the Core tab stays as installed: empty
    inx = (target / "clipasso_sketch.inx").read_text()
    assert re.search(r'<param name="python"[^>]*></param>', inx) and re.search(r'<param name="core"[^>]*></param>', inx)
    for name, value in (("strokes", "8"), ("iterations", "3"), ("seeds", "1")):
        inx, count = re.subn(rf'(<param name="{name}"[^>]*>)[^<]*(</param>)', rf"\g<1>{value}\g<2>", inx)
        assert count == 1
    for name, value in (("backbone", "tiny-random"), ("mask", "off")):
        group = re.search(rf'<param name="{name}" type="optiongroup"[^>]*>(.*?)</param>', inx, re.S).group(1)
        option = re.search(rf'\s*<option value="{value}">[^<]*</option>', group).group(0)
        inx = inx.replace(group, option + group.replace(option, ""))
    (target / "clipasso_sketch.inx").write_text(inx)

    href = "data:image/jpeg;base64," + base64.b64encode(CAT.read_bytes()).decode()
    (tmp_path / "in.svg").write_text(f"""<svg xmlns="http://www.w3.org/2000/svg"
  xmlns:xlink="http://www.w3.org/1999/xlink" width="200mm" height="150mm" viewBox="0 0 200 150">
  <image id="photo" x="10" y="20" width="120" height="100" xlink:href="{href}"/></svg>""")
    assert shutil.which("clipasso", path="/usr/bin:/bin") is None  # only the preset can find the core
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLIPASSO_", "VIRTUAL_ENV"))}
    env.update(INKSCAPE_PROFILE_DIR=str(profile), HF_HUB_OFFLINE="1", PATH="/usr/bin:/bin")
    ink = subprocess.run(["timeout", "300", "xvfb-run", "-a", "inkscape", "--batch-process",
                          "--actions=select-by-id:photo;org.clipasso.sketchfromimage.noprefs;"
                          "export-filename:out.svg;export-plain-svg;export-do", "in.svg"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=330)
    assert (tmp_path / "out.svg").exists(), ink.stderr[-3000:]
    svg = "{http://www.w3.org/2000/svg}"
    groups = [g for g in ET.parse(tmp_path / "out.svg").getroot().iter(f"{svg}g") if g.get("data-clipasso-sketch")]
    assert len(groups) == 1, ink.stderr[-3000:]
    assert len(groups[0].findall(f"{svg}path")) == 8
    assert json.loads(groups[0].get("data-clipasso-sketch"))["metadata"]["backbone"] == "tiny-random"

    run = clipasso("integrate", "inkscape", "--profile", str(profile), "--uninstall")
    assert run.returncode == 0, run.stderr
    assert tree(profile / "extensions") == before  # Inkscape's bytecode caches went too
    assert not [p for p in profile.rglob("*clipasso*")]
