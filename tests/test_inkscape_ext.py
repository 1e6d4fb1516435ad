"""Inkscape extensions, in the inkex.tester style: the effect classes, imported from the built
bundle (tests/inkscape_bundle.py), run on test documents with the real core (--backbone tiny-random,
few iterations). The bridge's inkex-free logic is tested in test_inkscape_bridge.py."""
from __future__ import annotations

import base64
import io
import json
import sys
from contextlib import redirect_stderr
from pathlib import Path

import pytest

inkex = pytest.importorskip("inkex")
from inkex.tester import TestCase  # noqa: E402

from inkscape_bundle import BUNDLE  # noqa: E402  (builds the bundle, puts it on sys.path)
from clipasso_bridge import image_placement, parse_cubic  # noqa: E402
from clipasso_restyle import RestyleSketch  # noqa: E402
from clipasso_sketch import SketchFromImage  # noqa: E402

CAT = Path(__file__).resolve().parents[1] / "clipasso_core" / "data" / "cat.jpg"
CORE = ["--python", sys.executable, "--backbone", "tiny-random", "--iterations", "3", "--seeds", "1",
        "--mask", "off", "--strokes", "8"]
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
        assert status and "Select sketch groups" in err
