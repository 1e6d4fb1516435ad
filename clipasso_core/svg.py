"""SVG output and input of sketches.

Written SVGs have ``viewBox="0 0 W H"`` in the input image's px, one ``<path>`` per stroke with an
absolute ``M x0 y0 C x1 y1 x2 y2 x3 y3``, round caps and joins, and the sketch metadata as JSON in
``<metadata><clipasso xmlns="urn:clipasso:sketch:1">``.

Reading (``from_svg``) takes SVGs as editors save them (Inkscape, Illustrator, the original CLIPasso):

* Size: the root's ``viewBox``; its user units are the sketch's px. Without a viewBox, the root's
  ``width`` and ``height`` (the original CLIPasso writes no viewBox).
* Geometry: ``<path>`` with every path command (M L H V C S Q T A Z, absolute and relative; the text
  is checked and counted here, then parsed by svgpathtools), ``<line>``, ``<polyline>``,
  ``<polygon>``, ``<rect>`` (also rounded), ``<circle>`` and ``<ellipse>``, inside ``<g>``, ``<a>``,
  ``<switch>`` (its first child) and nested ``<svg>`` without a viewBox.
  ONE STROKE PER SEGMENT: every segment becomes one cubic Bézier stroke. A cubic is taken as it is;
  a line becomes the cubic with its control points at the thirds; a quadratic the exactly equal
  cubic (degree elevation: c1 = p0 + 2/3 (q - p0), c2 = p2 + 2/3 (q - p2)); an elliptical arc is
  split into pieces of at most 90 degrees, each approximated by svgpathtools'
  ``Arc.as_cubic_curves`` (Maisonobe's tangent-length formula; inside the true arc by at most 0.2 %
  of the radius at 90 degrees), so a circle or ellipse gives 4 strokes, a rect 4 (8 when rounded).
  ``Z`` adds the closing line when the path is not already back at its start. Joins are lost (each
  stroke has its own round caps), and so are fills: only stroked geometry is read.
* Not read, as not drawn directly: ``<defs>`` and everything only used through it (symbols,
  markers, clip paths, masks, patterns), ``<use>`` clones, text, images, elements with
  ``display:none`` or ``visibility:hidden``, and elements whose ``stroke`` is ``none`` (the default).
* Style: presentation attributes, ``<style>`` sheets (simple ``tag``, ``.class`` and ``#id``
  selectors; others are ignored) and ``style`` attributes, in that order of precedence, inherited
  from the groups. Colours are CSS colours read by Pillow's ``ImageColor.getrgb``: names (``red``,
  ``rebeccapurple``), ``#rgb``, ``#rrggbb``, ``rgb()`` (integers or integer percentages), ``hsl()``;
  the alpha of ``#rgba``, ``#rrggbbaa``, ``rgba()`` or ``hsla()`` multiplies the opacity.
  ``currentColor`` takes the ``color`` property (black by default); ``none`` and ``transparent``
  draw nothing; a gradient or pattern (``url(#id)``) takes the fallback colour written after it,
  else black. Opacity: ``stroke-opacity`` times the ``opacity`` of the element and of every group
  around it.
* Lengths (the root's ``width``/``height``, ``stroke-width``, the shapes' coordinates): unitless
  (user units, px), ``px``, ``mm``, ``cm``, ``in``, ``pt``, ``pc`` or ``Q`` at CSS's 96 px per inch
  (so in a ``viewBox`` document, ``stroke-width:0.5mm`` is 0.5 x 96 / 25.4 user units, as renderers
  draw it).
* ``transform`` attributes (matrix, translate, scale, rotate, skewX, skewY) on any element: control
  points are mapped (an affine map keeps a cubic Bézier cubic) and stroke widths scaled by the square
  root of the map's area factor. An element whose transform collapses it (``scale(0)``) is not drawn.

* Identity and locks: a shape with ``data-stroke-id="N"`` (as clipasso writes it) that gives one
  stroke keeps that id (a shape of several segments gives strokes without ids). A stroke is locked
  (``Stroke.locked``: a refine keeps it as it is) when its element or a group around it has
  ``data-locked="true"`` (clipasso's own mark, which Inkscape keeps) or Inkscape's own lock,
  ``sodipodi:insensitive="true"`` (Object > Lock, the padlock of the Objects dialog).

Refused with one ``InputError`` naming the element (its id, else its tag and first attributes): path
data that does not follow the SVG grammar (also one not starting with M, or an arc whose end point
is its start point), numbers that are not finite, a zero or negative ``stroke-width``, a unit not
listed above (``em``, ``%``, ...), a colour CSS does not know, a malformed transform, a missing, zero
or negative size, a nested ``<svg>`` with a viewBox, and a file with no stroked geometry at all.

Limits, against hostile files (the reader, ``contract.formats.read_text``, refuses files above
``MAX_FILE_BYTES``): at most ``MAX_STROKES`` strokes in all, counted from the path text before it is
parsed into objects (a path of a million segments is refused after reading its first thousand);
nesting depth is unbounded (the tree is walked without recursion); XML entities: external ones,
parameter entities and entities that refer to other entities are refused, at most 64 may be
declared, and together their uses may expand to at most ``MAX_FILE_BYTES`` (expat's own
amplification limit stays on as well).
"""
from __future__ import annotations

