"""The whole pipeline: image in, ``Sketch`` out (``clipasso_core.contract.formats``)."""
from __future__ import annotations

import io
import math
import os
import threading
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import __version__
from .backbones import PROFILES, Encoders, load_encoder, model_needed
from . import canvas as canvas_module
from .canvas import CanvasTransform, pad_and_resize
from .config import CANVAS, SEED_STRIDE, Preset, SketchConfig
from .contract import events
from .contract.geometry import hex_to_rgb
from .contract.options import RUN_OPTIONS
from .downloads import mask_model_needed, reporting, require
from .errors import Cancelled, InputError
from .image_io import LoadedImage, check_content, check_size, load_image
from .loss import ClipLoss
from .masking import apply_mask, needs_rembg, rembg_mask
from .levels import RankedStrokes, pick_style, rank_strokes, smaller_levels
from .optimize import ClipObjective, Job, OptimizationResult, StepReport, StrokeStyle, optimize_batch
from .step.graph import LossGraphs
from .rasterizer import render
from .saliency import init_strokes, sample_starts, start_probabilities
from .contract.formats import Level, Sketch, Stroke
from .edit.plan import EditPlan, plan_edit
from .edit.region import Region, canvas_area, canvas_keep_in, parse_region
from .edit.starts import fill_probabilities, ink_wanted
from .svg import read_sketch

EXAMPLE_IMAGE = Path(__file__).parent / "data" / "cat.jpg"


class RandomWeightsWarning(UserWarning):
    """Random (untrained) CLIP weights are in use: the sketch is a smoke test, not a drawing."""


@dataclass
class Prepared:
    """The run's inputs on the working canvas. target: [3, 224, 224] in 0..1."""

    transform: CanvasTransform
    target: torch.Tensor
    masked: bool


def mps_available() -> bool:
    """Whether Apple's Metal GPU backend (MPS) is usable here."""
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str) -> torch.device:
    """The torch device of ``--device``: ``auto`` prefers CUDA, then Apple's MPS, then the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("CUDA was asked for (--device cuda) but no CUDA GPU is available here; "
                         "use --device cpu or auto")
    if name == "mps" and not mps_available():
        raise InputError("Apple's GPU was asked for (--device mps) but MPS is not available here (it needs "
                         "a Mac with Apple silicon or an AMD GPU and a macOS build of torch); use --device "
                         "cpu or auto")
    return torch.device(name)


def bf16_supported(device: torch.device) -> bool:
    """bfloat16 autocast pays off: CUDA with bf16 support, or a CPU with AVX512-BF16/AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.backends.cpu.get_cpu_capability() in ("AVX512", "AVX512_BF16", "AMX") and \
        torch.backends.mkldnn.is_available()


def uses_rembg(loaded: LoadedImage, config: SketchConfig) -> bool:
    """Whether ``prepare`` masks this image with rembg (not by its own alpha, not left as it is)."""
    own_alpha = loaded.alpha is not None and config.mask != "off"
    return not own_alpha and needs_rembg(config.mask, loaded.rgb, loaded.alpha)


def load_checked(image: str | os.PathLike | LoadedImage | None) -> LoadedImage:
    """The image (a path, None for the bundled example), loaded; a file is refused (InputError) when
    it is too small or has nothing to sketch. A ``LoadedImage`` (an animation frame, checked by
    frames and animate) is returned as it is."""
    if isinstance(image, LoadedImage):
        return image
    name = os.fspath(image or EXAMPLE_IMAGE)
    loaded = load_image(name)
    check_size(loaded.width, loaded.height, name)
    check_content(loaded, name)
    return loaded


def prepare(image: str | os.PathLike | LoadedImage | None, config: SketchConfig) -> Prepared:
    """Load the image, mask its background as configured, and put it on the canvas (the target fades
    to white at the image's border, ``canvas.TARGET_FEATHER``)."""
    loaded = load_checked(image)
    rgb = loaded.rgb
    masked = False
    if loaded.alpha is not None and config.mask != "off":
        rgb, masked = apply_mask(rgb, loaded.alpha), True
    elif uses_rembg(loaded, config):
        rgb, masked = apply_mask(rgb, rembg_mask(rgb, config.mask_model)), True
    transform = CanvasTransform(loaded.width, loaded.height, CANVAS)
    target = torch.from_numpy(pad_and_resize(rgb, CANVAS, fill=1.0, feather=canvas_module.TARGET_FEATHER)).permute(2, 0, 1).contiguous()
    return Prepared(transform, target, masked)


