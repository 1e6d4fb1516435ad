"""inkscape_ext/clipasso_bridge.py, without inkex: image placement, the visible part of an image and
its crop, stroke widths on the page, stroke path data and outlines, the core to run (Core tab, the
``clipasso integrate inkscape`` preset, PATH), messages in the dialog's words, and running a core
through the contract's client (a stand-in core script speaks the protocol)."""
from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inkscape_bundle import BUNDLE  # noqa: F401  (puts the built bundle on sys.path)
from clipasso_bridge import (AUTOMATIC_WIDTH, BRUSHES, CANVAS, LEVEL_ATTR, MAX_CROP_SIDE, SETTINGS,  # noqa: E402
                             CoreError, canvas_width, core_command, crop_image, crop_size, cubic_d, find_core,
                             for_inkscape, image_placement, image_size, level_groups, outline_d, parse_cubic,
                             rank_order, run_batch, run_core, show_level, visible_part, weight_arguments,
                             width_range)
from clipasso_contract.options import RUN_OPTIONS  # noqa: E402
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
    with pytest.raises(CoreError, match=r"The Python interpreter chosen in the Extensions > Sketch > Sketch "
                                        r"from Image > Core tab was not found"):
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


BATCH = """
def event(name, **fields):
    print(json.dumps({"protocol": 1, "event": name, **fields}), flush=True)
import csv, os
assert args[0] == "batch" and args[args.index("--batch-size") + 1] == "2" and "--json" in args, args
assert "--width" not in args and args[1].endswith(".csv"), args  # one list: each image with its width
rows = list(csv.DictReader(open(args[1], newline="")))
assert [row["width"] for row in rows] == ["3", "1.2346"], rows
first, second = (os.path.join(os.path.dirname(args[1]), row["path"]) for row in rows)
out = args[args.index("-o") + 1]
event("start", version="0.1.0", input=first + ", " + second, strokes=1, seeds=1, iterations=1, preset="fast",
      backbone="tiny-random", images=2)
"""


def test_run_batch_gives_each_image_its_sketch_or_its_failure(tmp_path):
    sketch = Sketch(451, 300, [Stroke([(1, 2), (3, 4), (5, 6), (7, 8)], 2.5, "#112233", 0.5)], {"seed": 4})
    command = fake_core(tmp_path, BATCH + f"""
os.makedirs(out)
open(os.path.join(out, "0.json"), "w").write({sketch.to_json()!r})
event("image", index=1, input=second, status="failed", done=1, total=2, error="not a readable image: " + second)
event("image", index=0, input=first, status="done", done=2, total=2, svg=os.path.join(out, "0.svg"),
      json=os.path.join(out, "0.json"), loss=0.5, seconds=1.0)
event("batch", done=1, failed=1, skipped=0, table=os.path.join(out, "clipasso-batch.jsonl"), cancelled=False)
sys.exit(4)
""")
    (tmp_path / "cat.png").write_bytes(b"png")
    (tmp_path / "broken.png").write_bytes(b"garbage")
    got = run_batch(command, [str(tmp_path / "cat.png"), str(tmp_path / "broken.png")], [3.0, 1.2346],
                    ["--strokes", "1"])
    assert got[0] == sketch and isinstance(got[1], CoreError)
    assert str(got[1]) == f"not a readable image: {tmp_path / 'broken.png'}"
    failing = fake_core(tmp_path, BATCH + """
print("clipasso: error: --strokes must be >= 1", file=sys.stderr)
event("error", message="--strokes must be >= 1", code=2)
sys.exit(2)
""")
    with pytest.raises(CoreError, match=r"Strokes \(Extensions > Sketch > Sketch from Image > Sketch tab\) must be"):
        run_batch(failing, [str(tmp_path / "cat.png"), str(tmp_path / "broken.png")], [3.0, 1.2346], [], timeout=60)


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


def test_the_core_tab_wins_then_the_integrate_preset_then_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    (tmp_path / SETTINGS).write_text(json.dumps({"python": sys.executable}))
    assert find_core("", "", str(tmp_path)) == [sys.executable, "-m", "clipasso_core"]
    with pytest.raises(CoreError, match="not a working clipasso core"):
        find_core("", "/bin/sh", str(tmp_path))  # the Core tab's interpreter, not the preset
    with pytest.raises(CoreError, match="'my-clipasso' is not on PATH"):
        find_core("my-clipasso", "", str(tmp_path))  # the Core tab's command
    (tmp_path / SETTINGS).write_text(json.dumps({"python": str(tmp_path / "gone" / "python")}))
    with pytest.raises(CoreError, match=r"set up for this extension is gone .*Core tab.*again"):
        find_core("", "", str(tmp_path))
    (tmp_path / SETTINGS).unlink()
    with pytest.raises(CoreError, match=r"'clipasso' is not on PATH\). Choose the Python interpreter that has "
                                        r"clipasso in the Extensions > Sketch > Sketch from Image > Core tab"):
        find_core("", "", str(tmp_path))


