#!/usr/bin/env python3
"""Extensions > Sketch > Sketch from image: the selected images become editable line sketches.

Each selected <image> (embedded data URI or linked file) is sketched by the clipasso core, run as a
separate process, and the strokes are added as a group of plain cubic <path> elements exactly over
the image (its box, preserveAspectRatio and transform; document units and viewBox respected). The
group keeps the sketch metadata and settings in ``data-clipasso-sketch`` for refining or restyling.

Strokes are added most important first (``data-clipasso-stroke`` = rank, ``data-clipasso-id`` = the
stroke's identity). With Levels (e.g. "16,8,4", one run of the core), the group holds one sub-group
per level (``data-clipasso-level``, label "Level 16"), the chosen one shown and the others hidden
(``display:none``); Extensions > Sketch > Restyle Sketch switches the shown level.
"""
import base64
import json
import os
import re
import tempfile
from urllib.parse import unquote

import inkex

from clipasso_contract.client import CoreError
from clipasso_contract.geometry import rgb_to_hex
from clipasso_contract.formats import FormatError
from clipasso_contract.options import EDITOR_BACKBONES, RUN_OPTIONS, parse_levels, run_arguments
from clipasso_bridge import (ID_ATTR, LEVEL_ATTR, SKETCH_ATTR, STROKE_ATTR, core_command, cubic_d, image_placement,
                             rank_order, run_core, show_level)

_MIME_SUFFIX = {"image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/webp": ".webp",
                "image/bmp": ".bmp", "image/gif": ".gif", "image/tiff": ".tif"}


class SketchFromImage(inkex.EffectExtension):
    """Sketch every selected image into a group of stroke paths."""

    def add_arguments(self, pars):
        # the run options' defaults and choices are the contract's (tests/test_inkscape_inx.py
        # checks the .inx against the same table)
        pars.add_argument("--tab", default="options")
        for name in ("strokes", "seeds", "iterations"):
            pars.add_argument(f"--{name}", type=int, default=RUN_OPTIONS[name].default,
                              help=RUN_OPTIONS[name].help)
        for name in ("preset", "mask"):
            pars.add_argument(f"--{name}", default=RUN_OPTIONS[name].default,
                              choices=RUN_OPTIONS[name].choices, help=RUN_OPTIONS[name].help)
        pars.add_argument("--stroke_width", type=float, default=RUN_OPTIONS["stroke_width"].default,
                          help=RUN_OPTIONS["stroke_width"].help)
        pars.add_argument("--color", type=inkex.Color, default=inkex.Color(RUN_OPTIONS["color"].default),
                          help=RUN_OPTIONS["color"].help)
        pars.add_argument("--backbone", default=RUN_OPTIONS["backbone"].default, choices=EDITOR_BACKBONES,
                          help=RUN_OPTIONS["backbone"].help)
        pars.add_argument("--levels", default=RUN_OPTIONS["levels"].default, help=RUN_OPTIONS["levels"].help)
        pars.add_argument("--show_level", type=int, default=0,
                          help="with levels: the level shown (0 = the largest); the others are hidden")
        pars.add_argument("--core", default="clipasso", help="the core's command on PATH")
        pars.add_argument("--python", default="", help="or a Python interpreter with clipasso_core")

    def effect(self):
        selected = list(self.svg.selection.values())
        if not selected:
            raise inkex.AbortExtension("Select one or more images to sketch first.")
        others = [el for el in selected if not isinstance(el, inkex.Image)]
        if others:
            raise inkex.AbortExtension(
                f"Only images can be sketched; the selection also holds a <{others[0].TAG}> "
                f"({others[0].get_id()}). Select images only.")
        self._check_levels()
        try:
            command = core_command(self.options.core, self.options.python)
        except CoreError as exc:
            raise inkex.AbortExtension(str(exc))
        # every image is sketched before the document is touched: a failure leaves it unchanged
        results = []
        for image in selected:
            with tempfile.TemporaryDirectory(prefix="clipasso-img-") as tmp:
                path = self._image_file(image, tmp)
                try:
                    results.append((image, run_core(command, path, self._core_options())))
                except CoreError as exc:
                    raise inkex.AbortExtension(f"Sketching {image.get_id()} failed: {exc}")
        for image, sketch in results:
            self._add_sketch(image, sketch)

    def _check_levels(self):
        """The Levels text and the Show level, checked before anything runs."""
        try:
            self.level_counts = parse_levels(self.options.levels or "")
        except FormatError as exc:
            raise inkex.AbortExtension(f"Invalid setting: {exc}")
        shown = self.options.show_level
        if shown and shown not in self.level_counts:
            raise inkex.AbortExtension(
                f"Show level {shown} is not one of the levels "
                f"({', '.join(map(str, self.level_counts)) or 'none: fill in Levels, e.g. 16,8,4'}); "
                "0 shows the largest.")

    def _core_options(self):
        o = self.options
        values = {"strokes": o.strokes, "seeds": o.seeds, "preset": o.preset, "mask": o.mask,
                  "stroke_width": o.stroke_width, "backbone": o.backbone, "iterations": o.iterations,
                  "color": rgb_to_hex(o.color.to_rgb().to_floats()), "levels": o.levels or ""}
        try:
            return run_arguments(values)
        except FormatError as exc:
            raise inkex.AbortExtension(f"Invalid setting: {exc}")

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

    def _add_sketch(self, image, sketch):
        """Add ``sketch`` (a contract ``Sketch``) as a group of stroke paths right after ``image``:
        the strokes in rank order, or with levels one hidden-or-shown sub-group of them per level."""
        sx, sy, tx, ty = image_placement(image.left, image.top, image.width, image.height,
                                         image.get("preserveAspectRatio"), sketch.width, sketch.height)
        group = inkex.Group()
        group.set("id", self.svg.get_unique_id(f"sketch-{image.get_id()}-"))
        label = image.label or image.get_id()
        group.label = f"Sketch of {label}"
        group.transform = inkex.Transform(image.transform)
        settings = {k: getattr(self.options, k) for k in ("strokes", "seeds", "preset", "mask", "stroke_width")}
        counts = [level.count for level in sketch.levels]
        shown = self.options.show_level if self.options.show_level in counts else (counts or [0])[0]
        if counts:
            settings.update(strokes=counts[0], levels=",".join(map(str, counts)), show_level=shown)
        info = {"metadata": sketch.metadata, "settings": settings, "image": image.get_id(), "scale": (sx, sy)}
        if counts:
            info["levels"] = [{"count": level.count, "loss": level.loss} for level in sketch.levels]
        group.set(SKETCH_ATTR, json.dumps(info))
        image.addnext(group)
        place = (sx, sy, tx, ty)
        if not counts:
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
        sx, sy, tx, ty = place
        for rank, stroke in rank_order(strokes):
            points = [(x * sx + tx, y * sy + ty) for x, y in stroke.points]
            path = parent.add(inkex.PathElement())
            path.set("id", f"{prefix}-stroke{rank + 1}")
            path.set("d", cubic_d(points))
            path.set(STROKE_ATTR, str(rank))
            if stroke.id is not None:
                path.set(ID_ATTR, str(stroke.id))
            path.label = f"stroke {rank + 1}"
            path.style = inkex.Style({
                "fill": "none", "stroke": stroke.color,
                "stroke-width": f"{stroke.width * (sx * sy) ** 0.5:.4f}",
                "stroke-opacity": f"{stroke.opacity:g}", "stroke-linecap": "round",
                "stroke-linejoin": "round"})


if __name__ == "__main__":
    SketchFromImage().run()
