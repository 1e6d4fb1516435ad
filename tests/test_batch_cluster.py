"""batch.cluster: clipasso batch --ray on a real local Ray cluster (2 CPUs, tiny-random): a worker
killed mid-batch loses no image and duplicates none, a second run sketches nothing, one and two
workers write the same rows (a list's strokes, seeds and widths included), a cancel keeps the images
ended; workers per cluster; one-line errors."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from PIL import Image

from clipasso_core import cli
from clipasso_core.batch import cluster, table
from clipasso_core.contract.client import EXIT_CANCELLED, EXIT_SOME_FAILED
from clipasso_core.errors import InputError
from clipasso_core.pipeline import EXAMPLE_IMAGE
from clipasso_core.svg import from_svg

from conftest import ROOT

LINUX_PROC = pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds Ray's workers in /proc")
FAST = ["--backbone", "tiny-random", "--mask", "off", "--preset", "fast", "--iterations", "4"]


@pytest.fixture(scope="module")
def ray_address():
    """A local Ray cluster of 2 CPUs for the module; its workers import this checkout."""
    ray = pytest.importorskip("ray")
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        info = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
    yield info.address_info["gcs_address"]
    ray.shutdown()


@pytest.fixture
def folder(tmp_path):
    """Six copies and crops of the cat."""
    root = tmp_path / "in"
    root.mkdir()
    image = Image.open(EXAMPLE_IMAGE)
    for k in range(3):
        shutil.copy(EXAMPLE_IMAGE, root / f"cat{k}.jpg")
        image.crop((40 * k, 10 * k, 300 + 20 * k, 280)).save(root / f"crop{k}.png")
    return root


def batch(args, env, **kw):
    """``clipasso batch`` with FAST options (``args`` may override them) and JSON events."""
    return subprocess.Popen([sys.executable, "-m", "clipasso_core", "batch", *FAST, *args, "--progress", "json"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def finish(process) -> tuple[int, list[dict]]:
    out, err = process.communicate(timeout=600)
    return process.returncode, [json.loads(line) for line in out.splitlines()]


def table_rows(out) -> list[table.Row]:
    return table.read(out / table.TABLE)


def sketching() -> list[int]:
    """The pids of this machine's Ray actor processes sketching now (Ray titles them so)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                title = handle.read().split(b"\0")[0].decode(errors="replace").strip()
        except OSError:
            continue
        if title == "ray::Sketcher.sketch":
            found.append(int(pid))
    return found


@LINUX_PROC
def test_a_worker_killed_mid_batch_loses_no_image_and_a_second_run_sketches_nothing(folder, tmp_path, cli_env,
                                                                                    ray_address):
    out = tmp_path / "out"
    args = [str(folder), "-o", str(out), "--ray", ray_address, "--ray-cpus-per-worker", "1"]  # two workers
    process = batch(args, cli_env)
    killed = None
    for line in process.stdout:  # once an image is in the table, a worker busy with the next one dies
        if killed is None and json.loads(line)["event"] == "image":
            busy = sketching()
            if busy:
                killed = busy[0]
                os.kill(killed, signal.SIGKILL)
    code, _ = finish(process)
    assert code == 0, process.stderr
    assert killed is not None, "no worker was busy after the first image"
    rows = table_rows(out)
    assert sorted(row.name for row in rows) == sorted(p.stem for p in folder.iterdir())  # each once
    assert {row.status for row in rows} == {"done"} and all((out / f"{row.name}.svg").is_file() for row in rows)

    code, evs = finish(batch(args, cli_env))
    assert code == 0
    assert [e["event"] for e in evs] == ["start", "warning", "batch"] and evs[-1]["skipped"] == 6
    assert len(table_rows(out)) == 6


