"""inkscape_ext/clipasso_bridge.py, without inkex: image placement, stroke path data and outlines,
and running a core through the contract's client (a stand-in core script speaks the protocol)."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from inkscape_bundle import BUNDLE  # noqa: F401  (puts the built bundle on sys.path)
from clipasso_bridge import (BRUSHES, LEVEL_ATTR, CoreError, core_command, cubic_d, image_placement,  # noqa: E402
                             level_groups, outline_d, parse_cubic, rank_order, run_core, show_level)
from clipasso_contract import geometry  # noqa: E402
from clipasso_contract.formats import Sketch, Stroke  # noqa: E402


def test_placement_follows_preserve_aspect_ratio():
    assert image_placement(10, 20, 120, 100, None, 451, 300) == pytest.approx(
        (120 / 451, 120 / 451, 10, 20 + (100 - 300 * 120 / 451) / 2))
    assert image_placement(0, 0, 100, 100, "xMinYMax meet", 200, 100) == pytest.approx((0.5, 0.5, 0, 50))
    assert image_placement(0, 0, 100, 100, "xMaxYMin", 200, 100) == pytest.approx((0.5, 0.5, 0, 0))
    assert image_placement(0, 0, 100, 100, "xMidYMid slice", 200, 100) == pytest.approx((1, 1, -50, 0))
    assert image_placement(0, 0, 100, 100, "defer xMaxYMax slice", 100, 200) == pytest.approx((1, 1, 0, -100))
    assert image_placement(0, 0, 100, 50, "none", 200, 100) == pytest.approx((0.5, 0.5, 0, 0))
    # an unparsable value is SVG's default, xMidYMid meet
    assert image_placement(0, 0, 100, 100, "bogus", 200, 100) == image_placement(0, 0, 100, 100, "", 200, 100)


def test_cubic_path_data_round_trip():
    pts = [(0.5, -1.25), (10, 0), (20, 3e-5), (30, 0)]
    assert [c for p in parse_cubic(cubic_d(pts)) for c in p] == pytest.approx([c for p in pts for c in p],
                                                                              abs=1e-4)
    assert parse_cubic("M 0 0 C 10 0 20 0 30 0") == [(0, 0), (10, 0), (20, 0), (30, 0)]
    for bad in ("M 0 0 L 10 0", "M 0 0 C 1 1 2 2 3 3 C 4 4 5 5 6 6", "C 0 0 1 1 2 2 3 3"):
        with pytest.raises(ValueError):
            parse_cubic(bad)


def outline_points(d: str) -> list[tuple[float, float]]:
    assert d.startswith("M ") and d.endswith(" Z")
    return [tuple(map(float, v.split())) for v in d[2:-2].split(" L ")]


@pytest.mark.parametrize("brush", BRUSHES)
def test_outline_follows_the_contract_width_profile(brush):
    pts = [(0, 0), (10, 0), (20, 0), (30, 0)]  # straight along x: the outline's y is the half width
    samples = 48
    ring = outline_points(outline_d(pts, 4.0, brush, samples=samples))
    assert len(ring) == 2 * (samples + 1)
    left = ring[:samples + 1]
    for i, (x, y) in enumerate(left):
        t = i / samples
        assert x == pytest.approx(geometry.cubic_point(pts, t)[0], abs=1e-3)
        assert y == pytest.approx(2.0 * geometry.width_profile(brush, t), abs=1e-3)
    right = ring[samples + 1:][::-1]
    assert [y for _, y in right] == pytest.approx([-y for _, y in left], abs=1e-3)


def test_brushes_are_the_contract_brushes_inkscape_draws_live():
    assert set(BRUSHES) <= set(geometry.BRUSHES) and BRUSHES[0] == "uniform"


def test_core_command_errors_are_for_the_user(tmp_path):
    with pytest.raises(CoreError, match="not on PATH"):
        core_command("no-such-clipasso")
    with pytest.raises(CoreError, match="Python interpreter not found"):
        core_command(python=str(tmp_path / "python"))
    with pytest.raises(CoreError, match="not a working clipasso core"):
        core_command(python="/bin/sh")  # runs, but is no Python with clipasso_core


def fake_core(tmp_path: Path, body: str) -> list[str]:
    """A stand-in core: a script run as ``[python, script]`` that sees the core's arguments."""
    script = tmp_path / "fake_core.py"
    script.write_text("import json, sys\nargs = sys.argv[1:]\n" + textwrap.dedent(body))
    return [sys.executable, str(script)]


