"""CLIP image encoders: which architectures, and where their weights come from.

Profiles (``--backbone``):

- ``openai`` (default): RN101 for the loss and ViT-B-32 for saliency with OpenAI's weights: the
  checkpoints open_clip's ``pretrained="openai"`` points to on the Hugging Face hub, downloaded once
  into huggingface_hub's cache with progress events (``downloads``), or from local checkpoint files (``--clip-weights`` / ``--saliency-weights``, or the environment
  variables ``CLIPASSO_CLIP_WEIGHTS`` / ``CLIPASSO_SALIENCY_WEIGHTS``).
- ``rn101-random``: the same RN101 / ViT-B-32 shapes with random weights (benchmarks).
- ``tiny-random``: a small ModifiedResNet and a small ViT with random weights (tests, offline smoke
  runs).

Random weights are only ever used when a ``*-random`` profile is asked for explicitly; the caller
warns and records it. The encoders come back frozen (eval mode, no parameter gradients), wrapped in
``ImageEncoder``: the one place that knows the layers of open_clip's image towers.

Any other image network plugs in as a ``SketchEncoder`` (the protocol below) through ``Encoders``.
"""
from __future__ import annotations

import copy
import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from .downloads import Needed, fetch_openai_checkpoint, forget_cached, openai_checkpoint_needed
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


@dataclass
class Features:
    """Encoder outputs for a batch, by their role in the loss: ``layer2`` [B, C2, H2, W2], the finer
    geometric stage (CLIP RN101: 512 x 28 x 28); ``layer3`` [B, C3, H3, W3], the coarser geometric stage
    (1024 x 14 x 14); ``embedding`` [B, E], the semantic embedding compared by cosine similarity."""

    layer2: torch.Tensor
    layer3: torch.Tensor
    embedding: torch.Tensor

    def __getitem__(self, index) -> "Features":
        return Features(self.layer2[index], self.layer3[index], self.embedding[index])

    def to(self, dtype: torch.dtype) -> "Features":
        return Features(self.layer2.to(dtype), self.layer3.to(dtype), self.embedding.to(dtype))

    @staticmethod
    def cat(parts: list["Features"]) -> "Features":
        return Features(*(torch.cat([getattr(f, n) for f in parts]) for n in ("layer2", "layer3", "embedding")))


@runtime_checkable
class SketchEncoder(Protocol):
    """An image network the pipeline can use: a frozen ``nn.Module`` (eval mode, no parameter
    gradients) with these members. The loss role needs ``features``, the saliency role ``attention``.

    name: recorded in a result's metadata ("backbone"). input_size: side (px) of the square images it
    takes (the canvas, 224). mean, std: the input normalisation it expects, applied by the pipeline
    (``normalize``) before either call: (image - mean) / std per RGB channel of 0..1 images.
    compute_dtypes: the dtypes it can compute in; bfloat16 listed lets the ``auto`` precision of a
    preset run it under bfloat16 autocast (in channels_last memory).
    """

    name: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    compute_dtypes: tuple[torch.dtype, ...]

    def features(self, images: torch.Tensor) -> Features:
        """Features of normalised images [B, 3, S, S]; gradients must flow to the images."""

    def attention(self, image: torch.Tensor) -> torch.Tensor:
        """Saliency [S, S] in 0..1 (where the object is) of a normalised image [3, S, S]; no gradients."""


@dataclass(frozen=True)
class Encoders:
    """Networks that replace the backbone profile's (``sketch(..., encoders=...)``): ``loss`` scores
    sketches, ``saliency`` places the first strokes; None keeps the profile's model for that role."""

    loss: SketchEncoder | None = None
    saliency: SketchEncoder | None = None

    def checked(self, size: int) -> "Encoders":
        """Each given encoder checked for its role (``ImageEncoder.of``; ValueError when its
        ``input_size`` is not the canvas ``size``), put in eval mode without parameter gradients
        (the modules are changed in place)."""
        checked = {}
        for role in ("loss", "saliency"):
            encoder = getattr(self, role)
            if encoder is not None:
                encoder = ImageEncoder.of(encoder, role).eval().requires_grad_(False)
                if encoder.input_size != size:
                    raise ValueError(f"the {role} encoder {encoder.name!r} takes {encoder.input_size} px images; "
                                     f"the canvas is {size} px")
            checked[role] = encoder
        return Encoders(**checked)


