"""Sketch objects in the scene: Grease Pencil or Curve, their stored data, restyling and reverting.

The object's custom property ``clipasso`` (a JSON string) holds the sketch as the core made it
(centrelines in image px, widths, colours), the image frame, the settings of the run and the current
style, so a style can be applied again or reverted without re-running the optimisation. Sketches come
in as the contract's ``formats.Sketch``; brushes and colours are the contract's (``geometry``).

Levels of abstraction (``--levels``) are stored and laid out as ``levels`` describes: Grease Pencil,
one layer per level ("Level 16", strokes in rank order), the others hidden; Curve, the object's
splines are the shown level's (switching rebuilds them from the stored centrelines). A style
applies to every level.

Animated sketches (``clipasso animate``) are stored as ``animation`` describes: Grease Pencil only, one
layer with one key frame (drawing) per sketched frame on its scene frame, the strokes in the same
order in every drawing. A style applies to every frame.

Stroke ids and locks (the artist in the loop) are kept as ``locking`` describes: the stored ``ids``
and ``locked``, and on the geometry a locked stroke's material (the "locked" material, slot 1) and a
Grease Pencil stroke's id attribute. ``current_strokes`` reads them back as they are after hand edits.
"""
from __future__ import annotations

import json

import bpy

from . import animation, geometry, levels, locking
from .contract import formats
from .contract import geometry as shared

PROP = "clipasso"
NOISE_MODIFIER = "Clipasso jitter"
BUILD_MODIFIER = "Clipasso draw on"
level_counts, shown_level = levels.counts, levels.shown


def gp_datablocks():
    """Grease Pencil (v3) data-blocks: 4.3-4.5 ``grease_pencils_v3``, 5.0+ ``grease_pencils``."""
    if hasattr(bpy.data, "grease_pencils_v3"):  # an empty collection is falsy: test presence
        return bpy.data.grease_pencils_v3
    return bpy.data.grease_pencils


def load_data(obj) -> dict:
    return json.loads(obj[PROP])


def save_data(obj, data: dict) -> None:
    obj[PROP] = json.dumps(data)


def is_sketch(obj) -> bool:
    return obj is not None and PROP in obj.keys()


def _material(name: str, color: str, opacity: float, grease_pencil: bool):
    mat = bpy.data.materials.new(name)
    rgb = shared.hex_to_rgb(color)
    if grease_pencil:
        bpy.data.materials.create_gpencil_data(mat)
        mat.grease_pencil.color = (*rgb, 1.0)
        mat.grease_pencil.show_stroke = True
        mat.grease_pencil.show_fill = False
    mat.diffuse_color = (*rgb, opacity)
    return mat


def _centrelines(sketch: formats.Sketch) -> list[list[list[float]]]:
    return [[[float(x), float(y)] for x, y in s.points] for s in sketch.strokes]


def _set_strokes(data: dict, sketch: formats.Sketch) -> None:
    """The stored strokes of a sketch: centrelines, ids (the core's) and the ids of the locked ones."""
    data["strokes"] = _centrelines(sketch)
    data["ids"] = locking.unique_ids([s.id for s in sketch.strokes])
    data["locked"] = locking.locked_ids(sketch.strokes)


def create(context, name: str, sketch: formats.Sketch, kind: str, frame_size: float, offset,
           settings: dict, frames: list[dict] | None = None):
    """A new sketch object (kind "GPENCIL" or "CURVE") from a sketch, linked to the scene; with
    ``frames`` (``animation.entry``s, Grease Pencil only) an animated sketch of those frames."""
    if frames and kind == "CURVE":
        raise ValueError("an animated sketch needs Grease Pencil output")
    first = sketch.strokes[0] if sketch.strokes else formats.Stroke([(0.0, 0.0)] * 4, 1.0)
    style = {"width_px": first.width, "color": first.color, "opacity": first.opacity,
             "brush": "uniform", "jitter": 0.0}
    data = {"version": 1, "kind": kind, "image": {"width": sketch.width, "height": sketch.height},
            "frame": {"size": frame_size, "offset": list(offset)},
            "metadata": dict(sketch.metadata), "settings": settings, "style": style, "original_style": dict(style)}
    _set_strokes(data, sketch)
    levels.set_levels(data, [levels.entry(v.count, v.loss, v.strokes) for v in sketch.levels])
    if frames:
        animation.set_frames(data, frames)
    if kind == "CURVE":
        block = bpy.data.curves.new(name, "CURVE")
        block.dimensions = "3D"
    else:
        block = gp_datablocks().new(name)
    obj = bpy.data.objects.new(name, block)
    context.collection.objects.link(obj)
    block.materials.append(_material(f"{name} ink", style["color"], style["opacity"], kind != "CURVE"))
    save_data(obj, data)
    rebuild(obj)
    return obj


