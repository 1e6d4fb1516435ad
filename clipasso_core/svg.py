"""SVG output and input of sketches.

Written SVGs have ``viewBox="0 0 W H"`` in the input image's px, one ``<path>`` per stroke with an
absolute ``M x0 y0 C x1 y1 x2 y2 x3 y3``, round caps and joins, and the sketch metadata as JSON in
``<metadata><clipasso xmlns="urn:clipasso:sketch:1">``.

Reading accepts SVGs from other tools too: size from ``viewBox`` or else ``width``/``height`` (the
original CLIPasso writes no viewBox), ``M/m``, ``C/c``, ``L/l`` and ``Z/z`` path commands (every cubic
or line segment becomes one stroke), stroke style from attributes, ``style`` or a parent ``<g>``.
``transform`` attributes (matrix, translate, scale, rotate, skewX, skewY) on paths and their groups
are applied: control points are mapped (an affine map keeps a cubic Bézier cubic) and stroke widths
scaled by the square root of the map's area factor.
"""
from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET

from .errors import InputError
from .sketch_data import Sketch, Stroke

SVG_NS = "http://www.w3.org/2000/svg"
META_NS = "urn:clipasso:sketch:1"
_NAMED = {"black": "#000000", "white": "#ffffff", "red": "#ff0000", "green": "#008000",
          "blue": "#0000ff", "gray": "#808080", "grey": "#808080"}