import json
import math
import re
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path
from pyexpat import ExpatError, ParserCreate

from .contract.formats import MAX_FILE_BYTES, MAX_STROKES, FormatError, Sketch, Stroke, check_stroke_count, read_text
from .errors import InputError

SVG_NS = "http://www.w3.org/2000/svg"
META_NS = "urn:clipasso:sketch:1"


def number(value: float) -> str:
    """A number as SVG text: at most 4 decimals, no trailing zeros."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


DRAW_ON_STYLE = (
    "@keyframes clipasso-draw {{ from {{ stroke-dasharray: 0 1; visibility: hidden; }} "
    "to {{ stroke-dasharray: 1 0; visibility: visible; }} }}\n"
    "    .clipasso-draw-on path {{ animation: clipasso-draw {step:.4g}s linear both; }}")
"""CSS of a draw-on SVG: each path (pathLength 1) is hidden until its turn, then grows from nothing
to whole; where CSS animations are not supported neither is ever set, so the whole drawing shows."""


def to_svg(sketch: Sketch, show_level: int | None = None, draw_on: float | None = None) -> str:
    """Serialise a sketch to SVG text: its strokes in order (most important first), or with levels
    one ``<g data-level="N">`` per level, all but ``show_level`` (default: the largest) hidden.
    ``draw_on``: seconds in which the SVG draws itself stroke by stroke in that order (CSS)."""
    lines = svg_header(sketch.width, sketch.height, sketch.metadata)
    groups = [(level.count, level.strokes) for level in sketch.levels] or [(None, sketch.strokes)]
    shown = show_level if show_level is not None else groups[0][0]
    if draw_on:
        step = draw_on / max(len(strokes) for _, strokes in groups)
        lines.append(f"  <style>\n    {DRAW_ON_STYLE.format(step=step)}\n  </style>")
    for count, strokes in groups:
        attributes = '' if count is None else f' data-level="{count}"'
        if count is not None and count != shown:
            attributes += ' display="none"'
        if draw_on:
            attributes += ' class="clipasso-draw-on"'
        lines.append(f'  <g fill="none" stroke-linecap="round" stroke-linejoin="round"{attributes}>')
        for index, s in enumerate(strokes):
            lines.append(f"    {_path(s, index, step if draw_on else None)}")
        lines.append("  </g>")
    lines += ["</svg>", ""]
    return "\n".join(lines)


def svg_header(width: float, height: float, metadata: dict) -> list[str]:
    """The opening lines of a clipasso SVG: the root element (px, viewBox) and the metadata."""
    w, h = number(width), number(height)
    return [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="{SVG_NS}" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
        f'  <metadata><clipasso xmlns="{META_NS}">{_escape(json.dumps(metadata))}</clipasso></metadata>',
    ]


def path_data(points: list[tuple[float, float]]) -> str:
    """The ``d`` of one cubic stroke: "M x0 y0 C x1 y1 x2 y2 x3 y3"."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    return f"M {number(x0)} {number(y0)} C {number(x1)} {number(y1)} {number(x2)} {number(y2)} {number(x3)} {number(y3)}"


def path_element(s: Stroke, extra: str = "", content: str = "") -> str:
    """The ``<path>`` of one stroke (its rank and id as data- attributes, ``data-locked="true"``
    when locked), ``extra`` attributes added, ``content`` (e.g. an ``<animate>``) inside it."""
    extra = "".join(f' {name}="{value}"' for name, value in (("data-rank", s.rank), ("data-stroke-id", s.id))
                    if value is not None) + (' data-locked="true"' if s.locked else "") + extra
    start = (f'<path d="{path_data(s.points)}" stroke="{s.color}" stroke-width="{number(s.width)}" '
             f'stroke-opacity="{number(s.opacity)}"{extra}')
    return f"{start}>{content}</path>" if content else f"{start}/>"


def _path(s: Stroke, index: int, step: float | None) -> str:
    """The ``<path>`` of one stroke; ``step``: its draw-on duration (it starts at index x step)."""
    return path_element(s, f' pathLength="1" style="animation-delay: {index * step:.4g}s"' if step is not None else "")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------------------------------------
