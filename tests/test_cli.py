"""The clipasso command end to end with --backbone tiny-random: outputs, progress protocol,
cancel, --init, and bad input."""
from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from clipasso_core.config import PRESETS
from clipasso_core.contract.formats import Sketch, Stroke
from clipasso_core.pipeline import EXAMPLE_IMAGE as EXAMPLE
from clipasso_core.svg import from_svg
from conftest import ink_iou, render_svg

FAST = ["--backbone", "tiny-random", "--mask", "off", "--progress", "json"]


def clipasso(args, env, **kw):
    return subprocess.run([sys.executable, "-m", "clipasso_core", *args], env=env,
                          capture_output=True, text=True, timeout=600, **kw)


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_end_to_end_sketch_of_the_example(tmp_path, cli_env):
    out, raster, js = tmp_path / "cat.svg", tmp_path / "cat.png", tmp_path / "cat.json"
    run = clipasso(["sketch", "-o", str(out), "--save-raster", str(raster), "--json", str(js),
                    "--iterations", "40", "--seeds", "2", "--preview-every", "10", *FAST], cli_env)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # json mode: nothing on stderr unless the run fails
    evs = events(run.stdout)
    assert all(e["protocol"] == 1 for e in evs)
    kinds = [e["event"] for e in evs]
    assert kinds[0] == "start" and kinds[1] == "warning" and kinds[-1] == "done"
    assert kinds.count("progress") == 40 and kinds.count("preview") == 4
    first_eval = next(e for e in evs if e["event"] == "progress")["best_loss"]
    done = evs[-1]
    assert done["loss"] < first_eval  # the optimisation lowered the loss
    assert done["svg"] == str(out) and not done["cancelled"]

    sketch = from_svg(out.read_text())
    assert (sketch.width, sketch.height) == (451, 300)
    assert len(sketch.strokes) == 16 and out.read_text().count("<path ") == 16
    meta = sketch.metadata
    assert meta["backbone"] == "tiny-random" and meta["random_weights"] is True
    assert meta["strokes"] == 16 and meta["seed"] in (0, 1000) and meta["preset"] == "default"
    assert meta["final_loss"] == pytest.approx(done["loss"]) and meta["iterations"] <= 40
    points = np.array([s.points for s in sketch.strokes])
    assert points[..., 0].min() >= -1e-3 and points[..., 0].max() <= 451 + 1e-3
    assert points[..., 1].min() >= -1e-3 and points[..., 1].max() <= 300 + 1e-3
    assert np.allclose(json.loads(js.read_text())["strokes"][0]["points"], sketch.strokes[0].points, atol=1e-3)
    preview = [e for e in evs if e["event"] == "preview"][-1]["sketch"]
    assert preview["format"] == "clipasso-sketch" and len(preview["strokes"]) == 16

    # the optimiser's raster and the SVG rendered by resvg are the same drawing
    ours = np.asarray(Image.open(raster).convert("L"), np.float32) / 255
    top = round((451 - 300) / 2 * 224 / 451)
    ref = render_svg(out.read_text(), 224, round(300 * 224 / 451))
    crop = ours[top:top + ref.shape[0]]
    assert ink_iou(crop, ref) > 0.8


def test_json_sketch_matches_svg(tmp_path, cli_env):
    run = clipasso(["sketch", "-o", str(tmp_path / "a.svg"), "--json", str(tmp_path / "a.json"),
                    "--iterations", "3", "--seeds", "1", "--strokes", "5", "--color", "#336699",
                    "--width", "2", *FAST], cli_env)
    assert run.returncode == 0, run.stderr
    data = json.loads((tmp_path / "a.json").read_text())
    svg = from_svg((tmp_path / "a.svg").read_text())
    assert len(data["strokes"]) == 5
    for s, t in zip(data["strokes"], svg.strokes):
        assert np.allclose(s["points"], t.points, atol=1e-3)
        assert s["color"] == t.color == "#336699"
        assert s["width"] == pytest.approx(2 * 451 / 224, abs=1e-3)


