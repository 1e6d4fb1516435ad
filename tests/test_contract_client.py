"""contract.client against the real core (tiny random networks): stream, cancel, stop when the
editor goes away, one message per failure, the version check; and against a misbehaving fake core
(tests/fake_core.py): every line it writes becomes an event or is skipped, memory stays bounded,
and every run ends with Exited."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

import fake_core
from clipasso_core.batch import inputs as batch_inputs
from clipasso_core.contract import client, events, options
from clipasso_core.contract.formats import FormatError

CORE = [sys.executable, "-m", "clipasso_core"]
FAKE_CORE = [sys.executable, str(Path(__file__).with_name("fake_core.py"))]
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


# --- a misbehaving core: the client is total ---

SKIP_REASONS = {
    "not-utf8": "not UTF-8 text",
    "nan": "NaN is not a JSON number",
    "nan-field": "NaN is not a JSON number",
    "infinity-field": "-Infinity is not a JSON number",
    "1e999": "number out of range: 1e999",
    "1e999-int": "number out of range: 1e999",
    "huge-int": "malformed progress event: loss is out of range",
    "event-5": "the event name must be text, got 5",
    "event-list": "the event name must be text, got [5]",
    "nested": "nested too deeply",
    "nested-in-event": "nested too deeply",
    "not-object": "not a clipasso progress event",
    "text": "not a JSON event line",
    "long-line": f"longer than {client.MAX_LINE_BYTES} bytes",
}


def drive(steps: list[str], timeout: float = 30.0):
    """Run the fake core with ``steps``: (the run, every event up to Exited, peak traced bytes)."""
    tracemalloc.start()
    try:
        run = client.CoreRun(FAKE_CORE, "sketch", steps)
        try:
            seen = list(run.events(timeout=timeout))
        finally:
            run.close()
        return run, seen, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_every_fault_has_a_reason():
    assert sorted(SKIP_REASONS) == sorted([*fake_core.FAULTS.keys() - {"bad-done"}, "long-line"])


@pytest.mark.parametrize("fault", sorted(SKIP_REASONS))
def test_a_line_that_is_no_event_is_skipped_and_the_run_goes_on(fault):
    run, seen, peak = drive(["start", fault, "progress", "done"])
    assert [type(e) for e in seen] == [events.Start, events.Progress, events.Done, client.Exited]
    assert seen[-1].code == 0 and not run.running and run.failure() is None
    assert run.skipped == 1 and len(run.skipped_lines) == 1
    assert run.skipped_lines[0].startswith("line 2: ") and SKIP_REASONS[fault] in run.skipped_lines[0]
    assert run.skip_report().startswith("1 line of the core's output was not a progress event and skipped: line 2")
    assert peak < 50e6, f"the client held {peak / 1e6:.0f} MB reading it"


def test_a_batch_that_ended_is_no_failure_though_some_images_failed():
    """``batch`` exits 4 when some images failed (its ``image`` events say which): the run itself
    succeeded; without its ``batch`` event, exit 4 is a failure like any other."""
    run, seen, _ = drive(["start", "image", "batch", f"exit:{client.EXIT_SOME_FAILED}"])
    assert [type(e) for e in seen] == [events.Start, events.ImageDone, events.BatchDone, client.Exited]
    assert run.batch == seen[2] and run.done is None and run.failure() is None
    got = []
    assert client.run_to_end(FAKE_CORE, "batch", ["start", "image", "batch", "exit:4"], got.append, timeout=30) is None
    assert got[1].status == "failed" and got[1].error == "not a readable image: b.png"
    run, _, _ = drive(["start", "image", f"exit:{client.EXIT_SOME_FAILED}"])
    assert run.failure().startswith("the clipasso core failed (exit 4)")
    run, _, _ = drive(["start", "batch", f"exit:{client.EXIT_INTERNAL}"])
    assert run.failure().startswith("the clipasso core failed (exit 1)")


def test_batch_inputs_are_one_file_per_image_in_a_list_with_each_ones_width(tmp_path):
    """Two paths of one file and two files of one name become distinct inputs, named by their place;
    the core reads each image's width from the list as it reads ``--width`` of that image alone."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder, data in (("a", b"one"), ("b", b"two")):
        (tmp_path / folder / "cat.JPG").write_bytes(data)
    paths = [str(tmp_path / "a" / "cat.JPG"), str(tmp_path / "b" / "cat.JPG"), str(tmp_path / "a" / "cat.JPG")]
    widths = [3.0, 1.23456789, 20]
    listed, inputs = client.batch_inputs(paths, widths, str(tmp_path / "in"))
    assert [os.path.basename(p) for p in inputs] == ["0.jpg", "1.jpg", "2.jpg"]
    assert [Path(p).read_bytes() for p in inputs] == [b"one", b"two", b"one"]
    items = batch_inputs.collect([listed])
    assert [item.path for item in items] == inputs
    alone = [float(options.run_arguments({"stroke_width": w})[1]) for w in widths]
    assert [item.width for item in items] == alone == [3.0, 1.23457, 20.0]
    with pytest.raises(FormatError, match="stroke_width"):
        client.batch_inputs(paths[:1], [30.0], str(tmp_path / "other"))


