"""Running the clipasso core from Blender, without bpy: finding it, checking it, streaming a run.

The core is a separate process (Blender's Python needs no torch). A run reads the core's JSON
progress protocol (version 1) from its stdout on a thread; the UI polls ``CoreRun.poll()``.
"""
from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading

PROTOCOL_VERSION = 1


class CoreError(Exception):
    """The core is missing, the wrong version, or failed; the message is for the user."""


def core_command(python: str = "", executable: str = "") -> list[str]:
    """How to run the core: a Python interpreter with clipasso_core, an explicit executable, or
    ``clipasso`` on PATH."""
    if python:
        if not os.path.isfile(python):
            raise CoreError(f"Python interpreter not found: {python}")
        return [python, "-m", "clipasso_core"]
    if executable:
        if not os.path.isfile(executable):
            raise CoreError(f"clipasso core not found: {executable}")
        return [executable]
    found = shutil.which("clipasso")
    if not found:
        raise CoreError("clipasso core not found: 'clipasso' is not on PATH. Install it (pip install "
                        "clipasso) or set its Python interpreter in the add-on preferences.")
    return [found]


def check_core(command: list[str]) -> str:
    """The core's version, if it speaks this add-on's protocol; else CoreError."""
    try:
        out = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CoreError(f"could not run the core ({' '.join(command)}): {exc}") from None
    match = re.search(r"clipasso (\S+) \(protocol (\d+)\)", out.stdout)
    if out.returncode != 0 or not match:
        detail = (out.stderr.strip().splitlines() or [out.stdout.strip() or "no output"])[-1]
        raise CoreError(f"'{' '.join(command)}' is not a working clipasso core: {detail}")
    if int(match.group(2)) != PROTOCOL_VERSION:
        raise CoreError(f"clipasso core {match.group(1)} speaks protocol {match.group(2)}; this add-on "
                        f"needs protocol {PROTOCOL_VERSION}. Update the core or the add-on.")
    return match.group(1)


class CoreRun:
    """One ``clipasso sketch`` process; ``poll()`` returns the events that arrived since last time."""

    def __init__(self, command: list[str], args: list[str]):
        flags = subprocess.CREATE_NEW_PROCESS_GROUP if sys.platform == "win32" else 0
        try:
            self.process = subprocess.Popen([*command, "sketch", *args, "--progress", "json"],
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                            bufsize=1, creationflags=flags)
        except OSError as exc:
            raise CoreError(f"could not start the core ({' '.join(command)}): {exc}") from None
        self._events: queue.Queue = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=lambda: self._stderr.extend(self.process.stderr), daemon=True).start()

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            try:
                self._events.put(json.loads(line))
            except json.JSONDecodeError:
                continue
        self.process.wait()
        self._events.put({"event": "exit", "code": self.process.returncode})

    def poll(self) -> list[dict]:
        events = []
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                return events

    def cancel(self) -> None:
        """Ask the core to stop; it writes its best sketch so far and reports ``done``."""
        if self.process.poll() is None:
            self.process.send_signal(signal.CTRL_BREAK_EVENT if sys.platform == "win32" else signal.SIGINT)

    def stderr_tail(self) -> str:
        lines = "".join(self._stderr).strip().splitlines()
        return lines[-1] if lines else ""
