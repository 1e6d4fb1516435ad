"""The artist in the loop in Inkscape, in the inkex.tester style: Refine Sketch (locked paths stay
exactly), Add Strokes (inside a selected shape, every transform taken into account), Fill Erased
(back to the recorded count), run on a sketched document with the real core (--backbone
tiny-random, few iterations). The group's transform and place never change."""
from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stderr
from pathlib import Path

import pytest

inkex = pytest.importorskip("inkex")
from inkex.tester import TestCase  # noqa: E402

from inkscape_bundle import BUNDLE  # noqa: E402  (builds the bundle, puts it on sys.path)
from clipasso_add import AddStrokes  # noqa: E402
from clipasso_bridge import fresh_ids, parse_cubic, polygon_text, ring_area, sample_ring  # noqa: E402
from clipasso_fill import FillErased  # noqa: E402
from clipasso_refine import RefineSketch  # noqa: E402
from test_inkscape_ext import sketched_doc  # noqa: E402

EDIT = ["--python", sys.executable, "--backbone", "tiny-random", "--iterations", "3", "--seeds", "1"]
LOCK = "{http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd}insensitive"


def _numbers(d: str) -> list[float]:
    """The coordinates of a path's d, in order."""
    return [v for segment in inkex.Path(d).to_absolute() for v in segment.args]


def strokes(group) -> list:
    return [p for p in group.descendants() if isinstance(p, inkex.PathElement)
            and p.get("data-clipasso-stroke") is not None]


def run(effect_class, path: Path, *args: str):
    """(effect, exit status or None, stderr, output bytes) of an effect run as Inkscape does."""
    effect, err, out = effect_class(), io.StringIO(), io.BytesIO()
    status = None
    with redirect_stderr(err):
        try:
            effect.run([str(path), *args], output=out)
        except SystemExit as exc:
            status = exc.code
    return effect, status, err.getvalue(), out.getvalue()


def test_the_editing_effects_come_from_the_bundle():
    for cls in (RefineSketch, AddStrokes, FillErased):
        assert Path(sys.modules[cls.__module__].__file__).parent == BUNDLE


def test_fresh_ids_keep_the_first_and_number_the_rest_above():
    assert fresh_ids([3, None, 3, 0, None]) == [3, 4, 5, 0, 6]
    assert fresh_ids([None, None]) == [0, 1]


def test_a_shape_becomes_a_polygon_of_its_largest_ring():
    ellipse = inkex.Ellipse.new(center=(10, 10), radius=(5, 3))
    rings = [sample_ring(r) for r in ellipse.path.to_superpath()]
    assert len(rings) == 1 and len(rings[0]) >= 16
    assert ring_area(rings[0]) == pytest.approx(3.14159 * 15, rel=0.02)
    square = sample_ring(inkex.Path("M 0 0 L 4 0 L 4 4 L 0 4 Z").to_superpath()[0])
    assert square == [(0, 0), (4, 0), (4, 4), (0, 4)]
    assert polygon_text(square) == "0.000,0.000 4.000,0.000 4.000,4.000 0.000,4.000"
    with pytest.raises(ValueError):
        polygon_text([(0, 0), (1, 1), (2, 2)])


class RefineSketchTest(TestCase):
    effect_class = RefineSketch

    def test_locked_paths_stay_exactly_and_the_rest_refine(self):
        doc = sketched_doc(self.tempdir, False)
        svg = inkex.load_svg(str(doc)).getroot()
        group = svg.getElementById("photo").getnext()
        paths = strokes(group)
        transform = str(group.transform)
        # Inkscape's lock on two paths inside a locked sub-group and on one path, the core's mark on
        # another; a fifth selected with "lock the selected strokes"
        sub = group.add(inkex.Group())
        sub.set(LOCK, "true")
        sub.append(paths[0])
        sub.append(paths[1])
        paths[2].set(LOCK, "true")
        paths[3].set("data-locked", "true")
        doc.write_bytes(svg.tostring())
        before = {p.get_id(): p.get("d") for p in paths}
        locked = [p.get_id() for p in paths[:5]]
        effect = self.assertEffect(str(doc), args=[f"--id={group.get_id()}", f"--id={paths[4].get_id()}", *EDIT])
        group = effect.svg.getElementById(group.get_id())
        after = {p.get_id(): p for p in strokes(group)}
        assert set(after) == set(before) and str(group.transform) == transform
        assert all(after[i].get("d") == before[i] for i in locked)
        moved = [i for i in before if i not in locked and after[i].get("d") != before[i]]
        assert moved, "the unlocked strokes refine"
        assert after[paths[4].get_id()].get(LOCK) == "true"  # the selected stroke is locked now
        assert sorted(int(p.get("data-clipasso-id")) for p in after.values()) == list(range(8))
        assert sorted(int(p.get("data-clipasso-stroke")) for p in after.values()) == list(range(8))
        assert group.get("data-clipasso-count") == "8"
        info = json.loads(group.get("data-clipasso-sketch"))
        assert info["image"] == "photo" and len(info["place"]) == 4

    def test_draw_again_starts_the_unlocked_strokes_afresh(self):
        doc = sketched_doc(self.tempdir, False)
        svg = inkex.load_svg(str(doc)).getroot()
        group = svg.getElementById("photo").getnext()
        paths = strokes(group)
        for path in paths[:3]:
            path.set(LOCK, "true")
        doc.write_bytes(svg.tostring())
        before = {p.get_id(): p.get("d") for p in paths}

        def shifts(*args):
            effect = self.assertEffect(str(doc), args=[f"--id={group.get_id()}", *EDIT, *args])
            after = {p.get_id(): p.get("d") for p in strokes(effect.svg.getElementById(group.get_id()))}
            assert all(after[p.get_id()] == before[p.get_id()] for p in paths[:3])
            return [max(abs(a - b) for a, b in zip(_numbers(after[i]), _numbers(before[i])))
                    for i in before if i not in [p.get_id() for p in paths[:3]]]

        assert sorted(shifts("--resketch=true"))[2] > 3 * sorted(shifts())[2]

    def test_everything_locked_aborts_and_leaves_the_document(self):
        doc = sketched_doc(self.tempdir, False)
        svg = inkex.load_svg(str(doc)).getroot()
        group = svg.getElementById("photo").getnext()
        group.set(LOCK, "true")
        doc.write_bytes(svg.tostring())
        _, status, err, out = run(RefineSketch, doc, f"--id={group.get_id()}", *EDIT)
        assert status and "Refine Sketch failed" in err and "Every stroke of the sketch is locked" in err
        _, status, err, _ = run(RefineSketch, doc, "--id=box", *EDIT)
        assert status and "Select a sketch group" in err


