"""contract.geometry: Bézier sampling, brush profiles, colours, the widths of several images in one run."""
from __future__ import annotations

import pytest

from clipasso_core.contract import formats, geometry

CUBIC = [(0.0, 0.0), (10.0, 0.0), (20.0, 10.0), (30.0, 10.0)]


def test_cubic_point_and_tangent():
    assert geometry.cubic_point(CUBIC, 0) == (0, 0) and geometry.cubic_point(CUBIC, 1) == (30, 10)
    assert geometry.cubic_point(CUBIC, 0.5) == pytest.approx((15.0, 5.0))
    assert geometry.cubic_tangent(CUBIC, 0) == pytest.approx((30.0, 0.0))  # 3 (P1 - P0)
    h = 1e-6
    numeric = [(a - b) / (2 * h) for a, b in zip(geometry.cubic_point(CUBIC, 0.3 + h),
                                                 geometry.cubic_point(CUBIC, 0.3 - h))]
    assert geometry.cubic_tangent(CUBIC, 0.3) == pytest.approx(numeric, rel=1e-5)
    samples = geometry.sample_cubic([(*p, 1.0) for p in CUBIC], 5)
    assert len(samples) == 5 and samples[0] == (0, 0, 1) and samples[-1] == (30, 10, 1)


def test_brush_profiles():
    for brush in geometry.BRUSHES:
        values = geometry.width_profile_samples(brush, 33, seed=2)
        assert len(values) == 33 and all(0 < v <= 1 for v in values)
    tapered = geometry.width_profile_samples("tapered", 11)
    assert tapered[0] == pytest.approx(0.05) and tapered[5] == 1.0
    assert geometry.width_profile("pressure", 0.5) == pytest.approx(1.0)
    assert geometry.width_profile_samples("uniform", 3) == [1.0, 1.0, 1.0]
    assert geometry.width_profile("sketchy", 0.3, seed=1) != geometry.width_profile("sketchy", 0.3, seed=2)
    with pytest.raises(ValueError, match="unknown brush"):
        geometry.width_profile("crayon", 0.5)


def test_colours():
    assert geometry.hex_to_rgb("#ff8000") == pytest.approx((1.0, 128 / 255, 0.0))
    assert geometry.rgb_to_hex((1.0, 128 / 255, 0.0, 0.3)) == "#ff8000"
    assert geometry.rgb_to_hex((2, -1, 0.5)) == "#ff0080"
    with pytest.raises(ValueError, match="#rrggbb"):
        geometry.hex_to_rgb("red")


def test_one_width_for_several_images_and_each_sketch_at_its_own():
    assert geometry.shared_width([3.0, 3.0]) == 3.0
    assert geometry.shared_width([2.0, 8.0]) == pytest.approx(4.0)
    strokes = [formats.Stroke(CUBIC, 2.0, id=0, rank=0), formats.Stroke(CUBIC, 4.0, id=1, rank=1)]
    sketch = formats.Sketch(451, 300, strokes, {"seed": 0}, [formats.Level(2, 1.0, strokes),
                                                             formats.Level(1, 2.0, strokes[:1])])
    scaled = geometry.scaled_widths(sketch, 1.5)
    assert [s.width for s in scaled.strokes] == [3.0, 6.0] and [s.width for s in sketch.strokes] == [2.0, 4.0]
    assert [[s.width for s in level.strokes] for level in scaled.levels] == [[3.0, 6.0], [3.0]]
    assert scaled.strokes[0].points == CUBIC and scaled.metadata == sketch.metadata
    assert geometry.scaled_widths(sketch, 1.0) is sketch