ROLE_METHOD = {"loss": "features", "saliency": "attention"}
"""The ``SketchEncoder`` method each role calls."""


def normalize(images: torch.Tensor, encoder: SketchEncoder) -> torch.Tensor:
    """Images [B, 3, H, W] (or [3, H, W]) in 0..1 normalised as ``encoder`` expects."""
    shape = (3, 1, 1) if images.dim() == 3 else (1, 3, 1, 1)
    mean = _constants(tuple(encoder.mean), images.device, images.dtype).view(shape)
    std = _constants(tuple(encoder.std), images.device, images.dtype).view(shape)
    return (images - mean) / std


_CONSTANTS: dict[tuple, torch.Tensor] = {}


def _constants(values: tuple[float, ...], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """values as a tensor on device, made once and kept (a copy from the host cannot be captured in a
    CUDA graph, and a captured graph goes on reading this tensor); never an inference-mode tensor."""
    key = (values, device, dtype)
    if key not in _CONSTANTS:
        with torch.inference_mode(False):
            _CONSTANTS[key] = torch.tensor(values, device=device, dtype=dtype)
    return _CONSTANTS[key]


class ImageEncoder(nn.Module):
    """A frozen open_clip image tower as a ``SketchEncoder``: the one place that knows its layers.

    ``features``: layer2, layer3 and the embedding of a ModifiedResNet (the loss). ``attention``:
    the CLS-to-patch attention of a VisionTransformer (the saliency). Inputs are CLIP-normalised.
    The tower is the submodule ``visual`` (state dict keys ``visual.*``).
    """

    input_size = 224
    mean = CLIP_MEAN
    std = CLIP_STD
    compute_dtypes = (torch.float32, torch.bfloat16)

    def __init__(self, visual: nn.Module, name: str = "clip"):
        super().__init__()
        self.visual = visual
        self.name = name

    @classmethod
    def of(cls, encoder: nn.Module, role: str = "loss") -> SketchEncoder:
        """A bare open_clip image tower wrapped; any other module returned as it is when it has the
        ``SketchEncoder`` members of ``role`` ("loss": ``features``, "saliency": ``attention``), else
        TypeError naming what it lacks."""
        from open_clip.modified_resnet import ModifiedResNet
        from open_clip.transformer import VisionTransformer

        if isinstance(encoder, (ModifiedResNet, VisionTransformer)):
            return cls(encoder)
        needed = ("name", "input_size", "mean", "std", "compute_dtypes", ROLE_METHOD[role])
        missing = [member for member in needed if not hasattr(encoder, member)]
        if missing:
            raise TypeError(f"{type(encoder).__name__} is not a SketchEncoder for the {role}: it has no "
                            f"{', '.join(missing)}")
        return encoder

    def features(self, images: torch.Tensor) -> Features:
        """Features of normalised images [B, 3, 224, 224], in the dtype the layers compute in."""
        resnet = self.visual
        x = resnet.layer1(resnet.stem(images))
        layer2 = resnet.layer2(x)
        layer3 = resnet.layer3(layer2)
        return Features(layer2, layer3, resnet.attnpool(resnet.layer4(layer3)))

    def frozen_for(self, dtype: torch.dtype) -> "ImageEncoder":
        """This loss encoder (a ModifiedResNet tower) made cheaper to run in ``dtype``, as a new encoder
        with tensors of its own (this one is left as it is): every BatchNorm folded into the
        convolution before it (eval mode: weight x gamma / sqrt(var + eps), bias beta - mean x gamma /
        sqrt(var + eps)), and every parameter stored in ``dtype``, so that autocast finds them cast
        already instead of casting them on every call. Only for the dtype the tower computes in:
        under bfloat16 autocast, every operation of a ModifiedResNet that takes a parameter (the
        convolutions, the attention pool's projections and positional embedding) runs in bfloat16."""
        shared = {id(t): t for t in itertools.chain(self.visual.parameters(), self.visual.buffers())}
        tower = copy.deepcopy(self.visual, shared)  # the modules copied, their tensors replaced below
        for owner, conv, norm in _conv_norm_pairs(tower):
            setattr(owner, conv, _folded(getattr(owner, conv), getattr(owner, norm), dtype))
            setattr(owner, norm, nn.Identity())
        for module in tower.modules():
            for name, param in module.named_parameters(recurse=False):
                if id(param) in shared:  # not folded: a tensor of this encoder's
                    setattr(module, name, nn.Parameter(param.detach().to(dtype, copy=True), requires_grad=False))
        return ImageEncoder(tower, self.name).eval()

    @torch.no_grad()
    def attention(self, image: torch.Tensor) -> torch.Tensor:
        """Saliency [H, W] in 0..1 of a normalised image [3, H, W] (H = W = the ViT's input size).

        For every block: attention probabilities, clamped at >= 0, averaged over heads, CLS-to-patch
        row; averaged over blocks; reshaped to the patch grid; bicubic upsampling; min-max normalised.
        """
        vit = self.visual
        x = vit._embeds(image[None])
        rows = []
        for block in vit.transformer.resblocks:
            y = block.ln_1(x)
            out, weights = block.attn(y, y, y, need_weights=True, average_attn_weights=False)
            rows.append(weights.clamp_min(0).mean(dim=1)[0, 0, 1:])  # [patches]
            x = x + block.ls_1(out)
            x = x + block.ls_2(block.mlp(block.ln_2(x)))
        grid = int(round(len(rows[0]) ** 0.5))
        saliency = torch.stack(rows).mean(0).view(1, 1, grid, grid)
        saliency = F.interpolate(saliency, size=image.shape[-2:], mode="bicubic", align_corners=False)[0, 0]
        return (saliency - saliency.min()) / (saliency.max() - saliency.min()).clamp_min(1e-12)


def _conv_norm_pairs(resnet: nn.Module) -> list[tuple[nn.Module, str, str]]:
    """(module, convolution name, BatchNorm name) of every convolution of an open_clip ModifiedResNet
    whose output goes straight into a BatchNorm: the stem's three, each Bottleneck's three and its
    downsampling branch's one."""
    pairs = [(resnet, f"conv{i}", f"bn{i}") for i in (1, 2, 3)]
    for block in itertools.chain(resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4):
        pairs += [(block, f"conv{i}", f"bn{i}") for i in (1, 2, 3)]
        if block.downsample is not None:
            pairs.append((block.downsample, "0", "1"))
    return pairs


def _folded(conv: nn.Conv2d, norm: nn.BatchNorm2d, dtype: torch.dtype) -> nn.Conv2d:
    """A convolution computing ``norm(conv(x))`` of an eval-mode BatchNorm, its weight and bias in
    ``dtype`` (the per-channel scale and bias computed in float64)."""
    scale = norm.weight.double() / torch.sqrt(norm.running_var.double() + norm.eps)
    bias = norm.bias.double() - norm.running_mean.double() * scale
    if conv.bias is not None:
        bias = bias + conv.bias.double() * scale
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                       conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode, device="meta")
    weight = conv.weight * scale.to(conv.weight.dtype).view(-1, 1, 1, 1)
    folded.weight = nn.Parameter(weight.to(dtype), requires_grad=False)
    folded.bias = nn.Parameter(bias.to(dtype), requires_grad=False)
    return folded


