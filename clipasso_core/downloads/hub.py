"""OpenAI's CLIP checkpoints from the Hugging Face hub, the way open_clip names them (``HF_ENDPOINT``,
``HF_HOME`` / ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE`` apply), into huggingface_hub's cache: where
they are (``hub_endpoint``, ``hub_cache``, ``cached_openai_checkpoint``), what a run needs
(``openai_checkpoint_needed``), fetching one (``fetch_openai_checkpoint``, through ``download``
into the cache's blob, clearing the stale partial files huggingface_hub's own downloads left), and
removing a cached file found corrupt (``forget_cached``)."""
from __future__ import annotations

import contextlib
import os
import re
import time
from urllib.parse import urlparse

from ..errors import ModelUnavailableError
from .needed import Needed, require
from .progress import REPORT_EVERY_S, report
from .transfer import download

OPENAI_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
"""The checkpoint files of an open_clip hub repository, preferred first."""
STALE_S = 3600.0
"""Seconds after which a partial file huggingface_hub's own download left is taken as abandoned."""


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


def forget_cached(path: str) -> None:
    """Remove a cached file found corrupt (its hub cache entry is a link to a blob: both go), so
    the next run downloads it again."""
    real = os.path.realpath(path)
    for name in {path, real}:
        with contextlib.suppress(OSError):
            os.remove(name)
