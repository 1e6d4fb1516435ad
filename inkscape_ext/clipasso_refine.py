#!/usr/bin/env python3
"""Extensions > Sketch > Refine Sketch: the artist in the loop. The locked strokes of the selected
sketch stay exactly as they are; the core re-sketches the others around them.

A stroke is locked with Inkscape's own lock (``sodipodi:insensitive``: the padlock in Layers and
Objects, or Lock in Object Properties), on the path or on a group around it inside the sketch, or
by the core's ``data-locked="true"`` mark (PROTOCOL.md, "Refining with the artist"). The dialog's
"Lock the selected strokes" sets Inkscape's lock on the stroke paths selected with the sketch (Ctrl+
click, or enter the group), so it shows in the Objects dialog, lasts, and is undone there or with
Object > Unlock All.

A shape (rectangle, ellipse, star, path, ...) selected with the sketch is a region: only the strokes
inside it move (Refine), new strokes start in it (Add Strokes, Fill Erased). It is turned into a
polygon in the sketched image's px, every transform on the way taken into account, and removed.

The sibling effects Add Strokes (clipasso_add.py) and Fill Erased (clipasso_fill.py) share this
module's ``EditSketch``. Each runs the core once with ``--init`` (the sketch's strokes as a sketch
JSON, in the px of the image it was sketched from) and puts the result back into the same group:
moved strokes get their new curve in their own path (id, style, transform, place in the drawing
kept), new strokes are new paths at the end of the group, locked paths are not touched; the group's
transform, place and metadata stay, its recorded stroke count (``data-clipasso-count``) follows.
With levels, the shown level's sub-group is the sketch that is edited.
"""
import json
import math
import os
import tempfile

import inkex

from clipasso_contract import formats
from clipasso_contract.client import CoreError
from clipasso_contract.formats import FormatError
from clipasso_contract.geometry import rgb_to_hex
from clipasso_contract.options import EDIT_OPTIONS, EDITOR_BACKBONES, RUN_OPTIONS, run_arguments
from clipasso_bridge import (COUNT_ATTR, DIALOG_DEFAULTS, ID_ATTR, LEVEL_ATTR, LOCK_ATTRS, SKETCH_ATTR, STROKE_ATTR,
                             cubic_d, failure_text, find_core, fresh_ids, image_placement, level_groups, outline_d,
                             polygon_text, ring_area, run_core, sample_ring, sketch_of, weight_arguments)
from clipasso_sketch import SketchFromImage

ORIGINAL_D = "inkscape:original-d"
PATH_EFFECT = "inkscape:path-effect"
BRUSH_OF_EFFECT = {"taperstroke": "tapered", "powerstroke": "pressure"}
_NOT_REGIONS = (inkex.Group, inkex.TextElement, inkex.Use, inkex.Image)
"""Selected elements that are not a region shape (a group, text, a clone)."""


def _true(value) -> bool:
    return (value or "").strip().lower() in ("true", "1")


