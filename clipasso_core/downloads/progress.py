"""Download progress for the run: ``reporting(progress, cancel)`` routes the ``download`` events of
the downloads made inside it to ``progress`` (instead of the libraries' own bars and messages) and
stops them within a fraction of a second when ``cancel`` is set (``Cancelled``; the partial file
stays for the next run); ``report`` sends one event, ``_cancelled`` is the cancel check."""
from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import Callable

from ..contract import events

_REPORT: contextvars.ContextVar[Callable[[events.Event], None] | None] = contextvars.ContextVar(
    "clipasso_download_report", default=None)
_CANCEL: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "clipasso_download_cancel", default=None)
REPORT_EVERY_S = 0.25
"""Least time between two download events of one file (the last one always goes out)."""


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
