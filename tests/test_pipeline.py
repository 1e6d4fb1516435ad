"""pipeline: the run's inputs on the canvas, canvas <-> image strokes, the optimiser's raster, and
the API's events and cancel."""
from __future__ import annotations

import io
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from clipasso_core.config import SketchConfig
from clipasso_core.contract import events
from clipasso_core.contract.formats import MAX_FILE_BYTES, MAX_STROKES, Sketch, Stroke
from clipasso_core.errors import InputError
from clipasso_core.pipeline import (EXAMPLE_IMAGE, canvas_png, canvas_raster, prepare, read_init,
                                    resolve_device, sketch)


def test_prepare_pads_the_example_onto_the_canvas():
    prepared = prepare(None, SketchConfig(mask="off"))
    assert prepared.target.shape == (3, 224, 224) and not prepared.masked
    assert prepared.transform.width == 451 and prepared.transform.height == 300
    assert prepared.target[:, 2, 112].min() > 0.99  # white padding above the wide image


def test_canvas_raster_draws_the_strokes_where_they_are():
    sk = Sketch(448, 224, [Stroke([(10, 112), (150, 112), (300, 112), (438, 112)], 8.0, "#000000", 1.0)])
    raster = canvas_raster(sk)
    assert raster.shape == (224, 224, 3)
    assert raster[112, 112].max() < 0.05 and raster[20, 112].min() > 0.99
    png = Image.open(io.BytesIO(canvas_png(sk)))
    assert png.size == (224, 224)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA"):
            resolve_device("cuda")


def test_api_reports_typed_events_and_cancel_keeps_the_best(rembg_home):
    seen, cancel = [], threading.Event()

    def on_event(event):
        seen.append(event)
        if isinstance(event, events.Progress) and event.iteration == 3:
            cancel.set()

    config = SketchConfig(strokes=4, seeds=1, iterations=50, mask="off", backbone="tiny-random",
                          preview_every=2)
    result = sketch(EXAMPLE_IMAGE, config, progress=on_event, cancel=cancel)
    assert [type(e) for e in seen[:3]] == [events.Progress, events.Progress, events.Preview]
    assert isinstance(seen[2].sketch, Sketch) and len(seen[2].sketch.strokes) == 4
    assert result.metadata["cancelled"] and result.metadata["iterations"] == 3
    assert len(result.strokes) == 4 and np.isfinite(result.metadata["final_loss"])
    assert result.strokes[0].width == pytest.approx(3.0 * 451 / 224)

HEAD = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'


def test_init_file_reader_turns_every_problem_into_one_input_error(tmp_path):
    svg = tmp_path / "ok.svg"
    svg.write_text("\ufeff" + HEAD + '<path d="M 0 0 Q 10 10 20 0" stroke="#000"/></svg>')
    assert len(read_init(str(svg)).strokes) == 1
    many = Sketch(10, 10, [Stroke([(0, 0)] * 4)] * (MAX_STROKES + 1))
    cases = {"missing.svg": None, "big.svg": " " * (MAX_FILE_BYTES + 1), "bad.json": "{oops",
             "many.json": many.to_json(), "none.json": Sketch(10, 10, []).to_json(),
             "bad.svg": HEAD + '<path d="M 0 0 L 1 1" stroke="#000" stroke-width="1em"/></svg>',
             "binary.svg": b"\xff\xfe\x00"}
    for name, content in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
        with pytest.raises(InputError, match=f"--init file {path}"):
            read_init(str(path))


def test_cancel_before_the_first_step_raises_cancelled_and_returns_nothing():
    from clipasso_core.errors import Cancelled

    cancel = threading.Event()
    cancel.set()
    config = SketchConfig(strokes=4, seeds=1, iterations=5, mask="off", backbone="tiny-random")
    with pytest.raises(Cancelled, match="nothing written") as caught:
        sketch(EXAMPLE_IMAGE, config, cancel=cancel)
    assert caught.value.exit_code == 3