def test_init_from_svg_starts_from_its_strokes(tmp_path, cli_env):
    first = tmp_path / "first.svg"
    assert clipasso(["sketch", "-o", str(first), "--iterations", "2", "--seeds", "1", "--strokes", "6", *FAST],
                    cli_env).returncode == 0
    again = tmp_path / "again.svg"
    run = clipasso(["sketch", "-o", str(again), "--init", str(first), "--iterations", "1", "--seeds", "1", *FAST],
                   cli_env)
    assert run.returncode == 0, run.stderr
    a, b = from_svg(first.read_text()), from_svg(again.read_text())
    assert len(b.strokes) == 6 and b.metadata["init"] is True
    # strokes come out most important first, so each refined stroke is matched to its nearest start;
    # one Adam step moves a point by at most the preset's lr (canvas px) per axis, clamped
    start, refined = np.array([s.points for s in a.strokes]), np.array([s.points for s in b.strokes])
    moved = np.abs(refined[:, None] - start[None]).max(axis=(2, 3)).min(axis=1)
    canvas_to_image = max(a.width, a.height) / 224
    assert moved.max() <= PRESETS["default"].lr * canvas_to_image + 1e-3


def test_sigint_writes_best_so_far_and_exits_3(tmp_path, cli_env):
    out = tmp_path / "c.svg"
    proc = subprocess.Popen([sys.executable, "-m", "clipasso_core", "sketch", "-o", str(out),
                             "--iterations", "5000", "--seeds", "1", *FAST],
                            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if json.loads(line)["event"] == "progress" and json.loads(line)["iteration"] >= 3:
            break
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    done = events(rest)[-1]
    assert done["event"] == "done" and done["cancelled"] is True
    sketch = from_svg(out.read_text())
    assert sketch.metadata["cancelled"] is True and len(sketch.strokes) == 16
    assert not list(tmp_path.glob(".*.tmp"))


def test_sigint_while_loading_exits_3_without_traceback(tmp_path, cli_env):
    # deliver SIGINT at the moment the CLI module starts importing its dependencies
    script = ("import importlib.abc, os, signal, sys\n"
              "class Interrupt(importlib.abc.MetaPathFinder):\n"
              "    def find_spec(self, name, path, target=None):\n"
              "        if name == 'numpy':\n"
              "            sys.meta_path.remove(self)\n"
              "            os.kill(os.getpid(), signal.SIGINT)\n"
              "        return None\n"
              "sys.meta_path.insert(0, Interrupt())\n"
              "from clipasso_core.launcher import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    out = tmp_path / "x.svg"
    run = subprocess.run([sys.executable, "-c", script, "sketch", "-o", str(out), *FAST], env=cli_env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 3, run.stderr
    assert "Traceback" not in run.stderr and "cancelled before the sketch started" in run.stderr
    assert events(run.stdout)[-1]["event"] == "error" and not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--strokes", "0"], "strokes (--strokes) must be"),
    (["--strokes", "100000"], "strokes (--strokes) must be a whole number from 1 to 1000"),
    (["--iterations", "-5"], "iterations (--iterations) must be a whole number from 1 to 20000 (0: the preset's)"),
    (["--width", "0"], "stroke width (--width) must be a number from"),
    (["--width", "-2"], "stroke width (--width) must be"),
    (["--width", "inf"], "stroke width (--width) must be"),
    (["--width", "nan"], "stroke width (--width) must be"),
    (["--opacity", "nan"], "opacity (--opacity) must be"),
    (["--device", "tpu"], "unknown device"),
    (["--color", "blurple"], "stroke colour (--color) must be a CSS colour"),
    (["--strokes", "8", "--levels", "16,4"], "--strokes 8 disagrees with --levels: the largest level (16) is"),
    (["--device", "cuda"], "CUDA"),
])
def test_bad_options_exit_2_and_write_nothing(tmp_path, cli_env, args, message):
    if "cuda" in args:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a CUDA GPU is present")
    out = tmp_path / "x.svg"
    run = clipasso(["sketch", "-o", str(out), "--backbone", "tiny-random", "--mask", "off", *args], cli_env)
    assert run.returncode == 2
    assert message in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("content", [b"garbage", b"", None])
def test_bad_image_exits_2_and_writes_nothing(tmp_path, cli_env, content):
    image = tmp_path / "in.png"
    if content is not None:
        image.write_bytes(content)
    out = tmp_path / "x.svg"
    run = clipasso(["sketch", str(image), "-o", str(out), *FAST], cli_env)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and run.stderr.startswith("clipasso: error:")
    assert events(run.stdout)[-1]["event"] == "error"
    assert not out.exists() and list(tmp_path.iterdir()) == ([image] if content is not None else [])


def test_offline_real_backbone_fails_fast_with_exit_2(tmp_path, cli_env):
    started = time.monotonic()
    run = clipasso(["sketch", "-o", str(tmp_path / "x.svg"), "--mask", "off"], cli_env)
    assert run.returncode == 2
    assert "ViT-B-32" in run.stderr and "--saliency-weights" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "x.svg").exists()
    assert time.monotonic() - started < 120