def read_init(path: str) -> Sketch:
    """The strokes of an --init SVG or sketch JSON; every problem of the file is one InputError
    naming it (read before the image is prepared, so a bad file fails at once)."""
    return read_sketch(path, "--init file")


def _init_points(init: Sketch, transform: CanvasTransform) -> np.ndarray:
    """Control points [S, 4, 2] (canvas px) of an init sketch, scaled from its own size to the image's."""
    sx, sy = transform.width / init.width, transform.height / init.height
    points = np.array([[transform.to_canvas(x * sx, y * sy) for x, y in s.points] for s in init.strokes],
                      dtype=np.float32)
    if not np.isfinite(points).all():
        raise InputError(f"the --init sketch's size ({init.width:g} x {init.height:g}) is degenerate: "
                         "its strokes do not scale onto the image")
    return points


def _initial_points(config: SketchConfig, init: Sketch | None, prepared: Prepared, device: torch.device,
                    seeds: list[int], saliency: Callable[[], object]) -> torch.Tensor:
    """Starting control points [B, S, 4, 2] (canvas px) for each seed (``saliency()``: the saliency
    encoder, asked for only without ``init``; no stroke starts in the target's border fade)."""
    if init is not None:
        points = _init_points(init, prepared.transform)
        return torch.from_numpy(points)[None].repeat(len(seeds), 1, 1, 1).to(device)
    probs = start_probabilities(saliency(), prepared.target.to(device))
    # no stroke starts in the border fade: its ramp reads as an edge along the whole frame
    inner = probs * canvas_module.inner_area(prepared.transform, canvas_module.TARGET_FEATHER)
    probs = inner / inner.sum() if inner.sum() > 0 else probs
    return _sampled_strokes(probs, config.strokes, seeds, device)


def _sampled_strokes(probs: np.ndarray, count: int, seeds: list[int], device: torch.device) -> torch.Tensor:
    """``count`` strokes [B, count, 4, 2] (canvas px) per seed, started from probs [H, W]."""
    per_seed = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        per_seed.append(init_strokes(sample_starts(probs, count, rng), CANVAS, rng))
    return torch.from_numpy(np.stack(per_seed)).to(device)


def _fresh_strokes(job: "ImageJob", points: torch.Tensor, style: StrokeStyle, objective: ClipObjective,
                   seeds: list[int], saliency: Callable[[], object]) -> torch.Tensor:
    """Points [B, S + added, 4, 2] of a refine: the init strokes points [B, S, 4, 2] (with
    ``--resketch`` the moving ones started afresh, in their places) and after them the added strokes;
    fresh strokes start where ink is missing given the strokes that stay (``edit.starts``), inside
    the job's region, away from the border fade."""
    edit, device, transform = job.edit, points.device, job.prepared.transform
    redrawn = [i for i in range(edit.kept) if edit.movable[i]] if job.config.resketch else []
    if not redrawn and not edit.added:
        return points
    stay = [i for i in range(edit.kept) if i not in redrawn]
    current = points[:1, stay]
    image = pick_style(style, stay).render(current)[0] if stay else torch.ones(3, CANVAS, CANVAS, device=device)
    wanted = ink_wanted(image, lambda images: objective.clean_losses(images, current.expand(len(images), -1, -1, -1)))
    allowed = canvas_module.inner_area(transform, canvas_module.TARGET_FEATHER)
    if job.region is not None:
        area = canvas_area(job.region, transform)
        allowed = allowed & area if (allowed & area).any() else area
    probs = fill_probabilities(start_probabilities(saliency(), job.prepared.target.to(device)), wanted, allowed)
    new = _sampled_strokes(probs, len(redrawn) + edit.added, seeds, device).to(points.dtype)
    if job.region is not None:
        new = canvas_keep_in(job.region, transform)(new)
    out = torch.cat([points, new[:, len(redrawn):]], dim=1)
    out[:, redrawn] = new[:, :len(redrawn)]
    return out


def _rgba(color: str, opacity: float) -> list[float]:
    """"#rrggbb" and an opacity as RGBA floats in 0..1."""
    return [*hex_to_rgb(color), opacity]


