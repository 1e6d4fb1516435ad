"""The ``clipasso`` command, started by launcher.py (``clipasso``, ``python -m clipasso_core``).

Exit codes: 0 done; 2 bad input, bad option or a model that cannot be loaded (nothing written);
3 cancelled by SIGINT/SIGTERM or, with ``--watch-parent``, by the parent closing stdin or exiting
(the best sketch so far was written); 1 an unexpected internal error.

``--progress json`` prints the events of ``contract.events`` (one JSON object per line, the
protocol of ``contract/PROTOCOL.md``) on stdout and nothing on stderr unless the run fails.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

from . import __version__
from .contract import events
from .contract.client import EXIT_CANCELLED
from .contract.formats import FormatError
from .contract.options import ANIMATE_OPTIONS, EDIT_OPTIONS, RUN_OPTIONS, WEIGHT_FILE_OPTIONS
from .errors import Cancelled, ClipassoError, InputError
from .launcher import Stop, progress_mode


class TerminalView:
    """``--progress bar``: what a person sees on ``stream`` (stderr). On a terminal, a tqdm bar per
    stage (the sketch, each smaller level, each frame) and per downloaded file; elsewhere (a log
    file, a pipe) plain lines, at most one per ``PLAIN_EVERY_S`` seconds and one at each stage's end."""

    PLAIN_EVERY_S = 10.0

    def __init__(self, stream):
        self.stream = stream
        self.tty = stream.isatty()
        self.bar = self.download = None
        self.stage: str | None = None
        self.frames: int | None = None
        self.frames_done = 0
        self.images: int | None = None
        self.started = time.monotonic()
        self.last_line = 0.0

    def show(self, event, also: list[str]) -> None:
        if isinstance(event, (events.ImageDone, events.BatchDone)) or getattr(event, "image", None) is not None:
            self._batch(event)
        elif isinstance(event, events.Start):
            frames = f", {event.frames} frames" if event.frames else ""
            frames += f", {event.images} images" if event.images is not None else ""
            self._line(f"sketching {event.input}: {event.strokes} strokes, {event.preset} preset, "
                       f"{event.iterations} steps{frames}; loading the models...")
            self.frames, self.images = event.frames, event.images
            self.started = time.monotonic()  # images per hour count the models' loading too
        elif isinstance(event, events.Download):
            self._download(event)
        elif isinstance(event, events.Progress):
            self._progress(event)
        elif isinstance(event, events.FrameDone):
            self.frames_done = event.done
        elif isinstance(event, events.WarningMessage):
            self._line(event.message)
        elif isinstance(event, events.Done):
            if self.bar is not None and not event.cancelled:
                self.bar.set_postfix(best_loss=f"{event.loss:.4g}", refresh=True)  # the file's loss
            self.close()
            self._line(_finished(event, also))

    def _progress(self, event: events.Progress) -> None:
        stage = ("sketch" if event.frame is None and event.level is None else
                 f"level {event.level}" if event.level is not None else
                 f"frame {self.frames_done + 1}/{self.frames}" if self.frames else f"frame {self.frames_done + 1}")
        if stage != self.stage:  # a new stage: its own bar, its own loss
            self.close()
            self.stage = stage
            if self.tty:
                from tqdm import tqdm

                self.bar = tqdm(total=event.total, desc=stage, unit="step", file=self.stream,
                                dynamic_ncols=True, mininterval=0.2)
        if self.bar is not None:
            self.bar.set_postfix(best_loss=f"{event.best_loss:.4g}", refresh=False)
            self.bar.update(event.iteration - self.bar.n)
        elif (event.iteration in (1, event.total)
              or time.monotonic() - self.last_line >= self.PLAIN_EVERY_S):
            left = f", about {event.eta_s:.0f} s left" if event.iteration < event.total else ""
            self._line(f"{stage}: step {event.iteration}/{event.total}, best loss {event.best_loss:.4g}, "
                       f"{event.elapsed_s:.0f} s{left}")

    def _batch(self, event) -> None:
        """``batch``: one bar over the images (done/total, images per hour, ETA); a line per failed
        image; steps of the images in flight as the bar's postfix (plain: a line per image)."""
        if self.stage != "images":
            self.close()
            self.stage = "images"
            if self.tty:
                from tqdm import tqdm

                self.bar = tqdm(total=self.images, desc="images", unit="image", file=self.stream,
                                dynamic_ncols=True, mininterval=0.5)
        if isinstance(event, events.Progress) and self.bar is not None:
            self.bar.set_postfix_str(f"step {event.iteration}/{event.total}", refresh=False)
        elif isinstance(event, events.ImageDone):
            per_hour = event.done / max(time.monotonic() - self.started, 1e-9) * 3600
            if event.status == "failed":
                self._line(f"failed: {event.input}: {event.error}")
            if self.bar is not None:
                self.bar.set_postfix_str(f"{per_hour:.0f} images/h", refresh=False)
                self.bar.update(event.done - self.bar.n)
            else:
                self._line(f"image {event.done}/{event.total} {event.status}: {event.input} "
                           f"({per_hour:.0f} images/h)")
        elif isinstance(event, events.BatchDone):
            self.close()
            stopped = "cancelled: " if event.cancelled else ""
            self._line(f"{stopped}{event.done} done, {event.failed} failed, {event.skipped} already done; "
                       f"results in {event.table}")

    def _download(self, event: events.Download) -> None:
        """A byte bar (plain: a line every PLAIN_EVERY_S) per file fetched, closed when complete."""
        if self.stage != event.what:
            self.close()
            self.stage = event.what
            self._line(f"downloading {event.what}" + (f" into {event.cache}" if event.cache else ""))
            if self.tty:
                from tqdm import tqdm

                self.download = tqdm(total=event.total, desc=event.what, unit="B", unit_scale=True,
                                     unit_divisor=1024, file=self.stream, dynamic_ncols=True, mininterval=0.2)
        complete = bool(event.total) and event.bytes >= event.total
        if self.download is not None:
            self.download.update(event.bytes - self.download.n)
        elif complete or time.monotonic() - self.last_line >= self.PLAIN_EVERY_S:
            total = f" of {event.total / 2 ** 20:.1f}" if event.total else ""
            self._line(f"{event.what}: {event.bytes / 2 ** 20:.1f}{total} MiB")
        if complete:
            self.close()

    def _line(self, text: str) -> None:
        """A line above the open bar, if any."""
        if self.bar is not None or self.download is not None:
            (self.bar or self.download).write(text, file=self.stream)
            return
        self.stream.write(text + "\n")
        self.stream.flush()
        self.last_line = time.monotonic()

    def close(self) -> None:
        for bar in (self.bar, self.download):
            if bar is not None:
                bar.close()
        self.bar = self.download = None
        self.stage = None