def place(obj, matrix, parent=None) -> None:
    """Put a sketch object at ``matrix``: its world matrix, or with a ``parent`` (a camera) its
    matrix in the parent's space, so it follows the parent."""
    if parent is None:
        obj.matrix_world = matrix
        return
    obj.parent = parent
    obj.matrix_parent_inverse.identity()
    obj.matrix_basis = matrix


def replace_strokes(obj, sketch: formats.Sketch) -> None:
    """New centrelines (e.g. a preview or the final sketch) for an existing sketch object."""
    data = load_data(obj)
    _set_strokes(data, sketch)
    data["metadata"] = dict(sketch.metadata)
    # a finished levels sketch shows its largest level; a preview has none (a refine's, too)
    levels.set_levels(data, [levels.entry(v.count, v.loss, v.strokes) for v in sketch.levels],
                      show=sketch.levels[0].count if sketch.levels else None)
    save_data(obj, data)
    rebuild(obj)


def add_level(obj, count: int, loss: float, sketch: formats.Sketch) -> None:
    """A level that just arrived (the core's ``level`` event): stored, given its layer, and shown."""
    data = load_data(obj)
    levels.add(data, levels.entry(count, loss, sketch.strokes))
    save_data(obj, data)
    rebuild(obj)


def add_frame(obj, frame: dict) -> None:
    """A frame of an animation that just arrived (``animation.entry``): stored and given its key frame."""
    data = load_data(obj)
    animation.add(data, frame)
    save_data(obj, data)
    image = frame_of(data)
    _build_grease_pencil(obj, levels.SKETCH_LAYER, _to_object(frame["strokes"], image), frame["ids"], data, image,
                         keyframe=frame["scene_frame"])


def set_frames(obj, frames: list[dict], metadata: dict | None = None) -> None:
    """All the frames of an animation (e.g. the core's final sequence): stored and built, key frames
    of frames no longer there removed."""
    data = load_data(obj)
    animation.set_frames(data, frames)
    if metadata is not None:
        data["metadata"] = dict(metadata)
    save_data(obj, data)
    rebuild(obj)


def show_level(obj, count: int) -> None:
    """Show one level of a levels sketch (Grease Pencil: the other levels' layers are hidden;
    Curve: the splines become that level's)."""
    data = load_data(obj)
    levels.set_levels(data, data.get("levels") or [], show=count)  # ValueError: no such level
    save_data(obj, data)
    if obj.type == "CURVE":
        rebuild(obj)
    else:
        _hide_levels(obj, data)


def _hide_levels(obj, data: dict) -> None:
    layers = obj.data.layers
    for name, _, _, hidden in levels.layer_plan(data):
        layer = layers.get(name)
        if layer is not None:
            layer.hide = hidden


def brush_of(style: dict) -> str:
    """The style's brush as the contract names it (earlier builds stored it upper-case)."""
    return str(style.get("brush", "uniform")).lower()


def frame_of(data: dict) -> geometry.ImageFrame:
    return geometry.ImageFrame(data["image"]["width"], data["image"]["height"], data["frame"]["size"],
                               data["frame"]["offset"])


def _to_object(strokes, frame: geometry.ImageFrame):
    return [[frame.to_object(x, y) for x, y in pts] for pts in strokes]


def rebuild(obj) -> None:
    """Rewrite the object's geometry from its stored centrelines and style."""
    data = load_data(obj)
    frame = frame_of(data)

    def to_object(strokes):
        return _to_object(strokes, frame)

    if data.get("locked"):
        _locked_material(obj, data["style"])
    if obj.type == "CURVE":
        _build_curve(obj, to_object(levels.curve_strokes(data)), levels.curve_ids(data), data, frame)
    elif animation.is_animation(data):
        wanted = set(animation.scene_frames(data))
        layer = _layer(obj.data, levels.SKETCH_LAYER)
        for number in [f.frame_number for f in layer.frames if f.frame_number not in wanted]:
            layer.frames.remove(number)  # key frames of an earlier state (frames no longer there)
        for entry in data["frames"]:
            _build_grease_pencil(obj, levels.SKETCH_LAYER, to_object(entry["strokes"]), entry["ids"], data, frame,
                                 keyframe=entry["scene_frame"])
        _set_jitter(obj, data["style"])
    else:
        plan = levels.layer_plan(data)
        wanted = {name for name, _, _, _ in plan}
        for layer in list(obj.data.layers):  # layers of an earlier state (a preview, fewer levels)
            if layer.name not in wanted and levels.is_managed_layer(layer.name):
                obj.data.layers.remove(layer)
        for name, strokes, ids, hidden in plan:
            _build_grease_pencil(obj, name, to_object(strokes), ids, data, frame)
            obj.data.layers.get(name).hide = hidden
        _set_jitter(obj, data["style"])
    _apply_material(obj, data["style"])


