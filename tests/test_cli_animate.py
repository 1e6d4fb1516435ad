"""``clipasso animate`` end to end with --backbone tiny-random: the animated SVG, the sequence
JSON, one SVG per frame, the progress events, cancel, and bad input (exit 2, nothing written)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from clipasso_core.contract.sequence import SketchSequence
from clipasso_core.svg import from_svg
from frame_inputs import cat, moved, truncated_video, undecodable_video, write_folder, write_video
from test_cli import FAST, clipasso, events

QUICK = [*FAST, "--strokes", "4", "--preset", "fast", "--iterations", "6"]


def test_animate_writes_the_svg_the_json_and_the_frames(tmp_path, cli_env):
    video = write_video(tmp_path / "walk.mp4", [moved(cat(160), dx=2 * k) for k in range(3)], fps=12)
    out, data, frames = tmp_path / "walk.svg", tmp_path / "walk.json", tmp_path / "frames"
    run = clipasso(["animate", str(video), "-o", str(out), "--json", str(data), "--frames-dir", str(frames),
                    *QUICK], cli_env)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # JSON mode: nothing on stderr
    lines = events(run.stdout)
    assert lines[0]["event"] == "start" and lines[0]["frames"] == 3
    assert [e["index"] for e in lines if e["event"] == "frame"] == [0, 1, 2]
    assert lines[-1]["event"] == "done" and lines[-1]["frames"] == 3 and lines[-1]["cancelled"] is False
    seq = SketchSequence.from_json(data.read_text())
    assert seq.fps == 12 and len(seq.frames) == 3 and (seq.width, seq.height) == (160, 106)
    assert sorted(p.name for p in frames.iterdir()) == ["frame_00000.svg", "frame_00001.svg", "frame_00002.svg"]
    still = from_svg((frames / "frame_00001.svg").read_text())
    assert np.allclose([s.points for s in still.strokes], [s.points for s in seq.frames[1].strokes], atol=1e-3)
    svg = out.read_text()
    assert svg.count("<animate ") == 4 and 'calcMode="discrete"' in svg


def test_one_still_image_is_a_one_frame_animation(tmp_path, cli_env):
    Image.fromarray(cat(100)).save(tmp_path / "still.png")
    run = clipasso(["animate", str(tmp_path / "still.png"), "-o", str(tmp_path / "a.svg"), "--json",
                    str(tmp_path / "a.json"), *QUICK], cli_env)
    assert run.returncode == 0, run.stderr
    assert len(SketchSequence.from_json((tmp_path / "a.json").read_text()).frames) == 1


def test_sigint_keeps_the_frames_done(tmp_path, cli_env):
    folder = write_folder(tmp_path / "in", [moved(cat(120), dx=k) for k in range(40)])
    out, data = tmp_path / "a.svg", tmp_path / "a.json"
    proc = subprocess.Popen([sys.executable, "-m", "clipasso_core", "animate", str(folder), "-o", str(out), "--json",
                             str(data), *QUICK], env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == "frame" and event["done"] == 2:
            proc.send_signal(signal.SIGINT)
            break
    rest, err = proc.communicate(timeout=300)
    assert proc.returncode == 3, err
    done = events(rest)[-1]
    assert done["event"] == "done" and done["cancelled"] is True and 2 <= done["frames"] < 40
    assert len(SketchSequence.from_json(data.read_text()).frames) == done["frames"]


def bad_inputs(tmp_path):
    write_folder(tmp_path / "mixed", [cat(64)])
    Image.fromarray(cat(80)).save(tmp_path / "mixed" / "frame7.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 500)
    write_folder(tmp_path / "three", [cat(64)] * 3)
    undecodable_video(tmp_path / "zeros.mp4", [cat(64)] * 3)
    Image.fromarray(cat(96)).save(tmp_path / "scan.pdf", format="PDF")
    Image.fromarray(cat(24)).save(tmp_path / "tiny.png")
    return {
        "undecodable": ([str(tmp_path / "zeros.mp4")], "no frame of"),
        "pdf": ([str(tmp_path / "scan.pdf")], "unsupported image format: "),  # as sketch says
        "tiny": ([str(tmp_path / "tiny.png")], "tiny.png is too small to sketch: 24x16 px"),
        "mixed": ([str(tmp_path / "mixed")], "differ in size"),
        "empty": ([str(tmp_path / "empty")], "has no images"),
        "broken": ([str(tmp_path / "broken.mp4")], "not a readable video"),
        "start": ([str(tmp_path / "three"), "--start", "3"], "--start 3 is past the end"),
        "levels": ([str(tmp_path / "three"), "--levels", "4,2"], "unrecognized arguments: --levels"),
        "step": ([str(tmp_path / "three"), "--step", "0"], "no frames to sketch"),
    }


@pytest.mark.parametrize("case", ["mixed", "empty", "broken", "start", "levels", "step", "undecodable", "pdf",
                                  "tiny"])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, cli_env, case):
    args, message = bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    out.mkdir()
    run = clipasso(["animate", *args, "-o", str(out / "a.svg"), "--json", str(out / "a.json"), "--frames-dir",
                    str(out / "frames"), *QUICK], cli_env)
    assert run.returncode == 2
    assert message in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Errno" not in run.stderr
    assert [e["event"] for e in events(run.stdout)] == ["error"]  # refused before the run started
    assert list(out.iterdir()) == []


def test_a_video_that_ends_early_warns_and_records_the_frames_read(tmp_path, cli_env):
    video = truncated_video(tmp_path / "cut.mp4", [moved(cat(96), dx=2 * k) for k in range(24)])
    out, data = tmp_path / "a.svg", tmp_path / "a.json"
    bar = [arg for arg in QUICK if arg not in ("--progress", "json")]  # the terminal's bar mode
    run = clipasso(["animate", str(video), "-o", str(out), "--json", str(data), *bar, "--iterations", "1"],
                   cli_env)
    assert run.returncode == 0, run.stderr
    seq = SketchSequence.from_json(data.read_text())
    read = seq.metadata["frames_read"]
    assert seq.metadata["frames_expected"] == 24 and 1 <= read < 24 and len(seq.frames) == read
    assert f"{video} ends early: its frames stop after frame {read - 1}, though the file says it has 24" in run.stderr
    assert f"{read} of the 24 frames selected could be read" in run.stderr