def _num(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def to_svg(sketch: Sketch) -> str:
    """Serialise a sketch to SVG text."""
    w, h = _num(sketch.width), _num(sketch.height)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="{SVG_NS}" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
        f'  <metadata><clipasso xmlns="{META_NS}">{_escape(json.dumps(sketch.metadata))}</clipasso></metadata>',
        '  <g fill="none" stroke-linecap="round" stroke-linejoin="round">',
    ]
    for s in sketch.strokes:
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = s.points
        d = (f"M {_num(x0)} {_num(y0)} C {_num(x1)} {_num(y1)} {_num(x2)} {_num(y2)} "
             f"{_num(x3)} {_num(y3)}")
        lines.append(f'    <path d="{d}" stroke="{s.color}" stroke-width="{_num(s.width)}" '
                     f'stroke-opacity="{_num(s.opacity)}"/>')
    lines += ["  </g>", "</svg>", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _length(value: str | None) -> float | None:
    if value is None:
        return None
    match = re.fullmatch(r"\s*([-+0-9.eE]+)\s*(px)?\s*", value)
    return float(match.group(1)) if match else None


def _color(value: str) -> str:
    value = value.strip().lower()
    if value in _NAMED:
        return _NAMED[value]
    if re.fullmatch(r"#[0-9a-f]{6}", value):
        return value
    if re.fullmatch(r"#[0-9a-f]{3}", value):
        return "#" + "".join(c * 2 for c in value[1:])
    match = re.fullmatch(r"rgb\(\s*([0-9.]+)%?\s*,\s*([0-9.]+)%?\s*,\s*([0-9.]+)%?\s*\)", value)
    if match:
        scale = 2.55 if "%" in value else 1.0
        return "#" + "".join(f"{min(255, round(float(c) * scale)):02x}" for c in match.groups())
    raise InputError(f"unsupported SVG colour {value!r}")


_TOKEN = re.compile(r"[A-Za-z]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _segments(d: str) -> list[list[tuple[float, float]]]:
    """Cubic segments (4 points each) of a path's ``d`` attribute."""
    tokens = _TOKEN.findall(d)
    out, i, cmd = [], 0, None
    cur = start = (0.0, 0.0)

    def take(n):
        nonlocal i
        try:
            vals = [float(t) for t in tokens[i:i + n]]
        except ValueError:
            raise InputError(f"malformed SVG path data: {d[:60]!r}") from None
        if len(vals) < n:
            raise InputError(f"malformed SVG path data: {d[:60]!r}")
        i += n
        return vals

    while i < len(tokens):
        if tokens[i].isalpha():
            cmd = tokens[i]
            i += 1
            if cmd in "Zz":
                if cur != start:
                    out.append(_line(cur, start))
                cur = start
                continue
        if cmd is None:
            raise InputError(f"malformed SVG path data: {d[:60]!r}")
        rel = cmd.islower()
        ox, oy = cur if rel else (0.0, 0.0)
        if cmd in "Mm":
            x, y = take(2)
            cur = start = (ox + x, oy + y)
            cmd = "l" if rel else "L"  # further pairs are implicit line-tos
        elif cmd in "Ll":
            x, y = take(2)
            nxt = (ox + x, oy + y)
            out.append(_line(cur, nxt))
            cur = nxt
        elif cmd in "Cc":
            v = take(6)
            pts = [(ox + v[0], oy + v[1]), (ox + v[2], oy + v[3]), (ox + v[4], oy + v[5])]
            out.append([cur, *pts])
            cur = pts[-1]
        else:
            raise InputError(f"unsupported SVG path command {cmd!r} (supported: M, C, L, Z)")
    return out


def _line(p, q):
    return [p, (p[0] + (q[0] - p[0]) / 3, p[1] + (q[1] - p[1]) / 3),
            (p[0] + 2 * (q[0] - p[0]) / 3, p[1] + 2 * (q[1] - p[1]) / 3), q]


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
    result = _IDENTITY
    rest = text.strip()
    while rest:
        match = _TRANSFORM_FUNCTION.match(rest)
        try:
            if not match:
                raise ValueError
            name = match.group(1)
            v = [float(x) for x in re.split(r"[\s,]+", match.group(2).strip()) if x]
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
            raise InputError(f"malformed SVG transform {text[:60]!r}") from None
        result = _compose(result, m)
        rest = rest[match.end():]
    return result


def _style(elem: ET.Element, inherited: dict) -> dict:
    style = dict(inherited)
    for key in ("stroke", "stroke-width", "stroke-opacity", "opacity"):
        if key in elem.attrib:
            style[key] = elem.attrib[key]
    for part in elem.attrib.get("style", "").split(";"):
        if ":" in part:
            key, value = part.split(":", 1)
            style[key.strip()] = value.strip()
    return style


def from_svg(text: str) -> Sketch:
    """Parse SVG text into a sketch (see the module docstring for what is accepted)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InputError(f"not a readable SVG file: {exc}") from None
    if root.tag not in (f"{{{SVG_NS}}}svg", "svg"):
        raise InputError("not an SVG file (root element is not <svg>)")
    ox = oy = 0.0
    if root.get("viewBox"):
        try:
            ox, oy, width, height = (float(v) for v in re.split(r"[\s,]+", root.get("viewBox").strip()))
        except ValueError:
            raise InputError(f"malformed SVG viewBox {root.get('viewBox')!r}") from None
    else:
        width, height = _length(root.get("width")), _length(root.get("height"))
        if width is None or height is None:
            raise InputError("SVG has neither a viewBox nor width/height in px")
    metadata = {}
    meta = root.find(f".//{{{META_NS}}}clipasso")
    if meta is not None and meta.text:
        try:
            metadata = json.loads(meta.text)
        except json.JSONDecodeError:
            metadata = {}
    strokes: list[Stroke] = []

    def walk(elem, inherited, matrix):
        style = _style(elem, inherited)
        if elem.get("transform"):
            matrix = _compose(matrix, _transform(elem.get("transform")))
        a, b, c, d, e, f = matrix
        if elem.tag in (f"{{{SVG_NS}}}path", "path") and elem.get("d"):
            stroke = style.get("stroke", "none")
            if stroke == "none":
                return
            try:
                width_px = float(_length(style.get("stroke-width", "1")) or 1.0)
                opacity = float(style.get("stroke-opacity", "1")) * float(style.get("opacity", "1"))
            except ValueError:
                raise InputError("malformed stroke-width or opacity in SVG") from None
            color = _color(stroke)
            width_px *= math.sqrt(abs(a * d - b * c))
            for seg in _segments(elem.get("d")):
                pts = [(a * x + c * y + e - ox, b * x + d * y + f - oy) for x, y in seg]
                strokes.append(Stroke(pts, width_px, color, opacity))
        for child in elem:
            if child.tag not in (f"{{{SVG_NS}}}metadata", "metadata"):
                walk(child, style, matrix)

    walk(root, {}, _IDENTITY)
    if not strokes:
        raise InputError("the SVG holds no stroked paths to use as a sketch")
    return Sketch(width, height, strokes, metadata)
