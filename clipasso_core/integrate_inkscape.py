"""``clipasso integrate inkscape``: install the Inkscape extensions into the user's Inkscape, set up
to run this core; and the bundle they are installed from (also built by tools/build_inkscape_ext.py).

The bundle is the effect scripts and ``.inx`` files of ``editor_source("inkscape")`` plus the
contract (``clipasso_core/contract``) as the package ``clipasso_contract``: Inkscape puts a script's
folder on sys.path, which is how the extensions find it.

Installing puts the bundle into ``<profile>/extensions/clipasso/`` with two more files:
``clipasso_settings.json`` (the Python that ran the command, which the extension uses while its Core
tab is empty) and ``clipasso_installed.json`` (the manifest: every path installed, and the folders
created for it). Install and uninstall count the same files: the manifest's (the extensions' files
and the settings; not the manifest itself, nor Python's caches). The profile is ``--profile``, else
what ``inkscape --user-data-directory`` says, else ``INKSCAPE_PROFILE_DIR``, else the system's usual folder when it exists. The files are written
into a temporary folder inside ``extensions/`` and renamed into place, so a failure leaves nothing
behind. ``--uninstall`` removes exactly the paths of the manifest (and the bytecode Python caches
next to the installed modules), then the folders it created when they are empty; nothing else.

Standard library only (no torch): ``clipasso integrate`` and the build tool run in a second.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from . import __version__
from .editor_sources import editor_source
from .errors import InputError

CONTRACT = Path(__file__).resolve().parent / "contract"
PACKAGE = "clipasso_contract"
"""The contract's package name next to the extension scripts."""
ZIP_FOLDER = "clipasso"
"""The folder the zip holds everything under, and the folder installed into ``extensions/``."""
SETTINGS = "clipasso_settings.json"
"""Written next to the scripts by ``integrate``: ``{"python": ...}``, the core the extension uses
while its Core tab is empty (clipasso_bridge.SETTINGS reads the same name)."""
MANIFEST = "clipasso_installed.json"
"""Written next to the scripts by ``integrate``: what ``--uninstall`` removes."""
MANIFEST_FORMAT = "clipasso-inkscape-install"
MENU = "Extensions > Sketch > Sketch from Image"


def version() -> str:
    """The project's version, which the bundle is named after."""
    return __version__


def sources(ext_dir: Path | None = None) -> list[tuple[Path, str]]:
    """(source file, path in the bundle) of every file a user installs; ``ext_dir``: the extension
    scripts' folder (default ``editor_source("inkscape")``)."""
    ext_dir = Path(ext_dir) if ext_dir is not None else editor_source("inkscape")
    files = [(p, p.name) for p in sorted(ext_dir.iterdir()) if p.suffix in (".py", ".inx") and p.is_file()]
    if not any(p.suffix == ".inx" for p, _ in files):
        raise InputError(f"{ext_dir} holds no Inkscape extension (.inx) files; reinstall clipasso")
    contract = [p for p in sorted(CONTRACT.iterdir()) if p.is_file() and (p.suffix == ".py" or p.name == "PROTOCOL.md")]
    if not any(p.name == "__init__.py" for p in contract):
        raise InputError(f"{CONTRACT} has no __init__.py; reinstall clipasso")
    return files + [(p, f"{PACKAGE}/{p.name}") for p in contract]


def build(out: Path, zip_dir: Path | None = None, ext_dir: Path | None = None) -> tuple[Path, Path | None]:
    """Write the bundle into ``out`` and, unless ``zip_dir`` is None, the zip
    ``clipasso-inkscape-<version>.zip`` (everything under ``clipasso/``) into ``zip_dir``.
    Returns (folder, zip path or None). Only the bundle's own files in ``out`` are replaced."""
    out = Path(out)
    files = sources(ext_dir)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / PACKAGE, ignore_errors=True)  # no stale contract modules
    (out / PACKAGE).mkdir()
    for source, name in files:
        shutil.copyfile(source, out / name)
    archive_path = None
    if zip_dir is not None:
        zip_dir = Path(zip_dir)
        zip_dir.mkdir(parents=True, exist_ok=True)
        archive_path = zip_dir / f"clipasso-inkscape-{version()}.zip"
        with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED) as archive:
            for _, name in files:
                archive.write(out / name, f"{ZIP_FOLDER}/{name}")
    return out, archive_path


