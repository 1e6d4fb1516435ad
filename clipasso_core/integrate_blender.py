"""``clipasso integrate blender``: build the Blender extension zip, preset to this core, and install it.

The zip (``clipasso_sketch-<version>.zip``) holds, as Blender's extension installer expects:

- the add-on's files at its root (``editor_source("blender")``: ``*.py`` and the manifest);
- a copy of the contract (``clipasso_core/contract/``: its modules and PROTOCOL.md) as the
  subpackage ``contract/``, which the add-on imports relatively;
- the core as a wheel, ``core/clipasso-<version>-py3-none-any.whl`` (written here from the package
  itself, standard library only; torch is not in it), which the add-on's "Install Core" installs
  into a private environment;
- with a preset interpreter, ``core_preset.json`` (``{"python": ...}``): the add-on's "Python with
  clipasso_core" preference defaults to it, so the add-on finds this core with nothing set (a value
  the user sets still wins).

Every failure is one ``InputError``; the zip is written atomically (``atomic``), so a failed build
leaves no zip, old or half-made, behind it. A missing output folder is created (with its missing
parents, as ``integrate inkscape`` creates the profile's folders), and removed again when the build
fails. Standard library only (``tools/build_blender_addon.py``
runs it with any Python 3.11).
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from email.message import Message
from pathlib import Path

from .atomic import write_bytes
from .editor_sources import FOLDERS, editor_source
from .errors import InputError

PACKAGE = Path(__file__).resolve().parent
"""The clipasso_core package this runs from (a checkout's or an installed one)."""
CONTRACT = PACKAGE / "contract"
CONTRACT_PACKAGE = "contract"
"""The contract's folder inside the add-on (``from .contract import ...``)."""
PRESET_FILE = "core_preset.json"
"""The add-on's core preset (read by blender_addon/core_setup.py)."""
WHEEL_FOLDER = "core"
"""The folder of the core wheel inside the extension zip (read by blender_addon/core_setup.py)."""
DISTRIBUTION = "clipasso"
EDITOR_FILES = {"blender_addon": ("*.py", "*.toml"), "inkscape_ext": ("*.py", "*.inx")}
"""The files of each editor folder that belong to a distribution (pyproject.toml's package-data
says the same; tests/test_packaging.py holds them together)."""
SKIP_DIRS = {"__pycache__"}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""Every zip entry's time: the same sources give the same bytes."""
BLENDER_REPO = "user_default"
"""The extension repository ``--blender`` installs into (Blender's own user repository)."""
BLENDER_TIMEOUT = 300


def manifest_id_version(addon: Path) -> tuple[str, str]:
    manifest = (addon / "blender_manifest.toml").read_text(encoding="utf-8")
    ident = re.search(r'^id = "([^"]+)"', manifest, re.M)
    version = re.search(r'^version = "([^"]+)"', manifest, re.M)
    if not (ident and version):
        raise InputError(f"{addon / 'blender_manifest.toml'} has no id or version")
    return ident.group(1), version.group(1)


def zip_entries(addon: Path | None = None) -> list[tuple[Path, str]]:
    """(source file, name in the zip) of the add-on and its contract (not the wheel nor the preset)."""
    addon = addon or editor_source("blender")
    files = [(p, p.name) for p in sorted(addon.iterdir())
             if p.is_file() and any(p.match(pattern) for pattern in EDITOR_FILES["blender_addon"])]
    contract = [(p, f"{CONTRACT_PACKAGE}/{p.name}") for p in sorted(CONTRACT.iterdir())
                if p.is_file() and (p.suffix == ".py" or p.name == "PROTOCOL.md")]
    if not any(name == f"{CONTRACT_PACKAGE}/__init__.py" for _, name in contract):
        raise InputError(f"the contract is incomplete: no __init__.py in {CONTRACT}")
    reserved = (CONTRACT_PACKAGE, WHEEL_FOLDER, PRESET_FILE)
    if any(name.split(".")[0] in reserved or name == PRESET_FILE for _, name in files):
        raise InputError(f"{addon} must not have its own {', '.join(reserved)}")
    return files + contract


# the core wheel


def _package_files() -> list[tuple[Path, str]]:
    """(file, name in a wheel) of the clipasso_core package and the editors' sources it carries."""
    out = []
    for folder, dirs, names in os.walk(PACKAGE):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(names):
            if name.endswith((".pyc", ".pyo")) or name.startswith("."):
                continue
            path = Path(folder) / name
            out.append((path, path.relative_to(PACKAGE.parent).as_posix()))
    if not (PACKAGE / "editors").is_dir():  # a checkout: the editors' folders lie beside the package
        for editor, folder in FOLDERS.items():
            source = editor_source(editor)
            out += [(p, f"{PACKAGE.name}/editors/{folder}/{p.name}") for p in sorted(source.iterdir())
                    if p.is_file() and any(p.match(pattern) for pattern in EDITOR_FILES[folder])]
    return out


def _pyproject_metadata(pyproject: Path) -> tuple[str, str, str]:
    """(version, METADATA text, entry_points.txt text) from a checkout's pyproject.toml."""
    import tomllib

    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    meta = Message()
    meta["Metadata-Version"] = "2.1"
    meta["Name"] = project["name"]
    meta["Version"] = project["version"]
    if "description" in project:
        meta["Summary"] = project["description"]
    if "requires-python" in project:
        meta["Requires-Python"] = project["requires-python"]
    for requirement in project.get("dependencies", []):
        meta["Requires-Dist"] = requirement
    scripts = project.get("scripts", {})
    entry_points = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items()) if scripts else ""
    return project["version"], meta.as_string(), entry_points


