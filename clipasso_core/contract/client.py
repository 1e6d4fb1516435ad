"""Running the core from an editor: find it, check it, stream a run's events, cancel it.

The core is a separate process (the editors' Python needs no torch): ``clipasso`` on PATH, an
explicit executable, or ``python -m clipasso_core`` of a Python that has it. A run is started with
``--progress json --watch-parent``: the core writes one event per line (``events``) and stops by
itself, like on a cancel, when this side closes its stdin or exits. Every failure becomes one
message for the user (``CoreError``). Whatever the core writes, a run ends with one ``Exited``
(PROTOCOL.md, "What the client guarantees").
"""
from __future__ import annotations

import csv
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from . import events
from .formats import FormatError
from .options import option_text

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_SOME_FAILED = 0, 1, 2, 3, 4
"""The core's exit codes (4: ``batch`` wrote some images, others failed; its table says which)."""
MAX_LINE_BYTES = 4 * 1024 * 1024
"""Longest stdout line the client reads (the largest event, a 1000-stroke preview, is about
0.3 MB): a longer line is skipped, its rest discarded as it arrives, never held in memory."""
STDERR_TAIL_BYTES = 64 * 1024
"""How much of the core's stderr the client keeps: the end, where the core's error line is."""
REPORTED_SKIPS = 3
"""How many skipped stdout lines ``CoreRun.skipped_lines`` describes (all are counted)."""
_CHUNK = 64 * 1024


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
        out = subprocess.run([*command, "info"], capture_output=True, text=True, errors="replace",
                             timeout=timeout, stdin=subprocess.DEVNULL)
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
    """Not a protocol event: the core process ended with exit ``code`` (always the last event)."""

    code: int


def bounded_lines(stream, limit: int = MAX_LINE_BYTES):
    """The lines (bytes, without their newline) of a binary stream read in chunks; None in place
    of a line longer than ``limit`` bytes, whose rest is read and dropped. Holds at most ``limit``
    bytes plus one chunk."""
    buffer, discarding = bytearray(), False
    while chunk := stream.read(_CHUNK):
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            if discarding:
                discarding = False  # the end of the over-long line
            else:
                buffer += chunk[start:end]
                yield bytes(buffer) if len(buffer) <= limit else None
                buffer.clear()
            start = end + 1
        if not discarding:
            buffer += chunk[start:]
            if len(buffer) > limit:
                yield None
                buffer.clear()
                discarding = True
    if buffer:
        yield bytes(buffer)  # a last line without a newline