def test_clip_weights_flag_loads_a_local_checkpoint(tmp_path, cli_env):
    import torch

    from clipasso_core.backbones import PROFILES, load_encoder

    torch.save(load_encoder(PROFILES["tiny-random"], "loss").state_dict(), tmp_path / "rn.pt")
    ok = clipasso(["sketch", "-o", str(tmp_path / "a.svg"), "--clip-weights", str(tmp_path / "rn.pt"),
                   "--iterations", "2", "--seeds", "1", *FAST], cli_env)
    assert ok.returncode == 0, ok.stderr
    bad = clipasso(["sketch", "-o", str(tmp_path / "b.svg"), "--clip-weights", str(tmp_path / "vit.pt"),
                    "--iterations", "2", *FAST], cli_env)
    assert bad.returncode == 2 and "weights file not found" in bad.stderr


# --- write failures (svg/atomic) ---


def test_unwritable_output_exits_2_with_one_message(cli_env):
    run = clipasso(["sketch", "-o", "/proc/x.svg", "--iterations", "1", "--seeds", "1", *FAST], cli_env)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("clipasso: error: could not write /proc/x.svg: ")
    assert "Traceback" not in run.stderr and [e["event"] for e in events(run.stdout)] == ["error"]


# --- the protocol's edges: usage errors, the reader going away, cancel before the optimisation ---


def test_usage_error_in_json_mode_is_one_error_event(cli_env):
    run = clipasso(["sketch", "--strokes", "abc", "--progress", "json"], cli_env)
    assert run.returncode == 2
    assert [e["event"] for e in events(run.stdout)] == ["error"] and "invalid int value" in run.stdout
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("clipasso: error: argument --strokes")


def test_stdin_closed_with_watch_parent_cancels_before_anything_is_written(tmp_path, cli_env):
    out = tmp_path / "x.svg"
    run = clipasso(["sketch", "-o", str(out), "--watch-parent", "--iterations", "5000", "--seeds", "1", *FAST],
                   cli_env, stdin=subprocess.DEVNULL)
    assert run.returncode == 3, run.stderr
    evs = events(run.stdout)
    assert evs[-1]["event"] == "error" and evs[-1]["code"] == 3 and "nothing written" in evs[-1]["message"]
    assert not out.exists() and "Traceback" not in run.stderr