class Reporter:
    """Writes events as a tqdm bar on stderr, JSON lines on stdout, or nothing. ``stop`` is the
    process's cancel (``launcher.Stop``; ``cancel`` its event): when the reader of the JSON lines
    goes away (a closed pipe), the run is cancelled and goes quiet; in bar mode the first signal is
    answered at once with a line saying that the run is stopping. An event that cannot be encoded
    as strict JSON (a bug, e.g. a NaN loss) is left out and the first one reported in a ``warning``
    event; the run goes on."""

    def __init__(self, mode: str, stop: Stop | None = None):
        self.mode = mode
        self.view: TerminalView | None = None
        self.stop = stop or Stop()
        self.cancel = self.stop.event
        self.also: list[str] = []
        """Outputs the ``done`` event does not name (frame folders), named on the last line."""
        self.stop.on_first = self._stopping
        self.unencodable = 0
        """Events left out because they could not be encoded."""

    def _stopping(self) -> None:
        """Called in the signal handler: a raw write (a buffered one may be in progress)."""
        if self.mode == "bar" and self.stop.hard:
            os.write(2, b"\nclipasso: stopping after this step, keeping the best sketch so far "
                        b"(press Ctrl-C again to stop at once and write nothing)\n")
        elif self.mode == "bar":
            os.write(2, b"\nclipasso: stopping before the sketch starts\n")

    def emit(self, event) -> None:
        if self.mode == "json":
            try:
                line = events.to_line(event)
            except (TypeError, ValueError) as exc:
                self._unencodable(event, exc)
                return
            try:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            except (OSError, ValueError):  # a closed pipe, or a closed stdout
                self.mode = "none"
                self.cancel.set()
                sys.stdout = open(os.devnull, "w")  # the interpreter's final flush must not fail
        elif self.mode == "bar":
            self._bar(event)

    def _unencodable(self, event, exc: Exception) -> None:
        self.unencodable += 1
        if self.unencodable == 1:
            self.emit(events.WarningMessage(
                f"internal error: a {event.name} event could not be sent ({exc}); such events are left "
                "out and the run goes on. Please report it."))

    def _bar(self, event) -> None:
        if self.view is None:
            self.view = TerminalView(sys.stderr)
        self.view.show(event, self.also)

    def close(self) -> None:
        if self.view is not None:
            self.view.close()

    def error(self, message: str, code: int) -> None:
        self.close()
        if self.mode == "json":
            self.emit(events.Error(message, code))
        sys.stderr.write(f"clipasso: error: {message}\n")