def test_a_flood_on_stderr_is_drained_and_only_its_end_kept():
    run, seen, peak = drive(["start", "stderr-flood", "progress", "done"])
    assert [type(e) for e in seen] == [events.Start, events.Progress, events.Done, client.Exited]
    tail = run.stderr_tail()
    assert run.skipped == 0 and 0 < len(tail) <= client.STDERR_TAIL_BYTES and tail.startswith("e" * 99 + "\n")
    assert peak < 50e6, f"the client held {peak / 1e6:.0f} MB reading it"


def test_all_faults_in_one_run_end_with_the_result_promptly():
    seen, started = [], time.monotonic()
    done = client.run_to_end(FAKE_CORE, "sketch", ["start", *SKIP_REASONS, "stderr-flood", "progress", "done"],
                             seen.append, timeout=30)
    assert time.monotonic() - started < 30 and isinstance(done, events.Done)
    assert [type(e) for e in seen] == [events.Start, events.Progress, events.Done, client.Exited]


def test_skipped_lines_are_counted_the_first_few_described_and_named_when_the_run_fails():
    faults = sorted(SKIP_REASONS)[:5]
    run, seen, _ = drive(["start", *faults, "bad-done", "exit:0"])
    assert [type(e) for e in seen] == [events.Start, client.Exited] and run.done is None
    assert run.skipped == 6 and len(run.skipped_lines) == client.REPORTED_SKIPS
    assert run.skip_report().endswith("; and 3 more")
    assert run.failure().startswith("the clipasso core failed (exit 0): no message (6 lines of the core's output")
    with pytest.raises(client.CoreError, match=r"malformed done event: cancelled must be true or false"):
        client.run_to_end(FAKE_CORE, "sketch", ["start", "bad-done", "exit:0"], timeout=30)


def test_a_client_that_cannot_read_on_stops_the_core_and_still_ends(monkeypatch):
    real = client.bounded_lines

    def breaks_after_one_line(stream, limit=client.MAX_LINE_BYTES):
        lines = real(stream, limit)
        yield next(lines)
        raise RuntimeError("boom")

    monkeypatch.setattr(client, "bounded_lines", breaks_after_one_line)
    run, seen, _ = drive(["start", "forever"])
    assert [type(e) for e in seen] == [events.Start, client.Exited] and not run.running
    assert run.process.poll() is not None
    assert run.failure() == "the editor could not read the clipasso core's output (RuntimeError: boom)"
    with pytest.raises(client.CoreError, match="could not read the clipasso core's output"):
        client.run_to_end(FAKE_CORE, "sketch", ["start", "forever"], timeout=30)


def test_exited_comes_when_the_core_exits_though_a_process_it_started_holds_the_pipes(monkeypatch):
    monkeypatch.setattr(client.CoreRun, "DRAIN_S", 1.0)
    started = time.monotonic()
    run, seen, _ = drive(["start", "grandchild", "progress", "done"])
    grandchild = int(next(e for e in seen if isinstance(e, events.WarningMessage)).message)
    os.kill(grandchild, signal.SIGKILL)
    assert [type(e) for e in seen] == [events.Start, events.WarningMessage, events.Progress, events.Done,
                                       client.Exited]
    assert time.monotonic() - started < 20 and not run.running and run.failure() is None
