"""SVG and sketch-JSON forms: round trips, foreign SVGs, clear errors."""
from __future__ import annotations

import json
import random

import pytest

from clipasso_core.errors import InputError
from clipasso_core.contract.formats import Sketch, Stroke
from clipasso_core.svg import from_svg, to_svg


def random_sketch(n=16, w=451.0, h=300.0) -> Sketch:
    rng = random.Random(5)
    strokes = [Stroke([(rng.uniform(0, w), rng.uniform(0, h)) for _ in range(4)], rng.uniform(0.5, 9),
                      f"#{rng.randrange(1 << 24):06x}", round(rng.uniform(0.1, 1), 3)) for _ in range(n)]
    return Sketch(w, h, strokes, {"generator": "clipasso", "seed": 3, "final_loss": 0.25})


def assert_close(a: Sketch, b: Sketch, tol=1e-3):
    assert (a.width, a.height) == (b.width, b.height)
    assert len(a.strokes) == len(b.strokes)
    for sa, sb in zip(a.strokes, b.strokes):
        for pa, pb in zip(sa.points, sb.points):
            assert abs(pa[0] - pb[0]) <= tol and abs(pa[1] - pb[1]) <= tol
        assert abs(sa.width - sb.width) <= tol and abs(sa.opacity - sb.opacity) <= tol
        assert sa.color == sb.color


def test_svg_round_trip_is_exact_to_a_thousandth_px():
    original = random_sketch()
    svg = to_svg(original)
    again = from_svg(svg)
    assert_close(original, again)
    assert again.metadata == original.metadata
    assert to_svg(again) == svg


def test_svg_has_viewbox_one_path_per_stroke_and_metadata():
    svg = to_svg(random_sketch(n=7))
    assert 'viewBox="0 0 451 300"' in svg
    assert svg.count("<path ") == 7
    assert 'stroke-linecap="round"' in svg and 'stroke-linejoin="round"' in svg
    assert '"final_loss": 0.25' in svg


def test_json_round_trip():
    original = random_sketch()
    data = json.loads(original.to_json())
    assert data["format"] == "clipasso-sketch" and data["version"] == 1
    assert_close(original, Sketch.from_json(original.to_json()), tol=1e-9)


def test_loads_original_clipasso_svg_without_viewbox():
    svg = """<?xml version="1.0" ?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="224" height="224">
<defs/>
<g>
<path d="M 10.5 20.0 C 30.0 40.0 50.0 60.0 70.0 80.0" fill="none" stroke="rgb(0, 0, 0)" stroke-opacity="1.0" stroke-width="3.0"/>
<path d="m 100 100 c 10 0 20 10 20 20 l 5 5" fill="none" stroke="rgb(0, 0, 0)" stroke-width="3.0"/>
</g>
</svg>"""
    sketch = from_svg(svg)
    assert (sketch.width, sketch.height) == (224, 224)
    assert len(sketch.strokes) == 3
    assert sketch.strokes[0].points == [(10.5, 20.0), (30.0, 40.0), (50.0, 60.0), (70.0, 80.0)]
    assert sketch.strokes[1].points[-1] == (120.0, 120.0)
    assert sketch.strokes[2].points[0] == (120.0, 120.0) and sketch.strokes[2].points[-1] == (125.0, 125.0)
    assert sketch.strokes[0].width == 3.0 and sketch.strokes[0].color == "#000000"


def test_viewbox_origin_and_style_attribute():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="10 20 100 50">'
           '<g style="stroke:#f00;stroke-width:2"><path d="M 10 20 C 20 30 40 50 60 60" style="fill:none"/></g></svg>')
    sketch = from_svg(svg)
    assert (sketch.width, sketch.height) == (100, 50)
    assert sketch.strokes[0].points[0] == (0.0, 0.0)
    assert sketch.strokes[0].color == "#ff0000" and sketch.strokes[0].width == 2.0


def test_transforms_of_groups_and_paths_are_applied():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
           '<g transform="translate(10, 5) scale(2)" stroke="#000" stroke-width="1.5">'
           '<path d="M 0 0 C 10 0 10 10 0 10" transform="rotate(90 5 5)"/></g>'
           '<path d="M 0 0 L 3 0" stroke="#000" transform="matrix(1 0 0.5 1 4 0) skewY(0)"/></svg>')
    sketch = from_svg(svg)
    rotated = [(10 - y, x) for x, y in [(0, 0), (10, 0), (10, 10), (0, 10)]]  # rotate(90) about (5, 5)
    expected = [(10 + 2 * x, 5 + 2 * y) for x, y in rotated]
    flat = lambda points: [v for point in points for v in point]  # noqa: E731
    assert flat(sketch.strokes[0].points) == pytest.approx(flat(expected))
    assert sketch.strokes[0].width == pytest.approx(3.0)  # 1.5 scaled by 2
    assert flat(sketch.strokes[1].points) == pytest.approx([4, 0, 5, 0, 6, 0, 7, 0])
    assert sketch.strokes[1].width == pytest.approx(1.0)  # a shear keeps areas


@pytest.mark.parametrize("text, message", [
    ("not xml", "not a readable SVG"),
    ("<html/>", "not an SVG"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><path d="M 1 1 C 2 2 3 3 4 4" stroke="#000"/></svg>', "viewBox"),
    ('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "no stroked paths"),
    ('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><path d="M 1 1 Q 2 2 3 3" stroke="#000"/></svg>',
     "unsupported SVG path command"),
    ('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><path d="M 1 1 L 2 2" stroke="#000" '
     'transform="spin(3)"/></svg>', "malformed SVG transform"),
    ('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><path d="M 1 1 L 2 2" stroke="#000" '
     'transform="translate(1 2 3)"/></svg>', "malformed SVG transform"),
])
def test_bad_svg_gives_clear_error(text, message):
    with pytest.raises(InputError, match=message):
        from_svg(text)


@pytest.mark.parametrize("text", ['{"format": "other"}', '{"format": "clipasso-sketch", "version": 99}',
                                  '{"format": "clipasso-sketch", "version": 1, "width": 5}', "{oops"])
def test_bad_json_gives_clear_error(text):
    with pytest.raises(InputError):
        Sketch.from_json(text)


def test_package_exports_the_sketch_function_not_the_module():
    import clipasso_core
    from clipasso_core import SketchConfig, sketch

    assert callable(sketch) and sketch.__module__ == "clipasso_core.pipeline"
    assert SketchConfig().preset == "default" and clipasso_core.Sketch.__name__ == "Sketch"