def _finished(event: events.Done, also: list[str]) -> str:
    """The bar mode's last line: every file written, saying when the run was cancelled."""
    written = ", ".join([event.svg, *(path for path in (event.json, event.raster) if path), *also])
    if not event.cancelled:
        return f"wrote {written}"
    done = f"{event.frames} frames" if event.frames is not None else f"{event.iterations} steps"
    return f"cancelled after {done}: wrote the best sketch so far to {written}"


class _Given(argparse.Action):
    """Stores the value and notes that the option was given (``args.given``): an --init file's own
    stroke looks and stroke count yield only to options given on the command line."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.given = getattr(namespace, "given", frozenset()) | {self.dest}


def _given(args: argparse.Namespace, name: str) -> bool:
    return name in getattr(args, "given", ())


def _add_option(parser, name: str, kind, table=RUN_OPTIONS) -> None:
    """An argparse option from a contract table (its flag, help, choices and default)."""
    option = table[name]
    default = f" (default: {option.default})" if option.default != "" else ""
    parser.add_argument(option.flag, dest=name, type=kind, default=option.default, action=_Given,
                        choices=list(option.choices) or None, help=option.help + default)


class UsageError(InputError):
    """A command line argparse refuses."""


class _Parser(argparse.ArgumentParser):
    """Usage errors go through the reporter like any bad input: one line (and an ``error`` event)."""

    def error(self, message: str):
        raise UsageError(f"{message} (see {self.prog} --help)")


SKETCH_DESCRIPTION = """\
Sketch a picture of an object as a few strokes (the CLIPasso method): strokes start where the
picture's edges and salient parts are and are optimised so that CLIP sees the sketch as the picture.
The background is removed first when it is not plain (--mask). Ctrl-C stops after the current step
and writes the best sketch so far; a second Ctrl-C stops at once and writes nothing."""
SKETCH_EXAMPLES = """\
examples:
  clipasso sketch photo.jpg -o photo.svg                     16 strokes, the default preset
  clipasso sketch photo.jpg --strokes 8 --preset fast        a quick, more abstract sketch
  clipasso sketch photo.jpg --levels 32,16,8,4 --json s.json four levels of abstraction in one run
  clipasso sketch photo.jpg --init edited.svg -o refined.svg refine an edited sketch
  clipasso sketch photo.jpg --init s.json --lock 0-5         keep strokes 0 to 5, re-sketch the rest
  clipasso sketch photo.jpg --init s.json --add 4 --region 100,80,300,240
                                                             4 new strokes in that rectangle
  clipasso sketch photo.jpg --init erased.svg --fill-to 16   draw back the strokes erased
  clipasso sketch --backbone tiny-random --preset fast       a smoke test with random weights"""
ANIMATE_DESCRIPTION = """\
Sketch every frame of a moving picture; each frame continues the previous frame's strokes (moved
with the optical flow), so stroke k is the same stroke in every frame. Ctrl-C keeps the frames done."""
ANIMATE_EXAMPLES = """\
examples:
  clipasso animate clip.mp4 -o clip.svg --end 47             the first 48 frames
  clipasso animate 'shots/*.png' --step 2 --frames-dir out   every other image, one SVG per frame too"""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="clipasso", description="Turn a picture of an object into a line sketch.")
    parser.add_argument("--version", action="version",
                        version=f"clipasso {__version__} (protocol {events.PROTOCOL_VERSION})")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    info = sub.add_parser("info", help="print the version and protocol as one JSON event (for integrations)")
    info.add_argument("--check", action="store_true",
                      help="first also print, one 'name: value' line each, torch, the device and whether "
                           "the CLIP weights are downloaded (for people; the editors show the lines)")
    s = sub.add_parser("sketch", help="sketch an image into an SVG", description=SKETCH_DESCRIPTION,
                       epilog=SKETCH_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("input", nargs="?", help="image file (default: the bundled example, a cat photo)")
    s.add_argument("-o", "--output", default="sketch.svg", help="SVG to write (default: sketch.svg)")
    s.add_argument("--json", dest="json_out", help="also write the sketch JSON (editor exchange format)")
    s.add_argument("--save-raster", help="also write the optimiser's own raster (224 px canvas) as PNG")
    _add_run_options(s)
    _add_option(s, "levels", str)
    s.add_argument("--show-level", type=int, help="with --levels: the level the SVG shows (default: the largest)")
    s.add_argument("--draw-on", type=float, metavar="SECONDS",
                   help="write an SVG that draws itself stroke by stroke, most important first, in SECONDS")
    s.add_argument("--init", help="start from this SVG or sketch JSON instead of saliency sampling")
    for name, kind in (("lock", str), ("add", int), ("fill_to", int), ("region", str), ("move", str)):
        _add_option(s, name, kind, EDIT_OPTIONS)
    s.add_argument("--resketch", action="store_true", help=EDIT_OPTIONS["resketch"].help)
    s.add_argument("--plotter", action="store_true",
                   help="write the SVG for a pen plotter: a layer per colour, strokes ordered for little pen-up "
                        "travel (--order, --units; see clipasso export)")
    from .plotter.command import add_parser as add_export_parser, add_plotter_options

    add_plotter_options(s)
    a = sub.add_parser("animate", help="sketch the frames of a video, animated image or image folder into "
                                       "an animated SVG whose strokes move with the frames",
                       description=ANIMATE_DESCRIPTION, epilog=ANIMATE_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("input", help="a video file, an animated GIF/WebP/PNG, a folder of images (natural "
                                 "order), a glob pattern such as 'shots/*.png', or one image")
    a.add_argument("-o", "--output", default="animation.svg", help="animated SVG to write (default: animation.svg)")
    a.add_argument("--json", dest="json_out", help="also write the sequence JSON (editor exchange format)")
    a.add_argument("--frames-dir", help="also write one SVG per frame into this folder (frame_00000.svg, ...)")
    _add_option(a, "start", int, ANIMATE_OPTIONS)
    _add_option(a, "end", int, ANIMATE_OPTIONS)
    _add_option(a, "step", int, ANIMATE_OPTIONS)
    _add_option(a, "fps", float, ANIMATE_OPTIONS)
    _add_run_options(a)
    a.add_argument("--init", help="start the first frame from this SVG or sketch JSON")
    from .batch.command import add_parser as add_batch_parser

    add_batch_parser(sub, _add_run_options, _add_option)
    add_export_parser(sub)
    i = sub.add_parser("integrate", help="install the editor add-ons, set up to use this core")
    editors = i.add_subparsers(dest="editor", required=True, parser_class=_Parser)
    ink = editors.add_parser("inkscape", help="install the Inkscape extensions into the user's Inkscape")
    ink.add_argument("--profile", help="Inkscape profile folder (default: Inkscape's own, INKSCAPE_PROFILE_DIR, "
                                       "or the usual folder of this system)")
    ink.add_argument("--uninstall", action="store_true", help="remove exactly what integrate installed")
    blend = editors.add_parser("blender", help="build the Blender extension zip (and install it with --blender)")
    blend.add_argument("-o", "--output", default=".", help="folder for the zip (default: the current folder)")
    blend.add_argument("--blender", help="a Blender binary: also install and enable the extension with it")
    return parser


def _add_run_options(s: argparse.ArgumentParser) -> None:
    """The options ``sketch`` and ``animate`` share."""
    _add_option(s, "strokes", int)
    _add_option(s, "seeds", int)
    s.add_argument("--seed", type=int, default=0, help="first seed (default 0; others +1000, +2000, ...)")
    _add_option(s, "iterations", int)
    _add_option(s, "preset", str)
    _add_option(s, "stroke_width", float)
    _add_option(s, "color", str)
    _add_option(s, "opacity", float)
    _add_option(s, "mask", str)
    s.add_argument("--mask-model", default="u2net", help="rembg model for masking (default u2net)")
    s.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto: CUDA, else Apple's "
                                                    "MPS, else the CPU)")
    _add_option(s, "backbone", str)
    _add_option(s, "clip_weights", str, WEIGHT_FILE_OPTIONS)
    _add_option(s, "saliency_weights", str, WEIGHT_FILE_OPTIONS)
    s.add_argument("--progress", default="bar", choices=("bar", "json", "none"),
                   help="bar: a progress bar on stderr (plain lines when stderr is not a terminal); json: one "
                        "event per line on stdout (contract/PROTOCOL.md); none (default: bar)")
    s.add_argument("--preview-every", type=int, default=20,
                   help="steps between preview events of --progress json (default: 20)")
    s.add_argument("--watch-parent", action="store_true",
                   help="stop as on a cancel when stdin closes or the parent process exits "
                        "(for integrations that hold the core's stdin)")


LOOKS = {"canvas_stroke_width": "stroke_width", "color": "color", "opacity": "opacity"}
"""SketchConfig's stroke looks and their options: left out unless given (then --init strokes keep theirs)."""


