"""Entry point of the ``clipasso`` command and of ``python -m clipasso_core``, and the process's
cancel (``Stop``), armed before anything slow is imported.

From the first moment, SIGINT and SIGTERM (Windows: also CTRL_BREAK) and, with ``--watch-parent``,
the parent exiting or closing stdin set one cancel event, so a cancel is never lost while torch
loads (2-5 s): the run sees it and ends as cancelled (exit 3, an ``error`` or ``done`` event; the
best sketch so far when the optimisation had run a step). Once the run has started, a second
signal stops it at once (``KeyboardInterrupt``: exit 3, nothing written). ``clipasso info`` and
``--help`` load no torch.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from importlib import import_module

PARENT = os.getppid()
"""The parent process at start-up: a parent that dies before --watch-parent is parsed still counts."""


class Stop:
    """The process's cancel. ``event`` is set by the first signal (then ``on_first`` runs, e.g. to
    say that the run is stopping) or by ``watch_parent``; a later signal raises KeyboardInterrupt in
    the main thread while ``hard`` is True (the CLI clears it while it writes files)."""

    SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGBREAK", None)) if s)

    def __init__(self):
        self.event = threading.Event()
        self.on_first: Callable[[], None] | None = None
        self.hard = False
        self.watching = False

    def install(self) -> "Stop":
        for sig in self.SIGNALS:
            signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum, frame) -> None:
        if not self.event.is_set():
            self.event.set()
            if self.on_first is not None:
                self.on_first()
        elif self.hard:
            raise KeyboardInterrupt

    def watch_parent(self, parent: int = PARENT) -> None:
        """Set ``event`` when stdin reaches end of file or the process's parent is no longer
        ``parent`` (it exited, maybe before this was called). Once per process."""
        if self.watching:
            return
        self.watching = True

        def stdin_closed():
            try:  # the raw descriptor: a daemon thread blocked in a buffered read aborts the shutdown
                while os.read(0, 4096):
                    pass
            except OSError:  # no stdin at all counts as closed
                pass
            self.event.set()

        def parent_gone():
            while os.getppid() == parent and not self.event.wait(0.5):
                pass
            self.event.set()

        threading.Thread(target=stdin_closed, daemon=True).start()
        threading.Thread(target=parent_gone, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    stop = Stop().install()
    if "--watch-parent" in args:
        stop.watch_parent()
    from .cli import main as cli_main

    if args[:1] in (["sketch"], ["animate"]) and not {"-h", "--help"} & set(args):
        loading = _say_loading(args)
        import_module(".pipeline", __package__)
        if loading:
            sys.stderr.write("\r\033[K")  # the run's own lines follow
    return cli_main(args, stop)


def progress_mode(args: list[str]) -> str:
    """The --progress value of a command line not parsed yet (the last one, as argparse takes;
    "bar" when absent): how to report what happens before (or instead of) parsing."""
    mode = "bar"
    for flag, value in zip(args, [*args[1:], ""]):
        if flag == "--progress":
            mode = value
        elif flag.startswith("--progress="):
            mode = flag.split("=", 1)[1]
    return mode


def _say_loading(args: list[str]) -> bool:
    """On a terminal, with the progress bar, say what the first seconds are spent on (torch loading)."""
    if progress_mode(args) in ("json", "none") or not sys.stderr.isatty():
        return False
    sys.stderr.write("clipasso: loading torch...")
    sys.stderr.flush()
    return True