class CoreRun:
    """One core process (``clipasso SUBCOMMAND ARGS --progress json --watch-parent``).

    ``poll()`` returns the typed events that arrived since the last call; the last one is always
    exactly one ``Exited``, whatever the core wrote, and ``running`` is False from then on. Every
    stdout line becomes an event or is skipped: counted in ``skipped``, the first REPORTED_SKIPS
    described in ``skipped_lines`` (``skip_report()``: one line). stdout lines are read up to
    MAX_LINE_BYTES, stderr is drained as it comes and only its last STDERR_TAIL_BYTES are kept.
    When the client itself cannot go on reading (a bug), it stops the core and ``failure()`` says
    so. ``DRAIN_S``: how long the output may take to be read after the core exited (a process it
    started may hold the pipes open) before ``Exited`` is queued anyway.
    """

    DRAIN_S = 10.0

    def __init__(self, command: list[str], subcommand: str, args: list[str]):
        windows = sys.platform == "win32"
        try:
            self.process = subprocess.Popen(
                [*command, subcommand, *args, "--progress", "json", "--watch-parent"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
                creationflags=subprocess.CREATE_NEW_PROCESS_GROUP if windows else 0)
        except OSError as exc:
            raise CoreError(f"could not start the core ({' '.join(command)}): {exc}") from None
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()  # events and Exited: nothing is queued after Exited
        self._ended = self._closing = False
        self._stderr = bytearray()
        self._stderr_cut = False
        self.error: str = ""
        """The first failure seen (an ``error`` event, a protocol mismatch, or the client's own)."""
        self.skipped = 0
        """stdout lines that were not events of this protocol (blank lines are not counted)."""
        self.skipped_lines: list[str] = []
        """What the first REPORTED_SKIPS skipped lines were ("line N: why")."""
        self.done: events.Done | None = None
        self.batch: events.BatchDone | None = None
        """``batch``: its ``batch`` event (the run ended; its ``image`` events said how each image did)."""
        self.returncode: int | None = None
        self._reader = threading.Thread(target=self._guarded, args=(self._read_stdout, "output"), daemon=True)
        self._err_reader = threading.Thread(target=self._guarded, args=(self._read_stderr, "error output"),
                                            daemon=True)
        self._waiter = threading.Thread(target=self._wait, daemon=True)
        for thread in (self._reader, self._err_reader, self._waiter):
            thread.start()

    def _guarded(self, read, what: str) -> None:
        """Run a pipe's reader; if it fails (a bug), the run fails with that message and the core,
        whose pipe nobody reads any more, is stopped."""
        try:
            read()
        except Exception as exc:
            if self._closing:  # close() took the pipes away
                return
            self._fail(f"the editor could not read the clipasso core's {what} "
                       f"({exc.__class__.__name__}: {exc})")
            try:
                self.process.kill()
            except OSError:
                pass

    def _fail(self, message: str) -> None:
        if not self.error:
            self.error = message

    def _read_stdout(self) -> None:
        for number, line in enumerate(bounded_lines(self.process.stdout), 1):
            if line is None:
                self._skip(number, f"longer than {MAX_LINE_BYTES} bytes")
            elif line.strip():
                self._take(number, line)

    def _take(self, number: int, line: bytes) -> None:
        """One stdout line: queued as its event, or skipped."""
        try:
            event = events.from_line(line.decode("utf-8"))
        except events.ProtocolMismatch as exc:
            if not self.error:  # another protocol version: nothing it says can be read
                self.error = str(exc)
                self.cancel()
            return
        except UnicodeDecodeError:
            self._skip(number, f"not UTF-8 text: {line[:40]!r}")
            return
        except FormatError as exc:  # stray library output, or a malformed event
            self._skip(number, str(exc))
            return
        except Exception as exc:  # whatever else a line does to the parser: that line is lost, not the run
            self._skip(number, f"{exc.__class__.__name__}: {exc}")
            return
        with self._lock:
            if self._ended:
                return
            if isinstance(event, events.Error) and not self.error:
                self.error = event.message
            elif isinstance(event, events.Done):
                self.done = event
            elif isinstance(event, events.BatchDone):
                self.batch = event
            self._queue.put(event)

    def _skip(self, number: int, reason: str) -> None:
        self.skipped += 1
        if len(self.skipped_lines) < REPORTED_SKIPS:
            self.skipped_lines.append(f"line {number}: {reason[:200]}")

    def _read_stderr(self) -> None:
        while chunk := self.process.stderr.read(_CHUNK):
            self._stderr += chunk
            if len(self._stderr) > STDERR_TAIL_BYTES:
                del self._stderr[:len(self._stderr) - STDERR_TAIL_BYTES]
                self._stderr_cut = True

    def _wait(self) -> None:
        """Wait for the core to exit, give its output DRAIN_S to be read, then queue Exited."""
        try:
            self.process.wait()
        except Exception as exc:  # not expected: still end the run
            self._fail(f"the editor lost track of the clipasso core ({exc.__class__.__name__}: {exc})")
            self.process.kill()
        finally:
            deadline = time.monotonic() + self.DRAIN_S
            for reader in (self._reader, self._err_reader):
                reader.join(timeout=max(0.0, deadline - time.monotonic()))
            with self._lock:
                self._ended = True
                code = self.process.returncode
                self.returncode = EXIT_INTERNAL if code is None else code
                self._queue.put(Exited(self.returncode))

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
        """True until ``Exited`` is queued (the core exited and its output was read)."""
        return self.returncode is None

    def cancel(self) -> None:
        """Ask the core to stop: it writes its best result so far, reports ``done`` and exits 3."""
        if self.process.poll() is None:
            self.process.send_signal(signal.CTRL_BREAK_EVENT if sys.platform == "win32" else signal.SIGINT)

    def close(self) -> None:
        """Stop the core if it still runs (closing its stdin, then killing it) and free the pipes."""
        self._closing = True
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

    def stderr_tail(self) -> str:
        """The end of what the core wrote on stderr (at most STDERR_TAIL_BYTES, whole lines)."""
        text = bytes(self._stderr).decode("utf-8", errors="replace")
        return text.split("\n", 1)[-1] if self._stderr_cut else text

    def skip_report(self) -> str | None:
        """One line on the stdout lines that were skipped (None when there were none)."""
        if not self.skipped:
            return None
        more = self.skipped - len(self.skipped_lines)
        return (f"{self.skipped} line{'s' if self.skipped > 1 else ''} of the core's output "
                f"{'were' if self.skipped > 1 else 'was'} not a progress event and skipped: "
                f"{'; '.join(self.skipped_lines)}{f'; and {more} more' if more else ''}")

    def failure(self) -> str | None:
        """One message for the user when the run failed (None when it succeeded or was cancelled
        with a result, or ``batch`` ended, some of its images failed or not); when the core failed
        without saying why in an event, the last line of its stderr and what was skipped of its stdout."""
        if self.error:
            return self.error
        if self.returncode in (EXIT_OK, EXIT_CANCELLED) and self.done is not None:
            return None
        if self.returncode in (EXIT_OK, EXIT_CANCELLED, EXIT_SOME_FAILED) and self.batch is not None:
            return None
        if self.returncode is None:
            return None
        lines = self.stderr_tail().strip().splitlines()
        detail = lines[-1] if lines else "no message"
        skipped = self.skip_report()
        return f"the clipasso core failed (exit {self.returncode}): {detail}" + (f" ({skipped})" if skipped else "")


LIST_COLUMNS = ("path", "strokes", "seed", "width")
"""The columns of a ``clipasso batch`` list file, in the order of a row without a header."""
BATCH_LIST = "images.csv"
"""The list file ``batch_inputs`` writes."""


def batch_inputs(paths: list[str], widths: list[float], folder: str) -> tuple[str, list[str]]:
    """The INPUT of ``clipasso batch`` for an editor's image files, each sketched at its own stroke
    width (``widths``, the ``--width`` each would get alone): a list file in ``folder`` (``path`` and
    ``width`` columns) naming one file in ``folder`` per path (``0.png``, ``1.jpg``, ...; hard links
    where the system allows, else copies), so that the core's image k is ``paths[k]`` whatever the
    paths are (it sketches a file given twice once, and names its outputs after the files' names).
    Returns the list file and the files, in ``paths``' order (the core names image k by its file)."""
    if len(widths) != len(paths):
        raise ValueError(f"{len(paths)} images but {len(widths)} widths")
    os.makedirs(folder, exist_ok=True)
    files, rows = [], []
    for index, (path, width) in enumerate(zip(paths, widths)):
        name = f"{index}{os.path.splitext(path)[1].lower()}"
        link = os.path.join(folder, name)
        try:
            os.link(path, link)
        except OSError:
            shutil.copyfile(path, link)
        files.append(link)
        rows.append({"path": name, "width": option_text("stroke_width", width)})
    listed = os.path.join(folder, BATCH_LIST)
    with open(listed, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, LIST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return listed, files


def run_to_end(command: list[str], subcommand: str, args: list[str], on_event=None,
               timeout: float | None = None) -> events.Done:
    """Run the core to the end (blocking); ``on_event`` sees each event. Returns the ``done`` event
    (None for ``batch``: ``on_event`` sees its ``image`` events); raises CoreError with one message
    when the run fails or the core stays silent (no event) for ``timeout`` s."""
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
