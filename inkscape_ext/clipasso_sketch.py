#!/usr/bin/env python3
"""Extensions > Sketch > Sketch from image: the selected images become editable line sketches.

Each selected <image> (embedded data URI or linked file) is sketched by the clipasso core, run as a
separate process, and the strokes are added as a group of plain cubic <path> elements exactly over
the image (its box, preserveAspectRatio and transform; document units and viewBox respected). The
group keeps the sketch metadata and settings in ``data-clipasso-sketch`` for refining or restyling.
Several selected images are sketched together in one run of the core (``clipasso batch``); one that
fails is named in a message and the others are placed (the document is unchanged only when all fail).

The sketch covers what the artist sees: an image cropped by its box (``preserveAspectRatio`` with
``slice``) is cropped to its visible part before sketching, one stretched by ``none`` is sketched
stretched. The stroke width is asked on the page (px, mm, ...; 0: automatic, the paper's 3/224 of
the image's longer side) and converted to the core's canvas px with the image's size on the page.

Strokes are added most important first (``data-clipasso-stroke`` = rank, ``data-clipasso-id`` = the
stroke's identity). With Levels (e.g. "16,8,4", one run of the core), the group holds one sub-group
per level (``data-clipasso-level``, label "Level 16"), the chosen one shown and the others hidden
(``display:none``); Extensions > Sketch > Restyle Sketch switches the shown level.
"""
import base64
import json
import math
import os
import re
import shutil
import tempfile
from urllib.parse import unquote

import inkex

from clipasso_contract.client import CoreError
from clipasso_contract.geometry import rgb_to_hex
from clipasso_contract.formats import FormatError
from clipasso_contract.options import EDITOR_BACKBONES, RUN_OPTIONS, parse_levels, run_arguments
from clipasso_bridge import (AUTOMATIC_WIDTH, COUNT_ATTR, DIALOG_DEFAULTS, ID_ATTR, LEVEL_ATTR, LEVELS_TAB, MENU,
                             SKETCH_ATTR, SKETCH_TAB, STROKE_ATTR, WIDTH_UNITS, canvas_width, crop_image, crop_size,
                             cubic_d, failure_text, find_core, image_placement, image_size, rank_order, run_batch,
                             run_core, show_level, visible_part, weight_arguments, width_range)

_MIME_SUFFIX = {"image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/webp": ".webp",
                "image/bmp": ".bmp", "image/gif": ".gif", "image/tiff": ".tif"}


def _default(name):
    """The dialog's default of a run option: DIALOG_DEFAULTS, else the contract's."""
    return DIALOG_DEFAULTS.get(name, RUN_OPTIONS[name].default)


def _core_width(canvas):
    """The ``--width`` a canvas width is sent as (4 decimals), alone or in a batch's list."""
    return round(canvas, 4)


