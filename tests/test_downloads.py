"""downloads: the real first-run path end to end against a loopback stand-in for the Hugging Face
hub (127.0.0.1 only): ``--backbone openai`` downloads both CLIP checkpoints with ``download``
events and nothing on stderr, caches them, sketches, and runs again offline from the cache; an
interrupted download resumes on the next run, a cancel stops a download within a second (even on a
stalled connection), a corrupt file ends in one clear message and a clean retry, and a run offline
names every missing model at once before loading any."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from clipasso_core.backbones import _build_visual, _calibrate_batchnorm, _open_clip
from clipasso_core.downloads import OPENAI_FILES, download, mask_model, needed, rembg_model, reporting, transfer
from clipasso_core.errors import Cancelled, ModelUnavailableError
from conftest import REMBG_HOME
from loopback_hub import LoopbackHub
from test_cli import clipasso, events

U2NETP = REMBG_HOME / "models" / "u2netp" / "u2netp.onnx"

ARCHS = ("RN101", "ViT-B-32")


def checkpoint(arch: str) -> bytes:
    """An open_clip-format checkpoint (``visual.*`` tensors, fp16) of random weights of ``arch``."""
    from safetensors.torch import save

    state = _calibrate_batchnorm(_build_visual(arch)).state_dict()
    return save({f"visual.{k}": v.to(torch.float16) if v.is_floating_point() else v for k, v in state.items()})


@pytest.fixture(scope="module")
def hub():
    files = {}
    for arch in ARCHS:
        repo = _open_clip().get_pretrained_cfg(arch, "openai")["hf_hub"].strip("/")
        files[f"{repo}/{OPENAI_FILES[0]}"] = checkpoint(arch)
    with LoopbackHub(files) as server:
        yield server


@pytest.fixture
def hub_env(tmp_path, hub, cli_env):
    env = dict(cli_env, HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="0",
               HF_HUB_DISABLE_XET="1", NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    env.pop("HF_HUB_CACHE", None)
    hub.cut_after, hub.corrupt, hub.rate = None, False, None
    yield env
    hub.cut_after, hub.corrupt, hub.rate = None, False, None


SKETCH = ["--backbone", "openai", "--mask", "off", "--preset", "fast", "--iterations", "1", "--seeds", "1",
          "--strokes", "4", "--progress", "json"]


def run(tmp_path, env, name="x"):
    return clipasso(["sketch", "-o", str(tmp_path / f"{name}.svg"), *SKETCH], env)


def test_first_run_downloads_with_events_then_runs_offline_from_the_cache(tmp_path, hub_env, hub):
    first = run(tmp_path, hub_env)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""  # JSON mode: no library messages or bars
    lines = events(first.stdout)
    downloads = [e for e in lines if e["event"] == "download"]
    for arch in ARCHS:
        mine = [e for e in downloads if arch in e["what"]]
        assert mine and mine[-1]["bytes"] == mine[-1]["total"] > 1_000_000
        assert mine[-1]["cache"] == str(tmp_path / "hf" / "hub")
    assert lines[-1]["event"] == "done" and (tmp_path / "x.svg").exists()
    gets = hub.gets
    offline = run(tmp_path, dict(hub_env, HF_HUB_OFFLINE="1"), "y")
    assert offline.returncode == 0, offline.stderr
    assert not [e for e in events(offline.stdout) if e["event"] == "download"] and hub.gets == gets


def test_an_interrupted_download_says_so_and_the_next_run_resumes(tmp_path, hub_env, hub):
    hub.cut_after = 2_000_000  # every GET breaks off after 2 MB (the download reconnects 5 times)
    broken = run(tmp_path, hub_env)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    message = events(broken.stdout)[-1]["message"]
    assert "could not download CLIP ViT-B-32 weights" in message  # the saliency model comes first
    assert "Run again to retry (the download resumes where it stopped)" in message
    assert str(tmp_path / "hf" / "hub") in message
    assert not (tmp_path / "x.svg").exists()
    partials = list((tmp_path / "hf" / "hub").rglob("*.incomplete"))
    assert len(partials) == 1 and partials[0].stat().st_size > 10_000_000  # 6 connections' worth
    kept = partials[0].stat().st_size
    # what a killed huggingface_hub download leaves (a name of its own per process, never resumed)
    stale = partials[0].with_name(partials[0].name.replace(".incomplete", ".0badf00d.incomplete"))
    stale.write_bytes(b"x" * 1000)
    os.utime(stale, (time.time() - 7200,) * 2)
    hub.cut_after, served = None, hub.served
    again = run(tmp_path, hub_env)
    assert again.returncode == 0, again.stderr
    vit = [e for e in events(again.stdout) if e["event"] == "download" and "ViT-B-32" in e["what"]]
    assert vit[0]["bytes"] == kept and vit[-1]["bytes"] == vit[-1]["total"]  # resumed, not started over
    rn101 = [e for e in events(again.stdout) if e["event"] == "download" and "RN101" in e["what"]][-1]["total"]
    assert hub.served - served == vit[-1]["total"] - kept + rn101
    assert not list((tmp_path / "hf").rglob("*.incomplete"))


def test_a_signal_stops_a_download_at_once_and_the_next_run_resumes(tmp_path, hub_env, hub):
    hub.rate = 4_000_000  # bytes/s: the ViT-B-32 checkpoint would take about 45 s
    try:
        core = subprocess.Popen([sys.executable, "-m", "clipasso_core", "sketch", "-o", str(tmp_path / "x.svg"),
                                 *SKETCH], env=hub_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in core.stdout:  # the first download event with bytes in
            if '"download"' in line and '"bytes": 0' not in line:
                break
        time.sleep(1.0)
        core.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        rest, err = core.communicate(timeout=60)
        stopped = time.monotonic() - signalled
    finally:
        hub.rate = None
    assert core.returncode == 3 and stopped < 3.0, (stopped, err)
    last = events(rest)[-1]
    assert last["event"] == "error" and last["code"] == 3
    assert "cancelled while downloading CLIP ViT-B-32 weights" in last["message"]
    assert not (tmp_path / "x.svg").exists()
    kept = next((tmp_path / "hf" / "hub").rglob("*.incomplete")).stat().st_size
    assert 0 < kept < 100_000_000
    served = hub.served
    again = run(tmp_path, hub_env)
    assert again.returncode == 0, again.stderr
    vit = [e for e in events(again.stdout) if e["event"] == "download" and "ViT-B-32" in e["what"]]
    rn101 = [e for e in events(again.stdout) if e["event"] == "download" and "RN101" in e["what"]][-1]["total"]
    assert vit[0]["bytes"] == kept and hub.served - served == vit[-1]["total"] - kept + rn101


def test_a_corrupt_download_is_removed_and_the_next_run_fetches_it_again(tmp_path, hub_env, hub):
    hub.corrupt = True  # the right size, the wrong bytes: the hub's sha256 ETag tells
    bad = run(tmp_path, hub_env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    message = events(bad.stdout)[-1]["message"]
    assert "the downloaded CLIP ViT-B-32 weights (saliency model) was damaged" in message
    assert "run again to download it again" in message
    assert not [p for p in (tmp_path / "hf").rglob("*") if p.is_file() and "blobs" in p.parts]
    hub.corrupt = False
    good = run(tmp_path, hub_env)
    assert good.returncode == 0, good.stderr
    # a cached checkpoint damaged later on disk: named, removed, fetched again by the next run
    cached = next((tmp_path / "hf" / "hub").glob("models--*resnet101*/snapshots/*/*"))
    Path(os.path.realpath(cached)).write_bytes(b"garbage")
    damaged = run(tmp_path, dict(hub_env, HF_HUB_OFFLINE="1"), "y")
    assert damaged.returncode == 2
    message = events(damaged.stdout)[-1]["message"]
    assert "the downloaded CLIP RN101 weights (loss model) could not be loaded" in message
    assert "it is damaged" in message and "removed from the cache" in message
    assert not cached.exists() and not os.path.lexists(cached)


def test_offline_cache_miss_names_the_cache_folder(tmp_path, hub_env):
    missing = run(tmp_path, dict(hub_env, HF_HUB_OFFLINE="1"))
    assert missing.returncode == 2
    assert f"not in {tmp_path / 'hf' / 'hub'}" in missing.stderr and "--saliency-weights" in missing.stderr


def test_the_mask_model_folder_is_the_one_rembg_uses(monkeypatch, tmp_path):
    from rembg.sessions.u2net import U2netSession

    monkeypatch.delenv("U2NET_HOME", raising=False)
    monkeypatch.setenv("REMBG_HOME", str(tmp_path / "rembg"))
    folder, existing = rembg_model("u2net")
    assert folder == U2netSession.model_dir() == str(tmp_path / "rembg" / "models" / "u2net") and existing is None


# --- one file: resume, cancel, verification (in-process, small files) ---------------------------

DATA = np.random.default_rng(0).integers(0, 256, 3_000_000, dtype=np.uint8).tobytes()
SHA = "sha256:" + hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def server():
    with LoopbackHub({"model.bin": DATA, "u2netp.onnx": U2NETP.read_bytes()}) as hub:
        yield hub


def left_over(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith((".incomplete", ".lock")))


def test_a_cancel_stops_a_stalled_download_at_once_and_the_next_run_resumes(tmp_path, server):
    server.stall_after = 1_000_000  # sends 1 MB, then nothing for 10 s
    target, cancel, seen = tmp_path / "models" / "model.bin", threading.Event(), []
    timer = threading.Timer(1.0, cancel.set)
    timer.start()
    started = time.monotonic()
    with pytest.raises(Cancelled, match="cancelled while downloading the model.*resumes"):
        with reporting(seen.append, cancel):
            download(f"{server.endpoint}/model.bin", str(target), "the model", str(tmp_path), size=len(DATA),
                     checksum=SHA)
    assert time.monotonic() - started < 2.5  # 1 s until the cancel, then within about a second
    kept = Path(f"{target}.incomplete").stat().st_size  # what came in whole 64 KiB pieces
    assert 500_000 < kept <= 1_000_000 and not target.exists()
    assert seen and seen[-1].bytes == kept and seen[-1].total == len(DATA)

    server.stall_after, served = None, server.served
    with reporting(seen.append):
        download(f"{server.endpoint}/model.bin", str(target), "the model", str(tmp_path), size=len(DATA),
                 checksum=SHA)
    assert target.read_bytes() == DATA
    assert server.served - served == len(DATA) - kept  # resumed, not started over
    assert seen[-1].bytes == seen[-1].total == len(DATA)
    assert left_over(tmp_path) == []


def test_a_slow_download_is_cancelled_within_a_second(tmp_path, server):
    server.rate = 500_000  # bytes/s: the whole file would take 6 s
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled), reporting(None, cancel):
        download(f"{server.endpoint}/model.bin", str(tmp_path / "model.bin"), "the model", str(tmp_path))
    assert time.monotonic() - started < 2.0
    assert 0 < (tmp_path / "model.bin.incomplete").stat().st_size < len(DATA)


def test_a_broken_connection_is_retried_and_the_next_run_resumes(tmp_path, server, monkeypatch):
    monkeypatch.setattr(transfer, "ATTEMPTS", 2)
    server.cut_after = 500_000  # every GET breaks off after 0.5 MB
    target = tmp_path / "model.bin"
    with pytest.raises(OSError):
        download(f"{server.endpoint}/model.bin", str(target), "the model", str(tmp_path), checksum=SHA)
    kept = Path(f"{target}.incomplete").stat().st_size
    assert 800_000 < kept <= 1_000_000  # two connections, the second resumed (whole 64 KiB pieces kept)
    server.cut_after, served = None, server.served
    download(f"{server.endpoint}/model.bin", str(target), "the model", str(tmp_path), checksum=SHA)
    assert target.read_bytes() == DATA and server.served - served == len(DATA) - kept
    assert left_over(tmp_path) == []


def test_a_damaged_download_is_removed_and_fetched_again(tmp_path, server):
    server.corrupt = True
    target = tmp_path / "model.bin"
    with pytest.raises(ModelUnavailableError, match="the model was damaged .*removed: run again"):
        download(f"{server.endpoint}/model.bin", str(target), "the model", str(tmp_path), checksum=SHA)
    assert not target.exists() and left_over(tmp_path) == []
    server.corrupt = False
    download(f"{server.endpoint}/model.bin", str(target), "the model", str(tmp_path), checksum=SHA)
    assert target.read_bytes() == DATA


def test_a_download_that_cannot_start_leaves_no_folders(tmp_path):
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(OSError):  # connection refused
        download(f"http://127.0.0.1:{port}/model.bin", str(tmp_path / "a" / "b" / "model.bin"), "the model",
                 str(tmp_path))
    assert list(tmp_path.iterdir()) == []


# --- rembg's mask model ----------------------------------------------------------------------


def test_rembg_source_is_what_rembg_itself_would_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    url, checksum, path = mask_model.rembg_source("u2netp")
    assert url.startswith("https://") and url.endswith("/u2netp.onnx")
    assert checksum == "md5:8e83ca70e441ab06c318d82300c84806"  # rembg's own (shared/README.md)
    assert path == str(tmp_path / "models" / "u2netp" / "u2netp.onnx")
    assert list(tmp_path.iterdir()) == []  # nothing fetched or created
    monkeypatch.setenv("U2NET_HOME", str(REMBG_HOME))
    assert mask_model.rembg_source("u2netp") is None  # rembg has it


@pytest.mark.parametrize("damage", [b"not an onnx model", b""], ids=["garbage", "zero-bytes"])
def test_a_damaged_mask_model_is_named_removed_and_downloaded_again(tmp_path, monkeypatch, server, damage):
    from clipasso_core.masking import rembg_mask

    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    model = tmp_path / "models" / "u2netp" / "u2netp.onnx"
    model.parent.mkdir(parents=True)
    model.write_bytes(damage)
    rgb = np.ones((32, 32, 3), np.float32)
    with pytest.raises(ModelUnavailableError) as failure:
        rembg_mask(rgb, "u2netp")
    message = str(failure.value)
    assert f"the background mask model file {model} is damaged" in message and "it was removed" in message
    assert "\n" not in message and not model.exists()
    # the next run downloads it again (rembg's URL, here served by the loopback server)
    url, checksum, path = mask_model.rembg_source("u2netp")
    monkeypatch.setattr(mask_model, "rembg_source", lambda name: (f"{server.endpoint}/u2netp.onnx", checksum, path))
    seen = []
    with reporting(seen.append):
        mask = rembg_mask(rgb, "u2netp")
    assert mask.shape == (32, 32) and model.read_bytes() == U2NETP.read_bytes()
    assert seen[-1].what == "background mask model u2netp" and seen[-1].bytes == model.stat().st_size
    assert left_over(tmp_path) == []


def test_a_damaged_mask_model_ends_the_run_with_one_line_and_exit_2(tmp_path, cli_env):
    model = tmp_path / "home" / "models" / "u2netp" / "u2netp.onnx"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"garbage")
    run = clipasso(["sketch", "-o", str(tmp_path / "x.svg"), "--backbone", "tiny-random", "--mask", "on",
                    "--mask-model", "u2netp", "--progress", "none"], dict(cli_env, U2NET_HOME=str(tmp_path / "home")))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and f"{model} is damaged" in run.stderr and "removed" in run.stderr
    assert not model.exists() and not (tmp_path / "x.svg").exists()


# --- the first run offline -------------------------------------------------------------------


def test_offline_one_run_names_every_missing_model_before_loading_any(tmp_path, cli_env):
    env = dict(cli_env, U2NET_HOME=str(tmp_path / "rembg"))
    run = clipasso(["sketch", "-o", str(tmp_path / "x.svg"), "--mask", "on", "--progress", "json"], env)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    kinds = [e["event"] for e in events(run.stdout)]
    assert kinds == ["start", "error"]  # no download, nothing loaded
    message = events(run.stdout)[-1]["message"]
    hub = tmp_path / "hf" / "hub"
    assert f"CLIP ViT-B-32 weights (saliency model), not in {hub} (downloads are off: HF_HUB_OFFLINE is set)" in message
    assert "--saliency-weights PATH" in message and "--clip-weights PATH" in message
    assert f"CLIP RN101 weights (loss model), not in {hub}" in message
    if not needed._reachable("https://github.com"):  # rembg's server (the product's network, not the tests')
        assert message.startswith("3 models are missing: background mask model u2net, not in "
                                  f"{tmp_path / 'rembg' / 'models' / 'u2net'}")
        assert "--mask off" in message
    assert not (tmp_path / "rembg").exists() and not hub.exists()  # no empty model folders
    check = clipasso(["info", "--check"], env)
    assert check.returncode == 0
    assert (f"background mask model u2net: not downloaded yet; the first sketch that masks a background "
            f"(--mask auto or on) downloads it into {tmp_path / 'rembg' / 'models' / 'u2net'}") in check.stdout
    assert f"CLIP RN101 weights: not downloaded yet; the first sketch downloads it into {hub}" in check.stdout