# reading: errors name the element


def _local(tag) -> str | None:
    """The SVG element name of a tag (``{svg-ns}path`` or ``path``); None for other namespaces."""
    if not isinstance(tag, str):
        return None
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return name if ns == SVG_NS else None
    return tag


def _snip(text: str, size: int = 40) -> str:
    text = " ".join(str(text)[:size + 20].split())
    return text if len(text) <= size else text[:size - 1] + "…"


def _where(elem: ET.Element) -> str:
    name = _local(elem.tag) or str(elem.tag).rpartition("}")[2]
    if elem.get("id"):
        return f'<{name} id="{_snip(elem.get("id"))}">'
    attrs = [f'{str(k).rpartition("}")[2]}="{_snip(v, 30)}"' for k, v in list(elem.attrib.items())[:2]]
    return f"<{' '.join([name, *attrs])}>"


class _Fail:
    """Raises InputError naming one element."""

    def __init__(self, elem: ET.Element):
        self.elem = elem

    def __call__(self, message: str):
        raise InputError(f"SVG element {_where(self.elem)}: {message}")


# ---------------------------------------------------------------------------------------------
# numbers, lengths, colours

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER_RE = re.compile(_NUMBER)
_SEPARATORS = re.compile(r"[\s,]*")
_LENGTH = re.compile(rf"\s*({_NUMBER})\s*([A-Za-z%]*)\s*")
_UNITS = {"": 1.0, "px": 1.0, "in": 96.0, "cm": 96.0 / 2.54, "mm": 96.0 / 25.4, "q": 96.0 / 101.6,
          "pt": 96.0 / 72.0, "pc": 16.0}
_UNIT_NAMES = "px, mm, cm, in, pt, pc, Q or none"


def _finite(value: float, what: str, fail: _Fail) -> float:
    if not math.isfinite(value):
        fail(f"{what} is not a finite number")
    return value


def _length(value: str, what: str, fail: _Fail) -> float:
    """A CSS length in px (user units)."""
    match = _LENGTH.fullmatch(value)
    if not match:
        fail(f"{what} {_snip(value)!r} is not a length (a number with an optional unit)")
    unit = match.group(2).lower()
    if unit not in _UNITS:
        fail(f"{what} {_snip(value)!r} has the unit {match.group(2)!r}, which clipasso does not read "
             f"(use {_UNIT_NAMES})")
    return _finite(float(match.group(1)) * _UNITS[unit], f"{what} {_snip(value)!r}", fail)


def _numbers(text: str, what: str, fail: _Fail, most: int | None = None) -> list[float]:
    """A list of numbers separated by whitespace and/or commas; refused past ``most`` numbers."""
    out: list[float] = []
    pos = _SEPARATORS.match(text).end()
    while pos < len(text):
        match = _NUMBER_RE.match(text, pos)
        if not match:
            fail(f"{what} is not a list of numbers at {_snip(text[pos:], 20)!r}")
        out.append(_finite(float(match.group()), f"{what} {match.group()!r}", fail))
        if most is not None and len(out) > most:
            return out
        pos = _SEPARATORS.match(text, match.end()).end()
    return out


def _fraction(value: str, what: str, fail: _Fail) -> float:
    """An opacity: a number or a percentage, clamped to 0..1 as CSS does."""
    match = re.fullmatch(rf"\s*({_NUMBER})\s*(%?)\s*", value)
    if not match:
        fail(f"{what} {_snip(value)!r} is not a number")
    number = _finite(float(match.group(1)), f"{what} {_snip(value)!r}", fail)
    return min(1.0, max(0.0, number / 100 if match.group(2) else number))


_FUNCTION_COLOUR = re.compile(r"(rgb|hsl)a?\((.*)\)", re.IGNORECASE | re.DOTALL)


def _colour(value: str, fail: _Fail, what: str = "stroke") -> tuple[str, float]:
    """A CSS colour as ("#rrggbb", alpha)."""
    from PIL import ImageColor

    text, alpha = value.strip(), 1.0
    match = _FUNCTION_COLOUR.fullmatch(text)
    if match:  # the alpha of rgba()/hsla() is CSS's 0..1 (Pillow reads 0..255): taken here
        body, slash, alpha_text = match.group(2).partition("/")
        channels = [c for c in re.split(r"\s*,\s*|\s+", body.strip()) if c]
        if not slash and len(channels) == 4:
            channels, alpha_text = channels[:3], channels[3]
        if len(channels) != 3 or (slash and not alpha_text.strip()):
            fail(f"{what} {_snip(value)!r} is not a CSS colour")
        if alpha_text.strip():
            alpha = _fraction(alpha_text, f"{what} alpha", fail)
        text = f"{match.group(1)}({','.join(channels)})"
    try:
        rgb = ImageColor.getrgb(text)
    except ValueError:
        fail(f"{what} {_snip(value)!r} is not a CSS colour")
    if len(rgb) == 4:
        alpha *= rgb[3] / 255
    return "#" + "".join(f"{c:02x}" for c in rgb[:3]), alpha