@pytest.mark.parametrize("levels, when, cancelled", [
    ((), "last step", False),        # a cancel while ranking a complete sketch
    ((4, 2), "first level", True),   # the smaller levels were cut
])
def test_a_cancel_after_the_work_it_would_stop_is_not_a_cancelled_sketch(levels, when, cancelled):
    cancel = threading.Event()

    def on_event(event):
        if when == "last step" and isinstance(event, events.Progress) and event.iteration == event.total:
            cancel.set()
        if when == "first level" and isinstance(event, events.LevelDone):
            cancel.set()

    config = SketchConfig(strokes=4, seeds=1, iterations=3, mask="off", backbone="tiny-random", levels=levels)
    result = sketch(EXAMPLE_IMAGE, config, progress=on_event, cancel=cancel)
    assert result.metadata["cancelled"] is cancelled and result.metadata["iterations"] == 3
    assert len(result.levels) == (1 if levels else 0)


def test_degenerate_init_size_is_one_clear_error(tmp_path):
    tiny = tmp_path / "tiny.json"
    tiny.write_text(Sketch(1e-300, 1e-300, [Stroke([(0, 0), (10, 0), (0, 10), (10, 10)])]).to_json())
    config = SketchConfig(strokes=1, seeds=1, iterations=1, mask="off", backbone="tiny-random", init=str(tiny))
    with pytest.raises(InputError, match="degenerate"):
        sketch(EXAMPLE_IMAGE, config)
    wrong = tmp_path / "bad.json"
    wrong.write_text("[1, 2")
    with pytest.raises(InputError, match="malformed sketch JSON"):
        read_init(str(wrong))


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    from clipasso_core import pipeline
    from clipasso_core.errors import InputError

    monkeypatch.setattr(pipeline.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(pipeline, "mps_available", lambda: True)
    assert pipeline.resolve_device("auto").type == "mps"
    monkeypatch.setattr(pipeline, "mps_available", lambda: False)
    assert pipeline.resolve_device("auto").type == "cpu"
    with pytest.raises(InputError, match="MPS is not available here"):
        pipeline.resolve_device("mps")
    monkeypatch.setattr(pipeline.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(pipeline, "mps_available", lambda: True)
    assert pipeline.resolve_device("auto").type == "cuda"


def test_a_gpu_steps_every_seed_at_once_and_a_cpu_in_the_presets_chunks(monkeypatch):
    from clipasso_core import pipeline

    config = SketchConfig(backbone="tiny-random").validate()
    assert pipeline.start_engine(config).preset.seed_chunk == 2  # the default preset's CPU memory bound
    monkeypatch.setattr(pipeline, "resolve_device", lambda name: torch.device("cuda"))
    monkeypatch.setattr(pipeline, "bf16_supported", lambda device: True)
    assert pipeline.start_engine(config).preset.seed_chunk == 0


class CornerEncoder(torch.nn.Module):
    """A toy ``SketchEncoder``: a pooled 3x3 conv for every role, attention all in the top-left quarter."""

    name = "corner-test"
    input_size = 224
    mean = (0.5, 0.5, 0.5)
    std = (0.25, 0.25, 0.25)
    compute_dtypes = (torch.float32,)

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.calls = []
        self.eval().requires_grad_(False)

    def features(self, images):
        from clipasso_core.backbones import Features

        self.calls.append(("features", float(images.min()), float(images.max())))
        x = self.conv(images)
        return Features(F.avg_pool2d(x, 8), F.avg_pool2d(x, 16), x.mean((2, 3)))

    def attention(self, image):
        self.calls.append(("attention", float(image.min()), float(image.max())))
        saliency = torch.zeros(image.shape[-2:])
        saliency[:112, :112] = 1.0
        return saliency


def test_encoders_replace_the_profiles_networks_for_loss_and_saliency(tmp_path):
    from clipasso_core.backbones import Encoders, SketchEncoder

    toy = CornerEncoder()
    assert isinstance(toy, SketchEncoder)
    square = np.full((200, 200, 3), 255, np.uint8)
    square[20:180, 20:180] = 0  # a black square: edges on all four sides, only two in the salient quarter
    path = tmp_path / "square.png"
    Image.fromarray(square).save(path)
    result = sketch(path, SketchConfig(strokes=6, preset="fast", iterations=3, mask="off", backbone="tiny-random"),
                    encoders=Encoders(loss=toy, saliency=toy))
    assert result.metadata["backbone"] == "corner-test" and result.metadata["random_weights"] is False
    assert result.metadata["saliency"] == "corner-test"
    assert result.metadata["precision"] == "fp32"  # the preset's "auto" precision, but it lists no bfloat16
    kinds = {kind for kind, *_ in toy.calls}
    assert kinds == {"features", "attention"}
    # the pipeline normalised 0..1 images with the encoder's own mean and std: white -> (1 - 0.5) / 0.25
    assert max(high for _, _, high in toy.calls) == pytest.approx(2.0)
    assert min(low for _, low, _ in toy.calls) >= -2.0 - 1e-6
    # every stroke started in the salient top-left quarter (100 px of 200; 3 steps move a few px)
    assert all(max(stroke.points[0]) < 100 + 20 for stroke in result.strokes)


def test_no_stroke_starts_in_the_targets_border_fade(tmp_path):
    from clipasso_core import canvas
    from clipasso_core.backbones import PROFILES, load_encoder
    from clipasso_core.pipeline import _initial_points

    rng = np.random.default_rng(0)
    noise = (rng.random((200, 300, 3)) * 255).astype(np.uint8)  # edges everywhere, up to the frame
    Image.fromarray(noise).save(tmp_path / "noise.png")
    config = SketchConfig(strokes=64, mask="off", backbone="tiny-random").validate()
    prepared = prepare(str(tmp_path / "noise.png"), config)
    saliency = load_encoder(PROFILES["tiny-random"], "saliency")
    starts = _initial_points(config, None, prepared, torch.device("cpu"), [0, 1000], lambda: saliency)[:, :, 0]
    inner = canvas.inner_area(prepared.transform, canvas.TARGET_FEATHER)
    x, y = starts[..., 0].long(), starts[..., 1].long()
    assert inner[y.numpy(), x.numpy()].all()
    assert inner.sum() < 0.8 * (224 * 224 * 200 / 300)  # the band is a real part of the image


STYLED = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}"><g fill="none">'
          '<path d="M 50 50 C 100 80 150 120 200 150" stroke="tomato" stroke-width="{a}"/>'
          '<path d="M 250 60 C 300 90 350 130 400 250" stroke="rebeccapurple" stroke-width="{b}" '
          'stroke-opacity="0.6"/>'
          '<path d="M 60 250 L 300 260" style="stroke:#123456;stroke-width:{c}"/></g></svg>')
