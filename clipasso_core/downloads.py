"""First-run model downloads, reported: ``download`` events instead of the libraries' own bars and
messages, and every cache miss named with the folder the installed library really uses.

The CLIP checkpoints come from the Hugging Face hub the way open_clip fetches them (``HF_ENDPOINT``,
``HF_HOME`` / ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE`` apply) and go to its cache; the background
mask model comes from rembg (its own URL, into ``rembg_model_dir``). ``reporting(progress)`` routes
the events of the downloads made inside it to ``progress``.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import time
from typing import Callable

from .contract import events
from .errors import ModelUnavailableError

_REPORT: contextvars.ContextVar[Callable[[events.Event], None] | None] = contextvars.ContextVar(
    "clipasso_download_report", default=None)
REPORT_EVERY_S = 0.25
"""Least time between two download events of one file (the last one always goes out)."""
OPENAI_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
"""The checkpoint files of an open_clip hub repository, preferred first."""


@contextlib.contextmanager
def reporting(progress: Callable[[events.Event], None] | None):
    """Inside: downloads send ``events.Download`` to ``progress`` (None: to nobody)."""
    token = _REPORT.set(progress)
    try:
        yield
    finally:
        _REPORT.reset(token)


def report(what: str, received: int, total: int | None, cache: str | None) -> None:
    progress = _REPORT.get()
    if progress is not None:
        progress(events.Download(what, int(received), int(total) if total else None, cache))


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


def cached_openai_checkpoint(repo: str) -> str | None:
    """The cached checkpoint of open_clip hub repository ``repo`` (huggingface_hub's cache), or None."""
    from huggingface_hub import try_to_load_from_cache

    for filename in OPENAI_FILES:
        found = try_to_load_from_cache(repo, filename)
        if isinstance(found, str):
            return found
    return None


def fetch_openai_checkpoint(repo: str, what: str, hint: str) -> str:
    """The path of the cached checkpoint of open_clip hub repository ``repo``, downloaded first when
    missing (reported as ``what``). ModelUnavailableError with the cache folder and ``hint`` (what
    to do instead) when it can be neither found nor fetched."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    cache = str(constants.HF_HUB_CACHE)
    found = cached_openai_checkpoint(repo)
    if found:
        return found
    if constants.HF_HUB_OFFLINE:
        raise ModelUnavailableError(f"{what} is not cached in {cache} and downloads are off (HF_HUB_OFFLINE "
                                    f"is set). Connect once and run again to download it, or {hint}.")
    if not _reachable(hub_endpoint()):
        raise ModelUnavailableError(f"{what} is not cached in {cache} and the model hub ({hub_endpoint()}) "
                                    f"cannot be reached. Connect once and run again to download it, or {hint}.")
    failure: Exception | None = None
    for filename in OPENAI_FILES:
        try:
            return hf_hub_download(repo, filename, tqdm_class=_progress_class(what, cache))
        except EntryNotFoundError:
            continue  # the repository has the other file
        except _network_errors() as exc:  # cut, refused, bad reply
            failure = exc
            break
    lines = str(failure).strip().splitlines() if failure else []
    detail = f" ({failure.__class__.__name__}{': ' + lines[0] if lines else ''})" if failure else ""
    raise ModelUnavailableError(f"could not download {what} from {hub_endpoint()} into {cache}{detail}. "
                                f"Run again to retry (a partial download resumes), or {hint}.")


def _network_errors() -> tuple[type[Exception], ...]:
    """What a failed hub download raises: the hub's HTTP errors, OS errors, and the HTTP client's
    own (huggingface_hub has used httpx and httpx2)."""
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
    from urllib.parse import urlparse

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