def test_one_and_two_workers_write_the_same_rows(folder, tmp_path, cli_env, ray_address):
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    listing = tmp_path / "list.csv"
    listing.write_text("path,strokes,seed,width\n" + "".join(
        f"{folder / name},{strokes},{seed},{width}\n" for name, strokes, seed, width in
        [("cat0.jpg", 6, 3, ""), ("crop1.png", 9, "", 5), ("broken.png", "", "", ""), ("crop2.png", "", 11, "")]))
    inputs = [str(listing), str(folder / "cat1.jpg"), "--seeds", "1"]
    one = tmp_path / "one"
    code, _ = finish(batch([*inputs, "-o", str(one), "--ray", ray_address, "--ray-workers", "1"], cli_env))
    assert code == EXIT_SOME_FAILED
    two = tmp_path / "two"  # --ray auto finds the cluster through RAY_ADDRESS
    code, _ = finish(batch([*inputs, "-o", str(two), "--ray", "--ray-workers", "2", "--ray-cpus-per-worker", "1",
                            "--batch-size", "2"], {**cli_env, "RAY_ADDRESS": ray_address}))
    assert code == EXIT_SOME_FAILED

    def summary(out):
        return sorted((row.name, row.status, row.strokes, row.seed, row.width, row.error) for row in table_rows(out))
    assert summary(one) == summary(two)
    assert {(name, status, strokes, seed, width) for name, status, strokes, seed, width, _ in summary(one)} == {
        ("in/cat0", "done", 6, 3, 3.0), ("in/crop1", "done", 9, 0, 5.0), ("in/broken", "failed", None, None, 3.0),
        ("in/crop2", "done", 16, 11, 3.0), ("cat1", "done", 16, 0, 3.0)}
    for out in (one, two):  # the workers sketched crop1 (280 px on its long side) at its row's width
        strokes = from_svg((out / "in" / "crop1.svg").read_text()).strokes
        assert {round(s.width, 2) for s in strokes} == {round(5 * 280 / 224, 2)}


@LINUX_PROC
def test_a_cancel_keeps_the_images_ended_and_exits_3(folder, tmp_path, cli_env, ray_address):
    out = tmp_path / "out"
    args = [str(folder), "-o", str(out), "--ray", ray_address, "--ray-cpus-per-worker", "1"]
    process = batch([*args, "--iterations", "20000"], cli_env)
    assert json.loads(process.stdout.readline())["event"] == "start"
    while len(sketching()) < 2:  # both workers at their first image
        assert process.poll() is None
        time.sleep(0.2)
    time.sleep(8)  # time to load the models and take some steps: a cancel before the first step ends with nothing
    process.send_signal(signal.SIGTERM)
    code, evs = finish(process)
    assert code == EXIT_CANCELLED, process.stderr
    assert evs[-1]["event"] == "batch" and evs[-1]["cancelled"]
    rows = table_rows(out)
    assert len(rows) <= 2 and len({row.name for row in rows}) == len(rows)  # the images in flight, once
    assert all(row.status == "cancelled" and (out / f"{row.name}.svg").is_file() for row in rows)


def test_workers_fit_the_cluster_one_per_gpu_else_per_group_of_cores():
    gpu_nodes = [{"Alive": True, "Resources": {"CPU": 16.0, "GPU": 4.0}},
                 {"Alive": True, "Resources": {"CPU": 2.0, "GPU": 3.0}},
                 {"Alive": False, "Resources": {"CPU": 64.0, "GPU": 8.0}}]
    assert cluster.worker_options(gpu_nodes, "auto", None) == ({"num_cpus": 1, "num_gpus": 1}, 6)
    assert cluster.worker_options(gpu_nodes, "cuda", 2) == ({"num_cpus": 2, "num_gpus": 1}, 5)
    assert cluster.worker_options(gpu_nodes, "cpu", None) == ({"num_cpus": 4, "num_gpus": 0}, 4)
    small = [{"Alive": True, "Resources": {"CPU": 2.0}}]
    assert cluster.worker_options(small, "auto", None) == ({"num_cpus": 2, "num_gpus": 0}, 1)
    with pytest.raises(InputError, match="no GPU"):
        cluster.worker_options(small, "cuda", None)
    with pytest.raises(InputError, match="8 CPU cores"):
        cluster.worker_options(small, "cpu", 8)