# --- where Inkscape keeps the user's extensions ---------------------------------------------------

INKSCAPE_CANDIDATES = {
    "darwin": ["/Applications/Inkscape.app/Contents/MacOS/inkscape"],
    "win32": [r"C:\Program Files\Inkscape\bin\inkscape.com", r"C:\Program Files (x86)\Inkscape\bin\inkscape.com"],
}
"""Where Inkscape usually is when it is not on PATH."""


def find_inkscape() -> str | None:
    """The Inkscape binary: on PATH, else at its usual place on macOS and Windows."""
    found = shutil.which("inkscape")
    if found:
        return found
    return next((p for p in INKSCAPE_CANDIDATES.get(sys.platform, []) if os.path.isfile(p)), None)


def inkscape_profile(binary: str) -> str | None:
    """What ``inkscape --user-data-directory`` prints (it honours INKSCAPE_PROFILE_DIR), or None."""
    try:
        run = subprocess.run([binary, "--user-data-directory"], capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = [line.strip() for line in run.stdout.splitlines() if line.strip()]
    return lines[-1] if run.returncode == 0 and lines and os.path.isabs(lines[-1]) else None


def default_profile() -> Path | None:
    """Inkscape's usual profile folder on this system (None where it cannot be known)."""
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "org.inkscape.Inkscape" / "config" / "inkscape"
    if sys.platform == "win32":
        appdata = os.environ.get("APPDATA")
        return Path(appdata) / "inkscape" if appdata else None
    config = os.environ.get("XDG_CONFIG_HOME")
    return (Path(config) if config and os.path.isabs(config) else home / ".config") / "inkscape"


def find_profile(profile: str | None) -> tuple[Path, str]:
    """(Inkscape profile folder, how it was found). InputError when no profile is known."""
    if profile:
        return Path(profile).expanduser().absolute(), "--profile"
    binary = find_inkscape()
    if binary:
        found = inkscape_profile(binary)
        if found:
            return Path(found), f"{binary} --user-data-directory"
    env = os.environ.get("INKSCAPE_PROFILE_DIR")
    if env:
        return Path(env).expanduser().absolute(), "INKSCAPE_PROFILE_DIR"
    usual = default_profile()
    if usual is not None and usual.is_dir():
        return usual, "Inkscape's usual folder on this system"
    where = f" and there is no Inkscape profile at {usual}" if usual is not None else ""
    raise InputError(f"Inkscape was not found (not on PATH){where}. Start Inkscape once so it makes its "
                     "profile, or name the profile folder with --profile DIR (Inkscape shows it in Edit > "
                     "Preferences > System > User config).")


# --- install and uninstall -------------------------------------------------------------------------

def _why(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


def _bytecode(folder: Path, py_names: list[str]) -> list[Path]:
    """Python's bytecode caches of the installed modules ``py_names`` (names relative to ``folder``):
    made when Inkscape runs them, removed with them."""
    found = []
    for name in py_names:
        path = folder / name
        cache = path.parent / "__pycache__"
        if cache.is_dir():
            found += [p for p in cache.glob(f"{path.stem}.*.pyc") if p.is_file() and not p.is_symlink()]
    return found


def _read_manifest(target: Path) -> dict | None:
    """The manifest of an installation in ``target``, or None when there is none (or it is not ours)."""
    try:
        data = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT or not isinstance(data.get("files"), list):
        return None
    return data


def _inside(target: Path, name: object) -> Path | None:
    """``target / name`` when ``name`` is a plain relative path that stays inside ``target``."""
    if not isinstance(name, str) or not name or os.path.isabs(name) or "\\" in name:
        return None
    parts = Path(name).parts
    if any(part in ("..", ".", "") for part in parts):
        return None
    return target.joinpath(*parts)


def _foreign(target: Path, manifest: dict) -> list[str]:
    """Paths in ``target`` that the installation of ``manifest`` did not make (nor Python's caches of
    its modules)."""
    ours = {str(p) for p in (_inside(target, n) for n in manifest["files"] + [MANIFEST]) if p is not None}
    ours |= {str(p) for p in _bytecode(target, [n for n in manifest["files"] if str(n).endswith(".py")])}
    dirs = {str(target / d) for d in manifest.get("dirs", []) if isinstance(d, str)}
    foreign = []
    for path in sorted(target.rglob("*")):
        if str(path) in ours or (path.is_dir() and not path.is_symlink()
                                 and (str(path) in dirs or path.name == "__pycache__")):
            continue
        foreign.append(path.relative_to(target).as_posix())
    return foreign


def _make_dirs(folders: list[Path]) -> list[Path]:
    """Create the missing ones of ``folders`` (outermost first); returns those created."""
    created = []
    for folder in folders:
        if folder.is_dir():
            continue
        try:
            folder.mkdir()
        except OSError as exc:
            _remove_empty(created)
            raise InputError(f"cannot create the folder {folder}: {_why(exc)}. Choose a profile folder you "
                             "can write to with --profile DIR.") from None
        created.append(folder)
    return created


def _remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            pass


def install_into(root: Path, how: str) -> list[str]:
    """Install the extensions into ``root``/extensions/clipasso; the lines to show the user."""
    extensions = root / "extensions"
    target = extensions / ZIP_FOLDER
    old = _read_manifest(target) if target.is_dir() and not target.is_symlink() else None
    if (target.exists() or target.is_symlink()) and old is None:
        raise InputError(f"{target} already exists and was not installed by 'clipasso integrate inkscape' "
                         "(an extension installed by hand?). Remove or rename it, then run this again.")
    if old is not None:
        foreign = _foreign(target, old)
        if foreign:
            raise InputError(f"{target} holds files clipasso did not install ({', '.join(foreign[:5])}"
                             f"{', ...' if len(foreign) > 5 else ''}). Move them out, then run this again.")
    ancestors = [p for p in reversed(root.parents) if not p.exists()] + [root, extensions]
    created = _make_dirs(ancestors)
    staging = None
    try:
        try:
            staging = Path(tempfile.mkdtemp(prefix=".clipasso-install-", dir=extensions))
            files = [name for _, name in sources()]
            build(staging, ext_dir=editor_source("inkscape"))
            settings = {"python": sys.executable, "version": __version__,
                        "written_by": "clipasso integrate inkscape"}
            (staging / SETTINGS).write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
            manifest = {"format": MANIFEST_FORMAT, "version": __version__, "files": [*files, SETTINGS],
                        "dirs": [PACKAGE],
                        # folders made for this install or an earlier one it replaces
                        "created": [*(old or {}).get("created", []), *(str(p) for p in created)]}
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
            staging.chmod(0o755)  # mkdtemp makes it private to the user; Inkscape only needs to read it
        except OSError as exc:
            raise InputError(f"cannot write the extension files into {extensions}: {_why(exc)}. Choose a "
                             "profile folder you can write to with --profile DIR.") from None
        if old is not None:
            retired = Path(tempfile.mkdtemp(prefix=".clipasso-old-", dir=extensions))
            try:
                os.replace(target, retired / ZIP_FOLDER)
            except OSError as exc:
                retired.rmdir()
                raise InputError(f"cannot replace the installed extensions in {target}: {_why(exc)}") from None
            try:
                os.replace(staging, target)
            except OSError as exc:
                os.replace(retired / ZIP_FOLDER, target)
                retired.rmdir()
                raise InputError(f"cannot install the extensions into {target}: {_why(exc)}") from None
            staging = None
            shutil.rmtree(retired, ignore_errors=True)  # only our files: checked by _foreign above
        else:
            try:
                os.replace(staging, target)
            except OSError as exc:
                raise InputError(f"cannot install the extensions into {target}: {_why(exc)}") from None
            staging = None
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)
        raise
    again = "" if how != "--profile" else f" --profile {root}"
    count = len(manifest["files"])  # the extensions' files and the settings: what --uninstall removes
    return [f"Installed the clipasso Inkscape extensions ({count} files) into {target}",
            f"Inkscape profile: {root} (found from {how})",
            f"Core: {sys.executable} (used while the Core tab of {MENU} names no other)",
            f"Restart Inkscape, select an image, then choose {MENU}.",
            f"To remove them again: clipasso integrate inkscape --uninstall{again}"]


def remove_from(root: Path) -> list[str]:
    """Remove what ``install_into`` put into ``root``/extensions/clipasso; the lines to show the user."""
    extensions = root / "extensions"
    target = extensions / ZIP_FOLDER
    manifest = _read_manifest(target) if target.is_dir() and not target.is_symlink() else None
    if manifest is None:
        raise InputError(f"no clipasso extensions installed by 'clipasso integrate inkscape' in {extensions} "
                         f"(no {ZIP_FOLDER}/{MANIFEST} there); nothing was removed")
    files = [p for p in (_inside(target, n) for n in manifest["files"]) if p is not None]
    caches = _bytecode(target, [n for n in manifest["files"] if str(n).endswith(".py")])
    removable = [p for p in files + caches if p.is_file() or p.is_symlink()]
    for folder in {p.parent for p in removable} | {target}:
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"cannot remove the extensions: the folder {folder} is not writable; nothing "
                             "was removed")
    removed = sum(1 for p in files if p.is_file() or p.is_symlink())  # the caches are not counted
    try:
        for path in removable:
            path.unlink()
    except OSError as exc:
        raise InputError(f"cannot remove {path}: {_why(exc)}; some extension files are left in {target} "
                         "(run this again once it can be written)") from None
    dirs = [p for p in (_inside(target, d) for d in manifest.get("dirs", [])) if p is not None]
    # emptied folders, deepest first (a module folder after its bytecode cache)
    _remove_empty(sorted({p.parent for p in caches} | set(dirs), key=lambda p: len(p.parts)))
    (target / MANIFEST).unlink()
    lines = [f"Removed the clipasso Inkscape extensions ({removed} files) from {target}"]
    try:
        target.rmdir()
    except OSError:
        left = sorted(p.relative_to(target).as_posix() for p in target.rglob("*"))
        lines.append(f"Left {target} in place: it also holds files clipasso did not install "
                     f"({', '.join(left[:5])}{', ...' if len(left) > 5 else ''})")
        return lines
    created = [Path(p) for p in manifest.get("created", []) if isinstance(p, str) and os.path.isabs(p)]
    # only folders made for the install, innermost first, and only when empty
    _remove_empty([p for p in created if p == extensions or p in extensions.parents])
    lines.append("Restart Inkscape to drop the menu entries.")
    return lines


def integrate(profile: str | None, uninstall: bool = False) -> list[str]:
    """``clipasso integrate inkscape``: install (or with ``uninstall`` remove) the extensions in the
    user's Inkscape profile. Returns the lines to print; InputError (exit 2) for every failure, with
    nothing half-installed."""
    root, how = find_profile(profile)
    if root.exists() and not root.is_dir():
        raise InputError(f"the Inkscape profile {root} is not a folder")
    return remove_from(root) if uninstall else install_into(root, how)
