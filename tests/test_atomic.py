"""Atomic writes (clipasso_core.atomic): the complete file or none, and one clear error naming the
file when it cannot be written, with no temp file left behind."""
from __future__ import annotations

import errno
import os
import stat
import time

import pytest

from clipasso_core import atomic
from clipasso_core.atomic import check_writable, write_bytes, write_files, write_text
from clipasso_core.errors import InputError


def names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_writes_and_replaces_leaving_only_the_file(tmp_path):
    target = tmp_path / "a.svg"
    write_text(target, "one")
    write_bytes(target, b"two")
    assert target.read_text() == "two" and names(tmp_path) == ["a.svg"]


def test_mode_follows_the_umask_and_a_replaced_file_keeps_its_mode(tmp_path):
    target = tmp_path / "a.svg"
    old = os.umask(0o027)
    try:
        write_text(target, "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # not the temp file's 0o600
    target.chmod(0o604)
    write_text(target, "y")
    assert stat.S_IMODE(target.stat().st_mode) == 0o604


@pytest.mark.parametrize("where, message", [
    ("missing/x.svg", "the folder .*missing does not exist"),
    ("a-file/x.svg", ".*a-file is not a folder"),
    ("a-folder", "it is a folder"),
])
def test_bad_destinations_are_one_clear_error(tmp_path, where, message):
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-folder").mkdir()
    target = tmp_path / where
    with pytest.raises(InputError, match=f"could not write {target}: {message}"):
        write_text(target, "x")
    assert names(tmp_path) == ["a-file", "a-folder"]  # no temp file left


def test_proc_is_one_clear_error():
    with pytest.raises(InputError, match="could not write /proc/x.svg: "):
        write_text("/proc/x.svg", "x")
    assert not os.path.exists("/proc/x.svg")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_folder_is_one_clear_error(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(InputError, match=f"could not write {folder / 'x.svg'}: Permission denied"):
            write_text(folder / "x.svg", "x")
        assert names(folder) == []
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("step, code", [("fsync", errno.ENOSPC), ("replace", errno.EROFS), ("replace", errno.EACCES)])
def test_failures_after_the_temp_file_exists_remove_it(tmp_path, monkeypatch, step, code):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.os, step, fail)
    target = tmp_path / "x.svg"
    with pytest.raises(InputError, match=f"could not write {target}: {os.strerror(code)}"):
        write_text(target, "x")
    assert names(tmp_path) == []


def test_an_interrupt_while_writing_removes_the_temp_file(tmp_path, monkeypatch):
    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_text(tmp_path / "x.svg", "x")
    assert names(tmp_path) == []


@pytest.mark.parametrize("name, message", [
    ("missing/x.svg", "the folder .*missing does not exist"),
    ("a-folder", "it is a folder"),
])
def test_check_writable_fails_as_the_write_would(tmp_path, name, message):
    (tmp_path / "a-folder").mkdir()
    with pytest.raises(InputError, match=message):
        check_writable(tmp_path / name)
    with pytest.raises(InputError, match="could not write /proc/x.svg"):
        check_writable("/proc/x.svg")
    check_writable(tmp_path / "fine.svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-folder"]


def test_write_files_is_all_or_none(tmp_path):
    with pytest.raises(InputError, match="could not write /proc/x.json"):
        write_files({tmp_path / "a.svg": b"svg", "/proc/x.json": b"{}"})
    assert list(tmp_path.iterdir()) == []
    write_files({tmp_path / "a.svg": b"svg", tmp_path / "a.json": b"{}"})
    assert (tmp_path / "a.svg").read_bytes() == b"svg" and (tmp_path / "a.json").read_bytes() == b"{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.svg"]


class _FullDisk:
    """A file object on a full disk: opening works (an empty file fits), writing data does not."""

    def __init__(self, handle):
        self.handle = handle

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()

    def fileno(self):
        return self.handle.fileno()

    def write(self, data):
        if data:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def flush(self):
        pass


def test_check_writable_writes_real_data_so_a_full_disk_fails_before_the_run(tmp_path, monkeypatch):
    real_fdopen, written = os.fdopen, []
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: written.append(os.fstat(fd).st_size))
    check_writable(tmp_path / "x.svg")
    assert written == [atomic.CHECK_BYTES] and names(tmp_path) == []  # synced data, then removed
    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: _FullDisk(real_fdopen(fd, mode)))
    with pytest.raises(InputError, match=f"could not write {tmp_path / 'x.svg'}: No space left on device"):
        check_writable(tmp_path / "x.svg")
    assert names(tmp_path) == []


def test_folders_made_for_a_write_are_removed_when_it_fails(tmp_path, monkeypatch):
    frames = tmp_path / "frames"
    with pytest.raises(InputError, match="could not write /proc/x.json"):
        write_files({frames / "frame_00000.svg": b"svg", "/proc/x.json": b"{}"}, folders=[frames])
    assert names(tmp_path) == []  # no empty folder left behind
    (tmp_path / "kept").mkdir()
    with pytest.raises(InputError):
        write_files({tmp_path / "kept" / "a.svg": b"svg", "/proc/x.json": b"{}"}, folders=[tmp_path / "kept"])
    assert names(tmp_path) == ["kept"]  # a folder that was there stays
    with pytest.raises(InputError, match="could not create the folder .*missing/frames"):
        write_files({}, folders=[tmp_path / "missing" / "frames"])
    write_files({frames / "frame_00000.svg": b"svg"}, folders=[frames])
    assert names(frames) == ["frame_00000.svg"]


def test_stale_temp_files_of_a_killed_run_are_removed_by_the_next_write(tmp_path):
    old = time.time() - atomic.STALE_AFTER - 60
    stale = tmp_path / ".x.svg.ab12_z9q.tmp"  # a temp file of x.svg left by a killed run
    fresh = tmp_path / ".x.svg.cd34efgh.tmp"  # maybe another process writing x.svg right now
    other = tmp_path / ".y.svg.ab12_z9q.tmp"  # another target's
    mine = tmp_path / ".x.svg.notes.tmp"  # not a temp file name of ours
    for path in (stale, fresh, other, mine):
        path.write_bytes(b"half")
    for path in (stale, other, mine):
        os.utime(path, (old, old))
    write_text(tmp_path / "x.svg", "x")
    assert names(tmp_path) == sorted([fresh.name, other.name, mine.name, "x.svg"])
