"""The trained stand-in encoder (tools/standin_mobilenet.py): MobileNetV2 read from the shared TFLite
file classifies photos, its features have the encoder protocol's shapes and unit scale, gradients
reach the images, bfloat16 agrees with float32, and its attention lies on the object."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from clipasso_core.backbones import SketchEncoder, normalize

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("standin_mobilenet", ROOT / "tools" / "standin_mobilenet.py")
standin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(standin)

needs_model = pytest.mark.skipif(not standin.STANDIN_AVAILABLE, reason=f"no model file at {standin.DEFAULT_PATH}")


@pytest.fixture(scope="module")
def model():
    return standin.load_standin()


def _photo(name: str) -> torch.Tensor:
    """A scikit-image photo padded to a white square, 224 px: [1, 3, 224, 224] in 0..1."""
    from skimage import data

    from clipasso_core.canvas import pad_and_resize

    rgb = getattr(data, name)().astype(np.float32) / 255.0
    return torch.from_numpy(pad_and_resize(rgb, 224, fill=1.0)).permute(2, 0, 1)[None].contiguous()


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="stand-in model not found"):
        standin.load_standin(tmp_path / "nothing.tflite")


@needs_model
def test_is_a_frozen_sketch_encoder(model):
    assert isinstance(model, SketchEncoder)
    assert not model.training and not any(p.requires_grad for p in model.parameters())


@needs_model
@pytest.mark.parametrize("name, expected", [("chelsea", {"Egyptian cat"}),
                                            ("coffee", {"espresso", "cup", "coffee mug"})])
def test_classifies_photos(model, name, expected):
    labels = standin.labels()
    with torch.no_grad():
        logits = model.classify(normalize(_photo(name), model))
    assert logits.shape == (1, 1001) and len(labels) == 1001
    top5 = [labels[i] for i in logits[0].topk(5).indices]
    print(name, top5)
    assert top5[0] in expected


@needs_model
def test_features_shapes_and_unit_scale(model):
    with torch.no_grad():
        f = model.features(normalize(_photo("chelsea"), model))
    assert f.layer2.shape == (1, 32, 28, 28) and f.layer3.shape == (1, 96, 14, 14) and f.embedding.shape == (1, 1280)
    for fmap in (f.layer2, f.layer3):
        assert fmap.square().mean().sqrt().item() == pytest.approx(1.0, abs=1e-3)


@needs_model
def test_gradients_reach_the_images(model):
    images = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0), requires_grad=True)
    f = model.features(normalize(images, model))
    (f.layer2.square().mean() + f.layer3.square().mean() + (1 - f.embedding[0].dot(f.embedding[1]))).backward()
    assert torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0


@needs_model
def test_bfloat16_autocast_is_close_to_float32(model):
    x = normalize(_photo("chelsea"), model)
    with torch.no_grad():
        ref = model.features(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model.features(x.contiguous(memory_format=torch.channels_last))
    for name in ("layer2", "layer3", "embedding"):
        a, b = getattr(ref, name), getattr(low, name).float()
        assert ((a - b).norm() / a.norm()).item() < 0.1, name


@needs_model
def test_attention_lies_on_the_cat(model):
    saliency = model.attention(normalize(_photo("chelsea")[0], model))
    assert saliency.shape == (224, 224) and saliency.min().item() == 0.0 and saliency.max().item() == 1.0
    # chelsea fills rows 37..186 of the padded square (white bands above and below); the cat's face is central
    rows = torch.arange(224.0)
    mass = saliency.sum()
    row, col = (saliency.sum(1) * rows).sum() / mass, (saliency.sum(0) * rows).sum() / mass
    assert 80 < row < 140 and 60 < col < 150
    assert (saliency[:37].sum() + saliency[187:].sum()) / mass < 0.25  # white bands: a third of the area
