"""The wheel pip builds from pyproject.toml carries every subpackage, the data files and the
editors' add-on sources (clipasso_core/editors/...), the same files as the core wheel the Blender
extension carries (integrate_blender.core_wheel); an editable install still works and finds the
editors in the checkout. Built from a copy of the sources (no build/ or egg-info in the checkout)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from clipasso_core import integrate_blender

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "LICENSES", "clipasso_core", "blender_addon", "inkscape_ext")


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("src") / "clipasso"
    copy.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, copy / name)
    return copy


def pip(*args, timeout=600):
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def expected_files(root: Path) -> set[str]:
    """What a wheel of the sources at ``root`` must hold (besides its .dist-info)."""
    package = root / "clipasso_core"
    files = {p.relative_to(root).as_posix() for p in package.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    for folder, patterns in integrate_blender.EDITOR_FILES.items():
        files |= {f"clipasso_core/editors/{folder}/{p.name}" for p in (root / folder).iterdir()
                  if p.is_file() and any(p.match(pattern) for pattern in patterns)}
    return files


def test_the_wheel_carries_every_subpackage_data_file_and_the_editors(source_copy, tmp_path):
    pip("wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(source_copy))
    wheel = next(tmp_path.glob("clipasso-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        files = {n for n in archive.namelist() if ".dist-info/" not in n}
        licences = {n.split(".dist-info/", 1)[1] for n in archive.namelist() if ".dist-info/licenses/" in n}
        metadata = next(archive.read(n).decode() for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    assert licences == {"licenses/LICENSE", "licenses/LICENSES/MIT.txt", "licenses/LICENSES/GPL-3.0-or-later.txt"}
    assert "License-Expression: MIT AND GPL-3.0-or-later" in metadata
    expected = expected_files(source_copy)
    assert files == expected
    for needed in ("clipasso_core/contract/__init__.py", "clipasso_core/contract/PROTOCOL.md",
                   "clipasso_core/data/cat.jpg", "clipasso_core/model_configs/clipasso-tiny-vit.json",
                   "clipasso_core/editors/blender_addon/__init__.py",
                   "clipasso_core/editors/blender_addon/blender_manifest.toml",
                   "clipasso_core/editors/inkscape_ext/clipasso_bridge.py",
                   "clipasso_core/editors/inkscape_ext/clipasso_sketch.inx"):
        assert needed in files, needed
    # the core wheel the Blender extension carries has the same files
    _, data = integrate_blender.core_wheel()
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        ours = {n for n in archive.namelist() if ".dist-info/" not in n}
    assert ours == expected_files(ROOT)


def test_an_editable_install_still_works(source_copy, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pip("--python", str(python), "install", "--no-deps", "--quiet", "-e", str(source_copy))
    script = ("from clipasso_core import editor_sources, contract; import clipasso_core.contract.client;"
              "print(editor_sources.editor_source('blender')); print(editor_sources.editor_source('inkscape'))")
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(source_copy / "blender_addon"), str(source_copy / "inkscape_ext")]


def test_each_part_states_one_licence_everywhere():
    """LICENSE's table, the Blender manifest (the platform requires GPL-3.0-or-later) and README agree."""
    import tomllib

    table = (ROOT / "LICENSE").read_text()
    assert "| clipasso_core/" in table and "| MIT (LICENSES/MIT.txt) |" in table
    assert table.count("| GPL-3.0-or-later (LICENSES/GPL-3.0-or-later.txt) |") == 2
    manifest = tomllib.loads((ROOT / "blender_addon" / "blender_manifest.toml").read_text())
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == "MIT AND GPL-3.0-or-later"
    readme = (ROOT / "README.md").read_text()
    assert "## Licence" in readme and "GPL-3.0-or-later" in readme and "their own terms" in readme