@dataclass
class Looks:
    """How each stroke is drawn, by stroke id (its place in the run's first optimisation): width
    (px of the canvas), colour ("#rrggbb") and opacity. The optimiser draws every stroke so, and the
    result keeps them."""

    widths: list[float]
    colors: list[str]
    opacities: list[float]

    @property
    def stroke_width(self) -> float:
        """The strokes' mean width (canvas px): the overlap penalty's scale."""
        return float(np.mean(self.widths))

    @property
    def uniform(self) -> bool:
        """Whether every stroke looks the same."""
        return len(set(zip(self.widths, self.colors, self.opacities))) <= 1

    def style(self, ids, box, device: torch.device) -> StrokeStyle:
        """The optimiser's style of the strokes ``ids``, in that order."""
        ids = list(ids)
        widths = torch.tensor([float(self.widths[i]) for i in ids], device=device)
        colors = torch.tensor([_rgba(self.colors[i], self.opacities[i]) for i in ids], device=device)
        return StrokeStyle(widths, colors.reshape(len(ids), 4), box, CANVAS)


def stroke_looks(config: SketchConfig, init: Sketch | None, transform: CanvasTransform,
                 edit: EditPlan | None = None) -> Looks:
    """The looks of a run's strokes: without an init sketch, the config's for each of its strokes;
    with one, each init stroke's own width (scaled from the init's size to the image's, then to the
    canvas, kept within ``--width``'s range), colour and opacity (at least ``--opacity``'s minimum),
    except where the config sets one (a given --width, --color or --opacity applies to every stroke
    that moves: with an ``edit``, the others keep theirs). The ``edit``'s new strokes look as the
    config says, else as the init's typical stroke (median width and opacity, most common colour)."""
    if init is None:
        count = config.strokes
        return Looks([config.canvas_stroke_width] * count, [config.color] * count, [config.opacity] * count)
    width_option, opacity_option = RUN_OPTIONS["stroke_width"], RUN_OPTIONS["opacity"]
    scale = math.sqrt(transform.width / init.width * transform.height / init.height) / transform.scale
    if not (math.isfinite(scale) and scale > 0):
        scale = 1.0  # a degenerate init size: refused by _init_points
    movable = edit.movable if edit is not None else [True] * len(init.strokes)
    own = Looks([min(width_option.maximum, max(width_option.minimum, s.width * scale)) for s in init.strokes],
                [s.color.lower() for s in init.strokes],
                [min(1.0, max(opacity_option.minimum, s.opacity)) for s in init.strokes])
    typical = (float(np.median(own.widths)), max(own.colors, key=own.colors.count), float(np.median(own.opacities)))
    given = (config.canvas_stroke_width, config.color, config.opacity)
    looks = Looks([], [], [])
    for i in range(len(init.strokes) + (edit.added if edit is not None else 0)):
        kept = (own.widths[i], own.colors[i], own.opacities[i]) if i < len(init.strokes) else typical
        fixed = not movable[i]
        for values, value, set_to in zip((looks.widths, looks.colors, looks.opacities), kept, given):
            values.append(value if fixed or set_to is None else set_to)
    return looks


def _ranked_sketch(ranked: RankedStrokes, looks: Looks, prepared: Prepared, metadata: dict,
                   job: "ImageJob | None" = None) -> Sketch:
    """The sketch of strokes in rank order, each with its id and rank (with the ``job``'s edit: its
    output id, and the strokes that did not move exactly as the init file has them, ``_kept_stroke``)."""
    sketch = _to_sketch(ranked.points.cpu(), looks, prepared, metadata, ranked.ids)
    edit = job.edit if job is not None else None
    for rank, (stroke, place) in enumerate(zip(sketch.strokes, ranked.ids)):
        stroke.id, stroke.rank = place, rank
        if edit is not None:
            if not edit.movable[place]:
                sketch.strokes[rank] = stroke = _kept_stroke(job.init.strokes[place], job.init, prepared.transform)
                stroke.locked = edit.locked[place]
            stroke.id, stroke.rank = edit.ids[place], rank
    return sketch


def _kept_stroke(stroke: Stroke, init: Sketch, transform: CanvasTransform) -> Stroke:
    """An init stroke that did not move as the result has it: its own points, width, colour and
    opacity, scaled from the init's size to the image's (exactly the file's when the sizes agree)."""
    sx, sy = transform.width / init.width, transform.height / init.height
    points = list(stroke.points) if (sx, sy) == (1.0, 1.0) else [(x * sx, y * sy) for x, y in stroke.points]
    width = stroke.width if (sx, sy) == (1.0, 1.0) else stroke.width * math.sqrt(sx * sy)
    return Stroke(points, width, stroke.color, stroke.opacity)