WEIGHT_ENV = {"loss": "CLIPASSO_CLIP_WEIGHTS", "saliency": "CLIPASSO_SALIENCY_WEIGHTS"}
WEIGHT_FLAG = {"loss": "--clip-weights", "saliency": "--saliency-weights"}


def _open_clip():
    import open_clip

    if "clipasso-tiny-rn" not in open_clip.list_models():
        open_clip.add_model_config(_CONFIGS)
    return open_clip


def _build_visual(arch: str, device: str = "cpu") -> nn.Module:
    """An image tower of open_clip architecture ``arch`` (no text tower), initialised randomly from
    a fixed seed, so that random profiles are the same network in every run; on the "meta" device
    its tensors have no memory and no values (nothing is initialised: weights from a file replace them)."""
    open_clip = _open_clip()
    from open_clip.model import CLIPVisionCfg, _build_vision_tower

    cfg = open_clip.get_model_config(arch)
    with torch.random.fork_rng(devices=[]), torch.device(device):
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
    """Tensors of a checkpoint file: open_clip/torch state dicts or safetensors (read by open_clip's
    own ``load_state_dict``), or OpenAI's TorchScript archives. Returns the image-tower entries, keys
    relative to the tower."""
    from open_clip.factory import load_state_dict

    try:
        try:
            state = load_state_dict(path)  # unwraps {"state_dict": ...}, drops a "module." prefix
        except RuntimeError:  # a TorchScript archive, which torch.load(weights_only=True) refuses
            state = torch.jit.load(path, map_location="cpu").state_dict()
    except (AttributeError, StopIteration):  # open_clip found no (non-empty) mapping in the file
        raise ModelUnavailableError(f"weights file {path} holds no state dict") from None
    except Exception as exc:
        raise ModelUnavailableError(f"could not read weights file {path}: {_unreadable(path, exc)}") from None
    if not isinstance(state, dict):
        raise ModelUnavailableError(f"weights file {path} holds no state dict")
    if any(k.startswith("visual.") for k in state):
        state = {k[len("visual."):]: v for k, v in state.items() if k.startswith("visual.")}
    return state