def _config(args: argparse.Namespace):
    from .config import SketchConfig

    return SketchConfig(
        strokes=args.strokes, preset=args.preset, seeds=args.seeds or None, iterations=args.iterations or None,
        seed=args.seed, **{field: getattr(args, name) for field, name in LOOKS.items() if _given(args, name)},
        mask=args.mask, mask_model=args.mask_model, device=args.device, backbone=args.backbone,
        clip_weights=args.clip_weights, saliency_weights=args.saliency_weights, init=args.init,
        preview_every=args.preview_every, levels=_levels(getattr(args, "levels", "")),
        **_edits(args)).validate()


def _edits(args: argparse.Namespace) -> dict:
    """The refine options of ``sketch`` (none for the other commands)."""
    if not hasattr(args, "lock"):
        return {}
    from .edit.plan import parse_ids

    return {"lock": parse_ids(args.lock), "add": args.add, "fill_to": args.fill_to,
            "region": args.region or None, "move": args.move, "resketch": args.resketch}


def _stroke_count(args: argparse.Namespace, config, image=None) -> int:
    """The run's stroke count: --init's strokes, else the largest of --levels, else --strokes. A
    given --strokes that says otherwise is refused rather than ignored. ``image`` (a sketch's
    loaded image, with --init): its refine is planned here, so that a bad one fails before the
    start event."""
    from .pipeline import plan_refine, read_init, run_stroke_count

    if config.init:
        init = read_init(config.init)
        count = run_stroke_count(config, init)
        if image is not None:
            plan_refine(config, init, image.width, image.height)
        why = (f"the --init file, which has {count} strokes: an --init sketch keeps its own strokes"
               if count == len(init.strokes) else
               f"the --init file and the strokes added, {count} strokes: an --init sketch keeps its own strokes")
    elif config.levels:
        count = config.levels[0]
        why = f"--levels: the largest level ({count}) is the stroke count"
    else:
        return config.strokes
    if _given(args, "strokes") and args.strokes != count:
        raise InputError(f"--strokes {args.strokes} disagrees with {why}; leave --strokes out")
    return count