def _to_sketch(points: torch.Tensor, looks: Looks, prepared: Prepared, metadata: dict, ids=None) -> Sketch:
    """The sketch of points [S, 4, 2] (canvas px) of the strokes ``ids`` (default 0 .. S - 1)."""
    t = prepared.transform
    ids = range(len(points)) if ids is None else ids
    strokes = [Stroke([t.to_image(float(x), float(y)) for x, y in stroke.tolist()],
                      looks.widths[i] * t.scale, looks.colors[i], looks.opacities[i])
               for stroke, i in zip(points, ids)]
    return Sketch(t.width, t.height, strokes, metadata)


def canvas_png(sketch: Sketch) -> bytes:
    """PNG bytes of ``canvas_raster``: the optimiser's own view of the sketch."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((canvas_raster(sketch) * 255 + 0.5).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def canvas_raster(sketch: Sketch, size: int = CANVAS) -> np.ndarray:
    """The optimiser's own raster of a sketch: [size, size, 3] in 0..1, the padded square canvas."""
    t = CanvasTransform(sketch.width, sketch.height, size)
    points = torch.tensor([[t.to_canvas(x, y) for x, y in s.points] for s in sketch.strokes])
    widths = torch.tensor([s.width / t.scale for s in sketch.strokes])
    colors = torch.tensor([_rgba(s.color, s.opacity) for s in sketch.strokes])
    with torch.no_grad():
        image = render(points[None], widths[None], colors[None], size)[0]
    return image.permute(1, 2, 0).numpy()


@dataclass
class Engine:
    """What a run works with, decided once: the preset (iterations applied), the CLIP backbone's
    profile, the device, whether bf16 autocast is used and the ``encoders`` that replace the
    profile's; ``loss`` is loaded by ``load_loss``."""

    config: SketchConfig
    preset: Preset
    profile: object
    device: torch.device
    bf16: bool
    encoders: Encoders = Encoders()
    loss: ClipLoss | None = None
    saliency: object | None = None
    graphs: LossGraphs | None = None

    def load_loss(self) -> ClipLoss:
        """The loss on the device (loaded on the first call), and on CUDA its ``graphs``."""
        if self.loss is None:
            encoder = self.encoders.loss
            if encoder is None:
                encoder = load_encoder(self.profile, "loss", self.config.clip_weights)
            self.loss = ClipLoss(encoder.to(self.device), bf16=self.bf16)
            if self.device.type == "cuda":
                self.graphs = LossGraphs(self.loss, self.device)
        return self.loss

    def load_saliency(self):
        """The saliency encoder on the device (``encoders.saliency``, else the profile's; loaded on
        the first call and kept: a run of many images loads it once)."""
        if self.saliency is None:
            encoder = self.encoders.saliency
            if encoder is None:
                encoder = load_encoder(self.profile, "saliency", self.config.saliency_weights)
            self.saliency = encoder.to(self.device)
        return self.saliency

    def check_models(self, loaded: LoadedImage, init: bool, adds: bool = False) -> None:
        """Before any model loads: one ModelUnavailableError naming every model file this run needs
        (the mask model when ``loaded`` is masked with rembg, the saliency model unless ``init`` and
        no strokes are added (``adds``), the loss model; each unless replaced by ``encoders`` or
        random) that is neither here nor downloadable now."""
        needed = [mask_model_needed(self.config.mask_model) if uses_rembg(loaded, self.config) else None]
        if self.encoders.saliency is None and (adds or not init):
            needed.append(model_needed(self.profile, "saliency", self.config.saliency_weights))
        if self.encoders.loss is None:
            needed.append(model_needed(self.profile, "loss", self.config.clip_weights))
        require([model for model in needed if model is not None])

    @property
    def random_weights(self) -> bool:
        """Whether a network of the profile with random weights is used (saliency only without --init
        or when strokes are added to it)."""
        adds = bool(self.config.add or self.config.fill_to or self.config.resketch)
        needs_profile = self.encoders.loss is None or (self.encoders.saliency is None and (adds or not self.config.init))
        return self.profile.random and needs_profile

    def metadata(self) -> dict:
        """The run's settings for a result's metadata ("saliency": a custom saliency encoder's name)."""
        loss, saliency = self.encoders.loss, self.encoders.saliency
        return {"generator": "clipasso", "version": __version__,
                "backbone": loss.name if loss is not None else self.profile.name,
                **({"saliency": saliency.name} if saliency is not None else {}),
                "random_weights": self.random_weights, "preset": self.preset.name,
                "precision": "bf16" if self.bf16 else "fp32", "device": self.device.type, "canvas": CANVAS,
                **({"cuda_graphs": self.graphs.state} if self.graphs is not None else {})}


