"""CLIP image encoders: which architectures, and where their weights come from.

Profiles (``--backbone``):

- ``openai`` (default): RN101 for the loss and ViT-B-32 for saliency with OpenAI's weights, loaded
  the normal open_clip way (``pretrained="openai"``: downloaded once and cached by huggingface_hub),
  or from local checkpoint files (``--clip-weights`` / ``--saliency-weights``, or the environment
  variables ``CLIPASSO_CLIP_WEIGHTS`` / ``CLIPASSO_SALIENCY_WEIGHTS``).
- ``rn101-random``: the same RN101 / ViT-B-32 shapes with random weights (benchmarks).
- ``tiny-random``: a small ModifiedResNet and a small ViT with random weights (tests, offline smoke
  runs).

Random weights are only ever used when a ``*-random`` profile is asked for explicitly; the caller
warns and records it. The encoders come back frozen (eval mode, no parameter gradients).
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from .errors import ModelUnavailableError

_CONFIGS = Path(__file__).parent / "model_configs"


@dataclass(frozen=True)
class BackboneProfile:
    name: str
    loss_arch: str
    saliency_arch: str
    random: bool


PROFILES = {
    "openai": BackboneProfile("openai", "RN101", "ViT-B-32", random=False),
    "rn101-random": BackboneProfile("rn101-random", "RN101", "ViT-B-32", random=True),
    "tiny-random": BackboneProfile("tiny-random", "clipasso-tiny-rn", "clipasso-tiny-vit", random=True),
}

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def clip_normalize(images: torch.Tensor) -> torch.Tensor:
    """CLIP input normalisation of images [B, 3, H, W] in 0..1."""
    mean = images.new_tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = images.new_tensor(CLIP_STD).view(1, 3, 1, 1)
    return (images - mean) / std


WEIGHT_ENV = {"loss": "CLIPASSO_CLIP_WEIGHTS", "saliency": "CLIPASSO_SALIENCY_WEIGHTS"}
WEIGHT_FLAG = {"loss": "--clip-weights", "saliency": "--saliency-weights"}


def _open_clip():
    import open_clip

    if "clipasso-tiny-rn" not in open_clip.list_models():
        open_clip.add_model_config(_CONFIGS)
    return open_clip


def _build_visual(arch: str) -> nn.Module:
    """An image tower of open_clip architecture ``arch`` (no text tower), initialised randomly from
    a fixed seed, so that random profiles are the same network in every run."""
    open_clip = _open_clip()
    from open_clip.model import CLIPVisionCfg, _build_vision_tower

    cfg = open_clip.get_model_config(arch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return _build_vision_tower(cfg["embed_dim"], CLIPVisionCfg(**cfg["vision_cfg"]), quick_gelu=True)


def _calibrate_batchnorm(visual: nn.Module) -> nn.Module:
    """Set the BatchNorm statistics of a random network from a fixed batch of noise images, so that
    its activations have the unit scale of a trained network (the loss then has a realistic scale)."""
    if not any(isinstance(m, nn.BatchNorm2d) for m in visual.modules()):
        return visual
    for module in visual.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration batch
    generator = torch.Generator().manual_seed(0)
    noise = torch.rand(4, 3, visual.image_size, visual.image_size, generator=generator)
    visual.train()
    with torch.no_grad():
        visual(noise)
    return visual


def _read_state_dict(path: str) -> dict:
    """Tensors of a checkpoint file: open_clip/torch state dicts, safetensors, or OpenAI's
    TorchScript archives. Returns the image-tower entries, keys relative to the tower."""
    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except RuntimeError:
                state = torch.jit.load(path, map_location="cpu").state_dict()
    except Exception as exc:
        raise ModelUnavailableError(f"could not read weights file {path}: {exc}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelUnavailableError(f"weights file {path} holds no state dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if any(k.startswith("visual.") for k in state):
        state = {k[len("visual."):]: v for k, v in state.items() if k.startswith("visual.")}
    return state


def _load_file(arch: str, path: str) -> nn.Module:
    if not os.path.isfile(path):
        raise ModelUnavailableError(f"weights file not found: {path}")
    visual = _build_visual(arch)
    try:
        visual.load_state_dict(_read_state_dict(path), strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelUnavailableError(f"weights file {path} does not fit {arch}: {first}") from None
    return visual


def _cached_openai(arch: str) -> str | None:
    """Path of the cached OpenAI checkpoint of ``arch`` in the huggingface_hub cache, or None."""
    from huggingface_hub import try_to_load_from_cache

    repo = _open_clip().get_pretrained_cfg(arch, "openai")["hf_hub"].strip("/")
    for filename in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
        found = try_to_load_from_cache(repo, filename)
        if isinstance(found, str):
            return found
    return None


def _hub_reachable(timeout: float = 3.0) -> bool:
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    host = urlparse(constants.ENDPOINT).hostname or ""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _load_openai(arch: str, role: str) -> nn.Module:
    cached = _cached_openai(arch)
    if cached:
        return _load_file(arch, cached)
    if not _hub_reachable():
        from huggingface_hub import constants

        raise ModelUnavailableError(
            f"CLIP model {arch} (OpenAI weights) is not cached in {constants.HF_HUB_CACHE} and the "
            f"model hub cannot be reached. Connect once to download it, or pass a local checkpoint "
            f"with {WEIGHT_FLAG[role]} PATH (or set {WEIGHT_ENV[role]}).")
    model = _open_clip().create_model(arch, pretrained="openai")
    return model.visual


def load_encoder(profile: BackboneProfile, role: str, weights: str | None = None) -> nn.Module:
    """The frozen image encoder for ``role`` ("loss" or "saliency") of ``profile``.

    ``weights`` (or the role's environment variable) is a local checkpoint file; without one the
    profile decides: OpenAI weights (cache, else download) or random weights for ``*-random``.
    """
    arch = profile.loss_arch if role == "loss" else profile.saliency_arch
    weights = weights or os.environ.get(WEIGHT_ENV[role]) or None
    if weights:
        visual = _load_file(arch, weights)
    elif profile.random:
        visual = _calibrate_batchnorm(_build_visual(arch))
    else:
        visual = _load_openai(arch, role)
    visual.eval().requires_grad_(False)
    return visual
