"""tools/bench_quality.py: the drawing measures read as documented on sketches made by hand."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from clipasso_core.contract.formats import Sketch, Stroke

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_quality", ROOT / "tools" / "bench_quality.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def line(x0, y0, x1, y1, width=3.0) -> Stroke:
    """A straight cubic from (x0, y0) to (x1, y1) (image px)."""
    return Stroke([(x0, y0), (x0 + (x1 - x0) / 3, y0 + (y1 - y0) / 3), (x0 + 2 * (x1 - x0) / 3, y0 + 2 * (y1 - y0) / 3),
                   (x1, y1)], width, "#000000", 1.0)


def test_overdraw_is_one_for_apart_strokes_and_counts_strokes_on_strokes():
    apart = bench.drawing_measures(Sketch(224, 224, [line(40, 60, 180, 60), line(40, 160, 180, 160)]))
    assert apart["overdraw"] == pytest.approx(1.0, abs=0.01)
    on_top = bench.drawing_measures(Sketch(224, 224, [line(40, 60, 180, 60)] * 3))
    assert on_top["overdraw"] == pytest.approx(3.0, abs=0.05)
    assert apart["border_ink"] == 0 and apart["frame_strokes"] == 0 and apart["folded"] == 0
    assert apart["turning"] == pytest.approx(0, abs=1) and apart["length"] == pytest.approx(140 / 224 * 100, abs=1)


def test_a_line_along_the_frame_is_border_ink_and_a_frame_stroke():
    # a wide image (2:1): the band is 8% of its 200 px height; a line 3 px below its top edge
    frame = bench.drawing_measures(Sketch(400, 200, [line(20, 3, 380, 3), line(20, 100, 380, 100)]))
    assert frame["frame_strokes"] == 1
    assert 0.4 < frame["border_ink"] < 0.6  # one of two equally long strokes
    assert frame["border_area"] == pytest.approx(1 - (1 - 2 * bench.BAND * 200 / 400) * (1 - 2 * bench.BAND), abs=0.02)


def test_a_stroke_folded_back_on_itself_turns_more_than_half_a_circle():
    hairpin = Stroke([(40, 100), (200, 100), (200, 110), (40, 110)], 3.0, "#000000", 1.0)
    measures = bench.drawing_measures(Sketch(224, 224, [hairpin]))
    assert measures["folded"] == 1.0 and measures["turning"] == pytest.approx(180, abs=15)
    arc = Stroke([(40, 100), (40, 40), (180, 40), (180, 100)], 3.0, "#000000", 1.0)  # a C: a contour, not folded
    assert bench.drawing_measures(Sketch(224, 224, [arc]))["folded"] == 0.0