def start_engine(config: SketchConfig, encoders: Encoders | None = None) -> Engine:
    """The engine of a validated config and the encoders replacing the profile's (checked, frozen;
    InputError for one that does not fit the canvas). Warns when a network of the backbone profile
    with random weights will be used. bf16 autocast: preset "auto", a device that supports it and a
    loss encoder that computes in bfloat16."""
    try:
        encoders = (encoders or Encoders()).checked(CANVAS)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    preset = config.resolved_preset()
    device = resolve_device(config.device)
    if device.type == "cuda":  # seed_chunk bounds a CPU's memory: a GPU steps every seed (and image) at once
        preset = replace(preset, seed_chunk=0)
    loss_dtypes = encoders.loss.compute_dtypes if encoders.loss is not None else (torch.bfloat16,)
    bf16 = preset.precision == "auto" and bf16_supported(device) and torch.bfloat16 in loss_dtypes
    engine = Engine(config, preset, PROFILES[config.backbone], device, bf16, encoders)
    if engine.random_weights:
        warnings.warn(f"backbone {config.backbone!r} uses RANDOM CLIP weights: the result is a smoke "
                      f"test of the pipeline, not a meaningful sketch", RandomWeightsWarning, stacklevel=3)
    return engine


@dataclass
class ImageJob:
    """One image of a run: ``config`` (the run's, with this image's stroke count and seed), the
    ``init`` sketch its strokes start from (or None), its canvas and how its strokes look; with an
    init, ``edit`` (what the refine locks, moves and adds; strokes in the optimiser are the init's,
    then the added ones) and ``region`` (where added and moving strokes stay, or None)."""

    config: SketchConfig
    init: Sketch | None
    prepared: Prepared
    looks: Looks
    edit: EditPlan | None = None
    region: Region | None = None

    def movable(self, device: torch.device) -> torch.Tensor | None:
        """The strokes that move [S] (bool), or None when all do."""
        if self.edit is None or all(self.edit.movable):
            return None
        return self.edit.movable_mask(device)


def image_job(engine: Engine, image: str | os.PathLike | LoadedImage | None, config: SketchConfig | None = None,
              init: Sketch | None = None) -> ImageJob:
    """The job of one image: loaded and checked, its models checked (one message naming every
    missing one), masked and put on the canvas; ``config``: this image's (default the engine's)."""
    config = config or engine.config
    loaded = load_checked(image)
    edit, region = plan_refine(config, init, loaded.width, loaded.height) if init is not None else (None, None)
    engine.check_models(loaded, init is not None, adds=bool(edit and (edit.added or config.resketch)))
    prepared = prepare(loaded, config)
    return ImageJob(config, init, prepared, stroke_looks(config, init, prepared.transform, edit), edit, region)


def plan_refine(config: SketchConfig, init: Sketch, width: float, height: float) -> tuple[EditPlan, Region | None]:
    """The plan of a refine of ``init`` over an image of ``width`` x ``height`` px and its region
    (``edit``); InputError for a region or plan that cannot be."""
    region = parse_region(config.region, width, height) if config.region else None
    scale = torch.tensor([width / init.width, height / init.height], dtype=torch.float64)
    centres = torch.tensor([s.points for s in init.strokes], dtype=torch.float64).mean(1) * scale
    return plan_edit(init, config.lock, config.add, config.fill_to, config.move, region, centres), region