def test_reader_going_away_cancels_the_run_quietly(tmp_path, cli_env):
    out = tmp_path / "x.svg"
    proc = subprocess.Popen([sys.executable, "-m", "clipasso_core", "sketch", "-o", str(out), "--iterations", "5000",
                             "--seeds", "1", *FAST], env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in proc.stdout:
        if json.loads(line)["event"] == "progress":
            break
    proc.stdout.close()  # like `clipasso ... | head -3`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 3 and "Traceback" not in err
    assert out.exists()  # it was cancelled after the optimisation started: the best so far is kept


def test_an_event_that_cannot_be_encoded_is_reported_once_and_the_run_goes_on(capsys):
    from clipasso_core.cli import Reporter
    from clipasso_core.contract import events as ev

    reporter = Reporter("json")
    for loss in (float("nan"), float("inf")):
        reporter.emit(ev.Progress(1, 3, loss, 1.0, 0.1, 0.0))
    reporter.emit(ev.Progress(2, 3, 1.0, 1.0, 0.2, 0.0))
    assert not reporter.cancel.is_set() and reporter.mode == "json" and reporter.unencodable == 2
    sent = [ev.from_line(line) for line in capsys.readouterr().out.splitlines()]
    assert [type(e) for e in sent] == [ev.WarningMessage, ev.Progress] and sent[1].iteration == 2
    assert sent[0].message.startswith("internal error: a progress event could not be sent (Out of range float")


def test_a_closed_stdout_cancels_the_run(monkeypatch):
    import io

    from clipasso_core.cli import Reporter
    from clipasso_core.contract import events as ev

    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdout", closed)
    reporter = Reporter("json")
    reporter.emit(ev.Progress(1, 3, 1.0, 1.0, 0.1, 0.0))
    assert reporter.cancel.is_set() and reporter.mode == "none"
    sys.stdout.close()  # the devnull stand-in the reporter put there


def test_inkscape_edited_svg_loads_with_init_and_refines(tmp_path, cli_env):
    from test_svg import INKSCAPE_SVG

    init = tmp_path / "edited.svg"
    init.write_text(INKSCAPE_SVG)
    out = tmp_path / "refined.svg"
    run = clipasso(["sketch", "--init", str(init), "-o", str(out), "--iterations", "3", "--seeds", "1", *FAST],
                   cli_env)
    assert run.returncode == 0, run.stderr
    start = events(run.stdout)[0]
    count = len(from_svg(INKSCAPE_SVG).strokes)
    assert start["event"] == "start" and start["strokes"] == count
    refined = from_svg(out.read_text())
    assert len(refined.strokes) == count and refined.metadata["init"] is True


# --- levels of abstraction and drawing order ---


def test_levels_in_one_run_write_nested_levels_and_svg_groups(tmp_path, cli_env):
    out, js = tmp_path / "l.svg", tmp_path / "l.json"
    run = clipasso(["sketch", "-o", str(out), "--json", str(js), "--levels", "6,3,2", "--show-level", "3",
                    "--iterations", "5", "--seeds", "1", "--preset", "fast", *FAST], cli_env)
    assert run.returncode == 0, run.stderr
    assert [(e["count"]) for e in events(run.stdout) if e["event"] == "level"] == [6, 3, 2]
    data = json.loads(js.read_text())
    assert [level["count"] for level in data["levels"]] == [6, 3, 2] and len(data["strokes"]) == 6
    svg = out.read_text()
    assert svg.count("<g ") == 3 and svg.count('display="none"') == 2 and 'data-level="3">' in svg
    assert len(from_svg(svg).strokes) == 3  # readers see the level shown


@pytest.mark.parametrize("args, message", [
    (["--levels", "0,4"], "every level must be from 1 to 1000"),
    (["--levels", "4,4"], "different from each other"),
    (["--levels", "4,x"], "whole numbers"),
    (["--levels", "2000,4"], "every level must be from 1 to 1000"),
    (["--levels", "1,2,3,4,5,6,7,8,9"], "at most 8 levels"),
    (["--levels", "4,2", "--show-level", "3"], "--show-level 3 is not one of the levels"),
    (["--show-level", "3"], "none: pass --levels"),
    (["--draw-on", "-1"], "--draw-on must be"),
    (["--draw-on", "nan"], "--draw-on must be"),
])
def test_bad_levels_exit_2_and_write_nothing(tmp_path, cli_env, args, message):
    out = tmp_path / "x.svg"
    run = clipasso(["sketch", "-o", str(out), *FAST, *args], cli_env)
    assert run.returncode == 2 and message in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not out.exists()


class Terminal(io.StringIO):
    def isatty(self):
        return True


def show(view, *evs):
    for event in evs:
        view.show(event, [])
    view.close()
    return view.stream.getvalue()


def stages():
    """The progress of a sketch (3 steps) then of its level of 4 strokes (2 steps, its own loss)."""
    from clipasso_core.contract.events import Progress

    return ([Progress(i, 3, 1.0, 2.0, 0.1 * i, 0.0) for i in (1, 2, 3)]
            + [Progress(i, 2, 1.0, 0.5, 0.1 * i, 0.0, level=4) for i in (1, 2)])


def test_terminal_bar_per_stage_shows_each_stage_its_own_loss():
    from clipasso_core.cli import TerminalView

    err = show(TerminalView(Terminal()), *stages())
    last = err.rsplit("\r", 1)[-1]  # the bar as it was left: the level's own steps and loss
    assert last.startswith("level 4:") and "2/2" in last and "best_loss=0.5" in last
    assert "sketch: 100%" in err and "best_loss=2" in err


def test_plain_lines_when_stderr_is_not_a_terminal():
    from clipasso_core.cli import TerminalView
    from clipasso_core.contract.events import Done, FrameDone, Progress, Start

    err = show(TerminalView(io.StringIO()), *stages())
    assert "\r" not in err
    assert err.splitlines() == ["sketch: step 1/3, best loss 2, 0 s, about 0 s left", "sketch: step 3/3, best loss 2, 0 s",
                                "level 4: step 1/2, best loss 0.5, 0 s, about 0 s left",
                                "level 4: step 2/2, best loss 0.5, 0 s"]
    frames = [Start("0.1", "clip.mp4", 4, 1, 2, "fast", "tiny-random", frames=2),
              Progress(2, 2, 1.0, 1.0, 0.1, 0.0, frame=0), FrameDone(0, 1, 2, 1.0, False, Sketch(10, 10, [])),
              Progress(2, 2, 1.0, 1.0, 0.1, 0.0, frame=5)]
    err = show(TerminalView(io.StringIO()), *frames).splitlines()
    assert err[0] == "sketching clip.mp4: 4 strokes, fast preset, 2 steps, 2 frames; loading the models..."
    assert err[1].startswith("frame 1/2: step 2/2") and err[2].startswith("frame 2/2: step 2/2")


@pytest.mark.parametrize("cancelled, also, line", [
    (False, [], "wrote a.svg, a.json, a.png"),
    (True, ["3 frame SVGs in out"], "cancelled after 7 steps: wrote the best sketch so far to a.svg, a.json, a.png, "
                                    "3 frame SVGs in out"),
])
def test_the_last_line_names_every_output_and_says_when_cancelled(cancelled, also, line):
    from clipasso_core.cli import TerminalView
    from clipasso_core.contract.events import Done

    view = TerminalView(io.StringIO())
    view.show(Done("a.svg", 1.5, 0, 7, cancelled, "a.json", "a.png"), also)
    assert view.stream.getvalue() == line + "\n"


# --- cancel in every window: before the start event, a parent gone during start-up, Ctrl-C twice, after the last step ---


def test_sigterm_before_the_start_event_exits_3_with_an_error_event(tmp_path, cli_env):
    out = tmp_path / "x.svg"
    proc = subprocess.Popen([sys.executable, "-m", "clipasso_core", "sketch", "-o", str(out), *FAST],
                            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # torch is still loading (2-5 s)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 3, stderr
    assert [e["event"] for e in events(stdout)] == ["error"] and events(stdout)[0]["code"] == 3
    assert "cancelled before the sketch started" in stderr and not out.exists()


def test_watch_parent_sees_a_parent_that_died_during_start_up(tmp_path, cli_env):
    """The parent exits while torch loads; another process (this test) keeps the core's stdin open."""
    out = tmp_path / "x.svg"
    stdin_read, stdin_write = os.pipe()
    out_read, out_write = os.pipe()
    core = [sys.executable, "-m", "clipasso_core", "sketch", "-o", str(out), "--watch-parent",
            "--iterations", "5000", "--seeds", "1", *FAST]
    parent = ("import subprocess, sys, time\n"
              f"core = subprocess.Popen({core!r}, stdin={stdin_read}, stdout={out_write}, "
              f"pass_fds=({stdin_read}, {out_write}))\n"
              "print(core.pid, flush=True)\n"
              "time.sleep(0.5)\n")  # and exits, the core still starting
    runner = subprocess.run([sys.executable, "-c", parent], env=cli_env, pass_fds=(stdin_read, out_write),
                            capture_output=True, text=True, timeout=60)
    os.close(stdin_read)
    os.close(out_write)
    pid = int(runner.stdout)
    try:
        with os.fdopen(out_read) as stream:
            evs = events(stream.read())  # until the core exits (its stdout closes)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.close(stdin_write)
    assert evs[-1]["event"] == "error" and evs[-1]["code"] == 3, evs[-3:]
    assert not out.exists()


def test_ctrl_c_says_it_is_stopping_and_ends_saying_cancelled(tmp_path, cli_env):
    out = tmp_path / "x.svg"
    proc = subprocess.Popen([sys.executable, "-m", "clipasso_core", "sketch", "-o", str(out), "--iterations", "5000",
                             "--seeds", "1", "--backbone", "tiny-random", "--mask", "off"],
                            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = b""
    while b"/5000" not in seen:  # the bar is up: the optimisation runs
        seen += os.read(proc.stderr.fileno(), 4096)
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=120)[1].decode()
    assert proc.returncode == 3
    lines = rest.replace("\r", "\n").splitlines()
    stopping = next(i for i, line in enumerate(lines) if line.startswith("clipasso: stopping after this step"))
    assert lines[-1].startswith("cancelled after ") and f"best sketch so far to {out}" in lines[-1]
    assert stopping < len(lines) - 1 and from_svg(out.read_text()).metadata["cancelled"] is True


def test_a_second_signal_stops_at_once_and_writes_nothing(tmp_path, cli_env):
    out = tmp_path / "x.svg"
    proc = subprocess.Popen([sys.executable, "-m", "clipasso_core", "sketch", "-o", str(out), "--iterations", "5000",
                             "--seeds", "1", *FAST], env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    for line in proc.stdout:
        if json.loads(line)["event"] == "progress":
            break
    proc.send_signal(signal.SIGINT)  # two different signals are both delivered (two SIGINTs may merge)
    proc.send_signal(signal.SIGTERM)
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    assert events(rest)[-1] == {**events(rest)[-1], "event": "error", "code": 3}
    assert "stopped at once; nothing written" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


# --- what used to be ignored or surprising: --init looks, --strokes conflicts, inputs that are not images ---


def test_init_strokes_keep_their_looks_and_a_given_option_applies_to_all(tmp_path, cli_env):
    from test_pipeline import STYLED

    init = tmp_path / "styled.svg"
    init.write_text(STYLED.format(w=451, h=300, a=9, b=2.5, c=4))
    out = tmp_path / "red.svg"
    run = clipasso(["sketch", "--init", str(init), "-o", str(out), "--color", "red", "--iterations", "1",
                    "--seeds", "1", *FAST], cli_env)  # a CSS colour name, as the init file has them
    assert run.returncode == 0, run.stderr
    strokes = sorted(from_svg(out.read_text()).strokes, key=lambda s: s.width)
    assert {s.color for s in strokes} == {"#ff0000"}  # given: every stroke
    assert [round(s.width, 3) for s in strokes] == [2.5, 4.0, 9.0]  # not given: each keeps its own
    assert [round(s.opacity, 3) for s in strokes] == [0.6, 1.0, 1.0]


@pytest.mark.parametrize("command", ["sketch", "animate"])
def test_strokes_that_disagree_with_the_init_file_are_refused(tmp_path, cli_env, command):
    from test_pipeline import STYLED

    init = tmp_path / "styled.svg"
    init.write_text(STYLED.format(w=451, h=300, a=9, b=2.5, c=4))
    image = tmp_path / "cat.png"
    Image.fromarray(np.asarray(Image.open(EXAMPLE))).save(image)
    out = tmp_path / "x.svg"
    run = clipasso([command, str(image), "--init", str(init), "--strokes", "8", "-o", str(out), *FAST], cli_env)
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert ("--strokes 8 disagrees with the --init file, which has 3 strokes: an --init sketch keeps its own "
            "strokes; leave --strokes out") in run.stderr
    assert [e["event"] for e in events(run.stdout)] == ["error"] and not out.exists()


def not_images(tmp_path) -> dict:
    (tmp_path / "shots").mkdir()
    Image.fromarray(np.asarray(Image.open(EXAMPLE))).save(tmp_path / "shots" / "a.png")
    Image.open(EXAMPLE).save(tmp_path / "scan.pdf", format="PDF")  # a raster PDF (a JPEG inside)
    Image.new("RGB", (8, 8), "red").save(tmp_path / "tiny.png")
    Image.new("RGB", (64, 64), "white").save(tmp_path / "blank.png")
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    return {
        "folder": (tmp_path / "shots", f"{tmp_path / 'shots'} is a folder, not an image: sketch one of its "
                                       f"images, or sketch its images as the frames of an animation with: "
                                       f"clipasso animate {tmp_path / 'shots'}"),
        "pdf": (tmp_path / "scan.pdf", f"unsupported image format: {tmp_path / 'scan.pdf'} is a PDF document"),
        "tiny": (tmp_path / "tiny.png", "tiny.png is too small to sketch: 8x8 px; clipasso needs at least 32 px"),
        "blank": (tmp_path / "blank.png", "nothing to sketch in"),
        "clear": (tmp_path / "clear.png", "the image is fully transparent"),
    }


@pytest.mark.parametrize("case", ["folder", "pdf", "tiny", "blank", "clear"])
def test_inputs_sketch_cannot_use_are_one_clear_line(tmp_path, cli_env, case):
    path, message = not_images(tmp_path)[case]
    out = tmp_path / "out.svg"
    run = clipasso(["sketch", str(path), "-o", str(out), *FAST], cli_env)
    assert run.returncode == 2 and run.stderr.startswith("clipasso: error: ") and message in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Errno" not in run.stderr
    assert events(run.stdout)[-1]["event"] == "error" and not out.exists()
    if case in ("folder", "pdf", "tiny"):  # told from the file's header, before the run starts
        assert [e["event"] for e in events(run.stdout)] == ["error"]


@pytest.mark.parametrize("args, message", [
    (["--add", "2"], "give it with --init"),
    (["--init", "{init}", "--lock", "0-1"], "nothing to optimise: every stroke is locked"),
    (["--init", "{init}", "--lock", "5"], "--lock: the sketch has no stroke with id 5"),
    (["--init", "{init}", "--lock", "a"], "--lock takes stroke ids"),
    (["--init", "{init}", "--fill-to", "2"], "--fill-to 2: the sketch already has 2 strokes"),
    (["--init", "{init}", "--add", "1", "--region", "1,2,3"], "--region '1,2,3' is none of"),
    (["--init", "{init}", "--add", "1", "--strokes", "2"], "--strokes 2 disagrees with the --init file and the strokes added, 3"),
])
def test_bad_refines_exit_2_with_one_line_and_write_nothing(tmp_path, cli_env, args, message):
    init = tmp_path / "init.json"
    init.write_text(Sketch(451, 300, [Stroke([(10, 10), (50, 50), (90, 60), (120, 80)], id=0),
                                      Stroke([(200, 100), (220, 150), (260, 160), (300, 200)], id=1)]).to_json())
    out = tmp_path / "x.svg"
    args = [a.format(init=init) for a in args]
    run = clipasso(["sketch", "-o", str(out), "--backbone", "tiny-random", "--mask", "off", *args], cli_env)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not out.exists()