@pytest.mark.parametrize("extra, message", [
    (["--ray", "127.0.0.1:1"], "cannot reach the Ray cluster at 127.0.0.1:1"),
    (["--ray", "photos/"], "--ray takes auto or a cluster's address HOST:PORT"),
    (["--ray-workers", "0"], "--ray-workers: must be a whole number >= 1"),
])
def test_bad_ray_options_are_one_line_and_exit_2(folder, tmp_path, capsys, extra, message):
    code = cli.main(["batch", str(folder), "-o", str(tmp_path / "out"), *FAST, *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[-1] and err[-1].startswith("clipasso: error:")


def test_without_ray_the_option_says_how_to_install_it(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    code = cli.main(["batch", str(folder), "-o", str(tmp_path / "out"), *FAST, "--ray"])
    assert code == 2 and capsys.readouterr().err.strip().splitlines()[-1] == f"clipasso: error: {cluster.INSTALL}"


def test_an_input_after_a_bare_ray_is_an_input_not_an_address(tmp_path):
    from clipasso_core.batch.cluster import input_taken_as_address
    from clipasso_core.cli import build_parser

    photos = str(tmp_path)
    for argv, address, inputs in ((["--ray", photos, "more.png"], "auto", [photos, "more.png"]),
                                  (["--ray", "shots/*.png"], "auto", ["shots/*.png"]),
                                  (["a.png", "--ray", "nothing-here"], "nothing-here", ["a.png"]),
                                  (["more.png", "--ray", "head:6379"], "head:6379", ["more.png"]),
                                  (["--ray", "ray://head:10001", "a.png"], "ray://head:10001", ["a.png"]),
                                  (["a.png", "--ray"], "auto", ["a.png"])):
        args = build_parser().parse_args(["batch", *argv, "-o", "out"])
        input_taken_as_address(args)
        assert (args.ray, args.inputs) == (address, inputs)


class _Call:
    def __init__(self, outcome):
        self.outcome = outcome


class _Method:
    def __init__(self, outcome):
        self.outcome = outcome

    def remote(self, *args):
        return _Call(self.outcome(*args) if callable(self.outcome) else self.outcome)


class _FakeRay:
    """``ray.wait``/``ray.get`` over calls whose outcome is known (a value, or an exception to raise)."""

    @staticmethod
    def wait(calls, num_returns, timeout):
        return calls[:num_returns], calls[num_returns:]

    @staticmethod
    def get(call):
        if isinstance(call.outcome, Exception):
            raise call.outcome
        return call.outcome


def test_images_whose_worker_ran_out_of_memory_say_so_and_how_to_need_less(tmp_path):
    pytest.importorskip("ray")
    from ray.exceptions import ActorDiedError, OutOfMemoryError

    from clipasso_core.batch.inputs import Item

    class Actor:
        sketch = _Method(OutOfMemoryError("Task was killed due to the node running low on memory."))
        stop = _Method(None)

    actor = Actor()
    todo = [Item(str(tmp_path / f"cat{k}.jpg"), f"cat{k}") for k in range(2)]
    joined = iter([2, ActorDiedError()])  # it joins with a batch size of 2, and is gone after the batch failed
    Actor.batch_size = _Method(lambda size: next(joined))
    ended = list(cluster._dispatch(_FakeRay, [actor], todo, 2, threading.Event()))
    assert [r.index for r in ended] == [0, 1]
    assert all(r.sketch is None and r.error.endswith(cluster.OUT_OF_MEMORY) and "OutOfMemoryError" in r.error
               for r in ended)
    assert cluster.killed_for_memory(ActorDiedError()) is False