def _installed_metadata() -> tuple[str, str, str]:
    """(version, METADATA text, entry_points.txt text) of the installed distribution."""
    from importlib import metadata

    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise InputError(f"cannot make the core's wheel: {PACKAGE} is neither a checkout (no pyproject.toml "
                         f"beside it) nor an installed {DISTRIBUTION} distribution; reinstall clipasso") from None
    return dist.version, dist.read_text("METADATA") or "", dist.read_text("entry_points.txt") or ""


def _metadata() -> tuple[str, str, str]:
    pyproject = PACKAGE.parent / "pyproject.toml"
    if pyproject.is_file() and f'name = "{DISTRIBUTION}"' in pyproject.read_text(encoding="utf-8"):
        try:
            return _pyproject_metadata(pyproject)
        except ImportError:  # Python 3.10 has no tomllib: take the installed distribution's
            pass
    return _installed_metadata()


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


def _zip_bytes(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def core_wheel() -> tuple[str, bytes]:
    """(file name, bytes) of a pure-Python wheel of the core: the package with its data and the
    editors' sources, and the distribution's metadata (its dependencies: torch and the rest come
    from the package index when it is installed)."""
    version, metadata_text, entry_points = _metadata()
    info = f"{DISTRIBUTION}-{version}.dist-info"
    entries = [(name, path.read_bytes()) for path, name in _package_files()]
    entries.append((f"{info}/METADATA", metadata_text.encode("utf-8")))
    entries.append((f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: clipasso integrate blender\n"
                                     b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    if entry_points:
        entries.append((f"{info}/entry_points.txt", entry_points.encode("utf-8")))
    entries.append((f"{info}/top_level.txt", f"{PACKAGE.name}\n".encode()))
    record = "".join(_record_line(name, data) for name, data in entries) + f"{info}/RECORD,,\n"
    entries.append((f"{info}/RECORD", record.encode("utf-8")))
    return f"{DISTRIBUTION}-{version}-py3-none-any.whl", _zip_bytes(entries)


# the extension zip


def zip_bytes(python: str | None = None) -> tuple[str, bytes]:
    """(file name, bytes) of the extension zip; ``python``: the interpreter the add-on is preset
    to (None: no preset, the user chooses the core in the add-on's preferences)."""
    addon = editor_source("blender")
    ident, version = manifest_id_version(addon)
    entries = [(name, path.read_bytes()) for path, name in zip_entries(addon)]
    wheel_name, wheel = core_wheel()
    entries.append((f"{WHEEL_FOLDER}/{wheel_name}", wheel))
    if python:
        preset = {"python": python, "made_by": "clipasso integrate blender"}
        entries.append((PRESET_FILE, (json.dumps(preset, indent=1) + "\n").encode("utf-8")))
    return f"{ident}-{version}.zip", _zip_bytes(entries)


def build(out: str | os.PathLike, python: str | None = None) -> Path:
    """Write the extension zip into the folder ``out`` (atomically; made when missing) and return
    its path."""
    folder = Path(out)
    name, data = zip_bytes(python)
    made = [p for p in (*reversed(folder.parents), folder) if not p.is_dir()]
    for path in made:
        if path.exists() or path.is_symlink():
            raise InputError(f"the output {path} is not a folder")
    created = []
    try:
        for path in made:
            try:
                path.mkdir()
            except OSError as exc:
                raise InputError(f"cannot create the output folder {path}: {exc.strerror or exc}") from None
            created.append(path)
        target = folder / name
        write_bytes(target, data)
    except BaseException:
        for path in reversed(created):
            try:
                path.rmdir()
            except OSError:
                pass
        raise
    return target


def _blender_binary(blender: str) -> str:
    found = blender if os.sep in blender or (os.altsep and os.altsep in blender) else shutil.which(blender)
    if not found or not os.path.isfile(found):
        raise InputError(f"Blender not found: {blender} (give the path of the blender program with --blender)")
    if not os.access(found, os.X_OK):
        raise InputError(f"{found} is not a program that can be run (give the blender program with --blender)")
    return found


def install_command(blender: str, zip_path: Path) -> list[str]:
    """Blender's own command line that installs and enables the extension zip."""
    return [blender, "--command", "extension", "install-file", "--repo", BLENDER_REPO, "--enable", str(zip_path)]


def install(blender: str, zip_path: Path) -> None:
    """Install and enable the zip with ``blender``'s extension command (InputError when it fails;
    Blender's installer changes nothing then)."""
    command = install_command(blender, zip_path)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=BLENDER_TIMEOUT,
                              stdin=subprocess.DEVNULL, errors="replace")
    except subprocess.TimeoutExpired:
        raise InputError(f"Blender did not finish installing the extension in {BLENDER_TIMEOUT} s "
                         f"({' '.join(command)})") from None
    except OSError as exc:
        raise InputError(f"could not run Blender ({blender}): {exc.strerror or exc}") from None
    output = (done.stdout + "\n" + done.stderr).strip().splitlines()
    failed = [line for line in output if re.match(r"\s*(Error|error|ERROR)\b", line)]
    if done.returncode != 0 or failed:
        detail = (failed or output or [f"exit {done.returncode}"])[-1].strip()
        raise InputError(f"Blender could not install the extension: {detail} (the zip is at {zip_path}; "
                         "install it by hand with Edit > Preferences > Get Extensions > Install from Disk)")


def integrate(output: str | None, blender: str | None) -> list[str]:
    """``clipasso integrate blender [-o DIR] [--blender PATH]``: the lines to print."""
    binary = _blender_binary(blender) if blender else None  # checked before anything is written
    python = sys.executable
    zip_path = build(output or ".", python)
    lines = [f"Built the Blender extension {zip_path.resolve()}",
             f"  the add-on runs this core: {python} (unless another is set in its preferences)"]
    if binary is None:
        lines.append("Install it in Blender 4.5 or newer: Edit > Preferences > Get Extensions > "
                     "Install from Disk..., pick the zip")
        lines.append("  (or let this command do it: clipasso integrate blender --blender /path/to/blender)")
        return lines
    install(binary, zip_path)
    lines.append(f"Installed and enabled it with {binary} (repository '{BLENDER_REPO}'): restart Blender if it "
                 "is open, then Add > Grease Pencil > Sketch from Image")
    return lines