def _levels(text: str) -> tuple[int, ...]:
    from .contract.options import parse_levels

    return tuple(parse_levels(text))


def _check_output(path: str, suffix: str) -> Path:
    """The output path, checked before the run: its suffix, and that its folder takes the file."""
    from .atomic import check_writable

    out = Path(path)
    if out.suffix.lower() != suffix:
        raise InputError(f"output {path} should end in {suffix}")
    check_writable(out)
    return out


def _start(args: argparse.Namespace, reporter: Reporter, config, start: events.Start) -> None:
    """The start event (and the warning of random weights) go out, unless a cancel came first; from
    here a second signal stops the run at once."""
    from .backbones import PROFILES

    if args.watch_parent:
        reporter.stop.watch_parent()  # already watching when started by the launcher
    if reporter.stop.event.is_set():
        raise Cancelled("cancelled before the sketch started; nothing written")
    reporter.emit(start)
    if PROFILES[config.backbone].random:
        reporter.emit(events.WarningMessage(f"--backbone {config.backbone} uses RANDOM CLIP weights: for "
                                            "tests and smoke runs only, the sketch is not meaningful"))
    reporter.stop.hard = True


def _write(reporter: Reporter, files: dict[Path, bytes], folders: list[Path] = ()) -> None:
    """Write the outputs (each atomically; ``folders`` made for them, removed again if the write
    fails); a second signal now waits for the files to be written."""
    from .atomic import write_files

    reporter.stop.hard = False
    write_files(files, folders=list(folders))


