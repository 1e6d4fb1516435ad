"""Inkscape extensions, in the inkex.tester style: the effect classes, imported from the built
bundle (tests/inkscape_bundle.py), run on test documents with the real core (--backbone tiny-random,
few iterations). The bridge's inkex-free logic is tested in test_inkscape_bridge.py."""
from __future__ import annotations

import base64
import io
import json
import os
import re
import sys
from contextlib import redirect_stderr
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from PIL import Image, ImageDraw

inkex = pytest.importorskip("inkex")
from inkex.tester import TestCase  # noqa: E402

from inkscape_bundle import BUNDLE  # noqa: E402  (builds the bundle, puts it on sys.path)
from clipasso_bridge import SETTINGS, image_placement, parse_cubic, width_range  # noqa: E402
from clipasso_restyle import RestyleSketch  # noqa: E402
from clipasso_sketch import SketchFromImage  # noqa: E402

CAT = Path(__file__).resolve().parents[1] / "clipasso_core" / "data" / "cat.jpg"
RUN = ["--backbone", "tiny-random", "--iterations", "3", "--seeds", "1", "--mask", "off", "--strokes", "8"]
CORE = ["--python", sys.executable, *RUN]
LEVELS = [*CORE, "--levels=2, 8,4"]  # any order; the largest is the stroke count


def document(href: str, image_attrs: str = 'x="10" y="20" width="120" height="100"',
             wrapper: str = 'transform="translate(5,7)"') -> str:
    return f"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
  xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" width="200mm" height="150mm" viewBox="0 0 200 150">
  <g id="layer1" {wrapper}>
    <image id="photo" {image_attrs} transform="rotate(10 70 70)" xlink:href="{href}"/>
    <rect id="box" x="0" y="0" width="5" height="5"/>
  </g>
