"""contract.client against the real core (tiny random networks): stream, cancel, stop when the
editor goes away, one message per failure, the version check."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from clipasso_core.contract import client, events

CORE = [sys.executable, "-m", "clipasso_core"]
SLOW = ["--backbone", "tiny-random", "--mask", "off", "--seeds", "1", "--iterations", "5000",
        "--preview-every", "5"]


@pytest.fixture(autouse=True)
def offline(cli_env, monkeypatch):
    for key in ("HF_HUB_OFFLINE", "HF_HOME", "U2NET_HOME"):
        monkeypatch.setenv(key, cli_env[key])


def wait_for(run: client.CoreRun, kind, timeout=120.0):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        for event in run.poll():
            seen.append(event)
            if isinstance(event, kind):
                return event, seen
        time.sleep(0.05)
    raise AssertionError(f"no {kind.__name__} within {timeout} s; saw {seen[-3:]}")


def gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_run_to_end_streams_typed_events(tmp_path):
    seen = []
    done = client.run_to_end(CORE, "sketch", ["-o", str(tmp_path / "a.svg"), "--json", str(tmp_path / "a.json"),
                                              "--backbone", "tiny-random", "--mask", "off", "--seeds", "1",
                                              "--iterations", "4", "--preview-every", "2"], seen.append)
    kinds = [type(e) for e in seen]
    assert kinds[0] is events.Start and kinds[-1] is client.Exited and kinds[-2] is events.Done
    assert kinds.count(events.Progress) == 4 and kinds.count(events.Preview) == 2
    assert isinstance(done, events.Done) and done.json == str(tmp_path / "a.json") and not done.cancelled
    preview = next(e for e in seen if isinstance(e, events.Preview))
    assert len(preview.sketch.strokes) == 16


def test_cancel_keeps_the_best_so_far(tmp_path):
    run = client.CoreRun(CORE, "sketch", ["-o", str(tmp_path / "a.svg"), *SLOW])
    try:
        wait_for(run, events.Preview)
        run.cancel()
        exited, seen = wait_for(run, client.Exited)
    finally:
        run.close()
    assert exited.code == client.EXIT_CANCELLED and run.done.cancelled and run.failure() is None
    assert (tmp_path / "a.svg").exists()


def test_closing_stdin_stops_the_core(tmp_path):
    run = client.CoreRun(CORE, "sketch", ["-o", str(tmp_path / "a.svg"), *SLOW])
    wait_for(run, events.Progress)
    run.process.stdin.close()
    assert gone(run.process.pid)
    assert run.process.wait() == client.EXIT_CANCELLED
    run.close()


def test_the_core_stops_when_its_parent_dies(tmp_path):
    # an "editor" that starts the core, says its pid, and is then killed without a chance to clean up
    editor = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from clipasso_core.contract import client\n"
        f"run = client.CoreRun({CORE!r}, 'sketch', {['-o', str(tmp_path / 'a.svg'), *SLOW]!r})\n"
        "print(run.process.pid, flush=True)\n"
        "time.sleep(600)\n")], stdout=subprocess.PIPE, text=True)
    core_pid = int(editor.stdout.readline())
    time.sleep(3)
    editor.kill()
    editor.wait()
    assert gone(core_pid, timeout=60), "the core outlived the editor that started it"


def test_failures_become_one_message(tmp_path):
    with pytest.raises(client.CoreError, match="input image not found: .*nope.png"):
        client.run_to_end(CORE, "sketch", [str(tmp_path / "nope.png"), "-o", str(tmp_path / "a.svg")])
    with pytest.raises(client.CoreError, match="failed \\(exit 2\\)"):
        client.run_to_end([sys.executable, "-c", "import sys; sys.stderr.write('boom\\n'); sys.exit(2)"],
                          "sketch", [])
    with pytest.raises(client.CoreError, match="Python interpreter not found"):
        client.core_command(python=str(tmp_path / "python"))
    with pytest.raises(client.CoreError, match="not on PATH"):
        client.core_command(name="clipasso-that-does-not-exist")


def test_check_core(tmp_path):
    assert client.check_core(CORE) == "0.1.0"
    with pytest.raises(client.CoreError, match="not a working clipasso core"):
        client.check_core([sys.executable, "-c", "print('hello')"])
    other = tmp_path / "other.py"
    other.write_text('print(\'{"protocol": 2, "event": "info", "version": "9.0"}\')')
    with pytest.raises(client.CoreError, match="protocol 2.*update"):
        client.check_core([sys.executable, str(other)])