def step_reporter(progress: Callable[[events.Event], None] | None, job: ImageJob,
                  frame: int | None = None, level: int | None = None,
                  ids=None) -> Callable[[StepReport], None] | None:
    """``optimize``'s step callback sending ``Progress`` every step and ``Preview`` every
    ``preview_every`` steps (``frame``: the animation frame, or None; ``level``: the smaller level
    being fine-tuned, or None; its steps send no previews: the level event shows it; ``ids``: the
    strokes being optimised, in their order, default 0 .. S - 1)."""
    if progress is None:
        return None

    def report(p: StepReport) -> None:
        eta = p.elapsed_s / p.iteration * (p.total - p.iteration)
        progress(events.Progress(p.iteration, p.total, p.loss, p.best_loss, round(p.elapsed_s, 3),
                                 round(eta, 1), frame, level))
        if level is None and p.iteration % job.config.preview_every == 0:
            preview = _to_sketch(p.best_points.cpu(), job.looks, job.prepared, {}, ids)
            if job.edit is not None:  # a refine's strokes in its places: the file's, then the added ones
                for stroke, stroke_id, locked in zip(preview.strokes, job.edit.ids, job.edit.locked + [False] * job.edit.added):
                    stroke.id, stroke.locked = stroke_id, locked
            progress(events.Preview(p.iteration, preview))
    return report


class CancelCheck:
    """The run's cancel as the loops ask it: ``check()`` is True once the event is set, and
    ``cut_short`` records that a loop asked and stopped, so a cancel that comes after the last
    step (while ranking or writing) does not mark a complete sketch cancelled."""

    def __init__(self, cancel: threading.Event | None):
        self.cancel = cancel
        self.cut_short = False

    def check(self) -> bool:
        if self.cancel is not None and self.cancel.is_set():
            self.cut_short = True
        return self.cut_short


@dataclass
class Optimised:
    """The best of the seeds of one image: ``top`` its strokes ranked, ``result`` every seed's
    figures, ``winner`` the best seed's position, ``seeds`` their numbers."""

    top: RankedStrokes
    result: OptimizationResult
    winner: int
    seeds: list[int]
    style: StrokeStyle
    objective: ClipObjective
    rngs: list[np.random.Generator]


def optimise_images(engine: Engine, jobs: list[ImageJob], reports: list[Callable[[StepReport], None] | None],
                    cancelled: Callable[[], bool], timings: dict[str, float] | None = None,
                    ids: list[int] | None = None) -> list[Optimised]:
    """Sketch prepared images from scratch, together (``optimize.optimize_batch``: one encoder call
    per step for all): per image the init (saliency, or its ``init``'s strokes) of every seed, the
    best seed ranked. Each image's strokes are those it gets alone. ``reports``: each image's step
    callback. ``ids``: the stroke ids of the places, whose looks they are drawn with (default
    0 .. S - 1). Raises Cancelled when cancelled before the first step."""

    def stop_if_cancelled() -> None:
        if cancelled():
            raise Cancelled("cancelled before the optimisation started; nothing written")

    stop_if_cancelled()
    starts = []
    for job in jobs:
        seeds = [job.config.seed + k * SEED_STRIDE for k in range(job.config.seed_count)]
        torch.manual_seed(job.config.seed)
        starts.append((seeds, _initial_points(job.config, job.init, job.prepared, engine.device, seeds,
                                              engine.load_saliency)))
        stop_if_cancelled()
    loss = engine.load_loss()
    stop_if_cancelled()
    parts = []
    for job, (seeds, points), report in zip(jobs, starts, reports):
        rngs = [np.random.default_rng(s + 1) for s in seeds]  # each seed's augmentations
        objective = ClipObjective(loss, job.prepared.target.to(engine.device), engine.preset, rngs[0],
                                  job.looks.stroke_width)
        count = points.shape[1] + (job.edit.added if job.edit is not None else 0)
        stroke_ids = list(range(count)) if ids is None else list(ids)
        style = job.looks.style(stroke_ids, job.prepared.transform.image_box(), engine.device)
        if job.edit is not None:
            points = _fresh_strokes(job, points, style, objective, seeds, engine.load_saliency)
            stop_if_cancelled()
        keep_in = canvas_keep_in(job.region, job.prepared.transform) if job.region is not None else None
        parts.append((Job(points, style, objective, rngs, report, job.movable(engine.device), keep_in),
                      seeds, stroke_ids))
    results = optimize_batch([part[0] for part in parts], engine.preset, cancelled, timings, engine.graphs)
    if all(result.cancelled and max(result.iterations) == 0 for result in results):
        stop_if_cancelled()
    done = []
    for (job, seeds, stroke_ids), result in zip(parts, results):
        winner = int(np.argmin(result.losses))
        top = rank_strokes(result.points[winner], stroke_ids, job.style, job.objective)
        done.append(Optimised(top, result, winner, seeds, job.style, job.objective, job.rngs))
    return done