</svg>"""


def embedded_href() -> str:
    return "data:image/jpeg;base64," + base64.b64encode(CAT.read_bytes()).decode()


def run_effect(effect_class, path: Path, *args: str):
    """Run an effect the way Inkscape does; returns (effect, exit status or None, stderr)."""
    effect, err = effect_class(), io.StringIO()
    status = None
    with redirect_stderr(err):
        try:
            effect.run([str(path), *args], output=io.BytesIO())
        except SystemExit as exc:
            status = exc.code
    return effect, status, err.getvalue()


def test_effects_come_from_the_bundle():
    for cls in (SketchFromImage, RestyleSketch):
        assert Path(sys.modules[cls.__module__].__file__).parent == BUNDLE
    assert Path(sys.modules["clipasso_contract"].__file__).parent == BUNDLE / "clipasso_contract"


class SketchFromImageTest(TestCase):
    effect_class = SketchFromImage

    def write(self, text: str, name: str = "doc.svg") -> Path:
        path = Path(self.tempdir) / name
        path.write_text(text)
        return path

    def test_embedded_image_becomes_a_group_of_paths_over_it(self):
        doc = self.write(document(embedded_href()))
        effect = self.assertEffect(str(doc), args=["--id=photo", *CORE])
        image = effect.svg.getElementById("photo")
        group = image.getnext()
        assert isinstance(group, inkex.Group) and group.label == "Sketch of photo"
        assert group.transform == image.transform
        paths = list(group)
        assert len(paths) == 8 and all(isinstance(p, inkex.PathElement) for p in paths)
        sx, sy, tx, ty = image_placement(10, 20, 120, 100, None, 451, 300)
        for path in paths:
            for x, y in parse_cubic(path.get("d")):
                assert tx - 1e-3 <= x <= tx + 451 * sx + 1e-3 and ty - 1e-3 <= y <= ty + 300 * sy + 1e-3
            assert path.style["stroke"] == "#000000" and path.style["fill"] == "none"
            assert float(path.style["stroke-width"]) == pytest.approx(3 * 451 / 224 * sx, rel=1e-3)
        meta = json.loads(group.get("data-clipasso-sketch"))
        assert meta["metadata"]["backbone"] == "tiny-random" and meta["settings"]["strokes"] == 8
        # most important first; no level sub-groups without --levels
        assert [p.get("data-clipasso-stroke") for p in paths] == [str(i) for i in range(8)]
        assert sorted(int(p.get("data-clipasso-id")) for p in paths) == list(range(8))
        assert "levels" not in meta

    def test_linked_image_relative_to_document(self):
        (Path(self.tempdir) / "pics").mkdir()
        (Path(self.tempdir) / "pics" / "cat.jpg").write_bytes(CAT.read_bytes())
        doc = self.write(document("pics/cat.jpg"))
        effect = self.assertEffect(str(doc), args=["--id=photo", *CORE, "--color=#336699"])
        paths = list(effect.svg.getElementById("photo").getnext())
        assert len(paths) == 8 and {p.style["stroke"] for p in paths} == {"#336699"}

    def test_nothing_or_non_image_selected_aborts_and_leaves_document(self):
        doc = self.write(document(embedded_href()))
        for args, message in ((CORE, "Select one or more images"), (["--id=box", *CORE], "Only images")):
            effect, status, err = run_effect(SketchFromImage, doc, *args)
            assert status and message in err
            assert effect.svg.getElementById("photo").getnext().get("id") == "box"

    def test_missing_core_and_core_error_abort(self):
        doc = self.write(document(embedded_href()))
        _, status, err = run_effect(SketchFromImage, doc, "--id=photo", "--core", "no-such-clipasso",
                                    "--backbone", "tiny-random")
        assert status and "not on PATH" in err
        _, status, err = run_effect(SketchFromImage, doc, "--id=photo", "--python", "/bin/sh")
        assert status and "not a working clipasso core" in err
        broken = self.write(document("data:image/png;base64,aGVsbG8="), "broken.svg")
        effect, status, err = run_effect(SketchFromImage, broken, "--id=photo", *CORE)
        assert status and "not a readable image" in err
        assert len(effect.svg.findall(".//{http://www.w3.org/2000/svg}path")) == 0
        _, status, err = run_effect(SketchFromImage, self.write(document("missing.png"), "m.svg"),
                                    "--id=photo", *CORE)
        assert status and "not found" in err

    def test_a_core_failure_aborts_through_inkex_and_says_it_failed(self):
        # Inkscape 1.x shows an extension's stderr under "The script did not return an error, but ..."
        # whatever the exit status: inkex's abort status, and a first line that says it failed
        broken = self.write(document("data:image/png;base64,aGVsbG8="), "broken.svg")
        effect, status, err = run_effect(SketchFromImage, broken, "--id=photo", *CORE)
        assert status == inkex.utils.ABORT_STATUS and "Traceback" not in err
        assert message_of(err).startswith("Sketching photo failed: not a readable image")
        assert effect.svg.getElementById("photo").getnext().get("id") == "box"


def level_groups(group) -> list:
    return [g for g in group if g.get("data-clipasso-level") is not None]


def shown(element) -> bool:
    return "none" not in (element.style.get("display"), element.get("display"))


class SketchLevelsTest(TestCase):
    effect_class = SketchFromImage

    def write(self, text: str, name: str = "doc.svg") -> Path:
        path = Path(self.tempdir) / name
        path.write_text(text)
        return path

    def test_levels_make_one_sub_group_per_level_one_shown(self):
        doc = self.write(document(embedded_href()))
        effect = self.assertEffect(str(doc), args=["--id=photo", *LEVELS, "--show_level=4"])
        image = effect.svg.getElementById("photo")
        group = image.getnext()
        assert group.label == "Sketch of photo" and group.transform == image.transform
        subs = list(group)
        assert subs == level_groups(group) and all(isinstance(g, inkex.Group) for g in subs)
        assert [g.get("data-clipasso-level") for g in subs] == ["8", "4", "2"]
        assert [g.label for g in subs] == ["Level 8", "Level 4", "Level 2"]
        assert [shown(g) for g in subs] == [False, True, False]
        ids = []
        for sub, count in zip(subs, (8, 4, 2)):
            paths = list(sub)
            assert len(paths) == count and all(isinstance(p, inkex.PathElement) for p in paths)
            assert [p.get("data-clipasso-stroke") for p in paths] == [str(i) for i in range(count)]
            assert all(p.get("d").startswith("M") and parse_cubic(p.get("d")) for p in paths)
            ids.append({int(p.get("data-clipasso-id")) for p in paths})
            assert len(ids[-1]) == count
        assert ids[2] <= ids[1] <= ids[0] and ids[0] == set(range(8))  # nested by identity
        all_ids = [p.get_id() for p in group.descendants()]
        assert len(all_ids) == len(set(all_ids))
        meta = json.loads(group.get("data-clipasso-sketch"))
        assert meta["settings"]["levels"] == "8,4,2" and meta["settings"]["show_level"] == 4
        assert [v["count"] for v in meta["levels"]] == [8, 4, 2]

    def test_largest_level_shown_by_default(self):
        doc = self.write(document(embedded_href()))
        effect = self.assertEffect(str(doc), args=["--id=photo", *CORE, "--levels=4,2"])
        subs = level_groups(effect.svg.getElementById("photo").getnext())
        assert [(g.get("data-clipasso-level"), shown(g), len(g)) for g in subs] == [("4", True, 4), ("2", False, 2)]

    def test_bad_levels_abort_before_the_core_runs(self):
        doc = self.write(document(embedded_href()))
        for args, message in ((["--levels=4,4"], "Invalid setting: levels must be different"),
                              (["--levels=8,x"], "Invalid setting: levels must be whole numbers"),
                              (["--levels=8,4", "--show_level=5"], "Show level 5 is not one of the levels (8, 4)"),
                              (["--show_level=4"], "Show level 4 is not one of the levels (none")):
            # a core that cannot run: the settings are refused first
            effect, status, err = run_effect(SketchFromImage, doc, "--id=photo", "--core", "no-such-clipasso",
                                             *args)
            assert status and message in err, err
            assert "Invalid" not in message or "(Levels in the Extensions > Sketch > Sketch from Image > Levels " \
                                               "tab)" in err
            assert effect.svg.getElementById("photo").getnext().get("id") == "box"


_SKETCHED = {}


def sketched_doc(folder: str, levels: bool) -> Path:
    """A document with the image sketched (with levels 8,4,2 or without), made once per process."""
    if levels not in _SKETCHED:
        source = Path(folder) / "source.svg"
        source.write_text(document(embedded_href()))
        out = io.BytesIO()
        SketchFromImage().run([str(source), "--id=photo", *(LEVELS if levels else CORE)], output=out)
        _SKETCHED[levels] = out.getvalue()
    path = Path(folder) / ("levels.svg" if levels else "doc.svg")
    path.write_bytes(_SKETCHED[levels])
    return path


class RestyleLevelsTest(TestCase):
    effect_class = RestyleSketch

    def test_restyle_switches_the_level_and_styles_every_level(self):
        doc = sketched_doc(self.tempdir, True)
        group_id = inkex.load_svg(str(doc)).getroot().getElementById("photo").getnext().get_id()
        effect = self.assertEffect(str(doc), args=[f"--id={group_id}", "--show_level=2", "--stroke_width=2.5",
                                                   "--color=#ff0000"])
        group = effect.svg.getElementById(group_id)
        subs = level_groups(group)
        assert [(g.get("data-clipasso-level"), shown(g)) for g in subs] == [("8", False), ("4", False), ("2", True)]
        strokes = [p for p in group.descendants() if p.get("data-clipasso-stroke") is not None]
        assert len(strokes) == 14
        assert {(p.style["stroke"], p.style["stroke-width"]) for p in strokes} == {("#ff0000", "2.5")}
        assert json.loads(group.get("data-clipasso-sketch"))["settings"]["show_level"] == 2

        # only the level: a stroke of the shown level selected, the style left alone
        out = Path(self.tempdir) / "level2.svg"
        out.write_bytes(effect.test_output.getvalue())
        stroke = subs[2][0]
        effect = self.assertEffect(str(out), args=[f"--id={stroke.get_id()}", "--show_level=8",
                                                   "--apply_style=false", "--stroke_width=9"])
        group = effect.svg.getElementById(group_id)
        assert [shown(g) for g in level_groups(group)] == [True, False, False]
        assert {p.style["stroke-width"] for p in group.descendants()
                if p.get("data-clipasso-stroke") is not None} == {"2.5"}

        # 0 keeps the shown level
        out.write_bytes(effect.test_output.getvalue())
        effect = self.assertEffect(str(out), args=[f"--id={group_id}", "--brush=tapered"])
        group = effect.svg.getElementById(group_id)
        assert [shown(g) for g in level_groups(group)] == [True, False, False]
        assert all(p.get("inkscape:path-effect") for p in group.descendants()
                   if p.get("data-clipasso-stroke") is not None)

    def test_missing_level_aborts_and_leaves_the_document(self):
        doc = sketched_doc(self.tempdir, True)
        group_id = inkex.load_svg(str(doc)).getroot().getElementById("photo").getnext().get_id()
        effect, status, err = run_effect(RestyleSketch, doc, f"--id={group_id}", "--show_level=3",
                                         "--stroke_width=7")
        assert status and "has no level of 3 strokes (its levels: 8, 4, 2)" in err
        group = effect.svg.getElementById(group_id)
        assert [shown(g) for g in level_groups(group)] == [True, False, False]
        assert "7" not in {p.style.get("stroke-width") for p in group.descendants()}
        plain = sketched_doc(self.tempdir, False)
        plain_id = inkex.load_svg(str(plain)).getroot().getElementById("photo").getnext().get_id()
        _, status, err = run_effect(RestyleSketch, plain, f"--id={plain_id}", "--show_level=4")
        assert status and "no sketch made with Levels" in err


class RestyleSketchTest(TestCase):
    effect_class = RestyleSketch

    def sketched(self) -> Path:
        path = Path(self.tempdir) / "doc.svg"
        path.write_text(document(embedded_href()))
        effect = SketchFromImage()
        out = io.BytesIO()
        effect.run([str(path), "--id=photo", *CORE], output=out)
        path.write_bytes(out.getvalue())
        return path

    def test_tapered_then_uniform_round_trip(self):
        doc = self.sketched()
        original = {p.get_id(): p.get("d") for p in inkex.load_svg(str(doc)).getroot().descendants()
                    if p.get("data-clipasso-stroke") is not None}
        group_id = inkex.load_svg(str(doc)).getroot().getElementById("photo").getnext().get_id()
        effect = self.assertEffect(str(doc), args=[f"--id={group_id}", "--brush=tapered", "--stroke_width=1.5",
                                                   "--color=#ff0000"])
        paths = [effect.svg.getElementById(i) for i in original]
        for path in paths:
            assert path.get("inkscape:original-d") == original[path.get_id()]
            effect_el = effect.svg.getElementById(path.get("inkscape:path-effect").lstrip("#"))
            assert effect_el.get("effect") == "taperstroke" and effect_el.get("stroke_width") == "1.5"
            assert path.style["fill"] == "#ff0000" and path.style["stroke"] == "none"
            assert path.get("d").endswith("Z")
        out = Path(self.tempdir) / "tapered.svg"
        out.write_bytes(effect.test_output.getvalue())
        effect = self.assertEffect(str(out), args=[f"--id={group_id}", "--brush=uniform", "--stroke_width=2.5",
                                                   "--caps=butt", "--opacity=0.5"])
        for pid, d in original.items():
            path = effect.svg.getElementById(pid)
            assert path.get("d") == d and path.get("inkscape:path-effect") is None
            assert path.style["stroke-width"] == "2.5" and path.style["stroke-linecap"] == "butt"
            assert path.style["stroke-opacity"] == "0.5"
        assert not effect.svg.xpath("//inkscape:path-effect")

    def test_pressure_uses_power_stroke_and_bad_selection_aborts(self):
        doc = self.sketched()
        root = inkex.load_svg(str(doc)).getroot()
        stroke = next(p for p in root.descendants() if p.get("data-clipasso-stroke") == "0")
        effect = self.assertEffect(str(doc), args=[f"--id={stroke.get_id()}", "--brush=pressure"])
        path = effect.svg.getElementById(stroke.get_id())
        assert effect.svg.getElementById(path.get("inkscape:path-effect")[1:]).get("effect") == "powerstroke"
        _, status, err = run_effect(RestyleSketch, doc, "--id=box")
        assert status == inkex.utils.ABORT_STATUS and "Select sketch groups" in err
        assert err.startswith("Restyle Sketch failed; the drawing was not changed.\n")


def plain_document(href: str, image_attrs: str, wrapper: str = "") -> str:
    return f"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
  width="200mm" height="150mm" viewBox="0 0 200 150">
  <g id="layer1" {wrapper}><image id="photo" {image_attrs} xlink:href="{href}"/></g>
</svg>"""