DONE_FROM_ARGS = """
def event(name, **fields):
    print(json.dumps({"protocol": PROTOCOL, "event": name, **fields}), flush=True)
out, sketch_json = args[args.index("-o") + 1], args[args.index("--json") + 1]
"""


def test_run_core_reads_the_sketch_json(tmp_path):
    sketch = Sketch(451, 300, [Stroke([(1, 2), (3, 4), (5, 6), (7, 8)], 2.5, "#112233", 0.5)], {"seed": 4})
    command = fake_core(tmp_path, f"PROTOCOL = 1\n{DONE_FROM_ARGS}" + f"""
assert args[0] == "sketch" and args[1] == "in.png" and "--strokes" in args
assert args[-3:] == ["--progress", "json", "--watch-parent"], args
open(sketch_json, "w").write({sketch.to_json()!r})
event("start", version="0.1.0", input=args[1], strokes=1, seeds=1, iterations=1, preset="fast",
      backbone="tiny-random")
event("done", svg=out, json=sketch_json, loss=0.5, seed=4, iterations=1, cancelled=False)
""")
    got = run_core(command, "in.png", ["--strokes", "1"])
    assert isinstance(got, Sketch) and got == sketch


@pytest.mark.parametrize("body, message", [
    ("PROTOCOL = 1\n" + DONE_FROM_ARGS + "event('error', message='input is not a readable image', code=2)\n"
     "sys.exit(2)", "not a readable image"),
    ("print('Traceback ...', file=sys.stderr)\nsys.exit(1)", r"failed \(exit 1\): Traceback"),
    ("PROTOCOL = 2\n" + DONE_FROM_ARGS + "event('start')\n", "protocol 2"),
    ("PROTOCOL = 1\n" + DONE_FROM_ARGS + "open(sketch_json, 'w').write(json.dumps({'format': 'other'}))\n"
     "event('done', svg=out, json=sketch_json, loss=0.5, seed=0, iterations=1, cancelled=False)",
     "cannot read: not a clipasso sketch JSON"),
])
def test_run_core_failures_become_one_message(tmp_path, body, message):
    with pytest.raises(CoreError, match=message):
        run_core(fake_core(tmp_path, body), "in.png", [], timeout=60)


def test_sketch_json_is_read_with_the_contract(tmp_path):
    # the bridge keeps no sketch format of its own: a version the contract refuses is refused
    command = fake_core(tmp_path, "PROTOCOL = 1\n" + DONE_FROM_ARGS + """
open(sketch_json, "w").write(json.dumps({"format": "clipasso-sketch", "version": 99, "width": 1,
                                         "height": 1, "strokes": []}))
event("done", svg=out, json=sketch_json, loss=0.5, seed=0, iterations=1, cancelled=False)
""")
    with pytest.raises(CoreError, match="unsupported sketch JSON version 99"):
        run_core(command, "in.png", [], timeout=60)


def test_rank_order_sorts_by_rank_and_renumbers():
    line = [(0, 0), (1, 0), (2, 0), (3, 0)]
    strokes = [Stroke(line, id=5, rank=2), Stroke(line, id=1, rank=0), Stroke(line, id=9, rank=7)]
    assert [(r, s.id) for r, s in rank_order(strokes)] == [(0, 1), (1, 5), (2, 9)]
    plain = [Stroke(line, width=w) for w in (1, 2, 3)]  # no ranks: the listed order
    assert [(r, s.width) for r, s in rank_order(plain)] == [(0, 1), (1, 2), (2, 3)]


def test_show_level_hides_all_but_one_sub_group():
    import xml.etree.ElementTree as ET

    group = ET.Element("g")
    for count, style in ((8, "opacity:0.5;display:none"), (4, ""), (2, None)):
        sub = ET.SubElement(group, "g", {LEVEL_ATTR: str(count)})
        if style is not None:
            sub.set("style", style)
    ET.SubElement(group, "path")
    assert sorted(level_groups(group)) == [2, 4, 8]
    show_level(group, 8)
    styles = {c: g.get("style") for c, g in level_groups(group).items()}
    assert styles == {8: "opacity:0.5", 4: "display:none", 2: "display:none"}
    show_level(group, 2)
    styles = {c: g.get("style") for c, g in level_groups(group).items()}
    assert styles == {8: "opacity:0.5;display:none", 4: "display:none", 2: None}
    with pytest.raises(ValueError, match="no level of 3 strokes.*8, 4, 2"):
        show_level(group, 3)
    assert level_groups(ET.Element("g")) == {}