"""An --init SVG whose strokes have their own colours, widths and opacities (edited by hand)."""


def looks_by_id(strokes) -> dict:
    return {s.id: (s.color, round(s.width, 3), round(s.opacity, 3)) for s in strokes}


def test_init_strokes_keep_their_colour_width_and_opacity_unless_the_config_sets_them(tmp_path):
    init = tmp_path / "styled.svg"
    init.write_text(STYLED.format(w=451, h=300, a=9, b=2.5, c=4))  # drawn on the example's own size
    base = dict(seeds=1, iterations=2, mask="off", backbone="tiny-random", preset="fast", init=str(init),
                preview_every=1)
    seen = []
    kept = sketch(EXAMPLE_IMAGE, SketchConfig(**base), progress=seen.append)
    own = {0: ("#ff6347", 9.0, 1.0), 1: ("#663399", 2.5, 0.6), 2: ("#123456", 4.0, 1.0)}
    assert looks_by_id(kept.strokes) == own
    preview = next(e.sketch for e in seen if isinstance(e, events.Preview))  # in init order, ids 0, 1, 2
    assert [(s.color, round(s.width, 3), round(s.opacity, 3)) for s in preview.strokes] == list(own.values())
    forced = sketch(EXAMPLE_IMAGE, SketchConfig(**base, color="red", opacity=0.5))
    assert looks_by_id(forced.strokes) == {0: ("#ff0000", 9.0, 0.5), 1: ("#ff0000", 2.5, 0.5),
                                           2: ("#ff0000", 4.0, 0.5)}
    forced = sketch(EXAMPLE_IMAGE, SketchConfig(**base, canvas_stroke_width=2.0))
    assert {round(s.width, 3) for s in forced.strokes} == {round(2.0 * 451 / 224, 3)}
    assert {s.color for s in forced.strokes} == {"#ff6347", "#663399", "#123456"}
    # levels: a stroke keeps its look in every level it is in
    leveled = sketch(EXAMPLE_IMAGE, SketchConfig(**base, levels=(3, 1)))
    for level in leveled.levels:
        assert all(looks_by_id(level.strokes)[s.id] == own[s.id] for s in level.strokes)
    # an init drawn at twice the image's size: its widths halve with its coordinates
    double = tmp_path / "double.svg"
    double.write_text(STYLED.format(w=902, h=600, a=9, b=2.5, c=4))
    halved = sketch(EXAMPLE_IMAGE, SketchConfig(**{**base, "init": str(double)}))
    assert {i: width for i, (_, width, _) in looks_by_id(halved.strokes).items()} == {0: 4.5, 1: 1.25, 2: 2.0}