class EditSketch(SketchFromImage):
    """What Refine Sketch, Add Strokes and Fill Erased share: the dialog's run options, reading the
    selected sketch into a contract Sketch, the region shape, running the core, writing back."""

    TITLE = "Refine Sketch"

    def add_arguments(self, pars):
        pars.add_argument("--tab", default="options")
        self.add_edit_arguments(pars)
        for name in ("seeds", "iterations"):
            pars.add_argument(f"--{name}", type=int, default=DIALOG_DEFAULTS.get(name, RUN_OPTIONS[name].default),
                              help=RUN_OPTIONS[name].help)
        pars.add_argument("--preset", default=DIALOG_DEFAULTS.get("preset", RUN_OPTIONS["preset"].default),
                          choices=RUN_OPTIONS["preset"].choices, help=RUN_OPTIONS["preset"].help)
        pars.add_argument("--backbone", default=RUN_OPTIONS["backbone"].default, choices=EDITOR_BACKBONES,
                          help=RUN_OPTIONS["backbone"].help)
        pars.add_argument("--python", default="", help="a Python interpreter with clipasso_core")
        pars.add_argument("--core", default="", help="or the core's command on PATH")
        pars.add_argument("--clip_weights", default="", help="RN101 weights file (instead of downloading)")
        pars.add_argument("--saliency_weights", default="", help="ViT-B/32 weights file (instead of downloading)")

    def add_edit_arguments(self, pars):
        """The effect's own options (its first tab)."""

    def edit_values(self, count: int, recorded) -> dict:
        """The core's refine options (EDIT_OPTIONS names) for a sketch of ``count`` strokes whose
        recorded count is ``recorded`` (None: unknown); AbortExtension when there is nothing to do."""
        return {}

    def effect(self):
        try:
            self._edit()
        except inkex.AbortExtension as exc:
            raise inkex.AbortExtension(failure_text(self.TITLE, str(exc))) from None

    # -- the selection ------------------------------------------------------------------------

    def _selection(self):
        """(sketch group, strokes container, selected stroke paths, region shapes, image or None)."""
        sketches, picked, shapes, images = [], [], [], []
        for element in self.svg.selection.values():
            if isinstance(element, inkex.Image):
                images.append(element)
                continue
            sketch = sketch_of(element)
            if sketch is not None and (element is sketch or element.get(LEVEL_ATTR) is not None
                                       or element.get(STROKE_ATTR) is not None):
                if element.get(STROKE_ATTR) is not None:
                    picked.append(element)
                if all(sketch is not s for s in sketches):
                    sketches.append(sketch)
            elif isinstance(element, inkex.ShapeElement) and not isinstance(element, _NOT_REGIONS):
                shapes.append(element)
            else:
                raise inkex.AbortExtension(f"{self.TITLE} works on a sketch group and, optionally, one shape "
                                           f"drawn over it; the selection also holds a <{element.TAG}> "
                                           f"({element.get_id()}).")
        if not sketches:
            raise inkex.AbortExtension("Select a sketch group made by Extensions > Sketch > Sketch from Image "
                                       "(or strokes in it) first.")
        if len(sketches) > 1:
            raise inkex.AbortExtension(f"Select one sketch at a time; the selection holds {len(sketches)} "
                                       f"({', '.join(s.get_id() for s in sketches)}).")
        if len(shapes) > 1:
            raise inkex.AbortExtension(f"Select at most one shape as the region; the selection holds "
                                       f"{len(shapes)} ({', '.join(s.get_id() for s in shapes)}). "
                                       "Combine them first (Path > Union) if they are one region.")
        sketch = sketches[0]
        container = self._container(sketch, picked)
        picked = [p for p in picked if self._in(p, container)]
        return sketch, container, picked, shapes[0] if shapes else None, images[0] if images else None

    @staticmethod
    def _in(element, ancestor) -> bool:
        while element is not None:
            if element is ancestor:
                return True
            element = element.getparent()
        return False

    def _container(self, sketch, picked):
        """The group whose strokes are edited: the sketch group, or with levels the sub-group of
        the level the selected strokes are in, else the shown level."""
        levels = level_groups(sketch)
        if not levels:
            return sketch
        for path in picked:
            for group in levels.values():
                if self._in(path, group):
                    return group
        shown = [g for g in levels.values() if "display:none" not in (g.get("style") or "").replace(" ", "")]
        if len(shown) != 1:
            raise inkex.AbortExtension(f"Sketch {sketch.get_id()} has levels and {len(shown)} of them are shown; "
                                       "show one (Extensions > Sketch > Restyle Sketch, Levels tab) or select "
                                       "strokes of the level to edit.")
        return shown[0]

    # -- placement ----------------------------------------------------------------------------

    def _image(self, info, sketch, selected):
        if selected is not None:
            return selected
        image = self.svg.getElementById(str(info.get("image") or ""))
        if image is None or not isinstance(image, inkex.Image):
            raise inkex.AbortExtension(f"The image sketch {sketch.get_id()} was made from "
                                       f"({info.get('image') or 'unknown'}) is not in the drawing any more; "
                                       "select it together with the sketch.")
        return image

    @staticmethod
    def _place(info, image, size):
        """(sx, sy, tx, ty): image px -> the sketch group's user units, as Sketch from Image placed it
        (recorded in the group; worked out again from the image for sketches made before that)."""
        place = info.get("place")
        if isinstance(place, list) and len(place) == 4:
            return tuple(float(v) for v in place)
        if info.get("visible"):
            x, y, w, h = (float(v) for v in info["visible"])
            return w / size[0], h / size[1], x, y
        return image_placement(image.left, image.top, image.width, image.height,
                               image.get("preserveAspectRatio"), *size)

    @staticmethod
    def _relative(element, container):
        """Transform from ``element``'s own user units to ``container``'s."""
        return -container.composed_transform() @ element.composed_transform()

    # -- reading strokes ----------------------------------------------------------------------

    def _locked(self, path, sketch) -> bool:
        element = path
        while element is not None:
            if any(_true(element.get(attr)) for attr in LOCK_ATTRS):
                return True
            if element is sketch:
                return False
            element = element.getparent()
        return False

    def _brush(self, path):
        """(brush, its width in the path's units) of a path restyled with Taper or Power stroke,
        else (None, None)."""
        ref = (path.get(PATH_EFFECT) or "").split(";")[0].strip().lstrip("#")
        effect = self.svg.getElementById(ref) if ref else None
        if effect is None or BRUSH_OF_EFFECT.get(effect.get("effect")) is None:
            return None, None
        brush = BRUSH_OF_EFFECT[effect.get("effect")]
        try:
            if brush == "tapered":
                return brush, float(effect.get("stroke_width"))
            offsets = [float(p.split(",")[1]) for p in (effect.get("offset_points") or "").split("|") if "," in p]
            return brush, 2 * max(offsets)
        except (TypeError, ValueError):
            return brush, None

    def _stroke(self, path, container, place, locked, stroke_id):
        """The contract Stroke of a stroke path (in image px)."""
        sx, sy, tx, ty = place
        relative = self._relative(path, container)
        brush, brush_width = self._brush(path)
        centreline = path.get(ORIGINAL_D) if brush else path.get("d")
        rings = inkex.Path(centreline or "").to_superpath()
        if len(rings) != 1 or len(rings[0]) != 2:
            raise inkex.AbortExtension(f"Stroke {path.get_id()} is no longer one curve (it was edited into "
                                       f"{sum(max(len(r) - 1, 0) for r in rings)} segments); undo that edit "
                                       "or delete the stroke.")
        (_, p0, p1), (p2, p3, _) = rings[0]
        points = []
        for x, y in (p0, p1, p2, p3):
            u = relative.apply_to_point((x, y))
            points.append(((u.x - tx) / sx, (u.y - ty) / sy))
        style = path.specified_style()
        scale = math.sqrt(abs(relative.a * relative.d - relative.b * relative.c)) / math.sqrt(sx * sy)
        paint = "fill" if brush else "stroke"
        try:
            color = rgb_to_hex(inkex.Color(style.get(paint) or "#000000").to_rgb().to_floats())
        except (inkex.colors.ColorError, ValueError, TypeError):
            color = "#000000"
        width = brush_width if brush else self._number(style.get("stroke-width"), 1.0)
        opacity = self._number(style.get(f"{paint}-opacity"), 1.0) * self._number(style.get("opacity"), 1.0)
        return formats.Stroke(points, max((width or 1.0) * scale, 1e-3), color, min(max(opacity, 0.0), 1.0),
                              id=stroke_id, locked=locked)

    @staticmethod
    def _number(text, default: float) -> float:
        try:
            value = float(inkex.units.convert_unit(str(text), "px")) if text not in (None, "") else default
        except (TypeError, ValueError):
            return default
        return value if math.isfinite(value) else default

    # -- the region ---------------------------------------------------------------------------

    def _region(self, shape, container, place):
        """The core's --region polygon of ``shape`` (its largest subpath, curves sampled), in image px."""
        sx, sy, tx, ty = place
        to_container = -container.composed_transform() @ shape.composed_transform()
        try:
            rings = shape.path.transform(to_container).to_superpath()
        except (AttributeError, TypeError, ValueError):
            rings = []
        polygons = [[((x - tx) / sx, (y - ty) / sy) for x, y in sample_ring(ring)] for ring in rings]
        polygons = [p for p in polygons if len(p) >= 3]
        try:
            return polygon_text(max(polygons, key=ring_area)) if polygons else polygon_text([])
        except ValueError:
            raise inkex.AbortExtension(f"The shape {shape.get_id()} encloses no area, so it cannot be the region.")

    # -- the run ------------------------------------------------------------------------------

    def _edit(self):
        sketch_group, container, picked, shape, chosen_image = self._selection()
        try:
            info = json.loads(sketch_group.get(SKETCH_ATTR))
            assert isinstance(info, dict)
        except (ValueError, TypeError, AssertionError):
            raise inkex.AbortExtension(f"The sketch data of {sketch_group.get_id()} is damaged "
                                       f"({SKETCH_ATTR}); sketch the image again.")
        paths = [p for p in container.descendants() if isinstance(p, inkex.PathElement)
                 and p.get(STROKE_ATTR) is not None]
        lock_picked = getattr(self.options, "lock_selected", False)
        if not paths and self.TITLE == "Refine Sketch":
            raise inkex.AbortExtension(f"Sketch {sketch_group.get_id()} has no strokes left to refine.")
        image = self._image(info, sketch_group, chosen_image)
        try:
            command = find_core(self.options.core, self.options.python)
            weights = weight_arguments(vars(self.options)) if self.options.backbone == "openai" else []
        except CoreError as exc:
            raise inkex.AbortExtension(str(exc))
        with tempfile.TemporaryDirectory(prefix="clipasso-edit-") as tmp:
            source_path = self._image_file(image, tmp)
            source, _, size, _ = self._visible(image, source_path, tmp)
            recorded_size = info.get("size")
            if isinstance(recorded_size, list) and len(recorded_size) == 2:
                size = (float(recorded_size[0]), float(recorded_size[1]))
            if size is None:
                raise inkex.AbortExtension(f"The size of image {image.get_id()} cannot be read here; "
                                           "sketch it again with Sketch from Image.")
            place = self._place(info, image, size)
            ids = fresh_ids([self._id(p) for p in paths])
            picked_ids = {id(p) for p in picked}
            locked = [self._locked(p, sketch_group) or (lock_picked and id(p) in picked_ids) for p in paths]
            strokes = [self._stroke(p, container, place, lock, i) for p, lock, i in zip(paths, locked, ids)]
            recorded = self._recorded_count(container, info)
            values = self.edit_values(len(strokes), recorded)
            if shape is not None:
                values["region"] = self._region(shape, container, place)
            if not values.get("add") and not values.get("fill_to") and strokes and all(locked):
                raise inkex.AbortExtension("Every stroke of the sketch is locked, so nothing would move; unlock "
                                           "some (Objects dialog, or Object > Unlock All).")
            init = formats.Sketch(size[0], size[1], strokes, {"generator": "clipasso-inkscape"})
            init_path = os.path.join(tmp, "init.json")
            with open(init_path, "w", encoding="utf-8") as handle:
                handle.write(init.to_json())
            run_values = {"preset": self.options.preset, "seeds": self.options.seeds,
                          "iterations": self.options.iterations, "backbone": self.options.backbone,
                          **values}
            mask = (info.get("settings") or {}).get("mask")
            if mask in RUN_OPTIONS["mask"].choices:
                run_values["mask"] = mask
            try:
                arguments = ["--init", init_path, *run_arguments(run_values), *weights]
            except FormatError as exc:
                raise inkex.AbortExtension(f"Invalid setting: {exc}")
            try:
                result = run_core(command, source, arguments)
            except CoreError as exc:
                raise inkex.AbortExtension(f"Refining {sketch_group.get_id()} failed: {exc}")
        self._write_back(result, sketch_group, container, paths, ids, locked, place, size, info)
        for path, lock in zip(paths, locked):
            if lock and lock_picked and id(path) in picked_ids:
                path.set(LOCK_ATTRS[0], "true")
        if shape is not None:
            shape.getparent().remove(shape)

    @staticmethod
    def _id(path):
        text = (path.get(ID_ATTR) or "").strip()
        return int(text) if text.isdigit() else None

    @staticmethod
    def _recorded_count(container, info):
        for text in (container.get(COUNT_ATTR), container.get(LEVEL_ATTR),
                     str((info.get("settings") or {}).get("strokes", ""))):
            if text and str(text).strip().isdigit():
                return int(text)
        return None

    def _write_back(self, result, sketch_group, container, paths, ids, locked, place, size, info):
        """The core's result into the container: moved strokes into their paths, new ones as new
        paths, ranks renewed; locked paths untouched but for their rank."""
        ratio_x, ratio_y = size[0] / result.width, size[1] / result.height
        sx, sy, tx, ty = place
        by_id = {i: (p, lock) for p, i, lock in zip(paths, ids, locked)}
        ranked = sorted(enumerate(result.strokes), key=lambda item: (item[1].rank if item[1].rank is not None
                                                                     else item[0], item[0]))
        for rank, (_, stroke) in enumerate(ranked):
            points = [(x * ratio_x * sx + tx, y * ratio_y * sy + ty) for x, y in stroke.points]
            found = by_id.get(stroke.id)
            if found is None:
                scaled = formats.Stroke([(x * ratio_x, y * ratio_y) for x, y in stroke.points],
                                        stroke.width * math.sqrt(ratio_x * ratio_y), stroke.color, stroke.opacity,
                                        stroke.id, stroke.rank)
                path = self._stroke_path(container, scaled, rank, place,
                                         self.svg.get_unique_id(f"{container.get_id()}-stroke"), "added stroke")
                continue
            path, lock = found
            path.set(STROKE_ATTR, str(rank))
            path.set(ID_ATTR, str(stroke.id))
            if lock:
                continue
            inverse = -self._relative(path, container)
            own = [tuple(inverse.apply_to_point(p)) for p in points]
            brush, width = self._brush(path)
            if brush:
                path.set(ORIGINAL_D, cubic_d(own))
                path.set("d", outline_d(own, width or 1.0, brush))
            else:
                path.set("d", cubic_d(own))
        container.set(COUNT_ATTR, str(len(result.strokes)))
        info["metadata"] = result.metadata
        info.setdefault("place", list(place))
        info.setdefault("size", list(size))
        sketch_group.set(SKETCH_ATTR, json.dumps(info))


class RefineSketch(EditSketch):
    """Refine (or, with "Draw them again", re-sketch afresh) the unlocked strokes of the selected
    sketch around the locked ones."""

    TITLE = "Refine Sketch"

    def add_edit_arguments(self, pars):
        pars.add_argument("--lock_selected", type=inkex.Boolean, default=True,
                          help="lock the stroke paths selected with the sketch (Inkscape's own lock)")
        pars.add_argument("--resketch", type=inkex.Boolean, default=False, help=EDIT_OPTIONS["resketch"].help)

    def edit_values(self, count, recorded):
        # --move auto: every unlocked stroke (inside the region, when there is one)
        return {"resketch": True} if self.options.resketch else {}


if __name__ == "__main__":
    RefineSketch().run()
