"""Running the core from an editor: find it, check it, stream a run's events, cancel it.

The core is a separate process (the editors' Python needs no torch): ``clipasso`` on PATH, an
explicit executable, or ``python -m clipasso_core`` of a Python that has it. A run is started with
``--progress json --watch-parent``: the core writes one event per line (``events``) and stops by
itself, like on a cancel, when this side closes its stdin or exits. Every failure becomes one
message for the user (``CoreError``).
"""
from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass

from . import events
from .formats import FormatError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 3
"""The core's exit codes."""


class CoreError(Exception):
    """The core is missing, speaks another protocol, or failed; the message is for the user."""


def core_command(python: str = "", executable: str = "", name: str = "clipasso") -> list[str]:
    """The command prefix that runs the core: a Python interpreter with clipasso_core, an explicit
    executable, or ``name`` looked up on PATH."""
    if python:
        if not (os.path.isfile(python) and os.access(python, os.X_OK)):
            raise CoreError(f"Python interpreter not found: {python}")
        return [python, "-m", "clipasso_core"]
    if executable:
        if not os.path.isfile(executable):
            raise CoreError(f"clipasso core not found: {executable}")
        return [executable]
    found = shutil.which(name)
    if not found:
        raise CoreError(f"The clipasso core was not found ('{name}' is not on PATH). Install it with "
                        "'pip install clipasso', or set the Python interpreter that has clipasso_core "
                        "in the add-on's preferences (Inkscape: the extension's Core tab).")
    return [found]


def check_core(command: list[str], timeout: float = 120) -> str:
    """The core's version when it speaks this protocol (``clipasso info``), else CoreError."""
    try:
        out = subprocess.run([*command, "info"], capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CoreError(f"could not run the core ({' '.join(command)}): {exc}") from None
    lines = out.stdout.strip().splitlines()
    try:
        info = events.from_line(lines[-1]) if lines else None
    except events.ProtocolMismatch as exc:
        raise CoreError(str(exc)) from None
    except FormatError:
        info = None
    if out.returncode != 0 or not isinstance(info, events.Info):
        detail = (out.stderr.strip().splitlines() or [out.stdout.strip() or "no output"])[-1]
        raise CoreError(f"'{' '.join(command)}' is not a working clipasso core: {detail}")
    return info.version


@dataclass
class Exited:
    """Not a protocol event: the core process ended with exit ``code``."""

    code: int


class CoreRun:
    """One core process (``clipasso SUBCOMMAND ARGS --progress json --watch-parent``).

    ``poll()`` returns the typed events that arrived since the last call, ending with ``Exited``.
    """

    def __init__(self, command: list[str], subcommand: str, args: list[str]):
        windows = sys.platform == "win32"
        try:
            self.process = subprocess.Popen(
                [*command, subcommand, *args, "--progress", "json", "--watch-parent"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                encoding="utf-8", bufsize=1,
                creationflags=subprocess.CREATE_NEW_PROCESS_GROUP if windows else 0)
        except OSError as exc:
            raise CoreError(f"could not start the core ({' '.join(command)}): {exc}") from None
        self._queue: queue.Queue = queue.Queue()
        self._stderr: list[str] = []
        self.error: str = ""
        """The first failure seen (an ``error`` event, or a protocol mismatch)."""
        self.done: events.Done | None = None
        self.returncode: int | None = None
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        self._err_reader = threading.Thread(target=lambda: self._stderr.extend(self.process.stderr),
                                            daemon=True)
        self._err_reader.start()

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            if not line.strip():
                continue
            try:
                event = events.from_line(line)
            except events.ProtocolMismatch as exc:
                if not self.error:  # another protocol version: nothing it says can be read
                    self.error = str(exc)
                    self.cancel()
                continue
            except FormatError:
                continue  # stray library output on stdout, or a malformed event: not for us
            if isinstance(event, events.Error) and not self.error:
                self.error = event.message
            elif isinstance(event, events.Done):
                self.done = event
            self._queue.put(event)
        code = self.process.wait()
        self._err_reader.join(timeout=5)
        self.returncode = code
        self._queue.put(Exited(code))

    def poll(self) -> list:
        """Events that arrived since the last call (never blocks)."""
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def events(self, timeout: float | None = None):
        """Iterate over events as they arrive, up to and including ``Exited``."""
        while True:
            event = self._queue.get(timeout=timeout)
            yield event
            if isinstance(event, Exited):
                return

    @property
    def running(self) -> bool:
        return self.returncode is None

    def cancel(self) -> None:
        """Ask the core to stop: it writes its best result so far, reports ``done`` and exits 3."""
        if self.process.poll() is None:
            self.process.send_signal(signal.CTRL_BREAK_EVENT if sys.platform == "win32" else signal.SIGINT)

    def close(self) -> None:
        """Stop the core if it still runs (closing its stdin, then killing it) and free the pipes."""
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                pipe.close()
            except OSError:
                pass

    def failure(self) -> str | None:
        """One message for the user when the run failed (None when it succeeded or was cancelled
        with a result)."""
        if self.error:
            return self.error
        if self.returncode in (EXIT_OK, EXIT_CANCELLED) and self.done is not None:
            return None
        if self.returncode is None:
            return None
        lines = "".join(self._stderr).strip().splitlines()
        detail = lines[-1] if lines else "no message"
        return f"the clipasso core failed (exit {self.returncode}): {detail}"


def run_to_end(command: list[str], subcommand: str, args: list[str], on_event=None,
               timeout: float | None = None) -> events.Done:
    """Run the core to the end (blocking); ``on_event`` sees each event. Returns the ``done`` event;
    raises CoreError with one message when the run fails or the core stays silent (no event) for
    ``timeout`` s."""
    run = CoreRun(command, subcommand, args)
    try:
        for event in run.events(timeout=timeout):
            if on_event is not None:
                on_event(event)
    except queue.Empty:
        raise CoreError(f"the clipasso core reported nothing for {timeout:g} s and was stopped") from None
    finally:
        run.close()
    message = run.failure()
    if message:
        raise CoreError(message)
    return run.done