def run_sketch(args: argparse.Namespace, reporter: Reporter) -> int:
    from .image_io import check_image_path
    from .pipeline import EXAMPLE_IMAGE, canvas_png, load_checked, resolve_device, sketch
    from .svg import to_svg

    config = _config(args)
    if args.show_level is not None and args.show_level not in config.levels:
        raise InputError(f"--show-level {args.show_level} is not one of the levels "
                         f"({','.join(map(str, config.levels)) or 'none: pass --levels'})")
    if args.draw_on is not None and not 0 < args.draw_on <= 3600:
        raise InputError(f"--draw-on must be a number of seconds from 0 to 3600, got {args.draw_on!r}")
    if args.plotter and args.draw_on is not None:
        raise InputError("--plotter writes a still SVG for a pen: leave out --draw-on")
    resolve_device(config.device)
    svg_path = _check_output(args.output, ".svg")
    json_path = _check_output(args.json_out, ".json") if args.json_out else None
    raster_path = _check_output(args.save_raster, ".png") if args.save_raster else None
    if args.input is not None:
        check_image_path(args.input)
    image = load_checked(args.input) if config.init else None  # a refine is planned before the start event
    init_strokes = _stroke_count(args, config, image)
    _start(args, reporter, config, events.Start(__version__, str(args.input or EXAMPLE_IMAGE), init_strokes,
                                                config.seed_count, config.resolved_preset().iterations,
                                                config.preset, config.backbone))
    with warnings.catch_warnings():
        # the random-weights warning went through the reporter; library chatter goes nowhere
        # (integrations such as Inkscape turn any stderr output into an error dialog)
        warnings.simplefilter("ignore")
        result = sketch(image or args.input, config, progress=reporter.emit, cancel=reporter.cancel)  # loaded once
    if args.plotter:
        from .plotter.layers import plotter_drawing

        shown = result.level(args.show_level) if args.show_level is not None else result
        svg = plotter_drawing(shown, args.order).to_svg(args.units)
    else:
        svg = to_svg(result, show_level=args.show_level, draw_on=args.draw_on)
    files = {svg_path: svg.encode("utf-8")}
    if json_path:
        files[json_path] = result.to_json().encode("utf-8")
    if raster_path:
        files[raster_path] = canvas_png(result)
    _write(reporter, files)
    cancelled = bool(result.metadata.get("cancelled"))
    reporter.emit(events.Done(str(svg_path), result.metadata["final_loss"], result.metadata["seed"],
                              result.metadata["iterations"], cancelled,
                              str(json_path) if json_path else None,
                              str(raster_path) if raster_path else None))
    return EXIT_CANCELLED if cancelled else 0