def sketch(image: str | os.PathLike | LoadedImage | None = None, config: SketchConfig | None = None,
           progress: Callable[[events.Event], None] | None = None,
           cancel: threading.Event | None = None, timings: dict[str, float] | None = None,
           encoders: Encoders | None = None) -> Sketch:
    """Sketch an image (a path, a ``LoadedImage``, or None for the bundled example).

    progress receives ``contract.events`` objects: ``Progress`` after every step, ``Preview`` (the
    best strokes so far) every ``config.preview_every`` steps, ``LevelDone`` per level and
    ``Download`` while a model file is fetched (first run). Setting ``cancel`` stops the run:
    once the optimisation has run a step, the best sketch so far is returned with
    ``metadata["cancelled"] = True``; before that (loading, masking, init), ``Cancelled`` is raised.
    ``timings`` (benchmarks): a dict that receives seconds per phase ("render", "loss", "eval", see
    ``optimize``). ``encoders`` (``backbones.Encoders``): image networks that replace the backbone
    profile's for the loss and/or the saliency (any ``backbones.SketchEncoder``).
    """
    with reporting(progress, cancel):  # model downloads report to progress and stop on cancel
        config = (config or SketchConfig()).validate()
        engine = start_engine(config, encoders)
        started = time.perf_counter()
        check = CancelCheck(cancel)
        job = image_job(engine, image, config, read_run_init(config))
        done = optimise_images(engine, [job], [step_reporter(progress, job)], check.check, timings)[0]
        return finish(engine, job, done, progress, check, started)


def read_run_init(config: SketchConfig) -> Sketch | None:
    """The --init sketch of a validated config (None without), its stroke count checked against
    --levels."""
    init = read_init(config.init) if config.init else None
    if init is not None and config.levels:
        count = run_stroke_count(config, init)
        if count != config.levels[0]:
            raise InputError(f"the largest of --levels ({config.levels[0]}) must be the run's stroke count "
                             f"({count}: the --init file's strokes and those added)")
    return init


def run_stroke_count(config: SketchConfig, init: Sketch) -> int:
    """Strokes of a refine of ``init``: its own and those --add or --fill-to add."""
    from .edit.plan import added_count

    return len(init.strokes) + added_count(init, config.add, config.fill_to)


def finish(engine: Engine, job: ImageJob, done: Optimised, progress: Callable[[events.Event], None] | None,
           check: CancelCheck, started: float) -> Sketch:
    """The sketch of an optimised image: its smaller levels (``--levels``, fine-tuned in turn), its
    metadata (``seconds`` since ``started``) and its strokes ranked."""
    config, looks, prepared = job.config, job.looks, job.prepared
    top, result, winner = done.top, done.result, done.winner

    def on_level(count: int, level: RankedStrokes) -> None:
        if progress is not None:
            progress(events.LevelDone(count, round(level.loss, 6), _ranked_sketch(level, looks, prepared, {}, job)))

    strokes = len(top.points)  # the init file's count when there is one
    if config.levels:
        on_level(strokes, top)
    edit = job.edit
    movable = None if edit is None else {i for i, moves in enumerate(edit.movable) if moves}
    keep_in = canvas_keep_in(job.region, prepared.transform) if job.region is not None else None
    levels = smaller_levels(top, list(config.levels[1:]), done.style, done.objective, engine.preset,
                            done.rngs[winner], on_level, check.check,
                            lambda count: step_reporter(progress, job, level=count), movable, keep_in)
    metadata = {
        **engine.metadata(), "strokes": strokes, "seed": done.seeds[winner], "seeds": done.seeds,
        "seed_losses": [round(v, 6) for v in result.losses], "iterations": result.iterations[winner],
        "final_loss": round(result.losses[winner], 6), "masked": prepared.masked, "init": job.init is not None,
        "cancelled": check.cut_short, "seconds": round(time.perf_counter() - started, 2),
    }
    if config.levels:
        metadata["levels"] = [config.levels[0], *(len(level.points) for level in levels)]
    if edit is not None:
        metadata.update(locked=sum(edit.locked), added=edit.added, moved=sum(edit.movable))
    result_sketch = _ranked_sketch(top, looks, prepared, metadata, job)
    if config.levels:
        result_sketch.levels = [Level(len(level.points), round(level.loss, 6),
                                      _ranked_sketch(level, looks, prepared, {}, job).strokes)
                                for level in (top, *levels)]
    return result_sketch
