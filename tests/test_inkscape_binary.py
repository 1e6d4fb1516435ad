"""The Inkscape extension through the real Inkscape binary (1.2, Debian), installed into a test
profile directory: documents with an embedded and a linked image, under a transform and mm units,
and two images sketched in one run."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import ink_iou, render_svg

from inkscape_bundle import build_tool  # noqa: E402  (puts the built extension files on sys.path)
from clipasso_bridge import image_placement  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CAT = ROOT / "clipasso_core" / "data" / "cat.jpg"
SVG_NS = "{http://www.w3.org/2000/svg}"

if not (shutil.which("inkscape") and shutil.which("xvfb-run")):
    if os.environ.get("CI"):
        pytest.fail("CI must install inkscape and xvfb (tools/test.sh)", pytrace=False)
    pytest.skip("inkscape or xvfb-run not installed", allow_module_level=True)

TEST_DEFAULTS = {"strokes": "8", "seeds": "1", "mask": "off", "backbone": "tiny-random", "iterations": "3",
                 "python": sys.executable}


LEVELS_DEFAULTS = {**TEST_DEFAULTS, "levels": "8,4,2", "show_level": "4"}
RESTYLE_LEVELS_DEFAULTS = {"show_level": "2"}


def make_profile(root: Path, defaults: dict, restyle_defaults: dict | None = None) -> Path:
    """An Inkscape profile with the extensions installed as a user does: the built zip
    (tools/build_inkscape_ext.py) extracted into the user extensions folder; the .inx defaults set
    for a fast, offline test run (the only way to pass options to a .noprefs action; an option
    group's default is its first option)."""
    import zipfile

    _, archive = build_tool.build(root / "build", zip_dir=root)
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(root / "extensions")
    target = root / "extensions" / build_tool.ZIP_FOLDER
    assert (target / "clipasso_contract" / "client.py").is_file()
    for name, values in (("clipasso_sketch.inx", defaults), ("clipasso_restyle.inx", restyle_defaults or {})):
        (target / name).write_text(set_defaults((target / name).read_text(), values))
    return root


def set_defaults(inx: str, values: dict) -> str:
    for name, value in values.items():
        inx, found = re.subn(rf'(<param name="{name}"[^>]*>)[^<]*(</param>)', rf"\g<1>{value}\g<2>", inx)
        group = re.search(rf'<param name="{name}" type="optiongroup"[^>]*>(.*?)</param>', inx, re.S)
        assert found == 1 or group, f"no param {name}"
        if group:
            option = re.search(rf'\s*<option value="{value}">[^<]*</option>', group.group(1)).group(0)
            reordered = option + group.group(1).replace(option, "")
            inx = inx.replace(group.group(1), reordered)
    return inx


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    return make_profile(tmp_path_factory.mktemp("inkscape-profile"), TEST_DEFAULTS)


@pytest.fixture(scope="module")
def levels_profile(tmp_path_factory):
    """Sketch from Image with Levels 8,4,2 showing 4; Restyle Sketch switching to level 2."""
    return make_profile(tmp_path_factory.mktemp("inkscape-levels-profile"), LEVELS_DEFAULTS,
                        RESTYLE_LEVELS_DEFAULTS)


def inkscape(profile: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, INKSCAPE_PROFILE_DIR=str(profile), HF_HUB_OFFLINE="1")
    env["PATH"] = "/usr/bin:/bin:" + env.get("PATH", "")  # Inkscape's own python3 runs the extension
    return subprocess.run(["timeout", "240", "xvfb-run", "-a", "inkscape", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=270)


def document(href: str) -> str:
    return f"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
  width="200mm" height="150mm" viewBox="0 0 200 150">
  <g id="layer1" transform="translate(12,9)">
    <image id="photo" x="10" y="20" width="120" height="100" transform="matrix(1.2,0,0,0.9,3,4)"
           xlink:href="{href}"/>
  </g>
</svg>"""


@pytest.mark.parametrize("kind", ["embedded", "linked"])
def test_sketch_through_inkscape(profile, tmp_path, kind):
    import base64
    import xml.etree.ElementTree as ET

    if kind == "embedded":
        href = "data:image/jpeg;base64," + base64.b64encode(CAT.read_bytes()).decode()
    else:
        (tmp_path / "img").mkdir()
        shutil.copy(CAT, tmp_path / "img" / "cat.jpg")
        href = "img/cat.jpg"
    (tmp_path / "in.svg").write_text(document(href))
    run = inkscape(profile, "--batch-process",
                   "--actions=select-by-id:photo;org.clipasso.sketchfromimage.noprefs;"
                   "export-filename:out.svg;export-plain-svg;export-do", "in.svg", cwd=tmp_path)
    assert (tmp_path / "out.svg").exists(), run.stderr[-2000:]
    root = ET.parse(tmp_path / "out.svg").getroot()
    groups = [g for g in root.iter(f"{SVG_NS}g") if g.get("data-clipasso-sketch")]
    assert len(groups) == 1, run.stderr[-2000:]
    paths = groups[0].findall(f"{SVG_NS}path")
    assert len(paths) == 8

    # Inkscape's own PNG export of the strokes over the image's box vs the core's SVG (resvg)
    sx, sy, tx, ty = image_placement(10, 20, 120, 100, None, 451, 300)
    box = (tx, ty, 451 * sx, 300 * sy)
    page = ET.Element(f"{SVG_NS}svg", {"width": "451", "height": "300",
                                       "viewBox": f"{box[0]} {box[1]} {box[2]} {box[3]}"})
    strokes = ET.SubElement(page, f"{SVG_NS}g")
    for path in paths:
        strokes.append(path)
    (tmp_path / "strokes.svg").write_bytes(ET.tostring(page))
    export = inkscape(profile, "strokes.svg", "--export-type=png", "--export-filename=strokes.png",
                      "--export-area-page", "--export-width=451", "--export-background=white",
                      "--export-background-opacity=1", cwd=tmp_path)
    assert (tmp_path / "strokes.png").exists(), export.stderr[-2000:]
    ours = np.asarray(Image.open(tmp_path / "strokes.png").convert("L"), np.float32) / 255
    # the core's SVG, from the same run settings (the core is deterministic on the CPU)
    core = subprocess.run([sys.executable, "-m", "clipasso_core", "sketch", str(CAT), "-o",
                           str(tmp_path / "core.svg"), "--strokes", "8", "--seeds", "1", "--mask", "off",
                           "--backbone", "tiny-random", "--iterations", "3", "--preset", "fast",  # the dialog's
                           "--progress", "none"],
                          capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert core.returncode == 0, core.stderr
    ref = render_svg((tmp_path / "core.svg").read_text(), 451, 300)
    iou = ink_iou(ours, ref)
    print(f"{kind}: Inkscape export vs core SVG (resvg) ink IoU {iou:.3f}")
    Image.fromarray((np.concatenate([ours, ref], 1) * 255).astype(np.uint8)).save(tmp_path / "compare.png")
    if os.environ.get("CLIPASSO_RENDER_OUT"):
        shutil.copy(tmp_path / "compare.png", Path(os.environ["CLIPASSO_RENDER_OUT"]) / f"inkscape-{kind}.png")
    assert iou >= 0.8


def test_restyle_through_inkscape(profile, tmp_path):
    import xml.etree.ElementTree as ET

    (tmp_path / "img").mkdir()
    shutil.copy(CAT, tmp_path / "img" / "cat.jpg")
    (tmp_path / "in.svg").write_text(document("img/cat.jpg"))
    inkscape(profile, "--batch-process", "--actions=select-by-id:photo;org.clipasso.sketchfromimage.noprefs;"
             "export-filename:sketched.svg;export-do", "in.svg", cwd=tmp_path)
    root = ET.parse(tmp_path / "sketched.svg").getroot()
    group = next(g for g in root.iter(f"{SVG_NS}g") if g.get("data-clipasso-sketch"))
    run = inkscape(profile, "--batch-process", f"--actions=select-by-id:{group.get('id')};"
                   "org.clipasso.restylesketch.noprefs;export-filename:restyled.svg;export-do",
                   "sketched.svg", cwd=tmp_path)
    assert (tmp_path / "restyled.svg").exists(), run.stderr[-2000:]
    text = (tmp_path / "restyled.svg").read_text()
    assert text.count("data-clipasso-stroke") == 8 and "stroke-width:2" in text


def test_levels_through_inkscape(levels_profile, tmp_path):
    """A levels sketch made and restyled by the real Inkscape: one sub-group per level, and only the
    chosen level is drawn (Inkscape's PNG export of the document without its image vs resvg
    renders of the chosen level alone and of all levels)."""
    import base64
    import xml.etree.ElementTree as ET

    for prefix, uri in (("", SVG_NS[1:-1]), ("xlink", "http://www.w3.org/1999/xlink"),
                        ("inkscape", "http://www.inkscape.org/namespaces/inkscape")):
        ET.register_namespace(prefix, uri)
    href = "data:image/jpeg;base64," + base64.b64encode(CAT.read_bytes()).decode()
    (tmp_path / "in.svg").write_text(document(href))
    run = inkscape(levels_profile, "--batch-process",
                   "--actions=select-by-id:photo;org.clipasso.sketchfromimage.noprefs;"
                   "export-filename:out.svg;export-do", "in.svg", cwd=tmp_path)
    assert (tmp_path / "out.svg").exists(), run.stderr[-2000:]

    def levels_of(path: Path):
        tree = ET.parse(path)
        group = next(g for g in tree.getroot().iter(f"{SVG_NS}g") if g.get("data-clipasso-sketch"))
        subs = [g for g in group if g.get("data-clipasso-level")]
        visible = ["display:none" not in (g.get("style") or "").replace(" ", "") for g in subs]
        return tree, group, subs, visible

    tree, group, subs, visible = levels_of(tmp_path / "out.svg")
    assert [g.get("data-clipasso-level") for g in subs] == ["8", "4", "2"], run.stderr[-2000:]
    assert [len(g.findall(f"{SVG_NS}path")) for g in subs] == [8, 4, 2]
    assert visible == [False, True, False]
    ids = [{p.get("data-clipasso-id") for p in g} for g in subs]
    assert ids[2] <= ids[1] <= ids[0]

    # Inkscape's export of the sketch alone (the image removed) shows level 4 only
    layer = tree.getroot().find(f"{SVG_NS}g")
    layer.remove(layer.find(f"{SVG_NS}image"))
    tree.write(tmp_path / "strokes.svg")
    export = inkscape(levels_profile, "strokes.svg", "--export-type=png", "--export-filename=strokes.png",
                      "--export-area-page", "--export-width=800", "--export-background=white",
                      "--export-background-opacity=1", cwd=tmp_path)
    assert (tmp_path / "strokes.png").exists(), export.stderr[-2000:]
    ours = np.asarray(Image.open(tmp_path / "strokes.png").convert("L"), np.float32) / 255

    def render_with(shown_levels) -> np.ndarray:
        for g in subs:
            g.set("style", "" if g.get("data-clipasso-level") in shown_levels else "display:none")
        return render_svg(ET.tostring(tree.getroot(), encoding="unicode"), 800, 600)

    chosen, every = render_with({"4"}), render_with({"8", "4", "2"})
    iou_chosen, iou_every = ink_iou(ours, chosen), ink_iou(ours, every)
    print(f"levels: Inkscape export vs level 4 alone IoU {iou_chosen:.3f}, vs all levels {iou_every:.3f}")
    Image.fromarray((np.concatenate([ours, chosen, every], 1) * 255).astype(np.uint8)).save(tmp_path / "compare.png")
    if os.environ.get("CLIPASSO_RENDER_OUT"):
        shutil.copy(tmp_path / "compare.png", Path(os.environ["CLIPASSO_RENDER_OUT"]) / "inkscape-levels.png")
    assert (ours < 0.5).sum() > 100 and iou_chosen >= 0.8 and iou_every < iou_chosen - 0.1

    # Restyle Sketch (show level 2) through Inkscape switches the shown level
    run = inkscape(levels_profile, "--batch-process", f"--actions=select-by-id:{group.get('id')};"
                   "org.clipasso.restylesketch.noprefs;export-filename:restyled.svg;export-do",
                   "out.svg", cwd=tmp_path)
    assert (tmp_path / "restyled.svg").exists(), run.stderr[-2000:]
    _, _, subs, visible = levels_of(tmp_path / "restyled.svg")
    assert visible == [False, False, True], run.stderr[-2000:]
    text = (tmp_path / "restyled.svg").read_text()
    assert text.count("data-clipasso-stroke") == 14 and len(re.findall(r"stroke-width:2(?![\d.])", text)) == 14


def test_slice_image_is_sketched_where_it_shows(profile, tmp_path):
    """An image cropped by its box (``xMidYMid slice``): Inkscape's Python has no Pillow, so the
    extension has Inkscape render the visible part; Inkscape's own PNG export of the result shows no
    ink outside the visible image."""
    import base64
    import json
    import xml.etree.ElementTree as ET

    ET.register_namespace("", SVG_NS[1:-1])
    href = "data:image/jpeg;base64," + base64.b64encode(CAT.read_bytes()).decode()
    (tmp_path / "in.svg").write_text(f"""<svg xmlns="http://www.w3.org/2000/svg"
  xmlns:xlink="http://www.w3.org/1999/xlink" width="200mm" height="150mm" viewBox="0 0 200 150">
  <image id="photo" x="10" y="20" width="100" height="100" preserveAspectRatio="xMidYMid slice"
         xlink:href="{href}"/></svg>""")
    run = inkscape(profile, "--batch-process",
                   "--actions=select-by-id:photo;org.clipasso.sketchfromimage.noprefs;"
                   "export-filename:out.svg;export-plain-svg;export-do", "in.svg", cwd=tmp_path)
    assert (tmp_path / "out.svg").exists(), run.stderr[-2000:]
    tree = ET.parse(tmp_path / "out.svg")
    group = next(g for g in tree.getroot().iter(f"{SVG_NS}g") if g.get("data-clipasso-sketch"))
    info = json.loads(group.get("data-clipasso-sketch"))
    assert info["visible"] == pytest.approx([10, 20, 100, 100]), run.stderr[-2000:]
    assert info["scale"] == pytest.approx([1 / 3, 1 / 3], rel=1e-3)  # the 300 x 300 px Inkscape rendered
    export = inkscape(profile, "out.svg", "--export-type=png", "--export-filename=over.png", "--export-area-page",
                      "--export-width=800", "--export-background=white", "--export-background-opacity=1",
                      cwd=tmp_path)
    assert (tmp_path / "over.png").exists(), export.stderr[-2000:]
    image = next(e for e in tree.getroot().iter(f"{SVG_NS}image"))
    tree.getroot().remove(image)
    tree.write(tmp_path / "strokes.svg")
    export = inkscape(profile, "strokes.svg", "--export-type=png", "--export-filename=strokes.png",
                      "--export-area-page", "--export-width=800", "--export-background=white",
                      "--export-background-opacity=1", cwd=tmp_path)
    ink = np.asarray(Image.open(tmp_path / "strokes.png").convert("L"), np.float32) / 255 < 0.5
    assert ink.shape == (600, 800)
    inside = np.zeros_like(ink)
    inside[80:480, 40:440] = True  # the box at 4 px per unit
    near = np.zeros_like(ink)
    near[77:483, 37:443] = True  # plus the round caps (half a stroke width, 2.7 px)
    outside = ink[~inside].sum() / max(ink.sum(), 1)
    print(f"slice through Inkscape: {ink.sum()} ink px, {100 * outside:.2f}% outside the visible image")
    if os.environ.get("CLIPASSO_RENDER_OUT"):
        shutil.copy(tmp_path / "over.png", Path(os.environ["CLIPASSO_RENDER_OUT"]) / "inkscape-slice-over.png")
    # the centrelines stay inside (the core keeps control points on its image); only the ink of
    # their round caps and edges may pass the border, by half a stroke width at most
    assert ink.sum() > 500 and not ink[~near].any() and outside < 0.03


def test_two_images_through_inkscape(tmp_path):
    """Two selected images (the cat embedded, a tall one linked) through the real Inkscape: one run
    of the core, a group of strokes right after each image, its strokes inside that image's box and
    as wide as the dialog's Stroke width (1 mm) on both, as each gets alone (their sizes differ)."""
    import base64
    import xml.etree.ElementTree as ET

    from clipasso_bridge import parse_cubic

    tall = Image.new("RGB", (120, 200), "white")
    ImageDraw.Draw(tall).ellipse((20, 60, 100, 140), fill="black")
    tall.save(tmp_path / "tall.png")
    href = "data:image/jpeg;base64," + base64.b64encode(CAT.read_bytes()).decode()
    (tmp_path / "in.svg").write_text(f"""<svg xmlns="http://www.w3.org/2000/svg"
  xmlns:xlink="http://www.w3.org/1999/xlink" width="200mm" height="150mm" viewBox="0 0 200 150">
  <g id="layer1" transform="translate(12,9)">
    <image id="photo" x="10" y="20" width="120" height="100" xlink:href="{href}"/>
    <image id="tall" x="140" y="10" width="30" height="50" xlink:href="tall.png"/>
  </g>
</svg>""")
    profile = make_profile(tmp_path / "profile", {**TEST_DEFAULTS, "stroke_width": "1", "width_unit": "mm"})
    run = inkscape(profile, "--batch-process",
                   "--actions=select-by-id:photo,tall;org.clipasso.sketchfromimage.noprefs;"
                   "export-filename:out.svg;export-plain-svg;export-do", "in.svg", cwd=tmp_path)
    assert (tmp_path / "out.svg").exists(), run.stderr[-2000:]
    layer = ET.parse(tmp_path / "out.svg").getroot().find(f"{SVG_NS}g")
    children = list(layer)
    assert [c.tag for c in children] == [f"{SVG_NS}{t}" for t in ("image", "g", "image", "g")], run.stderr[-2000:]
    for image, group, size in ((children[0], children[1], (451, 300)), (children[2], children[3], (120, 200))):
        assert group.get("data-clipasso-sketch") and image.get("id") in group.get("id")
        box = [float(image.get(k)) for k in ("x", "y", "width", "height")]
        sx, sy, tx, ty = image_placement(*box, None, *size)
        paths = group.findall(f"{SVG_NS}path")
        assert len(paths) == 8
        for path in paths:
            for x, y in parse_cubic(path.get("d")):
                assert tx - 1e-3 <= x <= tx + size[0] * sx + 1e-3 and ty - 1e-3 <= y <= ty + size[1] * sy + 1e-3
            width = re.search(r"stroke-width:([\d.]+)", path.get("style")).group(1)
            assert float(width) == pytest.approx(1.0, rel=2e-3)  # 1 mm: the viewBox's unit
