"""Atomic file writes: a temp file in the destination folder, then a rename.

Any failure to write (a missing or read-only folder, no permission, a full disk, a path such as
``/proc/x.svg``) is one ``InputError`` naming the file, and no temp file is left behind. The new file
gets the mode the old one had, else the usual mode of a new file (0o666 less the umask), not the
0o600 of a temp file.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import InputError


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


def write_files(files: dict) -> None:
    """Write several files {path: bytes} all or none: every temp file is complete before the first
    is renamed into place, so a failure (a full disk, say) leaves none of them written."""
    temps: dict[Path, str] = {}
    try:
        for path, data in files.items():
            temps[Path(path)] = _write_temp(Path(path), data)
        for path, tmp in list(temps.items()):
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise InputError(f"could not write {path}: {_reason(exc, path)}") from None
            del temps[path]
    finally:
        for tmp in temps.values():
            _remove(tmp)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one."""
    write_files({path: data})


def check_writable(path: str | os.PathLike) -> None:
    """Raise the InputError that writing ``path`` would raise, before any work is done: a temp file
    is created in its folder and removed again."""
    path = Path(path)
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise InputError(f"could not write {path}: {_reason(exc, path)}") from None


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))