class _NotAColour(Exception):
    pass


def css_color(value, what: str = "colour") -> str:
    """A colour given as an option (``--color``, ``SketchConfig.color``) as "#rrggbb": any CSS
    colour the SVG reader takes (the same parser). InputError naming ``what`` for anything else, and
    for a colour with transparency (the opacity option says how opaque strokes are)."""
    def fail(message: str):
        raise _NotAColour(message)

    try:
        if not isinstance(value, str):
            raise _NotAColour
        color, alpha = _colour(value, fail, what)
    except _NotAColour:
        raise InputError(f"{what} must be a CSS colour: a name such as black or rebeccapurple, #rgb, "
                         f"#rrggbb, rgb(r, g, b) or hsl(h, s%, l%); got {value!r}") from None
    if alpha < 1:
        raise InputError(f"{what} {value!r} is partly transparent; give the colour without alpha and "
                         "the transparency as the opacity (--opacity)")
    return color


# ---------------------------------------------------------------------------------------------
# transforms

Affine = tuple[float, float, float, float, float, float]
"""SVG matrix (a, b, c, d, e, f): x' = a x + c y + e, y' = b x + d y + f."""
_IDENTITY: Affine = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_TRANSFORM_FUNCTION = re.compile(r"\s*(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)\s*,?")


def _compose(m: Affine, n: Affine) -> Affine:
    """The map that applies n, then m."""
    a, b, c, d, e, f = m
    return (a * n[0] + c * n[1], b * n[0] + d * n[1], a * n[2] + c * n[3], b * n[2] + d * n[3],
            a * n[4] + c * n[5] + e, b * n[4] + d * n[5] + f)


def _transform(text: str) -> Affine:
    """Parse an SVG ``transform`` attribute (a list of transform functions) into one matrix."""
    result, pos, end = _IDENTITY, 0, len(text.rstrip())
    while pos < end:
        match = _TRANSFORM_FUNCTION.match(text, pos)
        try:
            if not match:
                raise ValueError
            name = match.group(1)
            v = [float(x) for x in re.split(r"[\s,]+", match.group(2).strip()) if x]
            if not all(math.isfinite(x) for x in v):
                raise ValueError
            if name == "matrix" and len(v) == 6:
                m = tuple(v)
            elif name == "translate" and len(v) in (1, 2):
                m = (1.0, 0.0, 0.0, 1.0, v[0], v[1] if len(v) == 2 else 0.0)
            elif name == "scale" and len(v) in (1, 2):
                m = (v[0], 0.0, 0.0, v[-1], 0.0, 0.0)
            elif name == "rotate" and len(v) in (1, 3):
                cos, sin = math.cos(math.radians(v[0])), math.sin(math.radians(v[0]))
                m = (cos, sin, -sin, cos, 0.0, 0.0)
                if len(v) == 3:
                    m = _compose((1.0, 0.0, 0.0, 1.0, v[1], v[2]), _compose(m, (1.0, 0.0, 0.0, 1.0, -v[1], -v[2])))
            elif name in ("skewX", "skewY") and len(v) == 1:
                t = math.tan(math.radians(v[0]))
                m = (1.0, 0.0, t, 1.0, 0.0, 0.0) if name == "skewX" else (1.0, t, 0.0, 1.0, 0.0, 0.0)
            else:
                raise ValueError
        except ValueError:
            raise InputError(f"malformed SVG transform {_snip(text, 60)!r}") from None
        result = _compose(result, m)
        pos = match.end()
    return result


# ---------------------------------------------------------------------------------------------
# path data

_PATH_TOKEN = re.compile(rf"([MmZzLlHhVvCcSsQqTtAa])|({_NUMBER})|([\s,]+)|(.)", re.DOTALL)
_PATH_ARGS = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7}


