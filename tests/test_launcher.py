"""launcher.Stop: the process's cancel (signals, the parent going away)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from clipasso_core.launcher import Stop


@pytest.fixture
def stop():
    saved = {sig: signal.getsignal(sig) for sig in Stop.SIGNALS}
    yield Stop().install()
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_first_signal_sets_the_event_and_says_so_once(stop):
    said = []
    stop.on_first = lambda: said.append(1)
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGINT)  # not yet running (hard is False): only noted
    assert stop.event.is_set() and said == [1]


def test_a_second_signal_stops_at_once_while_the_run_runs(stop):
    stop.hard = True
    os.kill(os.getpid(), signal.SIGINT)
    assert stop.event.is_set()
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)


WATCH = ("import sys\n"
         "from clipasso_core.launcher import Stop\n"
         "stop = Stop()\n"
         "stop.watch_parent(parent=int(sys.argv[1]))\n"
         "print(stop.event.wait(float(sys.argv[2])))\n")


@pytest.mark.parametrize("parent, close_stdin, cancelled", [
    ("self", False, False),  # the parent stays and holds stdin open: the run goes on
    ("gone", False, True),   # the parent changed (it exited before the watch began), stdin still open
    ("self", True, True),    # stdin reached end of file
])
def test_watch_parent(parent, close_stdin, cancelled):
    pid = os.getpid() if parent == "self" else 2 ** 22 + 12345
    child = subprocess.Popen([sys.executable, "-c", WATCH, str(pid), "2" if cancelled else "1.5"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if close_stdin:
        child.stdin.close()
    out = child.stdout.read()
    child.wait(timeout=60)
    assert out.strip() == str(cancelled)


@pytest.mark.parametrize("args, mode", [
    (["sketch"], "bar"), (["sketch", "--progress", "json"], "json"), (["sketch", "--progress=none"], "none"),
    (["sketch", "--progress", "bar", "--progress=json"], "json"),  # the last one, as argparse takes
])
def test_progress_mode_before_parsing(args, mode):
    from clipasso_core.launcher import progress_mode

    assert progress_mode(args) == mode
