"""config: presets, and the checks of every setting (ranges from contract.options)."""
from __future__ import annotations

import pytest

from clipasso_core.config import PRESETS, SketchConfig
from clipasso_core.contract.options import RUN_OPTIONS
from clipasso_core.errors import InputError


def test_preset_resolution_and_seed_count():
    config = SketchConfig(preset="fast", iterations=7)
    assert config.resolved_preset().iterations == 7 and config.resolved_preset().lr == PRESETS["fast"].lr
    assert SketchConfig().resolved_preset() is PRESETS["default"]
    assert SketchConfig(preset="fast").seed_count == 1 and SketchConfig(seeds=5).seed_count == 5


@pytest.mark.parametrize("field, value, message", [
    ("strokes", RUN_OPTIONS["strokes"].maximum + 1, r"strokes \(--strokes\) must be a whole number from 1 to 1000"),
    ("strokes", 0, "strokes .* must be"),
    ("strokes", 2.5, "strokes .* must be"),
    ("seeds", 99, r"seeds \(--seeds\) must be a whole number from 1 to 8 \(0: the preset's\)"),
    ("canvas_stroke_width", float("inf"), "stroke width"),
    ("canvas_stroke_width", float("nan"), "stroke width"),
    ("canvas_stroke_width", 0.0, "stroke width"),
    ("opacity", float("nan"), "opacity"),
    ("opacity", 0.0, "opacity"),
    ("iterations", 10 ** 9, r"iterations \(--iterations\) must be a whole number from 1 to 20000 \(0: the"),
    ("color", "blurple", "must be a CSS colour"),
    ("color", "rgba(255, 0, 0, 0.5)", "partly transparent"),
    ("preset", "slow", "unknown preset"),
    ("device", "tpu", "unknown device"),
    ("backbone", "vit-h", "unknown backbone"),
    ("mask", "maybe", "unknown mask mode"),
    ("preview_every", 0, "preview period"),
])
def test_bad_values_are_refused_with_a_clear_message(field, value, message):
    with pytest.raises(InputError, match=message):
        SketchConfig(**{field: value}).validate()


def test_colours_are_any_css_colour_kept_as_hex_and_looks_default_without_init():
    assert SketchConfig(color="Tomato").validate().color == "#ff6347"
    assert SketchConfig(color="#abc").validate().color == "#aabbcc"
    assert SketchConfig(color="rgb(0, 128, 255)").validate().color == "#0080ff"
    assert SketchConfig(color="hsl(120, 100%, 25%)").validate().color == "#008000"
    plain = SketchConfig().validate()  # nothing to take looks from: the contract's defaults
    assert (plain.canvas_stroke_width, plain.color, plain.opacity) == (
        RUN_OPTIONS["stroke_width"].default, RUN_OPTIONS["color"].default, RUN_OPTIONS["opacity"].default)
    with_init = SketchConfig(init="x.svg", opacity=0.5).validate()  # the init's strokes keep theirs
    assert (with_init.canvas_stroke_width, with_init.color, with_init.opacity) == (None, None, 0.5)


def test_the_default_lr_falls_with_the_square_root_above_16_strokes_and_the_paper_keeps_its_own():
    from clipasso_core.config import PRESETS

    default = PRESETS["default"]
    assert [round(default.lr_scale(n), 3) for n in (4, 16, 32, 64)] == [1.0, 1.0, 0.707, 0.5]
    assert PRESETS["paper"].lr_scale(64) == 1.0 and PRESETS["fast"].lr_scale(64) == 1.0