CORE_MESSAGES = [
    # what the core says (clipasso_core/backbones.py, masking.py, config.py, cli.py), and what the
    # dialog must say instead
    ("CLIP model ViT-B-32 (OpenAI weights) is not cached in /c and the model hub cannot be reached. Connect "
     "once to download it, or pass a local checkpoint with --saliency-weights PATH (or set "
     "CLIPASSO_SALIENCY_WEIGHTS).", "choose the ViT-B/32 weights file in the Extensions > Sketch > Sketch from "
                                    "Image > Core tab"),
    ("CLIP model RN101 (OpenAI weights) is not cached in /c and the model hub cannot be reached. Connect once "
     "to download it, or pass a local checkpoint with --clip-weights PATH (or set CLIPASSO_CLIP_WEIGHTS).",
     "Connect to the internet and run Sketch from Image once more to download it, or choose the RN101 weights "
     "file in the Extensions > Sketch > Sketch from Image > Core tab."),
    ("CLIP RN101 weights (loss model) is not cached in /c and downloads are off (HF_HUB_OFFLINE is set). Connect "
     "once and run again to download it, or pass a local checkpoint with --clip-weights PATH (or set "
     "CLIPASSO_CLIP_WEIGHTS).", "Connect to the internet and run Sketch from Image once more to download it, or "
                                "choose the RN101 weights file in the Extensions > Sketch > Sketch from Image > "
                                "Core tab."),
    ("background-mask model 'u2net' is not available (ValueError). rembg downloads it on first use into "
     "/root/.u2net; offline, copy u2net.onnx there, or run with --mask off.",
     "or set Remove background to Never in the Extensions > Sketch > Sketch from Image > Sketch tab."),
    ("background-mask model 'u2net' is not available (ValueError). rembg downloads it on first use into "
     "~/.u2net; offline, copy u2net.onnx there (or set U2NET_HOME), or run with --mask off.",
     "set Remove background to Never in the Extensions > Sketch > Sketch from Image > Sketch tab."),
    ("stroke width (--width) must be from 0.25 to 20, got 30", "Stroke width (Extensions > Sketch > Sketch "
                                                               "from Image > Sketch tab) must be"),
    ("argument --preset: invalid choice: 'x' (see clipasso sketch --help)",
     "argument Speed (Extensions > Sketch > Sketch from Image > Sketch tab)"),
]


@pytest.mark.parametrize("message, expected", CORE_MESSAGES)
def test_core_messages_name_what_to_do_in_inkscape(message, expected):
    said = for_inkscape(message)
    assert expected in said and "--" not in said and "--help" not in said, said


def test_weight_files_become_the_core_flags(tmp_path):
    rn, vit = tmp_path / "rn101.pt", tmp_path / "vit.safetensors"
    rn.write_bytes(b"x")
    vit.write_bytes(b"x")
    assert weight_arguments({"clip_weights": "", "saliency_weights": " "}) == []
    assert weight_arguments({"clip_weights": str(rn), "saliency_weights": str(vit)}) == [
        "--clip-weights", str(rn), "--saliency-weights", str(vit)]
    with pytest.raises(CoreError, match=r"The ViT-B/32 weights file chosen in the Extensions > Sketch > Sketch "
                                        r"from Image > Core tab was not found: .*nope"):
        weight_arguments({"saliency_weights": str(tmp_path / "nope")})


@pytest.mark.parametrize("fmt, suffix, extra", [("PNG", ".png", {}), ("JPEG", ".jpg", {}), ("GIF", ".gif", {}),
                                                ("BMP", ".bmp", {}), ("WEBP", ".webp", {"lossless": True}),
                                                ("WEBP", ".webp", {"lossless": False}), ("TIFF", ".tif", {})])
def test_image_size_from_the_header(tmp_path, fmt, suffix, extra):
    path = tmp_path / f"image{suffix}"
    mode = "RGBA" if fmt in ("PNG", "WEBP") else "RGB"
    Image.new(mode, (321, 123), "red").save(path, fmt, **extra)
    assert image_size(str(path)) == (321, 123)
    assert image_size(str(tmp_path / "missing.png")) is None


