"""The artist in the loop through the real Inkscape binary (1.2, Debian), installed into a test
profile: the core's ``data-locked`` / ``data-stroke-id`` survive Inkscape's open and save (and the
core still reads them), and Refine Sketch, Add Strokes and Fill Erased run as menu actions
(``.noprefs``, the .inx defaults set for a fast offline run)."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

# (skips without inkscape or xvfb-run)
from test_inkscape_binary import CAT, SVG_NS, TEST_DEFAULTS, build_tool, document, inkscape, set_defaults

from clipasso_bridge import parse_cubic  # noqa: E402

LOCK = "{http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd}insensitive"
EDIT_DEFAULTS = {key: TEST_DEFAULTS[key] for key in ("seeds", "backbone", "iterations", "python")}
INX_DEFAULTS = {"clipasso_sketch.inx": TEST_DEFAULTS, "clipasso_refine.inx": EDIT_DEFAULTS,
                "clipasso_add.inx": {**EDIT_DEFAULTS, "add": "3"}, "clipasso_fill.inx": EDIT_DEFAULTS}
for _prefix, _uri in (("", SVG_NS[1:-1]), ("xlink", "http://www.w3.org/1999/xlink"),
                      ("inkscape", "http://www.inkscape.org/namespaces/inkscape"),
                      ("sodipodi", "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd")):
    ET.register_namespace(_prefix, _uri)


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    root = tmp_path_factory.mktemp("inkscape-edit-profile")
    _, archive = build_tool.build(root / "build", zip_dir=root)
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(root / "extensions")
    target = root / "extensions" / build_tool.ZIP_FOLDER
    for name, values in INX_DEFAULTS.items():
        (target / name).write_text(set_defaults((target / name).read_text(), values))
    return root


def core(*args: str) -> None:
    run = subprocess.run([sys.executable, "-m", "clipasso_core", *args, "--backbone", "tiny-random", "--seeds", "1",
                          "--mask", "off", "--iterations", "2", "--progress", "none"],
                         capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert run.returncode == 0, run.stderr


def marks(path: Path) -> dict:
    """data-stroke-id -> data-locked of every stroke path of an SVG."""
    root = ET.parse(path).getroot()
    return {p.get("data-stroke-id"): p.get("data-locked") for p in root.iter(f"{SVG_NS}path")
            if p.get("data-stroke-id") is not None}


def test_core_marks_survive_an_inkscape_round_trip(profile, tmp_path):
    core("sketch", str(CAT), "-o", str(tmp_path / "first.svg"), "--strokes", "6")
    core("sketch", str(CAT), "--init", str(tmp_path / "first.svg"), "--lock", "0,3", "-o", str(tmp_path / "core.svg"))
    before = marks(tmp_path / "core.svg")
    assert sorted(before) == [str(i) for i in range(6)] and {k for k, v in before.items() if v == "true"} == {"0", "3"}
    for kind, actions in (("inkscape", "export-filename:saved.svg;export-do"),
                          ("plain", "export-filename:plain.svg;export-plain-svg;export-do")):
        run = inkscape(profile, "--batch-process", f"--actions={actions}", "core.svg", cwd=tmp_path)
        out = tmp_path / ("saved.svg" if kind == "inkscape" else "plain.svg")
        assert out.exists(), run.stderr[-2000:]
        assert marks(out) == before, kind
    # the core reads the locks back from Inkscape's file: those two strokes are kept
    core("sketch", str(CAT), "--init", str(tmp_path / "saved.svg"), "-o", str(tmp_path / "again.svg"),
         "--json", str(tmp_path / "again.json"))
    again = json.loads((tmp_path / "again.json").read_text())
    assert sorted(s["id"] for s in again["strokes"] if s.get("locked")) == [0, 3]


def sketch_group(path: Path):
    tree = ET.parse(path)
    group = next(g for g in tree.getroot().iter(f"{SVG_NS}g") if g.get("data-clipasso-sketch"))
    return tree, group


def stroke_paths(group) -> dict:
    return {p.get("id"): p for p in group.iter(f"{SVG_NS}path") if p.get("data-clipasso-stroke") is not None}


def action(profile: Path, tmp_path: Path, selected: list[str], effect: str, source: str, out: str):
    run = inkscape(profile, "--batch-process", f"--actions=select-by-id:{','.join(selected)};"
                   f"org.clipasso.{effect}.noprefs;export-filename:{out};export-do", source, cwd=tmp_path)
    assert (tmp_path / out).exists(), run.stderr[-2000:]
    return sketch_group(tmp_path / out), run


def test_refine_add_and_fill_through_inkscape(profile, tmp_path):
    href = "data:image/jpeg;base64," + base64.b64encode(CAT.read_bytes()).decode()
    (tmp_path / "in.svg").write_text(document(href))
    (tree, group), run = action(profile, tmp_path, ["photo"], "sketchfromimage", "in.svg", "sketched.svg")
    transform, gid = group.get("transform"), group.get("id")
    paths = list(stroke_paths(group).values())
    assert len(paths) == 8, run.stderr[-2000:]

    # Refine: two paths locked with Inkscape's lock, a third selected ("lock the selected strokes"):
    # the stroke alone, as Ctrl+click selects it (Inkscape never holds a group and its child together)
    paths[0].set(LOCK, "true")
    paths[1].set(LOCK, "true")
    tree.write(tmp_path / "locked.svg")
    before = {p.get("id"): p.get("d") for p in paths}
    locked = [p.get("id") for p in paths[:3]]
    (tree, group), run = action(profile, tmp_path, [locked[2]], "refinesketch", "locked.svg", "refined.svg")
    after = stroke_paths(group)
    assert set(after) == set(before) and group.get("transform") == transform, run.stderr[-2000:]
    assert all(after[i].get("d") == before[i] for i in locked)
    assert any(after[i].get("d") != before[i] for i in before if i not in locked)
    assert after[locked[2]].get(LOCK) == "true"

    # Add Strokes: 3 inside an ellipse drawn over the sketch (in the layer, with its own transform)
    layer = tree.getroot().find(f"{SVG_NS}g")
    ET.SubElement(layer, f"{SVG_NS}ellipse", {"id": "region", "cx": "60", "cy": "70", "rx": "25", "ry": "15",
                                             "transform": "rotate(-20 60 70)"})
    tree.write(tmp_path / "region.svg")
    (tree, group), run = action(profile, tmp_path, [gid, "region"], "addstrokes", "region.svg", "added.svg")
    added = stroke_paths(group)
    new = [p for i, p in added.items() if i not in after]
    assert len(added) == 11 and len(new) == 3, run.stderr[-2000:]
    assert 'id="region"' not in (tmp_path / "added.svg").read_text() and group.get("transform") == transform
    assert all(added[i].get("d") == after[i].get("d") for i in after)
    # every new control point in the ellipse: layer (12,9) -> group -> ellipse's own frame
    from inkex import Transform  # noqa: PLC0415 (inkex from the venv, only to compose transforms here)

    to_layer = Transform(group.get("transform"))
    to_ellipse = -Transform("rotate(-20 60 70)")
    for path in new:
        for x, y in parse_cubic(path.get("d")):
            u = to_ellipse.apply_to_point(to_layer.apply_to_point((x, y)))
            assert ((u.x - 60) / 25) ** 2 + ((u.y - 70) / 15) ** 2 <= 1.01, (u.x, u.y)

    # Fill Erased: delete 4 strokes, fill back to the 11 the sketch had
    parent_of = {child: parent for parent in group.iter() for child in parent}
    for path in list(added.values())[3:7]:
        parent_of[path].remove(path)
    tree.write(tmp_path / "erased.svg")
    kept = {i: p.get("d") for i, p in stroke_paths(group).items()}
    (tree, group), run = action(profile, tmp_path, [gid], "fillerased", "erased.svg", "filled.svg")
    filled = stroke_paths(group)
    assert len(filled) == 11 and group.get("transform") == transform, run.stderr[-2000:]
    assert all(filled[i].get("d") == d for i, d in kept.items())
    assert group.get("data-clipasso-count") == "11"
    assert json.loads(group.get("data-clipasso-sketch"))["image"] == "photo"