def _layer(gp, name: str):
    layer = gp.layers.get(name) if hasattr(gp.layers, "get") else None
    return layer if layer is not None else gp.layers.new(name)


def _build_grease_pencil(obj, name, curves, ids, data, frame, keyframe: int | None = None) -> None:
    """One layer's strokes, in the order given (most important first): on the drawing shown at the
    scene's current frame, or on the key frame ``keyframe`` (made when missing)."""
    layer = _layer(obj.data, name)
    if keyframe is None:
        scene_frame = bpy.context.scene.frame_current
        frame_data = layer.get_frame_at(scene_frame) if hasattr(layer, "get_frame_at") else None
    else:
        scene_frame = keyframe
        frame_data = next((f for f in layer.frames if f.frame_number == keyframe), None)
    if frame_data is None:
        frame_data = layer.frames.new(scene_frame)
    drawing = frame_data.drawing
    if len(drawing.strokes):
        drawing.remove_strokes()
    if not curves:
        return
    drawing.add_strokes([geometry.SAMPLES] * len(curves))
    style = data["style"]
    radius = style["width_px"] / 2 * frame.units_per_px
    locked = set(data.get("locked") or ())
    if ids and any(i is not None for i in ids):
        attribute = drawing.attributes.get(locking.ID_ATTRIBUTE) or \
            drawing.attributes.new(locking.ID_ATTRIBUTE, "INT", "CURVE")
        attribute.data.foreach_set("value", [locking.attribute_value(i) for i in ids])
    for index, control in enumerate(curves):
        stroke = drawing.strokes[index]
        stroke.material_index = locking.LOCKED_SLOT if ids and ids[index] in locked else 0
        seed = ids[index] if ids and ids[index] is not None else index  # a stroke looks alike in every level
        profile = shared.width_profile_samples(brush_of(style), geometry.SAMPLES, seed=seed)
        positions = shared.sample_cubic(control, geometry.SAMPLES)
        for point, position, scale in zip(stroke.points, positions, profile):
            point.position = position
            point.radius = radius * scale
            point.opacity = style["opacity"]


def _set_jitter(obj, style) -> None:
    """The sketchy brush's jitter: a native Noise modifier (removed for other brushes)."""
    existing = obj.modifiers.get(NOISE_MODIFIER)
    if brush_of(style) != "sketchy":
        if existing:
            obj.modifiers.remove(existing)
        return
    if existing is None:
        existing = obj.modifiers.new(NOISE_MODIFIER, "GREASE_PENCIL_NOISE")
    existing.factor = style.get("jitter") or 0.5
    existing.noise_scale = 0.5


def _build_curve(obj, curves, ids, data, frame) -> None:
    cu = obj.data
    cu.splines.clear()
    style = data["style"]
    cu.bevel_depth = style["width_px"] / 2 * frame.units_per_px
    cu.bevel_resolution = 3
    cu.use_fill_caps = True
    locked = set(data.get("locked") or ())
    for index, (p0, p1, p2, p3) in enumerate(curves):
        spline = cu.splines.new("BEZIER")
        spline.material_index = locking.LOCKED_SLOT if ids and ids[index] in locked else 0
        spline.resolution_u = 24
        spline.bezier_points.add(1)
        a, b = spline.bezier_points
        for point in (a, b):
            point.handle_left_type = point.handle_right_type = "FREE"
        a.co, a.handle_right, a.handle_left = p0, p1, p0
        b.co, b.handle_left, b.handle_right = p3, p2, p3
    brush = brush_of(style)
    cu.taper_object = _taper_object(obj, brush) if brush != "uniform" else None


