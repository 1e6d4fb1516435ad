"""One file, resumable, cancellable and verified: ``download`` fetches a URL into
``<file>.incomplete`` (one stable name per file, so a killed or failed download resumes there with
an HTTP Range request on the next run), checks it against the size and checksum the source states
(the hub's sha256 ETag, rembg's md5), then moves it into place; a lock file keeps two processes off
one download, and folders it made go again unless they hold a partial file."""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import time

from ..errors import Cancelled, ModelUnavailableError
from .progress import REPORT_EVERY_S, _cancelled, report

CHUNK = 1 << 16
"""Bytes read at a time: a cancel or a stop is seen between two of them."""
TIMEOUT_S = 20.0
"""Seconds a connection may take to open, or to send the next bytes, before the transfer retries."""
ATTEMPTS = 6
"""Connections one download makes in one run before it gives up (each resumes where the last broke)."""


def download(url: str, target: str, what: str, cache: str, *, size: int | None = None,
             checksum: str | None = None, headers: dict[str, str] | None = None,
             lock: str | None = None) -> None:
    """Fetch ``url`` into ``target`` (reported as ``what`` going to ``cache``) through the partial
    file ``target + ".incomplete"``, which a failed or cancelled run leaves for the next one to
    resume. ``size`` (bytes) and ``checksum`` ("sha256:HEX" or "md5:HEX"), when known, are checked
    before the file is moved into place; a file that fails them is removed. ``lock``: the lock
    file that keeps two processes off one download (default: beside the partial file, removed
    when done). Raises ``Cancelled`` when the reporting context's cancel is set,
    ModelUnavailableError for a damaged download, the HTTP client's errors (OSError) for a failed
    transfer. Folders it made stay only when they hold a partial file."""
    partial = target + ".incomplete"
    made = _make_folders(os.path.dirname(target))
    lock_path = lock or partial + ".lock"
    made += _make_folders(os.path.dirname(lock_path))
    try:
        with _locked(lock_path):
            if os.path.isfile(target):  # another run finished it meanwhile
                return
            if size is not None and os.path.isfile(partial) and os.path.getsize(partial) > size:
                os.remove(partial)  # not a prefix of this file
            if size is None or not os.path.isfile(partial) or os.path.getsize(partial) < size:
                _transfer(url, partial, headers or {}, what, cache)
            _verify(partial, size, checksum, what)
            os.replace(partial, target)
    finally:
        if lock is None:
            with contextlib.suppress(OSError):
                os.remove(lock_path)
        if os.path.isfile(partial) and os.path.getsize(partial) == 0:
            os.remove(partial)
        _remove_empty(made)


class _Transfer:
    """The bytes of ``url`` appended to ``partial`` from where it ends (HTTP Range), 64 KiB at a
    time, in a worker thread that stops before its next write once ``stop`` is set."""

    def __init__(self, url: str, partial: str, headers: dict[str, str]):
        self.url, self.partial, self.headers = url, partial, headers
        self.received = os.path.getsize(partial) if os.path.isfile(partial) else 0
        self.resumed: int | None = None  # where the first answer's bytes start, once it came
        self.total: int | None = None
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # handed to the waiting thread
            self.error = exc

    def _run(self) -> None:
        import requests

        for attempt in range(ATTEMPTS):
            try:
                self._connection()
                return
            except _Restart:
                continue
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError):
                # a connection that broke is made again; a server never reached fails at once
                if self.resumed is None or attempt == ATTEMPTS - 1 or self.stop.wait(min(1.0 + attempt, 5.0)):
                    raise

    def _connection(self) -> None:
        import requests

        have = os.path.getsize(self.partial) if os.path.isfile(self.partial) else 0
        headers = dict(self.headers, **({"Range": f"bytes={have}-"} if have else {}),
                       **{"Accept-Encoding": "identity"})
        with requests.get(self.url, headers=headers, stream=True, timeout=TIMEOUT_S) as response:
            if response.status_code == 416 and have:  # the partial file is longer than this one
                os.remove(self.partial)
                raise _Restart
            response.raise_for_status()
            if response.status_code != 206:
                have = 0  # the whole file came (the server ignores ranges)
            self.total = _total_size(response, have)
            self.received = have
            if self.resumed is None:
                self.resumed = have
            with open(self.partial, "ab") as out:
                out.truncate(have)
                for chunk in response.iter_content(CHUNK):
                    if self.stop.is_set():
                        return
                    out.write(chunk)
                    self.received += len(chunk)