def control_points(group) -> list:
    return [pt for p in group.descendants() if p.get("data-clipasso-stroke") is not None
            for pt in parse_cubic(p.get("d"))]


def sketch_only(svg_text: str) -> str:
    """The document with its images removed (the strokes alone)."""
    return re.sub(r"<image\b[^>]*/>", "", svg_text, flags=re.S)


class VisiblePartTest(TestCase):
    """A sketch covers what the artist sees: the part of the image its box shows."""

    effect_class = SketchFromImage

    def write(self, text: str, name: str = "doc.svg") -> Path:
        path = Path(self.tempdir) / name
        path.write_text(text)
        return path

    def sketched(self, image_attrs: str, *args: str):
        doc = self.write(plain_document(embedded_href(), image_attrs))
        effect = self.assertEffect(str(doc), args=["--id=photo", *CORE, *args])
        group = effect.svg.getElementById("photo").getnext()
        return effect, group, json.loads(group.get("data-clipasso-sketch"))

    def test_slice_sketches_the_visible_part_only(self):
        from conftest import render_svg

        effect, group, info = self.sketched('x="10" y="20" width="100" height="100" '
                                            'preserveAspectRatio="xMidYMid slice"')
        # the cat (451 x 300 px) fills the square box at 1/3 unit per px: its middle 300 x 300 px show
        assert info["visible"] == pytest.approx([10, 20, 100, 100])
        assert info["scale"] == pytest.approx([1 / 3, 1 / 3], rel=1e-6)  # the core saw the 300 px crop
        points = control_points(group)
        assert len(points) == 32
        assert all(10 - 1e-3 <= x <= 110 + 1e-3 and 20 - 1e-3 <= y <= 120 + 1e-3 for x, y in points)
        # a real render (resvg, 4 px per unit) of the strokes: no ink outside the box but the round
        # caps (half a stroke width, 0.67 units)
        text = effect.test_output.getvalue().decode()
        ink = render_svg(sketch_only(text), 800, 600) < 0.5
        inside = np.zeros_like(ink)
        inside[80:480, 40:440] = True
        near = np.zeros_like(ink)
        near[77:483, 37:443] = True
        outside = ink[~inside].sum() / max(ink.sum(), 1)
        print(f"slice: {ink.sum()} ink px, {100 * outside:.2f}% outside the visible image")
        # the centrelines stay inside (the core keeps control points on its image); only the ink of
        # their round caps and edges may pass the border, by half a stroke width at most
        assert ink.sum() > 500 and not ink[~near].any() and outside < 0.03
        if os.environ.get("CLIPASSO_RENDER_OUT"):
            from PIL import Image

            over = render_svg(text, 800, 600)
            Image.fromarray((over * 255).astype(np.uint8)).save(Path(os.environ["CLIPASSO_RENDER_OUT"]) /
                                                                "inkscape-slice-over-image.png")

    def test_slice_at_a_corner_and_none_stretched(self):
        _, group, info = self.sketched('x="0" y="0" width="60" height="100" preserveAspectRatio="xMaxYMin slice"')
        assert info["visible"] == pytest.approx([0, 0, 60, 100])
        assert all(-1e-3 <= x <= 60 + 1e-3 and -1e-3 <= y <= 100 + 1e-3 for x, y in control_points(group))
        _, group, info = self.sketched('x="5" y="5" width="180" height="60" preserveAspectRatio="none"')
        # stretched as shown: the core sketched the image at the box's proportions
        assert info["visible"] == pytest.approx([5, 5, 180, 60])
        assert info["scale"][0] == pytest.approx(info["scale"][1], rel=1e-2)
        assert all(5 - 1e-3 <= x <= 185 + 1e-3 and 5 - 1e-3 <= y <= 65 + 1e-3 for x, y in control_points(group))

    def test_meet_sketches_the_file_as_it_is(self):
        _, group, info = self.sketched('x="10" y="20" width="120" height="100" preserveAspectRatio="xMinYMax meet"')
        assert "visible" not in info
        sx, sy, tx, ty = image_placement(10, 20, 120, 100, "xMinYMax meet", 451, 300)
        assert info["scale"] == pytest.approx([sx, sy])
        assert all(tx - 1e-3 <= x <= tx + 451 * sx + 1e-3 and ty - 1e-3 <= y <= ty + 300 * sy + 1e-3
                   for x, y in control_points(group))