def run_animate(args: argparse.Namespace, reporter: Reporter) -> int:
    from .animation import animate
    from .atomic import check_writable
    from .frames import FrameWarning, open_frames
    from .pipeline import resolve_device
    from .svg import to_svg
    from .svg_animation import to_animated_svg

    config = _config(args)
    resolve_device(config.device)
    svg_path = _check_output(args.output, ".svg")
    json_path = _check_output(args.json_out, ".json") if args.json_out else None
    frames_dir = Path(args.frames_dir) if args.frames_dir else None
    if frames_dir is not None:  # made at the end when missing: its parent must take it
        check_writable(frames_dir / "frame_00000.svg" if frames_dir.is_dir() else frames_dir)
    source = open_frames(args.input)
    selection = source.select(args.start, None if args.end < 0 else args.end, args.step)
    strokes = _stroke_count(args, config)
    preset = config.resolved_preset()
    _start(args, reporter, config, events.Start(__version__, args.input, strokes, config.seed_count, preset.iterations,
                                                config.preset, config.backbone, selection.total))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FrameWarning)
        result = animate(source, config, start=args.start, end=selection.end, step=args.step,
                         fps=args.fps or None, progress=reporter.emit, cancel=reporter.cancel)
    for warning in caught:
        if issubclass(warning.category, FrameWarning):
            reporter.emit(events.WarningMessage(str(warning.message)))
    files = {svg_path: to_animated_svg(result).encode("utf-8")}
    if json_path:
        files[json_path] = result.to_json().encode("utf-8")
    if frames_dir is not None:  # made now, and removed again if the files cannot be written
        for position, frame in enumerate(result.frames):
            files[frames_dir / f"frame_{frame.index:05d}.svg"] = to_svg(result.frame_sketch(position)).encode("utf-8")
        reporter.also.append(f"{len(result.frames)} frame SVGs in {frames_dir}")
    _write(reporter, files, folders=[frames_dir] if frames_dir is not None else [])
    cancelled = bool(result.metadata.get("cancelled"))
    reporter.emit(events.Done(str(svg_path), result.metadata["mean_loss"], config.seed, result.metadata["steps"],
                              cancelled, str(json_path) if json_path else None, frames=len(result.frames)))
    return EXIT_CANCELLED if cancelled else 0


def run_batch(args: argparse.Namespace, reporter: Reporter) -> int:
    from .batch.command import run_batch as run
    from .pipeline import resolve_device

    config = _config(argparse.Namespace(**{**vars(args), "init": None}))
    if not getattr(args, "ray", None):  # with --ray the workers' devices count, not this machine's
        resolve_device(config.device)
    return run(args, reporter, config, lambda start: _start(args, reporter, config, start))


