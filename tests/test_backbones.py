"""Loading encoders: random profiles only on request, local weight files, offline failure."""
from __future__ import annotations

import pytest
import torch

from clipasso_core.backbones import PROFILES, load_encoder
from clipasso_core.errors import ModelUnavailableError


def test_tiny_profile_has_the_families_and_is_frozen():
    loss = load_encoder(PROFILES["tiny-random"], "loss")
    vit = load_encoder(PROFILES["tiny-random"], "saliency")
    assert type(loss).__name__ == "ModifiedResNet" and type(vit).__name__ == "VisionTransformer"
    assert not any(p.requires_grad for p in loss.parameters())
    assert not loss.training


def test_weights_file_is_loaded_exactly(tmp_path):
    source = load_encoder(PROFILES["tiny-random"], "loss")
    with torch.no_grad():
        for p in source.parameters():
            p.add_(torch.randn_like(p))
    full = {f"visual.{k}": v for k, v in source.state_dict().items()}
    full["text_projection"] = torch.zeros(3)  # a full CLIP checkpoint carries the text tower too
    torch.save({"state_dict": full}, tmp_path / "ckpt.pt")
    loaded = load_encoder(PROFILES["tiny-random"], "loss", str(tmp_path / "ckpt.pt"))
    for (k, a), b in zip(source.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k


def test_weights_from_environment_variable(tmp_path, monkeypatch):
    source = load_encoder(PROFILES["tiny-random"], "saliency")
    torch.save(source.state_dict(), tmp_path / "vit.pt")
    monkeypatch.setenv("CLIPASSO_SALIENCY_WEIGHTS", str(tmp_path / "vit.pt"))
    assert torch.equal(load_encoder(PROFILES["tiny-random"], "saliency").class_embedding, source.class_embedding)


def test_wrong_or_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelUnavailableError, match="not found"):
        load_encoder(PROFILES["openai"], "loss", str(tmp_path / "none.pt"))
    torch.save(load_encoder(PROFILES["tiny-random"], "saliency").state_dict(), tmp_path / "vit.pt")
    with pytest.raises(ModelUnavailableError, match="does not fit clipasso-tiny-rn"):
        load_encoder(PROFILES["tiny-random"], "loss", str(tmp_path / "vit.pt"))
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ModelUnavailableError, match="could not read"):
        load_encoder(PROFILES["tiny-random"], "loss", str(tmp_path / "junk.pt"))


def test_openai_weights_offline_and_uncached_fail_fast(tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelUnavailableError, match=r"RN101.*--clip-weights"):
        load_encoder(PROFILES["openai"], "loss")
    with pytest.raises(ModelUnavailableError, match=r"ViT-B-32.*--saliency-weights"):
        load_encoder(PROFILES["openai"], "saliency")