def _unreadable(path: str, exc: Exception) -> str:
    """What is wrong with a weights file that neither torch nor safetensors could read, in one line
    (torch's own message spans many lines and suggests turning its safety check off)."""
    if os.path.getsize(path) == 0:
        return "it is empty (0 bytes)"
    with open(path, "rb") as data:
        head = data.read(2)
    text = str(exc)
    if "Weights only load failed" in text and (head == b"PK" or head[:1] == b"\x80"):
        refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
        return ("it holds Python objects besides tensors" + (f" ({refused.group(1)})" if refused else "") +
                ", which torch does not load from a file it cannot trust: save the network's state_dict() "
                "with torch.save, or use a safetensors file")
    if head == b"PK" or path.endswith(".safetensors"):
        return "it is damaged (an incomplete or corrupt checkpoint)"
    return "it is not a torch or safetensors checkpoint (damaged, or another kind of file)"


def _load_file(arch: str, path: str) -> nn.Module:
    if not os.path.isfile(path):
        raise ModelUnavailableError(f"weights file not found: {path}")
    state = _read_state_dict(path)
    visual = _build_visual(arch, "meta")  # no random initialisation (0.3-0.4 s for RN101 or ViT-B/32 on a CPU)
    try:
        visual.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelUnavailableError(f"weights file {path} does not fit {arch}: {first}") from None
    if any(t.is_meta for t in itertools.chain(visual.parameters(), visual.buffers())):  # a buffer no file holds
        visual = _build_visual(arch)
        visual.load_state_dict(state, strict=True)
    return visual.float()  # assign took the file's dtypes: OpenAI's float16 tensors become float32 again


def openai_repo(arch: str) -> str:
    """The Hugging Face hub repository of OpenAI's ``arch`` checkpoint, as open_clip names it."""
    return _open_clip().get_pretrained_cfg(arch, "openai")["hf_hub"].strip("/")


def _what(arch: str, role: str) -> str:
    return f"CLIP {arch} weights ({'loss' if role == 'loss' else 'saliency'} model)"


def _instead(role: str) -> str:
    return f"pass a local checkpoint with {WEIGHT_FLAG[role]} PATH (or set {WEIGHT_ENV[role]})"


def _load_openai(arch: str, role: str) -> nn.Module:
    """The image tower of OpenAI's ``arch`` from the hub cache, downloaded on first use."""
    what = _what(arch, role)
    path = fetch_openai_checkpoint(openai_repo(arch), what, _instead(role))
    try:
        return _load_file(arch, path)
    except ModelUnavailableError as exc:
        forget_cached(path)
        raise ModelUnavailableError(f"the downloaded {what} could not be loaded ({exc}); the damaged file was "
                                    "removed from the cache: run again to download it again") from None


def model_needed(profile: BackboneProfile, role: str, weights: str | None = None) -> Needed | None:
    """The file ``load_encoder(profile, role, weights)`` will read, as a ``downloads.Needed`` (checked
    before any model loads); None when it reads none (random weights)."""
    weights = weights or os.environ.get(WEIGHT_ENV[role]) or None
    if weights:
        return Needed(f"weights file not found: {weights}", weights if os.path.isfile(weights) else None, None,
                      None, f"check the path given with {WEIGHT_FLAG[role]} (or {WEIGHT_ENV[role]})")
    if profile.random:
        return None
    arch = profile.loss_arch if role == "loss" else profile.saliency_arch
    return openai_checkpoint_needed(openai_repo(arch), _what(arch, role), _instead(role))


def load_encoder(profile: BackboneProfile, role: str, weights: str | None = None) -> ImageEncoder:
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
    return ImageEncoder(visual, f"{profile.name} {arch}").eval().requires_grad_(False)
