"""The CLIP perceptual loss of CLIPasso for a frozen image encoder (CLIP RN101, or any ``SketchEncoder``).

For a pair (sketch, target): geometric loss = sum over layers of weight x mean squared difference of
the activations (layer2 and layer3, weight 1 each), plus semantic loss = 0.1 x (1 - cosine similarity)
of the final embeddings. A sketch's loss is the mean over its pairs: one clean pair and the original's
4 augmented ones (the same augmentation on sketch and target). A step that samples K augmented pairs
weights the clean pair 1/5 and each augmented one 4/(5K), so every K has the original's expected loss.
"""
from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import Features, ImageEncoder, SketchEncoder, normalize

GEOMETRIC_LAYERS = {"layer2": 1.0, "layer3": 1.0}
SEMANTIC_WEIGHT = 0.1
ORIGINAL_AUGMENTATIONS = 4


class ClipLoss(nn.Module):
    """Encodes images with a ``SketchEncoder`` (a bare open_clip tower is wrapped) and scores
    (sketch, target) pairs. ``bf16``: run the encoder under bfloat16 autocast with channels_last
    memory (the loss itself is computed in float32); ignored by an encoder without bfloat16 in its
    ``compute_dtypes``. ``fold``: an open_clip tower in eval mode runs as ``ImageEncoder.frozen_for``
    its compute dtype (BatchNorm folded into the convolutions, weights in that dtype; the given
    encoder is left as it is); False runs it as given (the benchmark's baseline). Other encoders
    always run as given."""

    def __init__(self, encoder: SketchEncoder | nn.Module, bf16: bool = False, fold: bool = True):
        super().__init__()
        encoder = ImageEncoder.of(encoder)
        self.bf16 = bf16 and torch.bfloat16 in encoder.compute_dtypes
        if fold and isinstance(encoder, ImageEncoder) and not encoder.visual.training:
            encoder = encoder.frozen_for(torch.bfloat16 if self.bf16 else torch.float32)
        self.encoder = encoder
        if self.bf16:
            self.encoder.to(memory_format=torch.channels_last)

    def encode(self, images: torch.Tensor) -> Features:
        """Features of images [B, 3, S, S] in 0..1 (gradients flow to the images only)."""
        x = normalize(images, self.encoder)
        if self.bf16:
            x = x.contiguous(memory_format=torch.channels_last)
        # no cast cache: frozen weights are stored in the compute dtype already, and a CUDA graph capture forbids it
        context = (torch.autocast(images.device.type, dtype=torch.bfloat16, cache_enabled=False) if self.bf16
                   else nullcontext())
        with context:
            features = self.encoder.features(x)
        return features.to(torch.float32)

    @staticmethod
    def pair_losses(sketch: Features, target: Features) -> torch.Tensor:
        """Loss of each pair [P] for sketch and target features of P pairs."""
        geometric = sum(weight * (getattr(sketch, name) - getattr(target, name)).pow(2).flatten(1).mean(1)
                        for name, weight in GEOMETRIC_LAYERS.items())
        semantic = 1.0 - F.cosine_similarity(sketch.embedding, target.embedding, dim=1)
        return geometric + SEMANTIC_WEIGHT * semantic

    @staticmethod
    def step_loss(pair_losses: torch.Tensor) -> torch.Tensor:
        """Per-sketch loss [B] from pair losses [B, 1 + K] (clean pair first) with K augmented pairs."""
        if pair_losses.shape[1] == 1:
            return pair_losses[:, 0]
        clean_weight = 1.0 / (1 + ORIGINAL_AUGMENTATIONS)
        return clean_weight * pair_losses[:, 0] + (1 - clean_weight) * pair_losses[:, 1:].mean(dim=1)


def overlap(points: torch.Tensor, radius: float, samples: int = 16) -> torch.Tensor:
    """How much the strokes of each sketch lie on one another: points [B, S, 4, 2] (px) -> [B].

    Every stroke is sampled at ``samples`` points; each pair of samples closer than ``radius`` px
    counts (1 - distance / radius)^2, for samples of different strokes and for samples of the same
    stroke at least a third of it apart (a stroke folded back on itself); the sum is divided by the
    number of samples. Strokes that cross or meet add little; strokes laid side by side (hatching)
    or folded add a lot."""
    batch, strokes = points.shape[:2]
    t = torch.linspace(0, 1, samples, device=points.device, dtype=points.dtype)[:, None]
    basis = torch.cat([(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3], dim=1)  # [K, 4]
    at = torch.einsum("kc,bscd->bskd", basis, points).reshape(batch, strokes * samples, 2)
    distance = ((at[:, :, None] - at[:, None]).pow(2).sum(-1) + 1e-9).sqrt()  # [B, N, N]
    stroke = torch.arange(strokes, device=points.device).repeat_interleave(samples)
    index = torch.arange(samples, device=points.device).repeat(strokes)
    apart = (stroke[:, None] != stroke[None]) | ((index[:, None] - index[None]).abs() >= max(1, samples // 3))
    close = (1 - distance / radius).clamp_min(0).pow(2) * apart
    return close.sum((1, 2)) / (strokes * samples)
