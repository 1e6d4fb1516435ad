"""Atomic file writes: a temp file in the destination folder, then a rename.

Any failure to write (a missing or read-only folder, no permission, a full disk, a path such as
``/proc/x.svg``) is one ``InputError`` naming the file, and no temp file is left behind. The new file
gets the mode the old one had, else the usual mode of a new file (0o666 less the umask), not the
0o600 of a temp file.

``check_writable`` finds before a run what writing would find after it: it writes and syncs
``CHECK_BYTES`` of real data next to the target (a full disk takes an empty file, not data), then
removes it. A temp file of a killed run (``.NAME.XXXXXXXX.tmp``) cannot be told from one being
written by another process, except by its age: after a successful write of NAME, temp files of NAME
older than ``STALE_AFTER`` seconds are removed (a temp file lives for the seconds of one write).
"""
from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

from .errors import InputError

CHECK_BYTES = 64 * 1024
"""Bytes ``check_writable`` writes and syncs to find a full disk (or quota) before the run."""
STALE_AFTER = 3600.0
"""Age (seconds) after which a temp file of a target is taken as left by a killed run."""


def _new_file_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def _reason(exc: OSError, path: Path) -> str:
    if isinstance(exc, FileNotFoundError):
        if not path.parent.is_dir():
            return f"the folder {path.parent} does not exist"
        return f"{exc.strerror} (the folder {path.parent} takes no new files)"
    if isinstance(exc, NotADirectoryError):
        return f"{path.parent} is not a folder"
    if isinstance(exc, IsADirectoryError) and path.is_dir():
        return "it is a folder"
    return exc.strerror or str(exc)


def _write_temp(path: Path, data: bytes) -> str:
    """A complete temp file with ``data`` next to ``path`` (InputError naming ``path`` on failure)."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            try:  # best effort: some file systems (FAT, some network shares) refuse modes
                os.fchmod(handle.fileno(), _new_file_mode(path))
            except (OSError, AttributeError):
                pass
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return tmp
    except BaseException as exc:
        if tmp is not None:
            _remove(tmp)
        if isinstance(exc, OSError):
            raise InputError(f"could not write {path}: {_reason(exc, path)}") from None
        raise


def _remove(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _temp_name(name: str) -> re.Pattern:
    """The names ``tempfile.mkstemp`` gives the temp files of a target called ``name``."""
    return re.compile(re.escape(f".{name}.") + r"[a-z0-9_]{8}" + re.escape(".tmp"))


def remove_stale_temps(paths) -> None:
    """Remove the temp files of the targets ``paths`` left by runs that were killed while writing
    them: those older than STALE_AFTER seconds (each folder is listed once; best effort)."""
    by_folder: dict[Path, set[str]] = {}
    for path in map(Path, paths):
        by_folder.setdefault(path.parent, set()).add(path.name)
    now = time.time()
    for folder, names in by_folder.items():
        patterns = [_temp_name(name) for name in names]
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
                continue
            try:
                if (any(p.fullmatch(entry.name) for p in patterns) and entry.is_file(follow_symlinks=False)
                        and now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER):
                    os.unlink(entry.path)
            except OSError:
                pass


def write_files(files: dict, folders=()) -> None:
    """Write several files {path: bytes} all or none: every temp file is complete before the first
    is renamed into place, so a failure (a full disk, say) leaves none of them written. ``folders``:
    folders to make first when missing (their parents must exist), removed again when the write
    fails. Stale temp files of the targets are removed afterwards (``remove_stale_temps``)."""
    temps: dict[Path, str] = {}
    made: list[Path] = []
    try:
        for folder in map(Path, folders):
            if not folder.is_dir():
                try:
                    folder.mkdir()
                except OSError as exc:
                    raise InputError(f"could not create the folder {folder}: {_reason(exc, folder)}") from None
                made.append(folder)
        for path, data in files.items():
            temps[Path(path)] = _write_temp(Path(path), data)
        for path, tmp in list(temps.items()):
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise InputError(f"could not write {path}: {_reason(exc, path)}") from None
            del temps[path]
        made = []
    finally:
        for tmp in temps.values():
            _remove(tmp)
        for folder in reversed(made):  # a failure: the folders made for it go again (when empty)
            try:
                folder.rmdir()
            except OSError:
                pass
    remove_stale_temps(files)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one."""
    write_files({path: data})


def check_writable(path: str | os.PathLike) -> None:
    """Raise the InputError that writing ``path`` would raise, before any work is done: a temp file
    of CHECK_BYTES bytes is written and synced in its folder (so a full disk fails here, not after
    the run), then removed again."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"could not write {path}: it is a folder")
    _remove(_write_temp(path, os.urandom(CHECK_BYTES)))  # random: a compressing file system stores it all


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))
