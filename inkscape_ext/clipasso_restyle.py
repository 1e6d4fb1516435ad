#!/usr/bin/env python3
"""Extensions > Sketch > Restyle sketch: width, colour, opacity, caps and brush of sketch strokes.

Works on selected sketch groups (made by "Sketch from image") or on their stroke paths. Brushes:
"uniform" is a plain stroked centreline; "tapered" and "pressure" use Inkscape's own live path
effects (Taper stroke, Power stroke) on the centreline, which stays in ``inkscape:original-d`` and
editable; the path's ``d`` holds the filled outline, so other SVG renderers draw the same. Applying
"uniform" again removes the effect and restores the plain stroke.

Restyling acts on the strokes of every level of a levels sketch; "Show level" switches which level
of the selected levels sketches is visible (0 keeps it), and with "Apply the style" off only that.
"""
import json

import inkex

from clipasso_contract.geometry import rgb_to_hex
from clipasso_contract.options import RUN_OPTIONS
from clipasso_bridge import (BRUSHES, LEVEL_ATTR, SKETCH_ATTR, STROKE_ATTR, failure_text, level_groups, outline_d,
                             parse_cubic, show_level, sketch_of)

ORIGINAL_D = "inkscape:original-d"
PATH_EFFECT = "inkscape:path-effect"


class RestyleSketch(inkex.EffectExtension):
    """Restyle the strokes of the selected sketches."""

    def add_arguments(self, pars):
        pars.add_argument("--tab", default="options")
        pars.add_argument("--stroke_width", type=float, default=2.0)
        pars.add_argument("--color", type=inkex.Color, default=inkex.Color(RUN_OPTIONS["color"].default))
        pars.add_argument("--opacity", type=float, default=RUN_OPTIONS["opacity"].default)
        pars.add_argument("--caps", default="round", choices=("round", "butt", "square"))
        pars.add_argument("--brush", default=BRUSHES[0], choices=BRUSHES)
        pars.add_argument("--apply_style", type=inkex.Boolean, default=True,
                          help="restyle the strokes (off: only switch the shown level)")
        pars.add_argument("--show_level", type=int, default=0,
                          help="levels sketches: the level to show (0 = keep the shown one)")

    def effect(self):
        try:
            self._restyle_selection()
        except inkex.AbortExtension as exc:
            raise inkex.AbortExtension(failure_text("Restyle Sketch", str(exc))) from None

    def _restyle_selection(self):
        if self.options.brush not in BRUSHES:
            raise inkex.AbortExtension(f"Unknown brush {self.options.brush!r}.")
        if self.options.stroke_width <= 0:
            raise inkex.AbortExtension("The stroke width must be greater than 0.")
        strokes, sketches = [], []
        for element in self.svg.selection.values():
            if element.get(SKETCH_ATTR) is not None or element.get(LEVEL_ATTR) is not None:
                strokes += [p for p in element.descendants() if p.get(STROKE_ATTR) is not None]
            elif element.get(STROKE_ATTR) is not None:
                strokes.append(element)
            sketch = sketch_of(element)
            if sketch is not None and all(sketch is not s for s in sketches):
                sketches.append(sketch)
        if not strokes and not sketches:
            raise inkex.AbortExtension("Select sketch groups or sketch strokes made by "
                                       "Extensions > Sketch > Sketch from image.")
        count = self.options.show_level
        if count:
            # every selected levels sketch must have the level before anything changes
            with_levels = [s for s in sketches if level_groups(s)]
            if not with_levels:
                raise inkex.AbortExtension(f"Show level {count}: the selection holds no sketch made with "
                                           "Levels (Extensions > Sketch > Sketch from Image, Levels tab).")
            for sketch in with_levels:
                if count not in level_groups(sketch):
                    counts = ", ".join(map(str, sorted(level_groups(sketch), reverse=True)))
                    raise inkex.AbortExtension(f"Sketch {sketch.get_id()} has no level of {count} strokes "
                                               f"(its levels: {counts}).")
        if self.options.apply_style:
            for path in dict((id(p), p) for p in strokes).values():
                self._restyle(path)
        if count:
            for sketch in with_levels:
                show_level(sketch, count)
                self._record_shown(sketch, count)

    @staticmethod
    def _record_shown(sketch, count):
        try:
            info = json.loads(sketch.get(SKETCH_ATTR))
            info.setdefault("settings", {})["show_level"] = count
        except (ValueError, AttributeError, TypeError):
            return
        sketch.set(SKETCH_ATTR, json.dumps(info))

    def _restyle(self, path):
        o = self.options
        color = rgb_to_hex(o.color.to_rgb().to_floats())
        centreline = path.get(ORIGINAL_D) or path.get("d")
        try:
            points = parse_cubic(centreline)
        except ValueError:
            raise inkex.AbortExtension(f"Stroke {path.get_id()} is no longer a single cubic curve; "
                                       "restyling needs the sketch's original strokes.")
        self._remove_effect(path)
        style = inkex.Style(path.get("style") or "")
        for key in ("fill", "stroke", "stroke-width", "stroke-opacity", "fill-opacity",
                    "stroke-linecap", "stroke-linejoin"):
            style.pop(key, None)
        if o.brush == "uniform":
            path.set("d", centreline)
            style.update({"fill": "none", "stroke": color, "stroke-width": f"{o.stroke_width:g}",
                          "stroke-opacity": f"{o.opacity:g}", "stroke-linecap": o.caps,
                          "stroke-linejoin": "round"})
        else:
            effect = self._effect_element(o.brush, o.stroke_width, path.get_id())
            path.set(ORIGINAL_D, centreline)
            path.set(PATH_EFFECT, f"#{effect.get_id()}")
            path.set("d", outline_d(points, o.stroke_width, o.brush))
            style.update({"fill": color, "fill-opacity": f"{o.opacity:g}", "stroke": "none"})
        path.set("style", str(style))

    def _remove_effect(self, path):
        ref = path.get(PATH_EFFECT)
        if ref:
            effect = self.svg.getElementById(ref.lstrip("#"))
            if effect is not None:
                effect.getparent().remove(effect)
        for attr in (PATH_EFFECT, ORIGINAL_D):
            if path.get(attr) is not None:
                path.attrib.pop(inkex.addNS(attr.split(":")[1], "inkscape"), None)

    def _effect_element(self, brush, width, owner):
        """A new Taper stroke or Power stroke path effect in <defs>, for one path."""
        half = width / 2
        attributes = {
            "tapered": {"effect": "taperstroke", "stroke_width": f"{width:g}", "attach_start": "0.2",
                        "end_offset": "0.2", "smoothing": "0.5", "jointype": "extrapolated",
                        "miter_limit": "100"},
            "pressure": {"effect": "powerstroke", "sort_points": "true", "interpolator_type": "CubicBezierSmooth",
                         "offset_points": f"0.1,{0.45 * half:g} | 0.5,{half:g} | 0.9,{0.45 * half:g}",
                         "interpolator_beta": "0.2", "start_linecap_type": "round",
                         "end_linecap_type": "round", "linejoin_type": "round", "miter_limit": "4",
                         "scale_width": "1"},
        }[brush]
        effect = inkex.PathEffect()
        effect.set("id", self.svg.get_unique_id(f"clipasso-{brush}-{owner}-"))
        for key, value in {"is_visible": "true", "lpeversion": "1", **attributes}.items():
            effect.set(key, value)
        self.svg.defs.add(effect)
        return effect


if __name__ == "__main__":
    RestyleSketch().run()
