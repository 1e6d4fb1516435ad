"""contract.geometry: Bézier sampling, brush profiles, colours."""
from __future__ import annotations

import pytest

from clipasso_core.contract import geometry

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