def _taper_object(obj, brush: str):
    """A native taper curve holding the brush's width profile along a stroke."""
    name = f"{obj.name} taper"
    taper = bpy.data.objects.get(name)
    if taper is None:
        taper = bpy.data.objects.new(name, bpy.data.curves.new(name, "CURVE"))
        taper.hide_viewport = taper.hide_render = True
    cu = taper.data
    cu.splines.clear()
    spline = cu.splines.new("POLY")
    profile = shared.width_profile_samples(brush, 17)
    spline.points.add(len(profile) - 1)
    for i, (point, value) in enumerate(zip(spline.points, profile)):
        point.co = (i / (len(profile) - 1), value, 0.0, 1.0)
    return taper


def _apply_material(obj, style) -> None:
    materials = obj.data.materials
    for slot, color in ((0, style["color"]), (locking.LOCKED_SLOT, locking.lock_color(style["color"]))):
        mat = materials[slot] if len(materials) > slot else None
        if mat is None:
            continue
        rgb = shared.hex_to_rgb(color)
        mat.diffuse_color = (*rgb, style["opacity"])
        if getattr(mat, "grease_pencil", None) is not None:
            mat.grease_pencil.color = (*rgb, 1.0)


def _locked_material(obj, style):
    """The material of locked strokes (slot ``locking.LOCKED_SLOT``), made when missing."""
    materials = obj.data.materials
    while len(materials) <= locking.LOCKED_SLOT:
        if len(materials) == 0:
            materials.append(_material(f"{obj.name} ink", style["color"], style["opacity"], obj.type != "CURVE"))
        else:
            materials.append(_material(f"{obj.name} locked", locking.lock_color(style["color"]), style["opacity"],
                                       obj.type != "CURVE"))
    return materials[locking.LOCKED_SLOT]


def restyle(obj, width_px: float, color: str, opacity: float, brush: str, jitter: float) -> None:
    """A new style: width in image px, colour "#rrggbb", opacity, a brush of contract.geometry.BRUSHES."""
    data = load_data(obj)
    data["style"] = {"width_px": width_px, "color": color, "opacity": opacity, "brush": brush.lower(),
                     "jitter": jitter}
    save_data(obj, data)
    rebuild(obj)


def revert_style(obj) -> None:
    data = load_data(obj)
    data["style"] = dict(data["original_style"])
    save_data(obj, data)
    rebuild(obj)


def draw_on(obj, start: float, length: float):
    """A native Build modifier drawing the Grease Pencil strokes one after another, in their order
    (most important first), from frame ``start`` for ``length`` frames; set again when it exists."""
    if obj.type == "CURVE":
        raise ValueError("Draw On needs a Grease Pencil sketch (Output: Grease Pencil)")
    if animation.is_animation(load_data(obj)):
        raise ValueError("Draw On is for still sketches, not animations")
    modifier = obj.modifiers.get(BUILD_MODIFIER)
    if modifier is None:
        modifier = obj.modifiers.new(BUILD_MODIFIER, "GREASE_PENCIL_BUILD")
    modifier.mode = "SEQUENTIAL"
    modifier.transition = "GROW"
    modifier.time_mode = "FRAMES"
    keyframe = min((f.frame_number for layer in obj.data.layers for f in layer.frames), default=start)
    modifier.start_delay = max(0.0, float(start - keyframe))  # counted from the strokes' keyframe
    modifier.length = float(length)
    return modifier


def current_centrelines(obj) -> list[list[tuple[float, float]]]:
    """The object's strokes now (after any hand edits), as cubics in image px (``current_strokes``)."""
    return [stroke.points for stroke in current_strokes(obj)]