class AddStrokesTest(TestCase):
    effect_class = AddStrokes

    def test_new_strokes_lie_in_the_shape_which_is_removed(self):
        doc = sketched_doc(self.tempdir, False)
        svg = inkex.load_svg(str(doc)).getroot()
        group = svg.getElementById("photo").getnext()
        transform, before = str(group.transform), {p.get_id(): p.get("d") for p in strokes(group)}
        # a rotated rectangle in another layer with its own transform, over the cat's middle
        layer = svg.add(inkex.Layer.new("over", transform="translate(3,-2)"))
        rect = layer.add(inkex.Rectangle.new(50, 50, 40, 30))
        rect.set("id", "region")
        rect.transform = inkex.Transform("rotate(12 70 65)")
        corners = -rect.composed_transform()
        doc.write_bytes(svg.tostring())
        effect = self.assertEffect(str(doc), args=[f"--id={group.get_id()}", "--id=region", "--add=3", *EDIT])
        svg = effect.svg
        group = svg.getElementById(group.get_id())
        assert svg.getElementById("region") is None and str(group.transform) == transform
        paths = strokes(group)
        new = [p for p in paths if p.get_id() not in before]
        assert len(paths) == 11 and len(new) == 3
        assert all(p.get("d") == before[p.get_id()] for p in paths if p.get_id() in before)  # only the new move
        assert sorted(int(p.get("data-clipasso-id")) for p in new) == [8, 9, 10]
        for path in new:
            to_rect = corners @ path.composed_transform()
            for x, y in parse_cubic(path.get("d")):
                u = to_rect.apply_to_point((x, y))
                assert 50 - 1e-2 <= u.x <= 90 + 1e-2 and 50 - 1e-2 <= u.y <= 80 + 1e-2, (u.x, u.y)
        assert group.get("data-clipasso-count") == "11"

    def test_a_levels_sketch_adds_to_its_shown_level(self):
        doc = sketched_doc(self.tempdir, True)
        group_id = inkex.load_svg(str(doc)).getroot().getElementById("photo").getnext().get_id()
        effect = self.assertEffect(str(doc), args=[f"--id={group_id}", "--add=2", *EDIT])
        group = effect.svg.getElementById(group_id)
        counts = [(g.get("data-clipasso-level"), len(strokes(g)), g.get("data-clipasso-count")) for g in group]
        assert counts == [("8", 10, "10"), ("4", 4, None), ("2", 2, None)]


class FillErasedTest(TestCase):
    effect_class = FillErased

    def test_fill_restores_the_count_and_keeps_the_others(self):
        doc = sketched_doc(self.tempdir, False)
        svg = inkex.load_svg(str(doc)).getroot()
        group = svg.getElementById("photo").getnext()
        transform = str(group.transform)
        paths = strokes(group)
        for path in paths[2:5]:
            group.remove(path)
        kept = {p.get_id(): p.get("d") for p in strokes(group)}
        doc.write_bytes(svg.tostring())
        effect = self.assertEffect(str(doc), args=[f"--id={group.get_id()}", *EDIT])
        group = effect.svg.getElementById(group.get_id())
        paths = strokes(group)
        assert len(paths) == 8 and str(group.transform) == transform
        assert all(p.get("d") == kept[p.get_id()] for p in paths if p.get_id() in kept)
        assert len({p.get("data-clipasso-id") for p in paths}) == 8

        # nothing erased: nothing to fill, the document unchanged
        again = Path(self.tempdir) / "filled.svg"
        again.write_bytes(effect.test_output.getvalue())
        _, status, err, _ = run(FillErased, again, f"--id={group.get_id()}", *EDIT)
        assert status and "Nothing to fill" in err