def _scan_path(d: str, budget: int, fail: _Fail) -> tuple[str, int]:
    """Check path data against the SVG grammar and count its segments, stopping once they pass
    ``budget``. Returns the data rewritten plainly for svgpathtools (arc flags split apart,
    numbers as Python writes floats) and the segment count (an upper bound: a ``Z`` counts one)."""
    out: list[str] = []
    count, fields, cmd, started, waiting = 0, 0, None, False, False
    for match in _PATH_TOKEN.finditer(d):
        letter, number, _, other = match.groups()
        if other is not None:
            fail(f"path data has {other!r} at character {match.start()} ({_snip(d)!r})")
        if letter:
            if fields or waiting:
                fail(f"path command {cmd!r} lacks numbers before {letter!r} ({_snip(d)!r})")
            if not started and letter not in "Mm":
                fail(f"path data must start with M or m ({_snip(d)!r})")
            started, cmd, waiting = True, letter, letter not in "Zz"
            out.append(letter)
            if letter in "Zz":
                count, cmd = count + 1, None
            continue
        if number is None:
            continue
        if cmd is None:
            fail(f"path data has a number where a command letter belongs ({_snip(d)!r})")
        upper = cmd.upper()
        if upper == "A":  # the two flags may be written without separators: "0110 5" is 0 1 10 5
            while fields in (3, 4):
                if number[0] not in "01":
                    fail(f"an arc flag must be 0 or 1, not {number!r} ({_snip(d)!r})")
                out.append(number[0])
                fields, number = fields + 1, number[1:]
                if not number:
                    break
            if not number:
                continue
        value = float(number)
        if not math.isfinite(value):
            fail(f"path data has a number that is not finite: {_snip(number)!r}")
        out.append(repr(value))
        fields += 1
        if fields == _PATH_ARGS[upper]:
            fields, waiting = 0, False
            if upper == "M":  # a moveto draws nothing; further pairs are line-tos
                cmd = "l" if cmd == "m" else "L"
            else:
                count += 1
                if count > budget:
                    return "", count
    if fields or waiting:
        fail(f"path command {cmd!r} lacks numbers at the end ({_snip(d)!r})")
    return " ".join(out), count


def _line(p: complex, q: complex) -> list[complex]:
    return [p, p + (q - p) / 3, p + 2 * (q - p) / 3, q]


def _path_cubics(d: str, fail: _Fail) -> list[list[complex]]:
    """Cubic segments (4 complex control points each) of checked, plain path data."""
    from svgpathtools import Arc, CubicBezier, Line, QuadraticBezier, parse_path

    try:
        with warnings.catch_warnings():  # svgpathtools warns of zero-radius arcs (read as lines)
            warnings.simplefilter("ignore")
            path = parse_path(d)
            out = []
            for seg in path:
                if isinstance(seg, CubicBezier):
                    out.append(list(seg.bpoints()))
                elif isinstance(seg, Line):
                    out.append(_line(seg.start, seg.end))
                elif isinstance(seg, QuadraticBezier):  # exact degree elevation
                    p0, q, p2 = seg.bpoints()
                    out.append([p0, p0 + 2 * (q - p0) / 3, p2 + 2 * (q - p2) / 3, p2])
                elif isinstance(seg, Arc):
                    pieces = max(1, math.ceil(abs(seg.delta) / 90 - 1e-9))
                    out.extend(list(c.bpoints()) for c in seg.as_cubic_curves(pieces))
                else:
                    raise ValueError(f"unknown segment {seg!r}")
    except AssertionError:  # svgpathtools' Arc asserts that an arc's ends differ
        fail(f"path data has an arc that ends where it starts ({_snip(d)!r})")
    except (ValueError, ArithmeticError, IndexError) as exc:
        fail(f"path data cannot be read: {_snip(str(exc), 80)}")
    return out


# ---------------------------------------------------------------------------------------------
# style

_PROPERTIES = ("stroke", "stroke-width", "stroke-opacity", "opacity", "color", "display", "visibility")
_INHERITED = ("stroke", "stroke-width", "stroke-opacity", "color", "visibility")
_SELECTOR = re.compile(r"([A-Za-z][\w-]*)|\.([\w-]+)|#([\w-]+)")


def _without_comments(text: str) -> str:
    """CSS text without its /* comments */ (in linear time, whatever the text)."""
    if "/*" not in text:
        return text
    out, pos = [], 0
    while True:
        start = text.find("/*", pos)
        if start < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:start])
        pos = text.find("*/", start + 2)
        if pos < 0:  # an unclosed comment runs to the end
            break
        pos += 2
    return "".join(out)


def _declarations(text: str) -> dict[str, str]:
    out = {}
    for part in _without_comments(text).split(";"):
        if ":" in part:
            key, value = part.split(":", 1)
            key, value = key.strip().lower(), re.sub(r"\s*!important\s*$", "", value.strip())
            if key in _PROPERTIES and value:
                out[key] = value
    return out


