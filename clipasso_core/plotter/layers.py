"""The plotter SVG of a sketch: one top-level ``inkscape:groupmode="layer"`` group per stroke colour
(the layer convention vpype and AxiDraw's Inkscape tools read; the layer's ``id`` is ``layerN``,
its label "N #rrggbb"), in each the strokes in plotting order, strokes that continue one another
joined into one path (``order.merged``), no fills, no CSS, no opacity (a pen draws opaque), every
coordinate absolute, in px (the sketch's own) or mm (at CSS's 96 px per inch).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from xml.sax.saxutils import escape

from ..contract.formats import Sketch, Stroke
from ..svg import SVG_NS, number
from .order import importance_order, merged, pen_up, travel_order

MM_PER_PX = 25.4 / 96
MERGE_TOLERANCE_MM = 0.05
"""Strokes whose ends are this close (mm) are drawn without lifting the pen (vpype linemerge's default)."""
ORDERS = ("travel", "importance")
UNITS = ("px", "mm")
INKSCAPE_NS = "http://www.inkscape.org/namespaces/inkscape"


@dataclass
class Layer:
    """The strokes of one colour as the pen draws them: ``paths``, each a run of strokes drawn
    without lifting the pen."""

    color: str
    paths: list[list[Stroke]]


@dataclass
class PlotterDrawing:
    """A sketch laid out for a plotter: its layers in drawing order, its size (px)."""

    width: float
    height: float
    layers: list[Layer]
    metadata: dict

    @property
    def pen_up(self) -> float:
        """Pen-up travel (px) inside the layers (between layers the pen is changed)."""
        return sum(pen_up(layer.paths) for layer in self.layers)

    def to_svg(self, units: str = "px") -> str:
        """The plotter SVG, coordinates in ``units`` ("px" or "mm")."""
        k = MM_PER_PX if units == "mm" else 1.0
        w, h = number(self.width * k), number(self.height * k)
        size = f'width="{w}mm" height="{h}mm"' if units == "mm" else f'width="{w}" height="{h}"'
        lines = ['<?xml version="1.0" encoding="UTF-8"?>',
                 f'<svg xmlns="{SVG_NS}" xmlns:inkscape="{INKSCAPE_NS}" version="1.1" {size} viewBox="0 0 {w} {h}">',
                 f'  <metadata><clipasso xmlns="urn:clipasso:sketch:1">{escape(json.dumps(self.metadata))}'
                 '</clipasso></metadata>']
        for n, layer in enumerate(self.layers, start=1):
            lines.append(f'  <g inkscape:groupmode="layer" inkscape:label="{n} {layer.color}" id="layer{n}" '
                         f'fill="none" stroke="{layer.color}" stroke-linecap="round" stroke-linejoin="round">')
            for path in layer.paths:
                lines.append(f'    <path d="{_path_data(path, k)}" stroke-width="{number(path[0].width * k)}"/>')
            lines.append("  </g>")
        lines += ["</svg>", ""]
        return "\n".join(lines)


def _path_data(path: list[Stroke], k: float) -> str:
    """One ``d`` for strokes drawn without lifting the pen: M at the first one's start, then a C
    per stroke (each from where the one before ends)."""
    (x, y) = path[0].points[0]
    parts = [f"M {number(x * k)} {number(y * k)}"]
    for stroke in path:
        parts.append("C " + " ".join(f"{number(px * k)} {number(py * k)}" for px, py in stroke.points[1:]))
    return " ".join(parts)


def plotter_drawing(sketch: Sketch, order: str = "travel", tolerance_px: float = MERGE_TOLERANCE_MM / MM_PER_PX,
                    ) -> PlotterDrawing:
    """The sketch laid out for a plotter: a layer per colour (the most important stroke's colour
    first), its strokes in ``order`` ("travel": little pen-up travel, from the pen's home at the
    top left; "importance": most important first), joined where they continue one another."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    by_colour: dict[str, list[Stroke]] = {}
    for stroke in importance_order(sketch.strokes):
        by_colour.setdefault(stroke.color, []).append(stroke)
    layers = []
    for color, strokes in by_colour.items():
        ordered = travel_order(strokes) if order == "travel" else strokes
        layers.append(Layer(color, merged(ordered, tolerance_px)))
    drawing = PlotterDrawing(sketch.width, sketch.height, layers, {})
    drawing.metadata = {**sketch.metadata, "plotter": {"order": order, "pen_up_px": round(drawing.pen_up, 3)}}
    return drawing