class SketchFromImage(inkex.EffectExtension):
    """Sketch every selected image into a group of stroke paths."""

    def add_arguments(self, pars):
        # the run options' defaults and choices are the contract's, except the dialog's own
        # DIALOG_DEFAULTS (tests/test_inkscape_inx.py checks the .inx against both)
        pars.add_argument("--tab", default="options")
        for name in ("strokes", "seeds", "iterations"):
            pars.add_argument(f"--{name}", type=int, default=_default(name), help=RUN_OPTIONS[name].help)
        for name in ("preset", "mask"):
            pars.add_argument(f"--{name}", default=_default(name), choices=RUN_OPTIONS[name].choices,
                              help=RUN_OPTIONS[name].help)
        pars.add_argument("--stroke_width", type=float, default=0.0,
                          help="stroke width on the page in --width_unit (0: automatic, the core's default)")
        pars.add_argument("--width_unit", default=WIDTH_UNITS[0], choices=WIDTH_UNITS,
                          help="unit of --stroke_width")
        pars.add_argument("--color", type=inkex.Color, default=inkex.Color(RUN_OPTIONS["color"].default),
                          help=RUN_OPTIONS["color"].help)
        pars.add_argument("--backbone", default=RUN_OPTIONS["backbone"].default, choices=EDITOR_BACKBONES,
                          help=RUN_OPTIONS["backbone"].help)
        pars.add_argument("--levels", default=RUN_OPTIONS["levels"].default, help=RUN_OPTIONS["levels"].help)
        pars.add_argument("--show_level", type=int, default=0,
                          help="with levels: the level shown (0 = the largest); the others are hidden")
        pars.add_argument("--python", default="", help="a Python interpreter with clipasso_core")
        pars.add_argument("--core", default="", help="or the core's command on PATH (both empty: the core "
                                                     "'clipasso integrate inkscape' set up, else clipasso)")
        pars.add_argument("--clip_weights", default="", help="RN101 weights file (instead of downloading)")
        pars.add_argument("--saliency_weights", default="", help="ViT-B/32 weights file (instead of downloading)")

    def effect(self):
        try:
            self._sketch_selection()
        except inkex.AbortExtension as exc:
            raise inkex.AbortExtension(failure_text("Sketch from Image", str(exc))) from None

    def _sketch_selection(self):
        selected = list(self.svg.selection.values())
        if not selected:
            raise inkex.AbortExtension("Select one or more images to sketch first.")
        others = [el for el in selected if not isinstance(el, inkex.Image)]
        if others:
            raise inkex.AbortExtension(
                f"Only images can be sketched; the selection also holds a <{others[0].TAG}> "
                f"({others[0].get_id()}). Select images only.")
        self._check_levels()
        if self.options.stroke_width < 0:
            raise inkex.AbortExtension(f"Stroke width must be 0 (automatic) or more ({SKETCH_TAB}).")
        try:
            command = find_core(self.options.core, self.options.python)
            weights = weight_arguments(vars(self.options)) if self.options.backbone == "openai" else []
        except CoreError as exc:
            raise inkex.AbortExtension(str(exc))
        # every image is sketched before the document is touched: a failure leaves it unchanged
        if len(selected) == 1:
            results, failures = [self._sketch_alone(command, selected[0], weights)], []
        else:
            results, failures = self._sketch_together(command, selected, weights)
        if not results:
            raise inkex.AbortExtension("\n".join(failures))
        for image, sketch, box, cropped in results:
            self._add_sketch(image, sketch, box, cropped)
        if failures:
            inkex.errormsg(f"Sketch from Image: {len(failures)} of {len(selected)} images could not be sketched; "
                           "the others were.\n" + "\n".join(failures))

    def _sketch_alone(self, command, image, weights):
        """One image, one run of the core: (image, sketch, box, cropped); AbortExtension on failure."""
        with tempfile.TemporaryDirectory(prefix="clipasso-img-") as tmp:
            path = self._image_file(image, tmp)
            source, box, size, per_px = self._visible(image, path, tmp)
            options = self._core_options(self._canvas_width(image, size, per_px))
            try:
                sketch = run_core(command, source, options + weights)
            except CoreError as exc:
                raise inkex.AbortExtension(f"Sketching {image.get_id()} failed: {exc}")
            return image, sketch, box, source != path

    def _sketch_together(self, command, images, weights):
        """Several images, one run of the core (``run_batch``): the results of those sketched, as
        ``_sketch_alone``'s, and one line for each that failed. Each image is sketched at the stroke
        width it gets alone."""
        ready, failures = [], []
        with tempfile.TemporaryDirectory(prefix="clipasso-img-") as tmp:
            for k, image in enumerate(images):
                folder = os.path.join(tmp, str(k))
                os.mkdir(folder)
                try:
                    path = self._image_file(image, folder)
                    source, box, size, per_px = self._visible(image, path, folder)
                    ready.append((image, source, box, source != path,
                                  _core_width(self._canvas_width(image, size, per_px))))
                except inkex.AbortExtension as exc:
                    failures.append(str(exc))
            if not ready:
                return [], failures
            try:
                sketches = run_batch(command, [source for _, source, *_ in ready], [own for *_, own in ready],
                                     self._core_options(None) + weights)
            except CoreError as exc:
                raise inkex.AbortExtension(f"Sketching {', '.join(r[0].get_id() for r in ready)} failed: {exc}")
        results = []
        for (image, _, box, cropped, _), sketch in zip(ready, sketches):
            if isinstance(sketch, CoreError):
                failures.append(f"Sketching {image.get_id()} failed: {sketch}")
            else:
                results.append((image, sketch, box, cropped))
        return results, failures

    def _check_levels(self):
        """The Levels text and the Show level, checked before anything runs."""
        try:
            self.level_counts = parse_levels(self.options.levels or "")
        except FormatError as exc:
            raise inkex.AbortExtension(f"Invalid setting: {exc} (Levels in the {LEVELS_TAB}).")
        shown = self.options.show_level
        if shown and shown not in self.level_counts:
            raise inkex.AbortExtension(
                f"Show level {shown} is not one of the levels "
                f"({', '.join(map(str, self.level_counts)) or 'none: fill in Levels, e.g. 16,8,4'}); "
                "0 shows the largest.")

    def _visible(self, image, path, folder):
        """What to sketch of ``image`` (its pixels in the file ``path``): (file, user_box, px size,
        user units per px). The file is ``path`` when the box shows the whole image at one scale,
        else a crop of the visible part (``slice``), or the image stretched as shown (``none``).
        user_box (x, y, w, h) is where the sketched pixels lie in the image's user units (None: the
        whole image, placed by preserveAspectRatio); size and user units per px are None when the
        image's size is unknown (a format read by the core only)."""
        size = image_size(path)
        if size is None:
            return path, None, None, None
        aspect = image.get("preserveAspectRatio")
        part = visible_part(image.left, image.top, image.width, image.height, aspect, *size)
        if part is None:
            raise inkex.AbortExtension(f"Image {image.get_id()} shows nothing: its width or height is 0.")
        px_box, user_box = part
        crop = crop_size(px_box, user_box, *size)
        if crop is None:
            sx, sy, _, _ = image_placement(image.left, image.top, image.width, image.height, aspect, *size)
            return path, None, size, math.sqrt(sx * sy)
        inkscape = os.environ.get("INKSCAPE_COMMAND") or shutil.which("inkscape")
        try:
            cropped = crop_image(path, px_box, crop, size, os.path.join(folder, "visible.png"), inkscape)
        except CoreError as exc:
            raise inkex.AbortExtension(f"Sketching {image.get_id()} failed: {exc}")
        return cropped, user_box, crop, math.sqrt(user_box[2] / crop[0] * user_box[3] / crop[1])

    def _canvas_width(self, image, size, per_px):
        """The core's --width for the dialog's Stroke width on the page (0: automatic)."""
        o = self.options
        if not o.stroke_width:
            return AUTOMATIC_WIDTH
        if size is None:
            raise inkex.AbortExtension(f"The size of image {image.get_id()} cannot be read here, so a stroke width "
                                       f"on the page cannot be converted: set Stroke width to 0 (automatic) in "
                                       f"the {SKETCH_TAB}.")
        matrix = image.composed_transform().matrix
        page_scale = math.sqrt(abs(matrix[0][0] * matrix[1][1] - matrix[0][1] * matrix[1][0]))
        unit = float(self.svg.viewport_to_unit(f"1{o.width_unit}"))  # user units of one width unit
        page_per_px = per_px * page_scale / unit  # width units per image px
        width = canvas_width(o.stroke_width, page_per_px, *size)
        option = RUN_OPTIONS["stroke_width"]
        if not option.minimum <= width <= option.maximum:
            low, high = width_range(page_per_px, *size)
            raise inkex.AbortExtension(
                f"Stroke width {o.stroke_width:g} {o.width_unit} is too {'thin' if width < option.minimum else 'wide'} "
                f"for image {image.get_id()} at its size on the page: choose from {low:.3g} to {high:.3g} "
                f"{o.width_unit}, or 0 for automatic ({SKETCH_TAB}).")
        return width

    def _core_options(self, canvas):
        """The core's run flags for the dialog's options at stroke width ``canvas`` (canvas px; None:
        no --width, as for a batch, whose list gives each image its own)."""
        o = self.options
        values = {"strokes": o.strokes, "seeds": o.seeds, "preset": o.preset, "mask": o.mask,
                  "stroke_width": None if canvas is None else _core_width(canvas), "backbone": o.backbone,
                  "iterations": o.iterations, "color": rgb_to_hex(o.color.to_rgb().to_floats()),
                  "levels": o.levels or ""}
        if canvas is None:
            del values["stroke_width"]
        try:
            return run_arguments(values)
        except FormatError as exc:
            raise inkex.AbortExtension(f"Invalid setting in {MENU}: {exc}")

    def _image_file(self, image, folder):
        """A file holding the image's pixels: the decoded data URI, or the linked file."""
        href = image.get("xlink:href") or image.get("href") or ""
        if href.startswith("data:"):
            match = re.match(r"data:([\w/+.-]+)?(;[^,]*)?,(.*)", href, re.S)
            if not match or "base64" not in (match.group(2) or ""):
                raise inkex.AbortExtension(f"Image {image.get_id()} has an unsupported embedded data URI.")
            path = os.path.join(folder, "image" + _MIME_SUFFIX.get((match.group(1) or "").lower(), ".png"))
            try:
                data = base64.b64decode(re.sub(r"\s+", "", match.group(3)))
            except ValueError:
                raise inkex.AbortExtension(f"Image {image.get_id()} has corrupt embedded data.")
            with open(path, "wb") as handle:
                handle.write(data)
            return path
        if not href:
            raise inkex.AbortExtension(f"Image {image.get_id()} has no link or data.")
        if href.startswith("file://"):
            href = unquote(href[len("file://"):])
        if os.path.isabs(href):
            candidates = [href]
        else:
            # Inkscape rebases relative links onto the temporary copy it hands us; the saved
            # document's folder is the fallback (and the only base when run outside Inkscape)
            bases = [os.path.dirname(os.path.abspath(self.options.input_file or "")),
                     os.path.dirname(self.document_path() or "")]
            candidates = [os.path.join(base, unquote(href)) for base in bases if base]
        for path in candidates:
            if os.path.isfile(path):
                return path
        raise inkex.AbortExtension(f"The linked file of image {image.get_id()} was not found: "
                                   f"{candidates[-1] if candidates else href}")

    def _add_sketch(self, image, sketch, box=None, cropped=False):
        """Add ``sketch`` (a contract ``Sketch``) as a group of stroke paths right after ``image``:
        the strokes in rank order, or with levels one hidden-or-shown sub-group of them per level.
        ``box``: where the sketched pixels lie (x, y, w, h, user units); None: the whole image
        placed by its preserveAspectRatio."""
        if box is None:
            sx, sy, tx, ty = image_placement(image.left, image.top, image.width, image.height,
                                             image.get("preserveAspectRatio"), sketch.width, sketch.height)
        else:
            sx, sy, tx, ty = box[2] / sketch.width, box[3] / sketch.height, box[0], box[1]
        group = inkex.Group()
        group.set("id", self.svg.get_unique_id(f"sketch-{image.get_id()}-"))
        label = image.label or image.get_id()
        group.label = f"Sketch of {label}"
        group.transform = inkex.Transform(image.transform)
        settings = {k: getattr(self.options, k) for k in ("strokes", "seeds", "preset", "mask", "stroke_width",
                                                          "width_unit")}
        counts = [level.count for level in sketch.levels]
        shown = self.options.show_level if self.options.show_level in counts else (counts or [0])[0]
        if counts:
            settings.update(strokes=counts[0], levels=",".join(map(str, counts)), show_level=shown)
        # place (image px -> the group's user units: x * sx + tx, y * sy + ty) and the sketched
        # px size: what Refine Sketch, Add Strokes and Fill Erased map strokes and regions with
        info = {"metadata": sketch.metadata, "settings": settings, "image": image.get_id(), "scale": (sx, sy),
                "place": [sx, sy, tx, ty], "size": [sketch.width, sketch.height]}
        if cropped:
            info["visible"] = list(box)  # the part of the image sketched, in the image's user units
        if counts:
            info["levels"] = [{"count": level.count, "loss": level.loss} for level in sketch.levels]
        group.set(SKETCH_ATTR, json.dumps(info))
        image.addnext(group)
        place = (sx, sy, tx, ty)
        if not counts:
            group.set(COUNT_ATTR, str(len(sketch.strokes)))
            self._add_strokes(group, sketch.strokes, place, group.get_id())
            return
        for level in sketch.levels:
            sub = group.add(inkex.Group())
            sub.set("id", self.svg.get_unique_id(f"{group.get_id()}-level{level.count}-"))
            sub.set(LEVEL_ATTR, str(level.count))
            sub.label = f"Level {level.count}"
            self._add_strokes(sub, level.strokes, place, sub.get_id())
        show_level(group, shown)

    def _add_strokes(self, parent, strokes, place, prefix):
        for rank, stroke in rank_order(strokes):
            self._stroke_path(parent, stroke, rank, place, f"{prefix}-stroke{rank + 1}", f"stroke {rank + 1}")

    @staticmethod
    def _stroke_path(parent, stroke, rank, place, path_id, label):
        """A new plain stroked <path> of ``stroke`` (a contract Stroke in image px, placed by
        ``place`` = (sx, sy, tx, ty)) at the end of ``parent``."""
        sx, sy, tx, ty = place
        points = [(x * sx + tx, y * sy + ty) for x, y in stroke.points]
        path = parent.add(inkex.PathElement())
        path.set("id", path_id)
        path.set("d", cubic_d(points))
        path.set(STROKE_ATTR, str(rank))
        if stroke.id is not None:
            path.set(ID_ATTR, str(stroke.id))
        path.label = label
        path.style = inkex.Style({
            "fill": "none", "stroke": stroke.color,
            "stroke-width": f"{stroke.width * (sx * sy) ** 0.5:.4f}",
            "stroke-opacity": f"{stroke.opacity:g}", "stroke-linecap": "round",
            "stroke-linejoin": "round"})
        return path


if __name__ == "__main__":
    SketchFromImage().run()