def _style_sheet(root: ET.Element) -> dict[tuple[int, str], dict[str, str]]:
    """The declarations of the ``<style>`` elements' rules with simple selectors, merged in document
    order and keyed by (kind, name): kind 0 a tag, 1 a class, 2 an id (their CSS specificity order)."""
    sheet: dict[tuple[int, str], dict[str, str]] = {}
    for style in (e for e in root.iter() if _local(e.tag) == "style"):
        for rule in _without_comments(style.text or "").split("}"):
            selectors, brace, body = rule.rpartition("{")
            selectors = selectors.rpartition("{")[2]  # after an at-rule's "{"
            decls = _declarations(body) if brace else {}
            for selector in selectors.split(",") if decls else ():
                match = _SELECTOR.fullmatch(selector.strip())
                if match:
                    kind = next(i for i, g in enumerate(match.groups()) if g)
                    sheet.setdefault((kind, match.group(kind + 1)), {}).update(decls)
    return sheet


def _own_style(elem: ET.Element, tag: str, sheet: dict) -> dict[str, str]:
    """The properties set on the element itself: attributes, then the style sheet, then ``style``."""
    own = {key: elem.attrib[key].strip() for key in _PROPERTIES if elem.attrib.get(key, "").strip()}
    if sheet:
        keys = [(0, tag), *((1, c) for c in elem.get("class", "").split()), (2, elem.get("id", ""))]
        for key in keys:
            own.update(sheet.get(key, ()))
    own.update(_declarations(elem.get("style", "")))
    return {k: v for k, v in own.items() if v.lower() != "inherit"}


# ---------------------------------------------------------------------------------------------
# shapes


def _too_many(fail: _Fail):
    fail(f"the SVG has more than {MAX_STROKES} segments (lines and curves, each one a stroke); "
         f"the limit is {MAX_STROKES}")


def _shape_segments(elem: ET.Element, tag: str, budget: int, fail: _Fail) -> list[list[complex]]:
    """Cubic segments of a shape element in its own user units (refused past ``budget`` of them)."""

    def length(name, default=None):
        value = elem.get(name)
        if value is None:
            return default
        return _length(value, name, fail)

    if tag == "path":
        d, count = _scan_path(elem.get("d", ""), budget, fail)
        if count > budget:
            _too_many(fail)
        return _path_cubics(d, fail) if d else []
    if tag == "line":
        p = complex(length("x1", 0.0), length("y1", 0.0))
        return [_line(p, complex(length("x2", 0.0), length("y2", 0.0)))]
    if tag in ("polyline", "polygon"):
        values = _numbers(elem.get("points", ""), "points", fail, most=2 * (budget + 1))
        if len(values) > 2 * (budget + 1):
            _too_many(fail)
        if len(values) % 2:
            fail(f"points has an odd count of numbers ({len(values)})")
        points = [complex(x, y) for x, y in zip(values[::2], values[1::2])]
        if tag == "polygon" and len(points) > 1 and points[-1] != points[0]:
            points.append(points[0])
        return [_line(p, q) for p, q in zip(points, points[1:])]
    # rect, circle, ellipse: written as path data with arcs (radii in the SVG's way)
    if tag == "rect":
        x, y, w, h = length("x", 0.0), length("y", 0.0), length("width", 0.0), length("height", 0.0)
        rx, ry = length("rx"), length("ry")
        if w < 0 or h < 0 or (rx or 0) < 0 or (ry or 0) < 0:
            fail("a rect's width, height, rx and ry must not be negative")
        if w == 0 or h == 0:
            return []
        rx = ry if rx is None else rx
        ry = rx if ry is None else ry
        rx, ry = min(rx or 0.0, w / 2), min(ry or 0.0, h / 2)
        if rx == 0 or ry == 0:
            corners = [complex(x, y), complex(x + w, y), complex(x + w, y + h), complex(x, y + h)]
            return [_line(p, q) for p, q in zip(corners, corners[1:] + corners[:1])]
        arc = f"A {rx!r} {ry!r} 0 0 1"
        parts = [f"M {x + rx!r} {y!r}"]
        parts += [f"H {x + w - rx!r}"] if w > 2 * rx else []
        parts += [f"{arc} {x + w!r} {y + ry!r}"] + ([f"V {y + h - ry!r}"] if h > 2 * ry else [])
        parts += [f"{arc} {x + w - rx!r} {y + h!r}"] + ([f"H {x + rx!r}"] if w > 2 * rx else [])
        parts += [f"{arc} {x!r} {y + h - ry!r}"] + ([f"V {y + ry!r}"] if h > 2 * ry else [])
        parts += [f"{arc} {x + rx!r} {y!r}"]
        return _path_cubics(" ".join(parts), fail)
    cx, cy = length("cx", 0.0), length("cy", 0.0)
    if tag == "circle":
        rx = ry = length("r", 0.0)
    else:
        rx, ry = length("rx"), length("ry")
        rx = ry if rx is None else rx
        ry = rx if ry is None else ry
        rx, ry = rx or 0.0, ry or 0.0
    if rx < 0 or ry < 0:
        fail(f"a {tag}'s radius must not be negative")
    if rx == 0 or ry == 0:
        return []
    arc = f"A {rx!r} {ry!r} 0 0 1"
    return _path_cubics(f"M {cx + rx!r} {cy!r} {arc} {cx!r} {cy + ry!r} {arc} {cx - rx!r} {cy!r} "
                        f"{arc} {cx!r} {cy - ry!r} {arc} {cx + rx!r} {cy!r}", fail)