def test_image_size_of_a_rotated_jpeg_is_as_shown(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees to show
    Image.new("RGB", (321, 123), "red").save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert image_size(str(tmp_path / "r.jpg")) == (123, 321)


def test_visible_part_of_slice_meet_and_none():
    # slice: the 200 x 100 px image in a 100 x 100 box shows its middle 100 x 100 px
    px, user = visible_part(0, 0, 100, 100, "xMidYMid slice", 200, 100)
    assert px == pytest.approx((50, 0, 150, 100)) and user == pytest.approx((0, 0, 100, 100))
    assert crop_size(px, user, 200, 100) == (100, 100)
    # the 300 x 200 px image at 0.5 units per px fills the 50 x 100 box's height: its left 100 px show
    px, user = visible_part(10, 20, 50, 100, "xMinYMax slice", 300, 200)
    assert px == pytest.approx((0, 0, 100, 200)) and user == pytest.approx((10, 20, 50, 100))
    px, user = visible_part(10, 20, 50, 100, "xMaxYMid slice", 300, 200)
    assert px == pytest.approx((200, 0, 300, 200)) and crop_size(px, user, 300, 200) == (100, 200)
    # meet: all of it, at one scale: the file as it is
    px, user = visible_part(10, 20, 120, 100, None, 451, 300)
    assert px == pytest.approx((0, 0, 451, 300)) and crop_size(px, user, 451, 300) is None
    assert user[2] / 451 == pytest.approx(user[3] / 300)
    # none: all of it, stretched as shown (the finer scale keeps its px)
    px, user = visible_part(0, 0, 200, 100, "none", 451, 300)
    assert px == pytest.approx((0, 0, 451, 300)) and user == pytest.approx((0, 0, 200, 100))
    assert crop_size(px, user, 451, 300) == (600, 300)
    # a slice that fits exactly is the file as it is; a huge one is capped
    px, user = visible_part(0, 0, 200, 100, "xMidYMid slice", 400, 200)
    assert crop_size(px, user, 400, 200) is None
    px, user = visible_part(0, 0, 1, 1, "xMidYMid slice", 20000, 10000)
    assert crop_size(px, user, 20000, 10000) == (MAX_CROP_SIDE, MAX_CROP_SIDE)
    assert visible_part(0, 0, 0, 100, None, 10, 10) is None


def test_canvas_width_and_its_range():
    # an image 448 px long at 0.5 units per px: the canvas px is 1 unit on the page
    assert canvas_width(1.0, 0.5, 448, 300) == pytest.approx(1.0)
    assert canvas_width(3.0, 0.5, 300, 448) == pytest.approx(3.0)
    low, high = width_range(0.5, 448, 300)
    assert (low, high) == pytest.approx((RUN_OPTIONS["stroke_width"].minimum, RUN_OPTIONS["stroke_width"].maximum))
    assert AUTOMATIC_WIDTH == RUN_OPTIONS["stroke_width"].default and CANVAS == 224


def test_crop_with_pillow(tmp_path):
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, 100:] = 255  # left half black, right half white
    Image.fromarray(image).save(tmp_path / "in.png")
    out = crop_image(str(tmp_path / "in.png"), (50, 0, 150, 100), (100, 100), (200, 100), str(tmp_path / "c.png"))
    crop = np.asarray(Image.open(out).convert("L"), np.float32)
    assert crop.shape == (100, 100) and crop[:, :45].max() < 10 and crop[:, 55:].min() > 245


@pytest.mark.skipif(not shutil.which("inkscape"), reason="inkscape not installed")
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_crop_by_inkscape_matches_pillow(tmp_path, fmt):
    """Where the extensions' Python has no Pillow (Debian's Inkscape), Inkscape renders the crop."""
    cat = Image.open(Path(__file__).resolve().parents[1] / "clipasso_core" / "data" / "cat.jpg")
    source = tmp_path / f"cat.{fmt.lower()}"
    cat.save(source, fmt)
    box, size = (75.5, 0, 375.5, 300), (300, 300)
    ours = crop_image(str(source), box, size, cat.size, str(tmp_path / "pil.png"))
    inkscape = crop_image(str(source), box, size, cat.size, str(tmp_path / "ink.png"), shutil.which("inkscape"),
                          use_pillow=False)
    a = np.asarray(Image.open(ours).convert("RGB"), np.float32)
    b_image = Image.open(inkscape)
    assert b_image.size == size
    if fmt == "JPEG" and b_image.mode == "RGBA":  # an opaque image stays opaque (no mask for the core)
        assert b_image.getextrema()[3][0] == 255
    b = np.asarray(b_image.convert("RGB"), np.float32)
    print(f"{fmt}: Inkscape crop vs Pillow crop mean abs difference {np.abs(a - b).mean():.2f} / 255")
    assert np.abs(a - b).mean() < 8
