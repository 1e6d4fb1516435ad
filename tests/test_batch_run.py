"""batch.run: sketch_many yields every image once, batched images draw what they draw alone (at their
list rows' strokes, seed and width), a bad image fails alone, out of memory halves the group, cancel
keeps the images in flight."""
from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from clipasso_core import pipeline, sketch
from clipasso_core.batch import Item, sketch_many
from clipasso_core.batch import run as batch_run
from clipasso_core.config import SketchConfig
from clipasso_core.contract import events
from clipasso_core.pipeline import EXAMPLE_IMAGE

pytestmark = pytest.mark.filterwarnings("ignore::clipasso_core.pipeline.RandomWeightsWarning")


def config(**kw):
    return SketchConfig(backbone="tiny-random", mask="off", preset="fast", iterations=kw.pop("iterations", 6), **kw)


@pytest.fixture
def images(tmp_path):
    """Two images of different sizes, a broken file, and a plain one."""
    shutil.copy(EXAMPLE_IMAGE, tmp_path / "cat.jpg")
    Image.open(EXAMPLE_IMAGE).crop((100, 0, 300, 280)).rotate(90, expand=True).save(tmp_path / "tall.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    Image.new("RGB", (64, 64), "white").save(tmp_path / "plain.png")
    return tmp_path


def points(result) -> np.ndarray:
    return np.array([s.points for s in result.strokes])


def test_images_sketched_together_draw_the_strokes_they_draw_alone(images):
    items = [Item(str(images / "cat.jpg"), "cat", strokes=12),
             Item(str(images / "tall.png"), "tall", seed=7, width=5.5)]
    together = list(sketch_many(items, config(seeds=2), batch_size=2))
    assert [r.status for r in together] == ["done", "done"]
    alone = [sketch(images / "cat.jpg", config(seeds=2, strokes=12)),
             sketch(images / "tall.png", config(seeds=2, seed=7, canvas_stroke_width=5.5))]
    for batched, single in zip(together, alone):
        # identical on this CPU (bf16 autocast included); 1e-3 px leaves room for kernels that block
        # a batch of two images' pairs otherwise than one image's
        assert len(batched.sketch.strokes) == len(single.strokes)
        np.testing.assert_allclose(points(batched.sketch), points(single), atol=1e-3)
        assert batched.sketch.metadata["seed"] == single.metadata["seed"]
        assert batched.sketch.metadata["final_loss"] == pytest.approx(single.metadata["final_loss"], rel=1e-3)
        assert (batched.sketch.width, batched.sketch.height) == (single.width, single.height)
        assert [s.width for s in batched.sketch.strokes] == [s.width for s in single.strokes]
    long_side = max(together[1].sketch.width, together[1].sketch.height)  # the item's width, not the run's 3
    assert together[1].sketch.strokes[0].width == pytest.approx(5.5 * long_side / 224, rel=1e-3)


def test_a_bad_image_fails_alone_and_the_others_are_sketched(images):
    inputs = [str(images / name) for name in ("broken.png", "cat.jpg", "plain.png", "tall.png")]
    sent = []
    results = list(sketch_many(inputs, config(), batch_size=4, progress=sent.append))
    assert sorted((r.index, r.status) for r in results) == [(0, "failed"), (1, "done"), (2, "failed"), (3, "done")]
    failed = {r.index: r.error for r in results if r.status == "failed"}
    assert "not a readable image" in failed[0] and "nothing to sketch" in failed[2]
    steps = [e for e in sent if isinstance(e, events.Progress)]
    assert {e.image for e in steps} == {1, 3}  # every step event says whose it is


def test_out_of_memory_halves_the_group_and_loses_no_image(images, monkeypatch):
    real = pipeline.optimise_images
    sizes = []

    def tight(engine, jobs, *args, **kw):
        sizes.append(len(jobs))
        if len(jobs) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(engine, jobs, *args, **kw)

    monkeypatch.setattr(pipeline, "optimise_images", tight)
    sent = []
    inputs = [Item(str(images / "cat.jpg"), "cat"), Item(str(images / "tall.png"), "tall"),
              Item(str(images / "cat.jpg"), "cat2")]
    results = list(sketch_many(inputs, config(), batch_size=4, progress=sent.append))
    assert [(r.index, r.status) for r in results] == [(0, "done"), (1, "done"), (2, "done")]
    assert sizes == [3, 1, 1, 1]
    assert any(isinstance(e, events.WarningMessage) and "trying 1 at a time" in e.message for e in sent)


def test_cancel_keeps_the_images_in_flight_and_starts_no_more(images):
    cancel = threading.Event()

    def stop_at_step_3(event):
        if isinstance(event, events.Progress) and event.iteration == 3:
            cancel.set()

    inputs = [Item(str(images / "cat.jpg"), "a"), Item(str(images / "tall.png"), "b"), Item(str(images / "cat.jpg"), "c")]
    results = list(sketch_many(inputs, config(iterations=20), batch_size=2, progress=stop_at_step_3, cancel=cancel))
    assert [(r.item.name, r.status) for r in results] == [("a", "cancelled"), ("b", "cancelled")]


def test_auto_batch_size_follows_the_free_memory(monkeypatch):
    engine = pipeline.start_engine(config(seeds=1).validate())
    per_image = 2 * batch_run.ENCODED_IMAGE_BYTES + batch_run.BANK_BYTES  # fast: 1 seed x (clean + 1 pair), a bank
    monkeypatch.setattr(batch_run, "free_memory", lambda device: int(3 * per_image / 0.7) + 1)
    assert batch_run.auto_batch_size(engine) == 3
    monkeypatch.setattr(batch_run, "free_memory", lambda device: 0)
    assert batch_run.auto_batch_size(engine) == 1
    monkeypatch.setattr(batch_run, "free_memory", lambda device: 10 ** 15)
    assert batch_run.auto_batch_size(engine) == batch_run.MAX_AUTO_BATCH_CPU


def test_an_engine_given_keeps_its_models_from_one_call_to_the_next(images):
    engine = pipeline.start_engine(config().validate())
    first = list(sketch_many([Item(str(images / "cat.jpg"), "a")], engine=engine))
    loss, saliency = engine.loss, engine.saliency
    second = list(sketch_many([Item(str(images / "cat.jpg"), "b")], config(strokes=3), engine=engine))
    assert engine.loss is loss is not None and engine.saliency is saliency is not None
    assert [r.status for r in first + second] == ["done", "done"]
    assert len(second[0].sketch.strokes) == 16  # the engine's config, not the one given
    np.testing.assert_array_equal(points(first[0].sketch), points(second[0].sketch))
