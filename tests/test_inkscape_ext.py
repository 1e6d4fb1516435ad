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
