"""Loading encoders: random profiles only on request, local weight files, offline failure; the
ImageEncoder adapter's features and CLS attention."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from clipasso_core.backbones import PROFILES, Features, ImageEncoder, SketchEncoder, load_encoder, normalize
from clipasso_core.errors import ModelUnavailableError


@pytest.fixture(scope="module")
def tiny():
    return load_encoder(PROFILES["tiny-random"], "loss"), load_encoder(PROFILES["tiny-random"], "saliency")


def test_tiny_profile_has_the_families_and_is_frozen(tiny):
    loss, vit = tiny
    assert isinstance(loss, ImageEncoder) and isinstance(vit, ImageEncoder)
    assert isinstance(loss, SketchEncoder) and loss.name == "tiny-random clipasso-tiny-rn"
    assert type(loss.visual).__name__ == "ModifiedResNet" and type(vit.visual).__name__ == "VisionTransformer"
    assert not any(p.requires_grad for p in loss.parameters())
    assert not loss.training and not loss.visual.training


def test_random_profiles_are_the_same_network_every_time(tiny):
    again = load_encoder(PROFILES["tiny-random"], "loss")
    for (k, a), b in zip(tiny[0].state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), k


def test_features_have_the_shapes_the_loss_needs(tiny):
    images = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        features = tiny[0].features(images)
    assert isinstance(features, Features)
    assert features.layer2.shape[0] == 2 and features.layer2.shape[-2:] == (28, 28)
    assert features.layer3.shape[0] == 2 and features.layer3.shape[-2:] == (14, 14)
    assert features.embedding.shape == (2, tiny[0].visual.output_dim)
    assert features[1:].layer2.shape[0] == 1 and Features.cat([features, features]).embedding.shape[0] == 4


def test_features_in_channels_last_are_the_same(tiny):
    images = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    other = load_encoder(PROFILES["tiny-random"], "loss").to(memory_format=torch.channels_last)
    with torch.no_grad():
        a, b = tiny[0].features(images), other.features(images.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(a.layer3, b.layer3, atol=1e-4) and torch.allclose(a.embedding, b.embedding, atol=1e-4)


def test_frozen_for_folds_every_batchnorm_into_a_new_encoder_and_leaves_this_one(tiny):
    encoder = tiny[0]
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    images = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(4))
    for dtype in (torch.float32, torch.bfloat16):
        frozen = encoder.frozen_for(dtype)
        assert isinstance(frozen, ImageEncoder) and frozen.name == encoder.name and not frozen.training
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in frozen.modules())
        assert all(p.dtype == dtype and not p.requires_grad for p in frozen.parameters())
    assert encoder.state_dict().keys() == before.keys()
    assert all(torch.equal(v, before[k]) for k, v in encoder.state_dict().items())
    with torch.no_grad():
        a, b = encoder.features(images), encoder.frozen_for(torch.float32).features(images)
    for name in ("layer2", "layer3", "embedding"):
        assert torch.allclose(getattr(a, name), getattr(b, name), rtol=1e-4, atol=1e-5), name


def reference_attention(vit, image):
    """The CLS-to-patch attention as it was computed in saliency.attention_map before the adapter."""
    mean = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(1, 3, 1, 1)
    std = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(1, 3, 1, 1)
    x = vit._embeds((image[None] - mean) / std)
    rows = []
    for block in vit.transformer.resblocks:
        y = block.ln_1(x)
        out, weights = block.attn(y, y, y, need_weights=True, average_attn_weights=False)
        rows.append(weights.clamp_min(0).mean(dim=1)[0, 0, 1:])
        x = x + block.ls_1(out)
        x = x + block.ls_2(block.mlp(block.ln_2(x)))
    grid = int(round(len(rows[0]) ** 0.5))
    saliency = torch.stack(rows).mean(0).view(1, 1, grid, grid)
    saliency = F.interpolate(saliency, size=image.shape[-2:], mode="bicubic", align_corners=False)[0, 0]
    return (saliency - saliency.min()) / (saliency.max() - saliency.min()).clamp_min(1e-12)


def test_attention_is_the_old_computation_on_clip_normalised_input(tiny):
    vit = tiny[1]
    image = torch.rand(3, 224, 224, generator=torch.Generator().manual_seed(2))
    saliency = vit.attention(normalize(image, vit))
    with torch.no_grad():
        assert torch.equal(saliency, reference_attention(vit.visual, image))
    assert saliency.shape == (224, 224) and not saliency.requires_grad
    wrapped = ImageEncoder.of(vit.visual)  # a bare tower, wrapped
    assert torch.equal(wrapped.attention(normalize(image, wrapped)), saliency)
    assert ImageEncoder.of(vit) is vit


def perturbed_tiny_rn() -> ImageEncoder:
    source = load_encoder(PROFILES["tiny-random"], "loss")
    with torch.no_grad():
        for p in source.parameters():
            p.add_(torch.randn_like(p))
    return source


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (k, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), k


def test_weights_file_is_loaded_exactly(tmp_path):
    source = perturbed_tiny_rn().visual
    full = {f"visual.{k}": v for k, v in source.state_dict().items()}
    full["text_projection"] = torch.zeros(3)  # a full CLIP checkpoint carries the text tower too
    torch.save({"state_dict": full}, tmp_path / "ckpt.pt")
    loaded = load_encoder(PROFILES["tiny-random"], "loss", str(tmp_path / "ckpt.pt"))
    assert_same_weights(source, loaded.visual)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::FutureWarning",
                            "ignore:'torch.load' received a zip file")  # tracing, and reading TorchScript
def test_weights_from_an_encoders_own_state_dict_safetensors_and_torchscript(tmp_path):
    from safetensors.torch import save_file

    source = perturbed_tiny_rn()
    torch.save(source.state_dict(), tmp_path / "enc.pt")  # keys "visual.*"
    save_file({k: v.contiguous() for k, v in source.visual.state_dict().items()}, tmp_path / "enc.safetensors")

    class Archive(torch.nn.Module):  # like OpenAI's archives: a TorchScript CLIP with a "visual" tower
        def __init__(self):
            super().__init__()
            self.visual = source.visual

        def forward(self, x):
            return self.visual(x)

    torch.jit.trace(Archive(), torch.rand(1, 3, 224, 224)).save(str(tmp_path / "jit.pt"))
    for name in ("enc.pt", "enc.safetensors", "jit.pt"):
        assert_same_weights(source, load_encoder(PROFILES["tiny-random"], "loss", str(tmp_path / name)))


def test_weights_in_float16_load_as_float32_with_every_tensor_from_the_file(tmp_path):
    source = perturbed_tiny_rn().visual
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in source.state_dict().items()}, tmp_path / "half.pt")
    loaded = load_encoder(PROFILES["tiny-random"], "loss", str(tmp_path / "half.pt")).visual
    tensors = list(loaded.parameters()) + list(loaded.buffers())
    assert not any(t.is_meta for t in tensors)
    assert all(t.dtype == torch.float32 for t in tensors if t.is_floating_point())
    for (k, x), y in zip(source.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(x.half().to(x.dtype) if x.is_floating_point() else x, y), k


def test_a_tower_with_a_buffer_no_file_holds_is_built_whole_then_loaded(tmp_path, monkeypatch):
    from clipasso_core import backbones

    class Tower(torch.nn.Module):  # a non-persistent buffer stays on the meta device after an assigning load
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(3))
            self.register_buffer("table", torch.arange(4.0), persistent=False)

    built = []
    monkeypatch.setattr(backbones, "_build_visual", lambda arch, device="cpu": built.append(device) or Tower().to(device))
    torch.save({"weight": torch.tensor([1.0, 2.0, 3.0], dtype=torch.float16)}, tmp_path / "w.pt")
    loaded = backbones._load_file("RN101", str(tmp_path / "w.pt"))
    assert built == ["meta", "cpu"]
    assert torch.equal(loaded.weight, torch.tensor([1.0, 2.0, 3.0])) and torch.equal(loaded.table, torch.arange(4.0))


def test_weights_from_environment_variable(tmp_path, monkeypatch):
    source = load_encoder(PROFILES["tiny-random"], "saliency")
    torch.save(source.state_dict(), tmp_path / "vit.pt")
    monkeypatch.setenv("CLIPASSO_SALIENCY_WEIGHTS", str(tmp_path / "vit.pt"))
    loaded = load_encoder(PROFILES["tiny-random"], "saliency")
    assert torch.equal(loaded.visual.class_embedding, source.visual.class_embedding)


def test_wrong_or_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelUnavailableError, match="not found"):
        load_encoder(PROFILES["openai"], "loss", str(tmp_path / "none.pt"))
    torch.save(load_encoder(PROFILES["tiny-random"], "saliency").state_dict(), tmp_path / "vit.pt")
    with pytest.raises(ModelUnavailableError, match="does not fit clipasso-tiny-rn"):
        load_encoder(PROFILES["tiny-random"], "loss", str(tmp_path / "vit.pt"))
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ModelUnavailableError, match="could not read"):
        load_encoder(PROFILES["tiny-random"], "loss", str(tmp_path / "junk.pt"))
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ModelUnavailableError, match="holds no state dict"):
        load_encoder(PROFILES["tiny-random"], "loss", str(tmp_path / "list.pt"))


def _refused_pickle(path):
    import fractions

    torch.save({"visual.x": fractions.Fraction(1, 3)}, path)  # an object weights_only refuses


@pytest.mark.parametrize("write, problem", [
    (lambda path: path.write_bytes(b"garbage, not a checkpoint"),
     "it is not a torch or safetensors checkpoint (damaged, or another kind of file)"),
    (lambda path: path.write_bytes(b""), "it is empty (0 bytes)"),
    (_refused_pickle, "it holds Python objects besides tensors (fractions.Fraction), which torch does not load"),
], ids=["garbage", "zero-bytes", "refused-pickle"])
def test_a_damaged_weights_file_is_one_line_naming_it(tmp_path, write, problem):
    path = tmp_path / "weights.pt"
    write(path)
    with pytest.raises(ModelUnavailableError) as failure:
        load_encoder(PROFILES["tiny-random"], "loss", str(path))
    message = str(failure.value)
    assert message.startswith(f"could not read weights file {path}: {problem}") and "\n" not in message
    assert "weights_only" not in message and "issue" not in message  # none of torch's advice


def test_a_damaged_weights_file_ends_the_run_with_exit_2(tmp_path, cli_env):
    from test_cli import FAST, clipasso

    (tmp_path / "rn.pt").write_bytes(b"garbage")
    run = clipasso(["sketch", "-o", str(tmp_path / "x.svg"), "--clip-weights", str(tmp_path / "rn.pt"),
                    "--iterations", "2", *FAST[:-2], "--progress", "none"], cli_env)
    assert run.returncode == 2 and not (tmp_path / "x.svg").exists()
    assert run.stderr == (f"clipasso: error: could not read weights file {tmp_path / 'rn.pt'}: it is not a torch "
                          "or safetensors checkpoint (damaged, or another kind of file)\n")


def test_openai_weights_offline_and_uncached_fail_fast(tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelUnavailableError, match=r"RN101.*--clip-weights"):
        load_encoder(PROFILES["openai"], "loss")
    with pytest.raises(ModelUnavailableError, match=r"ViT-B-32.*--saliency-weights"):
        load_encoder(PROFILES["openai"], "saliency")


def test_encoders_are_checked_for_their_role_and_frozen():
    from clipasso_core.backbones import Encoders

    with pytest.raises(TypeError, match="no name, input_size, mean, std, compute_dtypes, features"):
        ImageEncoder.of(torch.nn.Linear(2, 2))
    tower = load_encoder(PROFILES["tiny-random"], "saliency").visual
    assert isinstance(ImageEncoder.of(tower, "saliency"), ImageEncoder)  # a bare open_clip tower is wrapped

    class Half(torch.nn.Linear):
        name, input_size, mean, std, compute_dtypes = "half", 112, (0.5,) * 3, (0.5,) * 3, (torch.float32,)

        def features(self, images):
            return images

    net = Half(2, 2).train()
    with pytest.raises(TypeError, match="no attention"):
        Encoders(saliency=net).checked(224)
    with pytest.raises(ValueError, match="takes 112 px images; the canvas is 224 px"):
        Encoders(loss=net).checked(224)
    net.input_size = 224
    checked = Encoders(loss=net).checked(224)
    assert checked.loss is net and checked.saliency is None
    assert not net.training and not any(p.requires_grad for p in net.parameters())
