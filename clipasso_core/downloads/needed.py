"""What a run needs, checked before anything loads: a model file as a ``Needed``, and ``require``,
which names, in one message, every model of a run that can be neither found nor downloaded now
(downloads off, or its server unreachable: ``_reachable``)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from ..errors import ModelUnavailableError


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
    from .hub import hub_endpoint  # imported here: hub imports this module

    if url.startswith(hub_endpoint()):
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            return "downloads are off: HF_HUB_OFFLINE is set"
    host = urlparse(url)
    key = f"{host.scheme}://{host.netloc}"
    if key not in reachable:
        reachable[key] = _reachable(url)
    return None if reachable[key] else f"{key} cannot be reached"



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
