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
    ("color", "red", "#rrggbb"),
    ("preset", "slow", "unknown preset"),
    ("device", "tpu", "unknown device"),
    ("backbone", "vit-h", "unknown backbone"),
    ("mask", "maybe", "unknown mask mode"),
    ("preview_every", 0, "preview period"),
])
def test_bad_values_are_refused_with_a_clear_message(field, value, message):
    with pytest.raises(InputError, match=message):
        SketchConfig(**{field: value}).validate()
