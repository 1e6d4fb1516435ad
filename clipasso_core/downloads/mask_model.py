"""rembg's background mask models (U^2-Net): the folder rembg keeps ``model`` in and the file it
would use (``rembg_model``), what rembg would download for it (``rembg_source``: its own URL and
md5), what a run needs (``mask_model_needed``), and fetching it through ``download``
(``fetch_rembg_model``)."""
from __future__ import annotations

import os

from ..errors import ModelUnavailableError
from .hub import _network_errors
from .needed import Needed, require
from .transfer import download


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