# ---------------------------------------------------------------------------------------------
# entities

_MAX_ENTITIES = 64


class _PrologRead(Exception):
    pass


def _check_entities(text: str) -> None:
    """Refuse external entities and entity-expansion bombs before the tree is built."""
    if "<!ENTITY" not in text:
        return
    sizes: dict[str, int] = {}

    def declared(name, is_parameter, value, base, system_id, public_id, notation):
        if is_parameter:
            raise InputError(f"the SVG declares the parameter entity %{name}; clipasso does not read DTDs")
        if value is None or system_id or public_id:
            raise InputError(f"the SVG declares the external entity &{name}; ({_snip(system_id or public_id or '')!r}); "
                             "clipasso reads no other files")
        if "&" in value or "%" in value:
            raise InputError(f"the SVG's entity &{name}; refers to other entities (an entity-expansion bomb?)")
        sizes[name] = len(value)
        if len(sizes) > _MAX_ENTITIES:
            raise InputError(f"the SVG declares more than {_MAX_ENTITIES} entities")

    def started(*_):
        raise _PrologRead

    parser = ParserCreate()
    parser.EntityDeclHandler = declared
    parser.StartElementHandler = started
    try:
        parser.Parse(text, True)
    except (_PrologRead, ExpatError):
        pass  # the prolog is read (a syntax error is reported by the real parse)
    total = sum(text.count(f"&{name};") * size for name, size in sizes.items())
    if total > MAX_FILE_BYTES:
        raise InputError(f"the SVG's entities would expand to {total / 1e6:.1f} MB; the limit is "
                         f"{MAX_FILE_BYTES / 1e6:.1f} MB (an entity-expansion bomb?)")


# ---------------------------------------------------------------------------------------------
# the reader

_CONTAINERS = {"svg", "g", "a", "switch"}
_SHAPES = {"path", "line", "polyline", "polygon", "rect", "circle", "ellipse"}
_DRAWN = _CONTAINERS | _SHAPES
_SODIPODI_LOCK = "{http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd}insensitive"
_LOCKED = "-clipasso-locked"
"""The key in the inherited style under which a locked group passes its lock to its shapes."""


def _locks(elem: ET.Element) -> bool:
    """Whether the element itself is locked: ``data-locked="true"`` or Inkscape's ``sodipodi:insensitive``."""
    return any(elem.get(key, "").strip().lower() in ("true", "1") for key in ("data-locked", _SODIPODI_LOCK))


