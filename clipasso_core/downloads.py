"""First-run model downloads: checked before any model loads, resumable, cancellable, verified,
and reported (``download`` events instead of the libraries' own bars and messages).

The CLIP checkpoints come from the Hugging Face hub the way open_clip names them (``HF_ENDPOINT``,
``HF_HOME`` / ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE`` apply) and go to huggingface_hub's cache; the
background mask model comes from rembg's own URL (read from rembg, ``rembg_source``) into rembg's
folder (``rembg_model``). Both are fetched by ``download``: into ``<file>.incomplete`` (one stable
name per file, so a killed or failed download resumes there with an HTTP Range request on the next
run), checked against the size and checksum the source states (the hub's sha256 ETag, rembg's md5),
then moved into place. ``reporting(progress, cancel)`` routes the events of the downloads made
inside it to ``progress`` and stops them within a fraction of a second when ``cancel`` is set
(``Cancelled``; the partial file stays for the next run). ``require`` checks every model a run
needs before any is loaded and names all that can be neither found nor downloaded in one message.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlparse

from .contract import events
from .errors import Cancelled, ModelUnavailableError

_REPORT: contextvars.ContextVar[Callable[[events.Event], None] | None] = contextvars.ContextVar(
    "clipasso_download_report", default=None)
_CANCEL: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "clipasso_download_cancel", default=None)
REPORT_EVERY_S = 0.25
"""Least time between two download events of one file (the last one always goes out)."""
OPENAI_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
"""The checkpoint files of an open_clip hub repository, preferred first."""
CHUNK = 1 << 16
"""Bytes read at a time: a cancel or a stop is seen between two of them."""
TIMEOUT_S = 20.0
"""Seconds a connection may take to open, or to send the next bytes, before the transfer retries."""
ATTEMPTS = 6
"""Connections one download makes in one run before it gives up (each resumes where the last broke)."""
STALE_S = 3600.0
"""Seconds after which a partial file huggingface_hub's own download left is taken as abandoned."""


@contextlib.contextmanager
def reporting(progress: Callable[[events.Event], None] | None, cancel: threading.Event | None = None):
    """Inside: downloads send ``events.Download`` to ``progress`` (None: to nobody) and raise
    ``Cancelled`` soon after ``cancel`` is set."""
    tokens = _REPORT.set(progress), _CANCEL.set(cancel)
    try:
        yield
    finally:
        _REPORT.reset(tokens[0])
        _CANCEL.reset(tokens[1])


def report(what: str, received: int, total: int | None, cache: str | None) -> None:
    progress = _REPORT.get()
    if progress is not None:
        progress(events.Download(what, int(received), int(total) if total else None, cache))


def _cancelled() -> bool:
    cancel = _CANCEL.get()
    return cancel is not None and cancel.is_set()


# ---------------------------------------------------------------------------------------------
# What a run needs, checked before anything loads


@dataclass(frozen=True)
class Needed:
    """A model file a run needs. ``found``: the file when it is here (None: it is not); ``cache``:
    the folder a download puts it in; ``source``: the URL it is downloaded from (None: it cannot
    be downloaded, e.g. a local weights file given by the user); ``instead``: what a user can do
    without a download (for a file that cannot be downloaded: what to check)."""

    what: str
    found: str | None
    cache: str | None
    source: str | None
    instead: str


def require(needed: list[Needed]) -> None:
    """ModelUnavailableError naming, in one line, every model of ``needed`` that is neither here nor
    downloadable now (downloads off, or its server unreachable), with where it would be cached and
    what to do instead. Nothing is created on disk."""
    reachable: dict[str, bool] = {}
    problems, downloadable = [], False
    for model in needed:
        if model.found is not None:
            continue
        if model.source is None:
            problems.append(f"{model.what}: {model.instead}")
            continue
        why = _why_no_download(model.source, reachable)
        if why is not None:
            problems.append(f"{model.what}, not in {model.cache} ({why}): {model.instead}")
            downloadable = True
    if problems:
        count = "a model is" if len(problems) == 1 else f"{len(problems)} models are"
        raise ModelUnavailableError(f"{count} missing: " + "; ".join(problems) + "." +
                                    (f" Connect once and run again to download {'it' if len(problems) == 1 else 'them'}."
                                     if downloadable else ""))


def _why_no_download(url: str, reachable: dict[str, bool]) -> str | None:
    """Why ``url`` cannot be downloaded now (None: it can); ``reachable`` caches hosts tried."""
    if url.startswith(hub_endpoint()):
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            return "downloads are off: HF_HUB_OFFLINE is set"
    host = urlparse(url)
    key = f"{host.scheme}://{host.netloc}"
    if key not in reachable:
        reachable[key] = _reachable(url)
    return None if reachable[key] else f"{key} cannot be reached"