def test_stroke_looks_are_what_the_optimiser_draws_by_id_within_the_options_ranges(tmp_path):
    from clipasso_core.canvas import CanvasTransform
    from clipasso_core.pipeline import stroke_looks
    from clipasso_core.svg import from_svg

    init = from_svg(STYLED.format(w=448, h=224, a=100, b=0.01, c=4).replace('stroke-opacity="0.6"',
                                                                            'stroke-opacity="0"'))
    transform = CanvasTransform(448, 224, 224)  # 2 image px per canvas px
    looks = stroke_looks(SketchConfig(init="x.svg").validate(), init, transform)
    assert looks.widths == [20.0, 0.25, 2.0]  # 50 and 0.005 canvas px kept within --width's range
    assert looks.colors == ["#ff6347", "#663399", "#123456"] and looks.opacities == [1.0, 0.01, 1.0]
    assert not looks.uniform
    style = looks.style([2, 0], (0, 0, 224, 224), torch.device("cpu"))
    assert style.widths.tolist() == [2.0, 20.0]
    assert torch.allclose(style.colors[0], torch.tensor([0x12 / 255, 0x34 / 255, 0x56 / 255, 1.0]))
    plain = stroke_looks(SketchConfig(strokes=4).validate(), None, transform)
    assert plain.uniform and plain.colors == ["#000000"] * 4 and plain.widths == [3.0] * 4


def test_images_too_small_or_with_nothing_to_sketch_are_refused_before_any_model(tmp_path, monkeypatch):
    import clipasso_core.pipeline as pipeline

    monkeypatch.setattr(pipeline, "load_encoder", lambda *a, **k: pytest.fail("a model was loaded"))
    Image.new("RGB", (8, 8), "red").save(tmp_path / "tiny.png")
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    Image.new("RGB", (64, 64), "rebeccapurple").save(tmp_path / "plain.png")
    config = dict(strokes=2, seeds=1, iterations=1, mask="off", backbone="tiny-random")
    for name, message in (("tiny.png", "too small to sketch: 8x8 px"),
                          ("clear.png", "nothing to sketch in .*clear.png: the image is fully transparent"),
                          ("plain.png", r"nothing to sketch in .*plain.png: the image is one plain colour \(#663399\)")):
        with pytest.raises(InputError, match=message):
            sketch(tmp_path / name, SketchConfig(**config))