class StrokeWidthTest(TestCase):
    """Stroke width on the page: in px, mm, ... through the document's scale and transforms."""

    effect_class = SketchFromImage

    def write(self, text: str, name: str = "doc.svg") -> Path:
        path = Path(self.tempdir) / name
        path.write_text(text)
        return path

    def test_width_on_the_page_in_mm_and_px(self):
        # 1 user unit = 1 mm; the layer doubles everything, so 2 mm on the page is 1 unit in the group
        doc = self.write(document(embedded_href(), wrapper='transform="scale(2)"'))
        for width, unit, expected in (("2", "mm", 1.0), ("4", "px", 4 * 25.4 / 96 / 2)):
            effect = self.assertEffect(str(doc), args=["--id=photo", *CORE, f"--stroke_width={width}",
                                                       f"--width_unit={unit}"])
            group = effect.svg.getElementById("photo").getnext()
            widths = {float(p.style["stroke-width"]) for p in group}
            assert widths and all(w == pytest.approx(expected, rel=2e-3) for w in widths), (unit, widths)
            settings = json.loads(group.get("data-clipasso-sketch"))["settings"]
            assert (settings["stroke_width"], settings["width_unit"]) == (float(width), unit)

    def test_a_width_the_core_cannot_draw_names_the_range(self):
        doc = self.write(document(embedded_href(), wrapper='transform="scale(2)"'))
        low, high = width_range(2 * 120 / 451, 451, 300)  # mm per image px: box scale times the layer's
        for width, word in (("0.01", "thin"), ("500", "wide")):
            effect, status, err = run_effect(SketchFromImage, doc, "--id=photo", "--core", "no-such-clipasso",
                                             "--python", sys.executable, f"--stroke_width={width}",
                                             "--width_unit=mm")
            message = message_of(err)
            assert status and f"Stroke width {width} mm is too {word} for image photo" in message, err
            assert f"choose from {low:.3g} to {high:.3g} mm, or 0 for automatic" in message
            assert "Sketch from Image > Sketch tab" in message and "--" not in message
            assert effect.svg.getElementById("photo").getnext().get("id") == "box"