def current_strokes(obj) -> list[locking.CurrentStroke]:
    """The object's strokes now (after any hand edits; in Edit Mode, as last synced from it), each a
    cubic in image px with its id, lock and selection: curve control points directly; Grease Pencil
    points fitted with a least-squares cubic (exact when the points were sampled from one). A stroke
    unchanged since the last run gets its stored cubic exactly (``locking.snap_to_stored``)."""
    data = load_data(obj)
    frame = frame_of(data)
    counts = level_counts(data)
    if obj.type == "CURVE" and counts and shown_level(data) != counts[0]:  # the largest level is not shown
        return [locking.CurrentStroke([tuple(p) for p in pts], i)
                for pts, i in zip(data["strokes"], data.get("ids") or [None] * len(data["strokes"]))]
    out = []
    if obj.type == "CURVE":
        for spline in obj.data.splines:
            pts = spline.bezier_points
            if len(pts) < 2:
                continue
            a, b = pts[0], pts[-1]
            selected = any(p.select_control_point or p.select_left_handle or p.select_right_handle for p in pts)
            out.append(locking.CurrentStroke(
                [frame.to_image(p[0], p[1]) for p in (a.co, a.handle_right, b.handle_left, b.co)], None,
                spline.material_index == locking.LOCKED_SLOT, selected))
        ids = None
    else:
        name = levels.layer_name(counts[0]) if counts else levels.SKETCH_LAYER
        layer = obj.data.layers.get(name) or obj.data.layers[0]
        drawing = layer.get_frame_at(bpy.context.scene.frame_current).drawing
        attribute = drawing.attributes.get(locking.ID_ATTRIBUTE)
        values = [v.value for v in attribute.data] if attribute is not None else None
        ids = []
        for index, stroke in enumerate(drawing.strokes):
            positions = [tuple(p.position)[:2] for p in stroke.points]
            if len(positions) < 4:
                continue
            selected = stroke.select or any(p.select for p in stroke.points)
            out.append(locking.CurrentStroke([frame.to_image(x, y) for x, y in geometry.fit_cubic(positions)], None,
                                             stroke.material_index == locking.LOCKED_SLOT, selected))
            ids.append(locking.stored_id(values[index]) if values is not None else None)
        ids = locking.unique_ids(ids) if values is not None else None
    stored, stored_ids = data["strokes"], data.get("ids") or []
    if ids is None:  # a Curve (no attribute), or strokes made before ids were kept
        ids = locking.match_ids([s.points for s in out], stored, stored_ids) if stored_ids else [None] * len(out)
    for stroke, stroke_id in zip(out, ids):
        stroke.id = stroke_id
    locking.snap_to_stored(out, stored, stored_ids)
    return out


def set_locked(obj, locked: bool) -> int:
    """Lock (or unlock) the selected strokes of a one-level still sketch: their material becomes the
    "locked" one (or the ink again), and the stored ``locked`` ids follow. In Edit Mode the edit is
    synced first (a Curve's edit data is written back, changed, and edited again). Returns how many
    strokes changed."""
    editing = obj.mode == "EDIT"
    if editing and obj.type == "CURVE":
        bpy.ops.object.mode_set(mode="OBJECT")
    try:
        data = load_data(obj)
        if locked:
            _locked_material(obj, data["style"])
        slot = locking.LOCKED_SLOT if locked else 0
        if obj.type == "CURVE":
            items = [s for s in obj.data.splines if any(
                p.select_control_point or p.select_left_handle or p.select_right_handle for p in s.bezier_points)]
        else:
            layer = obj.data.layers.get(levels.SKETCH_LAYER) or obj.data.layers[0]
            drawing = layer.get_frame_at(bpy.context.scene.frame_current).drawing
            items = [s for s in drawing.strokes if s.select or any(p.select for p in s.points)]
        changed = [item for item in items if item.material_index != slot]
        for item in changed:
            item.material_index = slot
        data["locked"] = locking.locked_ids(current_strokes(obj))
        save_data(obj, data)
    finally:
        if editing and obj.type == "CURVE":
            bpy.ops.object.mode_set(mode="EDIT")
    obj.data.update_tag()
    return len(changed)


def snapshot(obj):
    """A copy of the object's data-block and stored data, to put back with ``restore`` (a refine that
    ends without a result leaves the sketch exactly as it was, hand edits included)."""
    return obj.data.copy(), obj[PROP]


def restore(obj, saved) -> None:
    """Put back a ``snapshot``: its data-block replaces the object's (which is removed)."""
    block, stored = saved
    old = obj.data
    name = old.name
    obj.data = block
    _remove_block(old)
    block.name = name
    obj[PROP] = stored


def drop_snapshot(saved) -> None:
    """Forget a ``snapshot`` that is not needed (the refine finished)."""
    _remove_block(saved[0])


def _remove_block(block) -> None:
    if block.users == 0:
        (bpy.data.curves if isinstance(block, bpy.types.Curve) else gp_datablocks()).remove(block)


def remove(obj) -> None:
    """Delete a sketch object with its data, material and taper curve."""
    block = obj.data
    materials = list(block.materials)
    taper = bpy.data.objects.get(f"{obj.name} taper")
    bpy.data.objects.remove(obj)
    if taper is not None:
        curve = taper.data
        bpy.data.objects.remove(taper)
        bpy.data.curves.remove(curve)
    _remove_block(block)
    for mat in materials:
        if mat is not None and mat.users == 0:
            bpy.data.materials.remove(mat)