@contextlib.contextmanager
def _stderr_held():
    """Inside, file descriptor 2 goes to a temporary file: what libraries print there (download
    messages, bars, native warnings) never reaches an integration, which may show any stderr output
    as an error. The run's own error line is written after the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def run_integrate(args: argparse.Namespace) -> int:
    """``clipasso integrate inkscape|blender``: one line per thing done on stdout."""
    if args.editor == "inkscape":
        from .integrate_inkscape import integrate

        lines = integrate(profile=args.profile, uninstall=args.uninstall)
    else:
        from .integrate_blender import integrate

        lines = integrate(output=args.output, blender=args.blender)
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return 0


def info_check() -> list[str]:
    """``clipasso info --check``: what a sketch would use here, one "name: value" line each for a
    person (the editors show them as they are): the core's and torch's versions, the device
    (``--device auto``) and, for each model a default sketch may need (the two OpenAI CLIP
    checkpoints, rembg's background mask model), whether it is here and where it is or would go."""
    lines = [f"clipasso core: {__version__}"]
    try:
        import torch

        from .backbones import PROFILES, WEIGHT_ENV, model_needed
        from .downloads import mask_model_needed
        from .pipeline import resolve_device
    except Exception as exc:  # a broken environment: say what, the editors show it
        return lines + [f"torch: cannot be loaded ({exc.__class__.__name__}: {exc})"]
    lines += [f"torch: {torch.__version__}", f"device: {resolve_device('auto').type}"]
    profile = PROFILES["openai"]
    for role, arch in (("loss", profile.loss_arch), ("saliency", profile.saliency_arch)):
        what = f"CLIP {arch} weights"
        if os.environ.get(WEIGHT_ENV[role]):
            lines.append(f"{what}: the file {os.environ[WEIGHT_ENV[role]]} ({WEIGHT_ENV[role]})")
            continue
        model = model_needed(profile, role)
        lines.append(f"{what}: downloaded ({model.found})" if model.found else
                     f"{what}: not downloaded yet; the first sketch downloads it into {model.cache}")
    try:
        mask = mask_model_needed("u2net")
    except Exception as exc:  # rembg or onnxruntime broken: say what
        return lines + [f"background mask model u2net: rembg cannot be loaded ({exc.__class__.__name__}: {exc})"]
    if mask is not None:
        lines.append(f"background mask model u2net: downloaded ({mask.found})" if mask.found else
                     f"background mask model u2net: not downloaded yet; the first sketch that masks a "
                     f"background (--mask auto or on) downloads it into {mask.cache}")
    return lines


def main(argv: list[str] | None = None, stop: Stop | None = None) -> int:
    """Run the command. ``stop``: the process's cancel, armed by the launcher before torch loaded
    (None: a fresh one, set by nothing but a closed output pipe)."""
    argv = sys.argv[1:] if argv is None else argv
    json_mode = progress_mode(argv) == "json"
    reporter = Reporter("json" if json_mode else "bar", stop)  # until the arguments are parsed
    try:
        args = build_parser().parse_args(argv)
        if args.command == "info":
            if args.check:
                sys.stdout.write("".join(f"{line}\n" for line in info_check()))
            sys.stdout.write(events.to_line(events.Info(__version__)) + "\n")
            return 0
        if args.command == "integrate":
            return run_integrate(args)
        if args.command == "export":
            from .plotter.command import run_export

            return run_export(args)
        reporter.mode = args.progress
        with _stderr_held() if reporter.mode == "json" else contextlib.nullcontext():
            run = {"animate": run_animate, "batch": run_batch}.get(args.command, run_sketch)
            return run(args, reporter)
    except (ClipassoError, FormatError) as exc:
        reporter.error(str(exc), getattr(exc, "exit_code", 2))
        return getattr(exc, "exit_code", 2)
    except KeyboardInterrupt:
        reporter.error("stopped at once; nothing written", EXIT_CANCELLED)
        return EXIT_CANCELLED
    except Exception as exc:  # a bug: still one line for the user and the integrations
        reporter.error(f"internal error ({exc.__class__.__name__}: {exc}); please report it", 1)
        return 1
    finally:
        reporter.stop.hard = False
        reporter.close()