# ---------------------------------------------------------------------------------------------
# One file: resumable, cancellable, verified


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


# ---------------------------------------------------------------------------------------------
# CLIP checkpoints from the Hugging Face hub


def _progress_class(what: str, cache: str):
    """A tqdm class for huggingface_hub that sends download events and prints nothing."""
    from tqdm.auto import tqdm

    class DownloadBar(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True  # draws nothing and takes no place among the terminal's bars
            super().__init__(*args, **kwargs)
            self._sent = 0.0

        def update(self, n=1):
            self.n += n  # a disabled bar does not count: this one does, for the events
            now = time.monotonic()
            if now - self._sent >= REPORT_EVERY_S or (self.total and self.n >= self.total):
                self._sent = now
                report(what, self.n, self.total, cache)
            return True

    return DownloadBar


def hub_endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def hub_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def cached_openai_checkpoint(repo: str) -> str | None:
    """The cached checkpoint of open_clip hub repository ``repo`` (huggingface_hub's cache), or None."""
    from huggingface_hub import try_to_load_from_cache

    for filename in OPENAI_FILES:
        found = try_to_load_from_cache(repo, filename)
        if isinstance(found, str):
            return found
    return None


def openai_checkpoint_needed(repo: str, what: str, hint: str) -> Needed:
    """The checkpoint of hub repository ``repo`` as a ``Needed`` (``hint``: what to do instead)."""
    return Needed(what, cached_openai_checkpoint(repo), hub_cache(), f"{hub_endpoint()}/{repo}", hint)


def fetch_openai_checkpoint(repo: str, what: str, hint: str) -> str:
    """The path of the cached checkpoint of open_clip hub repository ``repo``, downloaded first when
    missing (reported as ``what``; resumed from an earlier run's partial file; checked against the
    hub's size and sha256). ModelUnavailableError with the cache folder and ``hint`` (what to do
    instead) when it can be neither found nor fetched; ``Cancelled`` when cancelled."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError

    cache = hub_cache()
    found = cached_openai_checkpoint(repo)
    if found:
        return found
    require([openai_checkpoint_needed(repo, what, hint)])
    failure: Exception | None = None
    for filename in OPENAI_FILES:
        try:
            meta = get_hf_file_metadata(hf_hub_url(repo, filename))
            _fetch_blob(repo, meta, what, cache)
            # the blob is in place: this only links it into the cache's snapshot (no transfer)
            return hf_hub_download(repo, filename, tqdm_class=_progress_class(what, cache))
        except EntryNotFoundError:
            continue  # the repository has the other file
        except _network_errors() as exc:  # cut, refused, bad reply
            failure = exc
            break
    lines = str(failure).strip().splitlines() if failure else []
    detail = f" ({failure.__class__.__name__}{': ' + lines[0] if lines else ''})" if failure else ""
    raise ModelUnavailableError(f"could not download {what} from {hub_endpoint()} into {cache}{detail}. "
                                f"Run again to retry (the download resumes where it stopped), or {hint}.")


def _fetch_blob(repo: str, meta, what: str, cache: str) -> None:
    """Download the file described by hub metadata ``meta`` into the cache's blob of its ETag (the
    cache layout huggingface_hub documents: ``models--{org}--{name}/blobs/{etag}``), holding the
    lock huggingface_hub itself takes for that blob, and removing the partial files that its own
    killed downloads left there (``{etag}.*.incomplete``: one per process, never resumed; those
    untouched for ``STALE_S``)."""
    from huggingface_hub.utils import build_hf_headers

    folder = os.path.join(cache, "models--" + repo.replace("/", "--"))
    blob = os.path.join(folder, "blobs", meta.etag)
    if os.path.isfile(blob):
        return
    lock = os.path.join(cache, ".locks", os.path.basename(folder), f"{meta.etag}.lock")
    blobs = os.path.dirname(blob)
    for name in os.listdir(blobs) if os.path.isdir(blobs) else ():
        stale = os.path.join(blobs, name)
        if (name.startswith(f"{meta.etag}.") and name.endswith(".incomplete") and name != f"{meta.etag}.incomplete"
                and time.time() - os.path.getmtime(stale) > STALE_S):
            with contextlib.suppress(OSError):
                os.remove(stale)
    headers = build_hf_headers()
    if urlparse(meta.location).netloc != urlparse(hub_endpoint()).netloc:
        headers.pop("authorization", None)  # a signed CDN address: no token
    checksum = f"sha256:{meta.etag}" if re.fullmatch(r"[0-9a-f]{64}", meta.etag) else None
    download(meta.location, blob, what, cache, size=meta.size, checksum=checksum, headers=headers, lock=lock)


def _network_errors() -> tuple[type[Exception], ...]:
    """What a failed hub download raises: the hub's HTTP errors, OS errors (requests' among them),
    and the HTTP client's own (huggingface_hub has used httpx and httpx2)."""
    from huggingface_hub.errors import HfHubHTTPError

    found: list[type[Exception]] = [HfHubHTTPError, OSError, ValueError]
    for client in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            found.append(__import__(client).HTTPError)
    return tuple(found)


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the URL's host and port opens within ``timeout`` s (fails fast
    offline, where the HTTP client would wait for its own longer timeouts)."""
    import socket

    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname or "", port), timeout=timeout).close()
        return True
    except OSError:
        return False


def forget_cached(path: str) -> None:
    """Remove a cached file found corrupt (its hub cache entry is a link to a blob: both go), so
    the next run downloads it again."""
    real = os.path.realpath(path)
    for name in {path, real}:
        with contextlib.suppress(OSError):
            os.remove(name)


# ---------------------------------------------------------------------------------------------
# rembg's background mask models


def rembg_model(model: str) -> tuple[str, str | None]:
    """(the folder the installed rembg downloads ``model`` into, the file it would use now or None)."""
    from rembg.sessions import sessions_class

    for session in sessions_class:
        if session.name() == model:
            existing = session.resolve_existing(f"{model}.onnx") if hasattr(session, "resolve_existing") else None
            folder = session.model_dir()
            if existing is None and os.path.isfile(os.path.join(folder, f"{model}.onnx")):
                existing = os.path.join(folder, f"{model}.onnx")
            return folder, existing
    return os.path.join(sessions_class[0].rembg_home(), "models", model), None


class _Asked(Exception):
    """Raised by the stand-in for ``pooch.retrieve`` once rembg has said what it would fetch."""


def rembg_source(model: str) -> tuple[str, str | None, str] | None:
    """(URL, checksum "md5:HEX" or None, file path) of what the installed rembg would download for
    ``model``, read from rembg's own download call with ``pooch.retrieve`` stood in for (nothing is
    fetched or created); None when rembg has the file already or does not fetch it that way."""
    import pooch
    from rembg.sessions import sessions_class

    session = next((s for s in sessions_class if s.name() == model), None)
    if session is None:
        return None
    asked: dict[str, object] = {}

    def retrieve(url, known_hash=None, fname=None, path=None, **_):
        asked.update(url=url, checksum=known_hash, file=os.path.join(str(path), str(fname)))
        raise _Asked

    original, pooch.retrieve = pooch.retrieve, retrieve
    try:
        session.download_models()
    except _Asked:
        pass
    except Exception:  # a session that needs more than a name: rembg fetches it itself
        return None
    finally:
        pooch.retrieve = original
    if not asked:
        return None
    checksum = asked["checksum"]
    if isinstance(checksum, str) and ":" not in checksum:
        checksum = f"sha256:{checksum}"  # pooch's default algorithm
    return str(asked["url"]), checksum, str(asked["file"])


def mask_model_needed(model: str) -> Needed | None:
    """rembg's ``model`` as a ``Needed``; None when it is not a model rembg fetches by a plain
    download (rembg's own error then says what is wrong)."""
    folder, existing = rembg_model(model)
    source = rembg_source(model) if existing is None else None
    if existing is None and source is None:
        return None
    return Needed(f"background mask model {model}", existing, folder, source[0] if source else None,
                  f"copy {model}.onnx into {folder}, or run with --mask off")


def fetch_rembg_model(model: str) -> str | None:
    """The file of rembg's ``model``, downloaded first when missing (resumable, cancellable,
    checked against rembg's checksum), or None when rembg fetches it in its own way."""
    folder, existing = rembg_model(model)
    if existing is not None:
        return existing
    source = rembg_source(model)
    if source is None:
        return None
    url, checksum, target = source
    what = f"background mask model {model}"
    require([mask_model_needed(model)])
    try:
        download(url, target, what, folder, checksum=checksum)
    except _network_errors() as exc:
        lines = str(exc).strip().splitlines()
        raise ModelUnavailableError(
            f"could not download {what} from {url} into {folder} ({exc.__class__.__name__}"
            f"{': ' + lines[0] if lines else ''}). Run again to retry (the download resumes where it "
            f"stopped), or copy {model}.onnx there, or run with --mask off.") from None
    return target