def _stroke_id(elem: ET.Element) -> int | None:
    """The element's ``data-stroke-id`` as a whole number >= 0 (None when absent or not one)."""
    text = elem.get("data-stroke-id", "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _size(root: ET.Element) -> tuple[float, float, float, float]:
    """(origin x, origin y, width, height) of the root's user space."""
    fail = _Fail(root)
    if root.get("viewBox") is not None:
        values = _numbers(root.get("viewBox"), "viewBox", fail, most=4)
        if len(values) != 4:
            fail(f"viewBox {_snip(root.get('viewBox'))!r} needs 4 numbers: x y width height")
        ox, oy, width, height = values
    else:
        if root.get("width") is None or root.get("height") is None:
            fail("the SVG has neither a viewBox nor width and height")
        ox = oy = 0.0
        width, height = _length(root.get("width"), "width", fail), _length(root.get("height"), "height", fail)
    if width <= 0 or height <= 0:
        fail(f"the SVG's size must be positive, not {width:g} x {height:g}")
    return ox, oy, width, height


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number")  # NaN/Infinity would break the sketch JSON


def _metadata(root: ET.Element) -> dict:
    meta = root.find(f".//{{{META_NS}}}clipasso")
    if meta is None or not meta.text:
        return {}
    try:
        data = json.loads(meta.text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def from_svg(text: str) -> Sketch:
    """Parse SVG text into a sketch (see the module docstring for what is accepted)."""
    text = text.lstrip("\ufeff")
    _check_entities(text)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InputError(f"not a readable SVG file: {exc}") from None
    if _local(root.tag) != "svg":
        raise InputError("not an SVG file (root element is not <svg>)")
    ox, oy, width, height = _size(root)
    sheet = _style_sheet(root)
    strokes: list[Stroke] = []
    stack: list[tuple[ET.Element, dict, Affine, float]] = [(root, {}, _IDENTITY, 1.0)]
    while stack:  # depth first, in document order, without recursion
        elem, inherited, matrix, alpha = stack.pop()
        tag = _local(elem.tag)
        if tag not in _DRAWN:
            continue
        fail = _Fail(elem)
        own = _own_style(elem, tag, sheet)
        if own.get("display", "").lower() == "none":
            continue
        style = {**inherited, **{k: v for k, v in own.items() if k in _INHERITED}}
        if _locks(elem):
            style[_LOCKED] = "true"
        if "opacity" in own:
            alpha *= _fraction(own["opacity"], "opacity", fail)
        if elem.get("transform"):
            try:
                matrix = _compose(matrix, _transform(elem.get("transform")))
            except InputError as exc:
                fail(str(exc))
        if tag == "svg" and elem is not root:
            if elem.get("viewBox") is not None:
                fail("a nested <svg> with a viewBox is not supported; ungroup it in the editor")
            x, y = (_length(elem.get(k, "0"), k, fail) for k in ("x", "y"))
            matrix = _compose(matrix, (1.0, 0.0, 0.0, 1.0, x, y))
        if tag in _SHAPES:
            _add_shape(elem, tag, style, matrix, alpha, (ox, oy), strokes, fail)
            continue
        children = [child for child in elem if _local(child.tag) in _DRAWN]
        if tag == "switch":
            children = children[:1]
        stack.extend((child, style, matrix, alpha) for child in reversed(children))
    if not strokes:
        raise InputError("the SVG holds no stroked paths or shapes to use as a sketch "
                         "(elements need a stroke colour; fills are not read)")
    return Sketch(width, height, strokes, _metadata(root))


def read_sketch(path: str, what: str) -> Sketch:
    """The sketch in an SVG or sketch JSON file (JSON by its .json suffix, or text starting with "{"
    in a file that is not .svg); every problem of the file is one InputError naming it as ``what``
    (refused above ``MAX_FILE_BYTES``, above ``MAX_STROKES``, and without strokes)."""
    try:
        text = read_text(path, what).lstrip("\ufeff")
    except FormatError as exc:
        raise InputError(str(exc)) from None
    suffix = Path(path).suffix.lower()
    as_json = suffix == ".json" or (suffix != ".svg" and text.lstrip().startswith("{"))
    try:
        sketch = Sketch.from_json(text) if as_json else from_svg(text)
        check_stroke_count(len(sketch.strokes), "it")
    except (FormatError, InputError) as exc:
        raise InputError(f"{what} {path}: {exc}") from None
    if not sketch.strokes:
        raise InputError(f"{what} {path} has no strokes")
    return sketch


def _add_shape(elem, tag, style, matrix, alpha, origin, strokes, fail) -> None:
    if style.get("visibility", "visible").lower() in ("hidden", "collapse"):
        return
    paint = style.get("stroke", "none").strip()
    if paint.lower().startswith("url("):  # a gradient or pattern: its fallback colour, else black
        paint = paint[paint.find(")") + 1:].strip() or "black"
    if paint.lower() == "currentcolor":
        paint = style.get("color", "black")
        paint = "black" if paint.lower() == "currentcolor" else paint
    if paint.lower() in ("none", "transparent"):
        return
    color, paint_alpha = _colour(paint, fail)
    opacity = alpha * paint_alpha * _fraction(style.get("stroke-opacity", "1"), "stroke-opacity", fail)
    width = _length(style.get("stroke-width", "1"), "stroke-width", fail)
    if width <= 0:
        fail(f"stroke-width must be > 0, not {_snip(style.get('stroke-width'))!r}")
    a, b, c, d, e, f = matrix
    scale = math.sqrt(abs(a * d - b * c))
    if scale == 0:
        return  # a transform that collapses the element: nothing is drawn
    width = _finite(width * scale, "stroke-width (after its transform)", fail)
    budget = MAX_STROKES - len(strokes)
    segments = _shape_segments(elem, tag, budget, fail)
    if len(segments) > budget:
        _too_many(fail)
    ox, oy = origin
    stroke_id = _stroke_id(elem) if len(segments) == 1 else None
    for seg in segments:
        points = [(float(a * p.real + c * p.imag + e - ox), float(b * p.real + d * p.imag + f - oy))
                  for p in seg]
        if not all(math.isfinite(v) for point in points for v in point):
            fail("its coordinates are not finite numbers (after its transform)")
        strokes.append(Stroke(points, width, color, opacity, id=stroke_id, locked=_LOCKED in style))