FAILED = "Sketch from Image failed; the drawing was not changed."


def message_of(err: str) -> str:
    """What inkex printed after the line saying Sketch from Image failed: the AbortExtension message
    (Inkscape shows both in a dialog)."""
    heading, _, message = err.strip().partition("\n")
    assert heading == FAILED, err
    return message


class CoreTabTest(TestCase):
    """The Core tab: the preset core of ``clipasso integrate inkscape``, weight files, and messages
    that say what to do in Inkscape."""

    effect_class = SketchFromImage

    def write(self, text: str, name: str = "doc.svg") -> Path:
        path = Path(self.tempdir) / name
        path.write_text(text)
        return path

    def test_the_integrate_preset_runs_when_the_core_tab_is_empty(self):
        doc = self.write(document(embedded_href()))
        settings = BUNDLE / SETTINGS
        settings.write_text(json.dumps({"python": sys.executable}))
        try:
            with mock.patch.dict(os.environ, {"PATH": "/usr/bin:/bin"}):
                effect = self.assertEffect(str(doc), args=["--id=photo", *RUN])
        finally:
            settings.unlink()
        assert len(list(effect.svg.getElementById("photo").getnext())) == 8

    def test_weight_files_are_passed_and_checked(self):
        doc = self.write(document(embedded_href()))
        args = ["--id=photo", "--python", sys.executable, "--backbone=openai", "--mask=off", "--iterations=3",
                "--seeds=1"]
        _, status, err = run_effect(SketchFromImage, doc, *args, "--clip_weights=/no/such/rn101.pt")
        assert status and message_of(err) == ("The RN101 weights file chosen in the Extensions > Sketch > Sketch "
                                              "from Image > Core tab was not found: /no/such/rn101.pt")
        # files that are no checkpoints reach the core, which says so
        not_weights = Path(self.tempdir) / "not-weights.pt"
        not_weights.write_bytes(b"not a checkpoint")
        effect, status, err = run_effect(SketchFromImage, doc, *args, f"--clip_weights={not_weights}",
                                         f"--saliency_weights={not_weights}")
        assert status and str(not_weights) in message_of(err) and "--" not in message_of(err), err
        assert effect.svg.getElementById("photo").getnext().get("id") == "box"

    def test_offline_without_weights_says_what_to_do_in_inkscape(self):
        doc = self.write(document(embedded_href()))
        cache = Path(self.tempdir) / "empty-hub-cache"
        cache.mkdir()
        env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_HOME": str(cache)}
        with mock.patch.dict(os.environ, env):
            for name in ("CLIPASSO_CLIP_WEIGHTS", "CLIPASSO_SALIENCY_WEIGHTS"):
                os.environ.pop(name, None)
            _, status, err = run_effect(SketchFromImage, doc, "--id=photo", "--python", sys.executable,
                                        "--backbone=openai", "--mask=off")
        message = message_of(err)
        print(message)
        assert status and "2 models are missing" in message and "--" not in message
        assert re.search(r"choose the (RN101|ViT-B/32) weights file in the Extensions > Sketch > Sketch from "
                         r"Image > Core tab", message), message


