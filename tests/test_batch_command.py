"""clipasso batch end to end (tiny-random): a folder of mixed images with a broken file, the table,
progress events, resume after a kill, a changed option set, a list's widths, shards and merge, cancel."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from clipasso_core.batch import table
from clipasso_core.contract.client import EXIT_CANCELLED, EXIT_SOME_FAILED
from clipasso_core.pipeline import EXAMPLE_IMAGE
from clipasso_core.svg import from_svg

FAST = ["--backbone", "tiny-random", "--mask", "off", "--preset", "fast", "--iterations", "4"]


def batch(args, env, **kw):
    return subprocess.run([sys.executable, "-m", "clipasso_core", "batch", *args, *FAST], env=env,
                          capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture
def folder(tmp_path):
    """Mixed sizes and formats in sub-folders, and one broken file."""
    root = tmp_path / "in"
    (root / "a" / "b").mkdir(parents=True)
    shutil.copy(EXAMPLE_IMAGE, root / "cat.jpg")
    image = Image.open(EXAMPLE_IMAGE)
    image.crop((120, 20, 320, 300)).save(root / "a" / "crop.png")
    image.resize((300, 200)).convert("RGBA").save(root / "a" / "b" / "small.webp")
    (root / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    return root


def rows(out) -> dict[str, table.Row]:
    return table.latest(table.read(out / table.TABLE))


def test_a_folder_with_a_broken_file_writes_every_sketch_and_a_complete_table(folder, tmp_path, cli_env):
    out = tmp_path / "out"
    run = batch([str(folder), "-o", str(out), "--json", "--batch-size", "2", "--progress", "json"], cli_env)
    assert run.returncode == EXIT_SOME_FAILED, run.stderr
    evs = [json.loads(line) for line in run.stdout.splitlines()]
    assert evs[0]["event"] == "start" and evs[0]["images"] == 4 and evs[-1]["event"] == "batch"
    assert evs[-1] == {**evs[-1], "done": 3, "failed": 1, "skipped": 0, "cancelled": False}
    ended = [e for e in evs if e["event"] == "image"]
    assert sorted(e["done"] for e in ended) == [1, 2, 3, 4] and {e["total"] for e in ended} == {4}
    assert {e["image"] for e in evs if e["event"] == "progress"} == {e["index"] for e in ended if e["status"] == "done"}
    found = rows(out)
    assert {name: row.status for name, row in found.items()} == {
        "a/b/small": "done", "a/broken": "failed", "a/crop": "done", "cat": "done"}
    assert "not a readable image" in found["a/broken"].error
    for name in ("cat", "a/crop", "a/b/small"):
        sketch = from_svg((out / f"{name}.svg").read_text())
        assert len(sketch.strokes) == 16 and (out / f"{name}.json").is_file()
        assert found[name].outputs == [f"{name}.json", f"{name}.svg"] and found[name].preset == "fast"
    assert (from_svg((out / "a/b/small.svg").read_text()).width, from_svg((out / "cat.svg").read_text()).width) == (300, 451)


def test_a_killed_batch_resumes_and_every_image_ends_once(folder, tmp_path, cli_env):
    (folder / "a" / "broken.png").unlink()
    for k in range(3):
        shutil.copy(EXAMPLE_IMAGE, folder / f"more{k}.jpg")
    out = tmp_path / "out"
    args = [str(folder), "-o", str(out), "--progress", "json"]
    process = subprocess.Popen([sys.executable, "-m", "clipasso_core", "batch", *args, *FAST], env=cli_env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:  # killed (no chance to clean up) once the second image is in the table
        if json.loads(line)["event"] == "image" and json.loads(line)["done"] == 2:
            process.kill()
            break
    process.wait(timeout=60)
    first = rows(out)
    assert len(first) == 2 and all(row.status == "done" for row in first.values())
    again = batch(args, cli_env)
    assert again.returncode == 0, again.stderr
    evs = [json.loads(line) for line in again.stdout.splitlines()]
    assert evs[0]["images"] == 4 and evs[-1]["skipped"] == 2 and evs[-1]["done"] == 4
    every = table.read(out / table.TABLE)
    assert sorted(row.name for row in every) == sorted(rows(out)) and len(rows(out)) == 6  # each once
    third = batch(args, cli_env)
    assert [json.loads(line) for line in third.stdout.splitlines()][-1]["skipped"] == 6


def test_other_settings_into_the_same_folder_are_refused_and_shards_merge(folder, tmp_path, cli_env):
    (folder / "a" / "broken.png").unlink()
    out = tmp_path / "out"
    parts = [batch([str(folder), "-o", str(out), "--shard", f"{k}/2", "--progress", "none"], cli_env) for k in (1, 2)]
    assert [p.returncode for p in parts] == [0, 0], [p.stderr for p in parts]
    shards = [table.read(out / table.table_name((k, 2))) for k in (1, 2)]
    assert sorted(len(s) for s in shards) == [1, 2]
    merged = batch(["--merge", "-o", str(out), "--progress", "none"], cli_env)
    assert merged.returncode == 0 and len(rows(out)) == 3
    changed = batch([str(folder), "-o", str(out), "--shard", "1/2", "--strokes", "8"], cli_env)
    assert changed.returncode == 2 and "other settings" in changed.stderr and "Traceback" not in changed.stderr


def test_a_lists_widths_are_used_and_recorded_and_a_changed_width_sketches_that_image_again(folder, tmp_path,
                                                                                           cli_env):
    listed, out = folder / "list.csv", tmp_path / "out"
    listed.write_text("path,width\ncat.jpg,5\na/crop.png,\n")
    first = batch([str(listed), "-o", str(out), "--width", "2", "--progress", "none"], cli_env)
    assert first.returncode == 0, first.stderr
    assert {name: row.width for name, row in rows(out).items()} == {"cat": 5.0, "a/crop": 2.0}
    for name, width, long_side in (("cat", 5, 451), ("a/crop", 2, 280)):
        strokes = from_svg((out / f"{name}.svg").read_text()).strokes
        assert {round(s.width, 2) for s in strokes} == {round(width * long_side / 224, 2)}
    listed.write_text("path,width\ncat.jpg,6\na/crop.png,\n")
    again = batch([str(listed), "-o", str(out), "--width", "2", "--progress", "json"], cli_env)
    evs = [json.loads(line) for line in again.stdout.splitlines()]
    assert [e["input"] for e in evs if e["event"] == "image"] == [str(folder / "cat.jpg")]
    assert evs[-1]["skipped"] == 1 and rows(out)["cat"].width == 6.0
    listed.write_text("path,width\ncat.jpg,6\na/crop.png,30\n")
    bad = batch([str(listed), "-o", str(out)], cli_env)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        f"clipasso: error: the list {listed}, row 3: width must be a number from 0.25 to 20, got '30'"]


def test_sigterm_keeps_the_images_ended_and_exits_3(folder, tmp_path, cli_env):
    (folder / "a" / "broken.png").unlink()
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "clipasso_core", "batch", str(folder), "-o", str(out),
                                "--progress", "json", *FAST[:-1], "200"], env=cli_env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:
        event = json.loads(line)
        if event["event"] == "progress" and event["iteration"] == 2:
            process.send_signal(signal.SIGTERM)
            break
    rest, _ = process.communicate(timeout=120)
    assert process.returncode == EXIT_CANCELLED
    last = json.loads(rest.splitlines()[-1])
    assert last["event"] == "batch" and last["cancelled"] and last["done"] == 1
    assert [row.status for row in rows(out).values()] == ["cancelled"]  # the image in flight: best so far
    assert (out / rows(out).popitem()[1].outputs[0]).is_file()


def test_bad_arguments_are_one_line(tmp_path, cli_env):
    for args, message in ((["-o", str(tmp_path)], "no INPUT"), ([str(tmp_path / "none"), "-o", str(tmp_path)], "does not exist"),
                          ([str(EXAMPLE_IMAGE), "-o", str(tmp_path), "--batch-size", "0"], "--batch-size"),
                          ([str(EXAMPLE_IMAGE), "-o", str(tmp_path), "--shard", "3/2"], "--shard")):
        run = batch(args, cli_env)
        assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr
