"""Shared by the clipasso Inkscape extensions: the Inkscape-specific part of sketching.

The contract (``clipasso_contract``, a copy of ``clipasso_core/contract`` that
tools/build_inkscape_ext.py and ``clipasso integrate inkscape`` put next to these scripts) runs the
core, reads its sketch JSON and evaluates strokes; this module adds what is particular to Inkscape:
which core to run (the Core tab, else the one ``clipasso integrate inkscape`` set up), the part of an
<image> the artist sees and where its px land on the page, stroke widths in page units, messages in
the dialog's words, the attributes that mark sketch groups and strokes, SVG path data of a stroke
and its filled outline. Nothing here imports inkex, so it is testable on its own (standard library
only; Pillow is used when the Python running Inkscape's extensions has it).
"""
from __future__ import annotations

import base64
import json
import math
import os
import re
import struct
import subprocess
import tempfile
from xml.sax.saxutils import quoteattr

from clipasso_contract import client, events, formats, geometry
from clipasso_contract.client import CoreError
from clipasso_contract.options import CANVAS_PX, EDITOR_BATCH_SIZE, RUN_OPTIONS, WEIGHT_FILE_OPTIONS, run_arguments

SKETCH_ATTR = "data-clipasso-sketch"
"""Attribute of a sketch group: JSON with the sketch metadata and the settings it was made with."""
STROKE_ATTR = "data-clipasso-stroke"
"""Attribute of a stroke path: its rank in its sketch or level (0 = the most important; the paths
are in this order)."""
ID_ATTR = "data-clipasso-id"
"""Attribute of a stroke path: the stroke's identity, the same in every level it survives."""
LEVEL_ATTR = "data-clipasso-level"
"""Attribute of a level's sub-group in a levels sketch: its stroke count."""
COUNT_ATTR = "data-clipasso-count"
"""Attribute of a sketch group (or, with levels, a level's sub-group): its stroke count after the
last run of the core on it (Sketch from Image, Refine Sketch, Add Strokes, Fill Erased); Fill Erased
adds back the strokes deleted since."""
LOCK_ATTRS = ("sodipodi:insensitive", "data-locked")
"""A stroke path is locked (Refine Sketch keeps it exactly) when it or a group around it inside the
sketch has one of these set to "true": Inkscape's own lock (the Objects dialog's padlock, Object
Properties' Lock) or the core's ``data-locked`` mark (PROTOCOL.md, "Refining with the artist")."""
BRUSHES = ("uniform", "tapered", "pressure")
"""The brushes of ``geometry.BRUSHES`` that Inkscape draws live: a plain stroke, Taper stroke,
Power stroke."""
CORE_TIMEOUT = 3600.0
"""Seconds the core may stay silent (no progress event) before the run is given up."""
SETTINGS = "clipasso_settings.json"
"""Written next to these scripts by ``clipasso integrate inkscape``: ``{"python": ...}``, the core
used while the Core tab names none (clipasso_core.integrate_inkscape.SETTINGS is the same name)."""
MENU = "Extensions > Sketch > Sketch from Image"
SKETCH_TAB, CORE_TAB, LEVELS_TAB = (f"{MENU} > {tab} tab" for tab in ("Sketch", "Core", "Levels"))

DIALOG_DEFAULTS = {"preset": "fast", "seeds": 1}
"""Where the Sketch from Image dialog's default differs from the core's own (``RUN_OPTIONS``), and
why: extensions run synchronously, Inkscape waits behind its "working" dialog until the sketch is
done, so the dialog starts with the preset that finishes in about a minute on a laptop CPU, one
seed. The .inx shows the same defaults (tests/test_inkscape_inx.py checks both against this)."""
CANVAS = CANVAS_PX
"""Side in px of the core's square working canvas (the contract's): ``--width`` is in its px, and
the image's longer side spans it."""
AUTOMATIC_WIDTH = RUN_OPTIONS["stroke_width"].default
"""The canvas width of Stroke width 0 ("automatic"): the core's default, the paper's 3 px."""
WIDTH_UNITS = ("px", "mm", "cm", "in", "pt")
"""Units of the dialog's stroke width (CSS units, as in Inkscape's own dialogs; px = 1/96 in)."""
MAX_CROP_SIDE = 2048
"""Longest side of a cropped image handed to the core (the core downscales larger ones anyway)."""

__all__ = ["AUTOMATIC_WIDTH", "BRUSHES", "CANVAS", "CORE_TIMEOUT", "COUNT_ATTR", "CoreError", "DIALOG_DEFAULTS",
           "ID_ATTR", "LEVEL_ATTR", "LOCK_ATTRS", "SETTINGS", "SKETCH_ATTR", "STROKE_ATTR", "WIDTH_UNITS",
           "canvas_width", "core_command", "crop_image", "cubic_d", "failure_text", "find_core", "for_inkscape",
           "fresh_ids", "image_placement", "image_size", "level_groups", "outline_d", "parse_cubic", "polygon_text",
           "rank_order", "ring_area", "run_batch", "run_core", "sample_ring", "show_level", "visible_part",
           "weight_arguments", "width_range"]


def sketch_of(element):
    """The sketch group (``SKETCH_ATTR``) ``element`` is or lies in, or None."""
    while element is not None and hasattr(element, "get"):
        if element.get(SKETCH_ATTR) is not None:
            return element
        element = element.getparent()
    return None


def core_command(core: str = "clipasso", python: str = "") -> list[str]:
    """The checked command prefix of the core: ``python -m clipasso_core`` when an interpreter is
    given, else ``core`` looked up on PATH. Raises CoreError with a message for the user."""
    try:
        command = client.core_command(python=python, name=core or "clipasso")
    except CoreError as exc:
        if python:
            raise CoreError(f"The Python interpreter chosen in the {CORE_TAB} was not found: {python}. "
                            "Choose the Python that has clipasso installed.") from None
        if "not on PATH" in str(exc):
            raise CoreError(
                f"The clipasso core was not found ('{core or 'clipasso'}' is not on PATH). Choose the Python "
                f"interpreter that has clipasso in the {CORE_TAB}; or, in a terminal, run "
                "'clipasso integrate inkscape' with that Python's clipasso once, which sets it up "
                "for this extension.") from None
        raise CoreError(for_inkscape(str(exc))) from None
    try:
        client.check_core(command)
    except CoreError as exc:
        raise CoreError(f"{for_inkscape(str(exc))}. Choose the Python interpreter that has clipasso in the "
                        f"{CORE_TAB}.") from None
    return command


def read_settings(folder: str | None = None) -> dict:
    """The settings ``clipasso integrate inkscape`` wrote next to these scripts ({} when none)."""
    path = os.path.join(folder or os.path.dirname(os.path.abspath(__file__)), SETTINGS)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def find_core(core: str = "", python: str = "", folder: str | None = None) -> list[str]:
    """The core to run: the Core tab's Python, else its command, else the Python that
    ``clipasso integrate inkscape`` set up (its settings file in ``folder``, default this script's
    folder), else ``clipasso`` on PATH. Checked; CoreError with a message for the user."""
    if python or core:
        return core_command(core, python)
    preset = read_settings(folder).get("python")
    if isinstance(preset, str) and preset:
        if not os.path.isfile(preset):
            raise CoreError(f"The Python that 'clipasso integrate inkscape' set up for this extension is gone "
                            f"({preset}). Choose the Python interpreter that has clipasso in the {CORE_TAB}, "
                            "or run 'clipasso integrate inkscape' again with the clipasso you use now.")
        return core_command("", preset)
    return core_command("clipasso", "")


_FLAG_WORDS = [
    # (pattern in a core message, the same advice in the words of the Sketch from Image dialog)
    (r"pass a local checkpoint with --clip-weights PATH(?: \(or set CLIPASSO_CLIP_WEIGHTS\))?",
     f"choose the RN101 weights file in the {CORE_TAB}"),
    (r"pass a local checkpoint with --saliency-weights PATH(?: \(or set CLIPASSO_SALIENCY_WEIGHTS\))?",
     f"choose the ViT-B/32 weights file in the {CORE_TAB}"),
    (r"Connect once(?: and run again)? to download it", "Connect to the internet and run Sketch from Image "
                                                        "once more to download it"),
    (r"(?:run )?with --mask off", f"set Remove background to Never in the {SKETCH_TAB}"),
    (r"--clip-weights(?: PATH)?", f"the RN101 weights file ({CORE_TAB})"),
    (r"--saliency-weights(?: PATH)?", f"the ViT-B/32 weights file ({CORE_TAB})"),
    (r"stroke width \(--width\)", f"Stroke width ({SKETCH_TAB})"),
    (r"--width", f"Stroke width ({SKETCH_TAB})"),
    (r"--strokes", f"Strokes ({SKETCH_TAB})"),
    (r"--seeds", f"Seeds ({SKETCH_TAB})"),
    (r"--preset", f"Speed ({SKETCH_TAB})"),
    (r"--mask", f"Remove background ({SKETCH_TAB})"),
    (r"--levels", f"Levels ({LEVELS_TAB})"),
    (r"--iterations", f"Iterations ({CORE_TAB})"),
    (r"--backbone", f"CLIP weights ({CORE_TAB})"),
    (r" \(see clipasso(?: \w+)? --help\)", ""),
]
"""How the core's messages name its command-line flags, and what an Inkscape user does instead."""


def for_inkscape(message: str) -> str:
    """A core message with its command-line advice put in the words of the Sketch from Image
    dialog (its menu path, tab and field)."""
    for pattern, words in _FLAG_WORDS:
        message = re.sub(pattern, words, message)
    return message


WEIGHT_MODELS = {"clip_weights": "RN101", "saliency_weights": "ViT-B/32"}
"""Core tab param (the contract's WEIGHT_FILE_OPTIONS names) -> the model the file holds."""


def failure_text(action: str, message: str) -> str:
    """What an extension that stops (``inkex.AbortExtension``: exit status ABORT_STATUS) prints: a
    first line saying that ``action`` (e.g. "Sketch from Image") failed, then ``message``. Inkscape
    1.x shows what an extension writes on stderr under its own header "The script did not return an
    error, but this may indicate the results will not be as expected", whatever the exit status,
    so the text itself says it is an error. An aborted extension writes no document: the drawing
    stays as it was."""
    return f"{action} failed; the drawing was not changed.\n{message}"


def weight_arguments(values: dict) -> list[str]:
    """The core's flags for the weight files chosen in the Core tab (param name -> path; empty
    ones left out). CoreError naming the field when a chosen file does not exist."""
    chosen = {name: (values.get(name) or "").strip() for name in WEIGHT_FILE_OPTIONS}
    for name, path in chosen.items():
        if path and not os.path.isfile(path):
            raise CoreError(f"The {WEIGHT_MODELS[name]} weights file chosen in the {CORE_TAB} was not found: {path}")
    return run_arguments(chosen)


def run_core(command: list[str], image: str, options: list[str],
             timeout: float = CORE_TIMEOUT) -> formats.Sketch:
    """Sketch ``image`` with the core (``options``: run flags); returns the sketch. Raises CoreError
    with a message in the dialog's words."""
    with tempfile.TemporaryDirectory(prefix="clipasso-") as tmp:
        svg, sketch_json = os.path.join(tmp, "sketch.svg"), os.path.join(tmp, "sketch.json")
        try:
            done = client.run_to_end(command, "sketch", [image, "-o", svg, "--json", sketch_json, *options],
                                     timeout=timeout)
        except CoreError as exc:
            raise CoreError(for_inkscape(str(exc))) from None
        try:
            return formats.Sketch.from_json(formats.read_text(done.json or sketch_json, "sketch JSON"))
        except formats.FormatError as exc:
            raise CoreError(f"the clipasso core wrote a sketch this extension cannot read: {exc}") from None


def run_batch(command: list[str], images: list[str], widths: list[float], options: list[str],
              timeout: float = CORE_TIMEOUT) -> list:
    """Sketch several image files in one run of the core (``clipasso batch``), each at its own stroke
    width (``widths``: canvas px, the ``--width`` each gets alone; ``options``: the other run flags).
    Per image, in order: its sketch, or the CoreError that says why it failed, in the dialog's
    words. Raises CoreError when the run itself fails."""
    with tempfile.TemporaryDirectory(prefix="clipasso-") as tmp:
        listed, inputs = client.batch_inputs(images, widths, os.path.join(tmp, "in"))
        ended = {}

        def keep(event):
            if isinstance(event, events.ImageDone):
                ended[event.index] = event

        args = [listed, "-o", os.path.join(tmp, "out"), "--json",
                "--batch-size", str(min(len(images), EDITOR_BATCH_SIZE)), *options]
        try:
            client.run_to_end(command, "batch", args, keep, timeout=timeout)
        except CoreError as exc:
            raise CoreError(for_inkscape(str(exc))) from None
        return [_batch_result(ended.get(k), link, path) for k, (link, path) in enumerate(zip(inputs, images))]


def _batch_result(event, link: str, path: str):
    """An image's sketch from its ``image`` event, or the CoreError of its failure (naming ``path``,
    not the run's ``link`` to it)."""
    if event is None:
        return CoreError("the clipasso core did not sketch it")
    if event.status == "failed" or not event.json:
        return CoreError(for_inkscape((event.error or "the clipasso core wrote no sketch").replace(link, path)))
    try:
        return formats.Sketch.from_json(formats.read_text(event.json, "sketch JSON"))
    except formats.FormatError as exc:
        return CoreError(f"the clipasso core wrote a sketch this extension cannot read: {exc}")


def image_placement(x: float, y: float, width: float, height: float, aspect: str | None,
                    image_w: float, image_h: float) -> tuple[float, float, float, float]:
    """How image px map into an <image> box: (sx, sy, tx, ty) with user = px * s + t.

    Follows SVG preserveAspectRatio ("none", or xMin/xMid/xMax + YMin/YMid/YMax, meet or slice;
    default "xMidYMid meet")."""
    aspect = (aspect or "xMidYMid meet").strip()
    if aspect.startswith("defer"):
        aspect = aspect[5:].strip()
    if aspect.split()[:1] == ["none"]:
        return width / image_w, height / image_h, x, y
    match = re.fullmatch(r"x(Min|Mid|Max)Y(Min|Mid|Max)(?:\s+(meet|slice))?", aspect)
    ax, ay, mode = (match.group(1), match.group(2), match.group(3) or "meet") if match else ("Mid", "Mid", "meet")
    pick = max if mode == "slice" else min
    scale = pick(width / image_w, height / image_h)
    fraction = {"Min": 0.0, "Mid": 0.5, "Max": 1.0}
    tx = x + (width - image_w * scale) * fraction[ax]
    ty = y + (height - image_h * scale) * fraction[ay]
    return scale, scale, tx, ty


def _jpeg_size(handle) -> tuple[int, int] | None:
    """Size of a JPEG as shown (EXIF orientation 5 to 8 swaps the sides), from its markers."""
    handle.seek(2)
    size, swap = None, False
    while True:
        byte = handle.read(1)
        while byte and byte != b"\xff":
            byte = handle.read(1)
        while byte == b"\xff":
            byte = handle.read(1)
        if not byte:
            break
        marker = byte[0]
        if marker in (0x01, *range(0xD0, 0xD8)):
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more headers
            break
        head = handle.read(2)
        if len(head) < 2:
            break
        length = struct.unpack(">H", head)[0]
        body = handle.read(max(length - 2, 0))
        if marker in (*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)):
            if len(body) >= 5:
                height, width = struct.unpack(">HH", body[1:5])
                size = (width, height)
            break
        if marker == 0xE1 and body[:6] == b"Exif\x00\x00":
            swap = _exif_orientation(body[6:]) in (5, 6, 7, 8)
    if size is None:
        return None
    return (size[1], size[0]) if swap else size


def _exif_orientation(tiff: bytes) -> int:
    try:
        order = {b"II": "<", b"MM": ">"}[tiff[:2]]
        (offset,) = struct.unpack(order + "I", tiff[4:8])
        (count,) = struct.unpack(order + "H", tiff[offset:offset + 2])
        for i in range(count):
            entry = tiff[offset + 2 + 12 * i:offset + 14 + 12 * i]
            tag, kind = struct.unpack(order + "HH", entry[:4])
            if tag == 0x0112 and kind == 3:
                return struct.unpack(order + "H", entry[8:10])[0]
    except (KeyError, struct.error):
        pass
    return 1


def image_size(path: str) -> tuple[int, int] | None:
    """(width, height) in px of a PNG, JPEG (as shown: EXIF rotation applied), GIF, BMP or WebP
    file, read from its header; Pillow's answer for other formats when it is there; else None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(32)
            if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
                return struct.unpack(">II", head[16:24])
            if head[:2] == b"\xff\xd8":
                return _jpeg_size(handle)
            if head[:4] in (b"GIF8",):
                return struct.unpack("<HH", head[6:10])
            if head[:2] == b"BM":
                if struct.unpack("<I", head[14:18])[0] == 12:
                    return struct.unpack("<HH", head[18:22])
                width, height = struct.unpack("<ii", head[18:26])
                return abs(width), abs(height)
            if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
                kind = head[12:16]
                if kind == b"VP8 ":
                    width, height = struct.unpack("<HH", head[26:30])
                    return width & 0x3FFF, height & 0x3FFF
                if kind == b"VP8L":
                    b = head[21:25]
                    return 1 + (b[0] | (b[1] & 0x3F) << 8), 1 + (b[1] >> 6 | b[2] << 2 | (b[3] & 0x0F) << 10)
                if kind == b"VP8X":
                    return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
    except (OSError, struct.error):
        return None
    try:
        from PIL import Image, ImageOps
    except ImportError:
        return None
    try:
        with Image.open(path) as image:
            return ImageOps.exif_transpose(image).size
    except Exception:  # Pillow raises many kinds for a file it cannot read
        return None


def visible_part(x: float, y: float, width: float, height: float, aspect: str | None,
                 image_w: float, image_h: float):
    """The part of an image the artist sees in its <image> box: (px_box, user_box), px_box =
    (left, top, right, bottom) in image px, user_box = (x, y, width, height) in the box's user
    units, or None when the box shows nothing. With ``slice`` the box crops the image; with
    ``meet`` the whole image shows; with ``none`` all of it shows, stretched."""
    sx, sy, tx, ty = image_placement(x, y, width, height, aspect, image_w, image_h)
    x0, y0 = max(x, tx), max(y, ty)
    x1, y1 = min(x + width, tx + image_w * sx), min(y + height, ty + image_h * sy)
    if not (x1 > x0 and y1 > y0 and sx > 0 and sy > 0):
        return None
    px_box = (max(0.0, (x0 - tx) / sx), max(0.0, (y0 - ty) / sy),
              min(float(image_w), (x1 - tx) / sx), min(float(image_h), (y1 - ty) / sy))
    return px_box, (x0, y0, x1 - x0, y1 - y0)


def crop_size(px_box, user_box, image_w: float, image_h: float) -> tuple[int, int] | None:
    """Pixel size of the image to sketch for a ``visible_part``: None when the box shows the whole
    image at one scale (sketch the file as it is); else the visible part at the image's own
    resolution (the finer one where the box stretches it), at most MAX_CROP_SIDE px long."""
    left, top, right, bottom = px_box
    sx, sy = user_box[2] / (right - left), user_box[3] / (bottom - top)
    whole = left <= 0.5 and top <= 0.5 and right >= image_w - 0.5 and bottom >= image_h - 0.5
    if whole and math.isclose(sx, sy, rel_tol=1e-4):
        return None
    fine = min(sx, sy)
    width, height = user_box[2] / fine, user_box[3] / fine
    shrink = min(1.0, MAX_CROP_SIDE / max(width, height))
    return max(1, round(width * shrink)), max(1, round(height * shrink))


_MIME = {b"\x89PNG": "image/png", b"\xff\xd8": "image/jpeg", b"GIF8": "image/gif", b"BM": "image/bmp",
         b"RIFF": "image/webp"}


def crop_image(path: str, px_box, size: tuple[int, int], image_size_px: tuple[float, float], out: str,
               inkscape: str | None = None, use_pillow: bool = True) -> str:
    """Write the ``px_box`` part of the image file ``path`` (its px as shown: ``image_size_px``),
    scaled to ``size``, as the PNG ``out``: with Pillow when this Python has it, else rendered by
    Inkscape (the ``inkscape`` binary), which shows images the same way the canvas does. Returns
    ``out``; CoreError when neither can."""
    left, top, right, bottom = px_box
    if use_pillow:
        try:
            from PIL import Image, ImageOps
        except ImportError:
            pass
        else:
            try:
                with Image.open(path) as image:
                    image = ImageOps.exif_transpose(image)
                    alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
                    image = image.convert("RGBA" if alpha else "RGB")
                    image.resize(size, Image.Resampling.LANCZOS, box=(left, top, right, bottom)).save(out, "PNG")
                return out
            except Exception as exc:  # Pillow raises many kinds for a file it cannot read
                raise CoreError(f"could not crop the image to the part its frame shows: {exc}") from None
    if not inkscape:
        raise CoreError("could not crop the image to the part its frame shows: this needs Pillow or "
                        "Inkscape's own command")
    with open(path, "rb") as handle:
        data = handle.read()
    mime = next((m for magic, m in _MIME.items() if data.startswith(magic)), "image/png")
    href = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    width, height = image_size_px
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
           f'width="{size[0]}" height="{size[1]}" viewBox="{left!r} {top!r} {right - left!r} {bottom - top!r}" '
           f'preserveAspectRatio="none"><image x="0" y="0" width="{width!r}" height="{height!r}" '
           f'preserveAspectRatio="none" xlink:href={quoteattr(href)}/></svg>')
    page = out + ".svg"
    with open(page, "w", encoding="utf-8") as handle:
        handle.write(svg)
    try:
        run = subprocess.run([inkscape, page, "--export-type=png", f"--export-filename={out}", "--export-area-page",
                              f"--export-width={size[0]}", f"--export-height={size[1]}",
                              # opaque formats stay opaque (the core reads transparency as a mask)
                              *(["--export-background=white", "--export-background-opacity=1"]
                                if mime in ("image/jpeg", "image/bmp") else [])],
                             capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise CoreError(f"could not crop the image to the part its frame shows (Inkscape: {exc})") from None
    finally:
        os.remove(page)
    if not os.path.isfile(out) or image_size(out) != tuple(size):
        detail = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise CoreError(f"could not crop the image to the part its frame shows (Inkscape: {detail})")
    return out


def canvas_width(page_width: float, page_per_px: float, image_w: float, image_h: float) -> float:
    """The core's ``--width`` (px of the 224 px canvas) of a stroke ``page_width`` wide on the page,
    for an input image of ``image_w`` x ``image_h`` px shown at ``page_per_px`` page units per px."""
    return page_width / page_per_px * CANVAS / max(image_w, image_h)


def width_range(page_per_px: float, image_w: float, image_h: float) -> tuple[float, float]:
    """The stroke widths on the page (same units as ``page_per_px``) the core takes for this image."""
    option = RUN_OPTIONS["stroke_width"]
    scale = page_per_px * max(image_w, image_h) / CANVAS
    return option.minimum * scale, option.maximum * scale


def cubic_d(points) -> str:
    """SVG path data of one cubic: points is 4 (x, y)."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    return f"M {x0:.4f} {y0:.4f} C {x1:.4f} {y1:.4f} {x2:.4f} {y2:.4f} {x3:.4f} {y3:.4f}"


def parse_cubic(d: str):
    """The 4 control points of a centreline written by ``cubic_d`` (absolute M + C)."""
    numbers = [float(v) for v in re.findall(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", d)]
    if len(numbers) != 8 or not re.match(r"\s*M", d) or "C" not in d:
        raise ValueError("not a single absolute cubic Bézier")
    return [(numbers[i], numbers[i + 1]) for i in range(0, 8, 2)]


def outline_d(points, width: float, brush: str, samples: int = 48) -> str:
    """A closed outline (fill) of a cubic of full ``width`` with the brush's width profile
    (``geometry.width_profile``)."""
    left, right = [], []
    for i in range(samples + 1):
        t = i / samples
        px, py = geometry.cubic_point(points, t)
        dx, dy = geometry.cubic_tangent(points, t)
        norm = math.hypot(dx, dy) or 1.0
        half = width * geometry.width_profile(brush, t) / 2
        nx, ny = -dy / norm * half, dx / norm * half
        left.append((px + nx, py + ny))
        right.append((px - nx, py - ny))
    ring = left + right[::-1]
    return "M " + " L ".join(f"{x:.3f} {y:.3f}" for x, y in ring) + " Z"


def rank_order(strokes) -> list:
    """(rank, stroke) of contract strokes, most important first: by their ``rank`` (their place in
    the list where it is unknown), renumbered 0, 1, ... in that order."""
    keyed = sorted(enumerate(strokes), key=lambda item: (item[1].rank if item[1].rank is not None else item[0],
                                                         item[0]))
    return [(rank, stroke) for rank, (_, stroke) in enumerate(keyed)]


def level_groups(sketch_group) -> dict:
    """Stroke count -> sub-group of a levels sketch group (an XML element); empty for a sketch
    without levels."""
    found = {}
    for child in sketch_group:
        value = child.get(LEVEL_ATTR) if hasattr(child, "get") else None
        if value is not None and value.strip().isdigit():
            found[int(value)] = child
    return found


def _style_without_display(style: str) -> str:
    parts = [p for p in (style or "").split(";") if p.strip() and p.split(":")[0].strip() != "display"]
    return ";".join(parts)


def show_level(sketch_group, count: int) -> None:
    """Show the level of ``count`` strokes of a levels sketch group and hide the others
    (``display:none`` in their style). ValueError when the sketch has no such level."""
    levels = level_groups(sketch_group)
    if count not in levels:
        raise ValueError(f"the sketch has no level of {count} strokes "
                         f"(it has {', '.join(map(str, sorted(levels, reverse=True))) or 'none'})")
    for value, group in levels.items():
        style = _style_without_display(group.get("style") or "")
        if group.get("display") is not None:
            del group.attrib["display"]
        if value != count:
            style = ";".join(p for p in (style, "display:none") if p)
        if style:
            group.set("style", style)
        elif group.get("style") is not None:
            del group.attrib["style"]


def fresh_ids(ids) -> list[int]:
    """Stroke ids (None: none) made unique, in order: the first of each id keeps it; a missing or
    repeated one (a path duplicated in Inkscape keeps its data- attributes) gets the next id above
    every other, so the core's result maps back to the paths one to one."""
    top = max((i for i in ids if i is not None), default=-1)
    seen, out = set(), []
    for value in ids:
        if value is None or value in seen:
            top += 1
            value = top
        seen.add(value)
        out.append(value)
    return out


def sample_ring(nodes, steps: int = 8) -> list[tuple[float, float]]:
    """Points along one subpath of a cubic superpath (nodes of [in-handle, point, out-handle]):
    each node, and ``steps`` - 1 points inside every curved segment between two nodes."""
    points = []
    for a, b in zip(nodes, nodes[1:]):
        cubic = [tuple(a[1]), tuple(a[2]), tuple(b[0]), tuple(b[1])]
        straight = cubic[1] == cubic[0] and cubic[2] == cubic[3]
        points.append(cubic[0])
        if not straight:
            points += [geometry.cubic_point(cubic, k / steps) for k in range(1, steps)]
    if nodes:
        points.append(tuple(nodes[-1][1]))
    out = []
    for point in points:  # no repeated corners, nor a last corner repeating the first
        if not out or math.dist(point, out[-1]) > 1e-9:
            out.append(point)
    if len(out) > 1 and math.dist(out[0], out[-1]) <= 1e-9:
        out.pop()
    return out


def ring_area(points) -> float:
    """The area enclosed by a closed polygon (absolute, shoelace formula)."""
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]))) / 2


def polygon_text(points) -> str:
    """A polygon as the core's ``--region`` takes it: "x,y x,y x,y ..." (image px). ValueError when
    it has fewer than 3 corners or no area."""
    if len(points) < 3 or ring_area(points) <= 1e-9:
        raise ValueError("the shape encloses no area")
    return " ".join(f"{x:.3f},{y:.3f}" for x, y in points)