def several_document(tall: Path) -> str:
    """The cat embedded (turned), a tall 120 x 200 px image (a disc) linked elsewhere, and a broken image."""
    return f"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
  width="200mm" height="150mm" viewBox="0 0 200 150">
  <g id="layer1" transform="translate(5,7)">
    <image id="photo" x="10" y="20" width="120" height="100" transform="rotate(10 70 70)"
           xlink:href="{embedded_href()}"/>
    <image id="tall" x="140" y="10" width="30" height="50" xlink:href="{tall}"/>
    <image id="broken" x="0" y="0" width="10" height="10" xlink:href="data:image/png;base64,aGVsbG8="/>
  </g>
</svg>"""


def check_over(group, image, box) -> None:
    """A sketch group right after its image, with its transform, its strokes inside the image's box."""
    assert group is image.getnext() and group.label == f"Sketch of {image.get_id()}"
    assert group.transform == image.transform and len(group) == 8
    x, y, w, h = box
    for path in group:
        for px, py in parse_cubic(path.get("d")):
            assert x - 1e-3 <= px <= x + w + 1e-3 and y - 1e-3 <= py <= y + h + 1e-3


class SeveralImagesTest(TestCase):
    """Several selected images: one run of the core (``clipasso batch``), a group over each; an image
    that fails is named and the others are placed; the document is unchanged only when all fail."""

    effect_class = SketchFromImage

    def write_document(self) -> Path:
        tall = Path(self.tempdir) / "tall.png"
        image = Image.new("RGB", (120, 200), "white")
        ImageDraw.Draw(image).ellipse((20, 60, 100, 140), fill="black")
        image.save(tall)
        path = Path(self.tempdir) / "doc.svg"
        path.write_text(several_document(tall))
        return path

    def test_two_images_one_run_each_sketch_over_its_image_at_its_own_width(self):
        """Each image is sketched at the --width it gets alone: the core draws its strokes at that
        width (image px), nothing scales them afterwards."""
        import clipasso_sketch
        from clipasso_contract.client import CoreError
        from clipasso_contract.options import option_text

        doc, width = self.write_document(), ["--stroke_width=1", "--width_unit=mm"]
        alone = []

        def sketch_alone(command, image, options, **kw):  # what the image alone would be sketched at
            alone.append(options[options.index("--width") + 1])
            raise CoreError("only its options were wanted")

        for image_id in ("photo", "tall"):
            with mock.patch.object(clipasso_sketch, "run_core", side_effect=sketch_alone):
                run_effect(SketchFromImage, doc, f"--id={image_id}", *CORE, *width)
        sketched, run_batch = [], clipasso_sketch.run_batch

        def keep(*args, **kw):
            sketched.extend(run_batch(*args, **kw))
            return sketched

        with mock.patch.object(clipasso_sketch, "run_batch", side_effect=keep) as batch, \
                mock.patch.object(clipasso_sketch, "run_core", side_effect=AssertionError("one run per image")):
            effect = self.assertEffect(str(doc), args=["--id=photo", "--id=tall", *CORE, *width])
        assert batch.call_count == 1 and len(batch.call_args.args[1]) == 2
        widths, options = batch.call_args.args[2:4]
        assert [option_text("stroke_width", w) for w in widths] == alone and "--width" not in options
        for sketch, long_side, sent in zip(sketched, (451, 200), alone):
            drawn = float(sent) * long_side / 224
            assert [s.width for s in sketch.strokes] == pytest.approx([drawn] * len(sketch.strokes), rel=1e-9)
        photo, tall = effect.svg.getElementById("photo"), effect.svg.getElementById("tall")
        sx, sy, tx, ty = image_placement(10, 20, 120, 100, None, 451, 300)
        check_over(photo.getnext(), photo, (tx, ty, 451 * sx, 300 * sy))
        sx, sy, tx, ty = image_placement(140, 10, 30, 50, None, 120, 200)
        check_over(tall.getnext(), tall, (tx, ty, 120 * sx, 200 * sy))
        for image in (photo, tall):  # 1 mm on the page whatever the image's size
            widths = {float(p.style["stroke-width"]) for p in image.getnext()}
            assert all(w == pytest.approx(1.0, rel=2e-3) for w in widths), (image.get_id(), widths)

    def test_a_failed_image_is_named_and_the_others_placed(self):
        doc = self.write_document()
        effect, status, err = run_effect(SketchFromImage, doc, "--id=photo", "--id=broken", *CORE)
        assert not status and "Traceback" not in err, err
        assert err.strip().startswith("Sketch from Image: 1 of 2 images could not be sketched; the others were.")
        assert "Sketching broken failed: not a readable image" in err
        photo = effect.svg.getElementById("photo")
        assert photo.getnext().label == "Sketch of photo"
        assert effect.svg.getElementById("broken").getnext() is None

    def test_when_all_fail_the_document_is_unchanged(self):
        doc = self.write_document()
        (Path(self.tempdir) / "tall.png").unlink()
        effect, status, err = run_effect(SketchFromImage, doc, "--id=tall", "--id=broken", *CORE)
        message = message_of(err)
        assert status == inkex.utils.ABORT_STATUS and "Traceback" not in err
        assert "The linked file of image tall was not found" in message
        assert "Sketching broken failed: not a readable image" in message
        assert not [g for g in effect.svg.iter() if g.get("data-clipasso-sketch")]
