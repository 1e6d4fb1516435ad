"""downloads: the real first-run path end to end against a loopback stand-in for the Hugging Face
hub (127.0.0.1 only): ``--backbone openai`` downloads both CLIP checkpoints with ``download``
events and nothing on stderr, caches them, sketches, and runs again offline from the cache; an
interrupted download and a corrupt file each end in one clear message and a clean retry."""
from __future__ import annotations


import pytest
import torch

from clipasso_core.backbones import _build_visual, _calibrate_batchnorm, _open_clip
from clipasso_core.downloads import OPENAI_FILES, rembg_model
from loopback_hub import LoopbackHub
from test_cli import clipasso, events

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
    hub.cut_after, hub.corrupt = None, False
    yield env
    hub.cut_after, hub.corrupt = None, False


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
    hub.cut_after = 2_000_000  # every GET breaks off after 2 MB (the client retries 5 times)
    broken = run(tmp_path, hub_env)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    message = events(broken.stdout)[-1]["message"]
    assert "could not download CLIP ViT-B-32 weights" in message  # the saliency model comes first and "Run again to retry" in message
    assert str(tmp_path / "hf" / "hub") in message
    assert not (tmp_path / "x.svg").exists()
    hub.cut_after = None
    again = run(tmp_path, hub_env)
    assert again.returncode == 0, again.stderr
    first = [e for e in events(again.stdout) if e["event"] == "download" and "ViT-B-32" in e["what"]][0]
    assert first["bytes"] >= 2_000_000  # resumed, not started over


def test_a_corrupt_download_is_removed_and_the_next_run_fetches_it_again(tmp_path, hub_env, hub):
    hub.corrupt = True
    bad = run(tmp_path, hub_env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    message = events(bad.stdout)[-1]["message"]
    assert "could not be loaded" in message and "run again to download it again" in message
    hub.corrupt = False
    good = run(tmp_path, hub_env)
    assert good.returncode == 0, good.stderr


def test_offline_cache_miss_names_the_cache_folder(tmp_path, hub_env):
    missing = run(tmp_path, dict(hub_env, HF_HUB_OFFLINE="1"))
    assert missing.returncode == 2
    assert f"not cached in {tmp_path / 'hf' / 'hub'}" in missing.stderr and "--saliency-weights" in missing.stderr


def test_the_mask_model_folder_is_the_one_rembg_uses(monkeypatch, tmp_path):
    from rembg.sessions.u2net import U2netSession

    monkeypatch.delenv("U2NET_HOME", raising=False)
    monkeypatch.setenv("REMBG_HOME", str(tmp_path / "rembg"))
    folder, existing = rembg_model("u2net")
    assert folder == U2netSession.model_dir() == str(tmp_path / "rembg" / "models" / "u2net") and existing is None