class _Restart(Exception):
    """The partial file did not fit the file on the server: it was removed, start again."""


def _total_size(response, start: int) -> int | None:
    """The whole file's size from a (ranged) response's headers, or None."""
    ranged = re.search(r"/(\d+)\s*$", response.headers.get("Content-Range", ""))
    if ranged:
        return int(ranged.group(1))
    length = response.headers.get("Content-Length")
    return start + int(length) if length and length.isdigit() else None


def _transfer(url: str, partial: str, headers: dict[str, str], what: str, cache: str) -> None:
    """Run ``_Transfer`` in a worker thread while this one reports progress and watches the cancel,
    so that a cancel takes effect within ~0.1 s even when the network is stalled."""
    transfer = _Transfer(url, partial, headers)
    worker = threading.Thread(target=transfer.run, name="clipasso-download", daemon=True)
    worker.start()
    announced, sent = False, time.monotonic()
    try:
        while worker.is_alive():
            worker.join(0.1)
            if _cancelled():
                raise Cancelled(f"cancelled while downloading {what}: the {transfer.received} bytes so far are "
                                f"kept in {cache} and the next run resumes there; nothing written")
            if not announced and transfer.resumed is not None:  # the first event: where it starts
                announced, sent = True, time.monotonic()
                report(what, transfer.resumed, transfer.total, cache)
            elif announced and time.monotonic() - sent >= REPORT_EVERY_S:
                sent = time.monotonic()
                report(what, transfer.received, transfer.total, cache)
    finally:
        transfer.stop.set()
        worker.join(1.0)  # it stops before its next write; a stalled read is left behind
    if transfer.error is not None:
        raise transfer.error
    report(what, transfer.received, transfer.total or transfer.received, cache)


def _verify(partial: str, size: int | None, checksum: str | None, what: str) -> None:
    """ModelUnavailableError (and the file removed) when the downloaded file is not the one stated."""
    actual = os.path.getsize(partial)
    problem = None
    if size is not None and actual != size:
        problem = f"{actual} bytes instead of {size}"
    elif checksum:
        algorithm, _, expected = checksum.partition(":")
        digest = hashlib.new(algorithm)
        with open(partial, "rb") as data:
            for block in iter(lambda: data.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected.lower():
            problem = f"its {algorithm} is not the one its source states"
    if problem:
        os.remove(partial)
        raise ModelUnavailableError(f"the downloaded {what} was damaged ({problem}); it was removed: run again "
                                    "to download it again")


@contextlib.contextmanager
def _locked(path: str):
    """Hold the file lock ``path`` (waiting for another process's download; a cancel stops the wait)."""
    from filelock import FileLock, Timeout

    lock = FileLock(path)
    while True:
        try:
            lock.acquire(timeout=0.2)
            break
        except Timeout:
            if _cancelled():
                raise Cancelled("cancelled while waiting for another run's download; nothing written") from None
    try:
        yield
    finally:
        lock.release()


def _make_folders(folder: str) -> list[str]:
    """Create ``folder`` and its missing parents; the ones created, deepest first."""
    made = []
    while folder and not os.path.isdir(folder):
        made.append(folder)
        folder = os.path.dirname(folder)
    for path in reversed(made):
        os.makedirs(path, exist_ok=True)
    return made


def _remove_empty(folders: list[str]) -> None:
    """Remove those of ``folders`` (deepest first) that are empty."""
    for folder in folders:
        with contextlib.suppress(OSError):
            os.rmdir(folder)
