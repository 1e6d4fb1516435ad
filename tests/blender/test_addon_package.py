"""The extension as a user gets it (tools/build_blender_addon.py, blender_addon/__init__.py): the zip
with the vendored contract and the core wheel, its manifest against the Blender versions the suite
runs, Blender's own validation, installing, enabling and disabling."""
from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from addon_paths import MODULE, PACKAGE_ID, ROOT  # noqa: E402


def test_manifest_and_zip(addon):
    import tomllib

    with zipfile.ZipFile(addon.zip_path) as archive:
        names = archive.namelist()
        manifest = tomllib.loads(archive.read("blender_manifest.toml").decode())
    assert "__init__.py" in names and "blender_manifest.toml" in names
    for key in ("schema_version", "id", "version", "name", "tagline", "maintainer", "type",
                "blender_version_min", "license"):
        assert key in manifest, key
    assert manifest["id"] == PACKAGE_ID and manifest["type"] == "add-on"
    # Blender's own extension tool validates the zip
    tool = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    check = subprocess.run([sys.executable, str(tool), "validate", str(addon.zip_path)], capture_output=True,
                           text=True)
    assert check.returncode == 0 and "Success" in check.stdout, check.stdout + check.stderr


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3])


def test_manifest_minimum_is_the_oldest_blender_the_suite_runs(addon):
    """blender_version_min is the oldest bpy tools/test.sh installs (the versions the tests run), and
    this Blender is one of them; the manifest names no web page (there is no public one yet)."""
    import tomllib

    manifest = tomllib.loads((ROOT / "blender_addon" / "blender_manifest.toml").read_text())
    suite = re.findall(r"(\d+\.\d+\.\d+):\.venv-bpy", (ROOT / "tools" / "test.sh").read_text())
    assert suite, "tools/test.sh names no bpy versions"
    oldest = min(_version(v) for v in suite)
    assert _version(manifest["blender_version_min"]) == (*oldest[:2], 0)
    assert _version(manifest["blender_version_min"]) <= tuple(bpy.app.version)
    assert tuple(bpy.app.version[:2]) in {_version(v)[:2] for v in suite}
    assert "website" not in manifest and "blender_version_max" not in manifest
    assert set(manifest["permissions"]) == {"files", "network"}


def test_zip_carries_the_contract_and_nothing_else(addon):
    """The contract is vendored as contract/ (its modules and PROTOCOL.md, byte for byte), the core as
    a wheel in core/ (small: no torch); no caches, no core.py of the add-on's own, no preset (the tool
    presets nothing)."""
    source = ROOT / "clipasso_core" / "contract"
    with zipfile.ZipFile(addon.zip_path) as archive:
        names = set(archive.namelist())
        for path in source.iterdir():
            if path.suffix == ".py" or path.name == "PROTOCOL.md":
                assert archive.read(f"contract/{path.name}") == path.read_bytes(), path.name
    addon_files = {p.name for p in (ROOT / "blender_addon").iterdir() if p.suffix in (".py", ".toml")}
    contract_files = {f"contract/{p.name}" for p in source.iterdir() if p.suffix == ".py" or p.name == "PROTOCOL.md"}
    wheels = {n for n in names if n.startswith("core/")}
    assert wheels == {"core/clipasso-0.1.0-py3-none-any.whl"}
    assert names == addon_files | contract_files | wheels
    with zipfile.ZipFile(addon.zip_path) as archive:
        assert archive.getinfo("core/clipasso-0.1.0-py3-none-any.whl").file_size < 1_000_000
    assert "core.py" not in names and "core_preset.json" not in names and not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_installed_as_an_extension_importing_the_vendored_contract(addon):
    module = sys.modules[MODULE]
    assert Path(module.__file__).parent.name == PACKAGE_ID
    assert MODULE in bpy.context.preferences.addons
    # the add-on's client, events and formats are the vendored copy under the add-on's package
    assert addon.job.client.__name__ == f"{MODULE}.contract.client"
    assert addon.operators.RUN_OPTIONS is addon.contract.options.RUN_OPTIONS
    assert Path(addon.contract.__file__).parent == Path(module.__file__).parent / "contract"


def test_register_unregister_cleanly(addon):
    import addon_utils

    addon_utils.disable(MODULE)
    assert not hasattr(bpy.types, "CLIPASSO_OT_sketch_from_image")
    assert not hasattr(bpy.types.Scene, "clipasso_style")
    assert not hasattr(bpy.types, "VIEW3D_PT_clipasso")
    addon_utils.enable(MODULE, default_set=True)
    assert hasattr(bpy.types, "CLIPASSO_OT_sketch_from_image") and hasattr(bpy.types.Scene, "clipasso_style")
    assert addon.prefs.python_path  # the preferences survive
