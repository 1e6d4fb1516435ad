"""The ``clipasso`` command, started by launcher.py (``clipasso``, ``python -m clipasso_core``).

Exit codes: 0 done; 2 bad input, bad option or a model that cannot be loaded (nothing written);
3 cancelled by SIGINT/SIGTERM (the best sketch so far was written); 1 an unexpected internal error.

``--progress json`` prints one JSON object per line on stdout, protocol version 1 (README.md,
"Progress protocol"), and nothing on stderr unless the run fails.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from . import __version__
from .atomic import write_bytes, write_text
from .backbones import PROFILES
from .config import PRESETS, SketchConfig
from .errors import ClipassoError, InputError
from .masking import MASK_MODES

PROTOCOL_VERSION = 1
EXIT_CANCELLED = 3


class Reporter:
    """Writes progress as a bar on stderr, JSON lines on stdout, or nothing."""

    def __init__(self, mode: str):
        self.mode = mode
        self.last_bar = 0.0

    def emit(self, event: dict) -> None:
        if self.mode == "json":
            sys.stdout.write(json.dumps({"protocol": PROTOCOL_VERSION, **event}) + "\n")
            sys.stdout.flush()
        elif self.mode == "bar" and event["event"] == "progress":
            now = time.monotonic()
            if now - self.last_bar < 0.2 and event["iteration"] != event["total"]:
                return
            self.last_bar = now
            filled = int(30 * event["iteration"] / event["total"])
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {event['iteration']}/{event['total']} "
                             f"loss {event['best_loss']:.4g}  eta {event['eta_s']:.0f}s ")
            sys.stderr.flush()
        elif self.mode == "bar" and event["event"] in ("warning", "done"):
            message = event.get("message") or f"wrote {event['svg']}"
            sys.stderr.write(("\n" if event["event"] == "done" else "") + message + "\n")

    def error(self, message: str, code: int) -> None:
        if self.mode == "json":
            self.emit({"event": "error", "message": message, "code": code})
        sys.stderr.write(f"clipasso: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clipasso", description="Turn a picture of an object into a line sketch.")
    parser.add_argument("--version", action="version", version=f"clipasso {__version__} (protocol {PROTOCOL_VERSION})")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sketch", help="sketch an image into an SVG")
    s.add_argument("input", nargs="?", help="image file (default: the bundled example, a cat photo)")
    s.add_argument("-o", "--output", default="sketch.svg", help="SVG to write (default: sketch.svg)")
    s.add_argument("--json", dest="json_out", help="also write the sketch JSON (editor exchange format)")
    s.add_argument("--save-raster", help="also write the optimiser's own raster (224 px canvas) as PNG")
    s.add_argument("--strokes", type=int, default=16, help="number of strokes (default 16)")
    s.add_argument("--seeds", type=int, help="seeds optimised together, best kept (default: preset's, 3)")
    s.add_argument("--seed", type=int, default=0, help="first seed (default 0; others +1000, +2000, ...)")
    s.add_argument("--iterations", type=int, help="optimisation steps (default: the preset's)")
    s.add_argument("--preset", default="default", choices=list(PRESETS), help="speed/fidelity preset")
    s.add_argument("--width", type=float, default=3.0, help="stroke width in px of the 224 px canvas (default 3)")
    s.add_argument("--color", default="#000000", help="stroke colour #rrggbb (default black)")
    s.add_argument("--opacity", type=float, default=1.0, help="stroke opacity 0..1 (default 1)")
    s.add_argument("--mask", default="auto", choices=MASK_MODES, help="background masking (default auto)")
    s.add_argument("--mask-model", default="u2net", help="rembg model for masking (default u2net)")
    s.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    s.add_argument("--backbone", default="openai", choices=list(PROFILES),
                   help="CLIP models: openai (real weights) or *-random (tests/benchmarks only)")
    s.add_argument("--clip-weights", help="local checkpoint file for the RN101 loss model")
    s.add_argument("--saliency-weights", help="local checkpoint file for the ViT-B/32 saliency model")
    s.add_argument("--init", help="start from this SVG or sketch JSON instead of saliency sampling")
    s.add_argument("--progress", default="bar", choices=("bar", "json", "none"), help="progress output")
    s.add_argument("--preview-every", type=int, default=20, help="iterations between preview events")
    return parser


def _config(args: argparse.Namespace) -> SketchConfig:
    return SketchConfig(
        strokes=args.strokes, preset=args.preset, seeds=args.seeds, iterations=args.iterations,
        seed=args.seed, width=args.width, color=args.color, opacity=args.opacity, mask=args.mask,
        mask_model=args.mask_model, device=args.device, backbone=args.backbone,
        clip_weights=args.clip_weights, saliency_weights=args.saliency_weights, init=args.init,
        preview_every=args.preview_every).validate()


def _check_output(path: str, suffix: str) -> Path:
    out = Path(path)
    if out.is_dir():
        raise InputError(f"output {path} is a folder")
    if not out.parent.exists():
        raise InputError(f"output folder {out.parent} does not exist")
    if out.suffix.lower() != suffix:
        raise InputError(f"output {path} should end in {suffix}")
    return out


def run_sketch(args: argparse.Namespace, reporter: Reporter) -> int:
    from PIL import Image

    from .pipeline import EXAMPLE_IMAGE, canvas_raster, resolve_device, sketch
    from .svg import to_svg

    config = _config(args)
    resolve_device(config.device)
    svg_path = _check_output(args.output, ".svg")
    json_path = _check_output(args.json_out, ".json") if args.json_out else None
    raster_path = _check_output(args.save_raster, ".png") if args.save_raster else None
    if args.input is not None and not Path(args.input).is_file():
        raise InputError(f"input image not found: {args.input}")
    cancel = threading.Event()

    def on_signal(signum, frame):
        cancel.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    reporter.emit({"event": "start", "version": __version__, "input": str(args.input or EXAMPLE_IMAGE),
                   "strokes": config.strokes, "seeds": config.seed_count,
                   "iterations": config.resolved_preset().iterations, "preset": config.preset,
                   "backbone": config.backbone})
    if PROFILES[config.backbone].random:
        reporter.emit({"event": "warning", "message": f"--backbone {config.backbone} uses RANDOM CLIP "
                       "weights: for tests and smoke runs only, the sketch is not meaningful"})
    with warnings.catch_warnings():
        # the random-weights warning went through the reporter above; library chatter goes nowhere
        # (integrations such as Inkscape turn any stderr output into an error dialog)
        warnings.simplefilter("ignore")
        result = sketch(args.input, config, progress=reporter.emit, cancel=cancel)
    write_text(svg_path, to_svg(result))
    outputs = {"svg": str(svg_path)}
    if json_path:
        write_text(json_path, result.to_json())
        outputs["json"] = str(json_path)
    if raster_path:
        import io

        buffer = io.BytesIO()
        Image.fromarray((canvas_raster(result) * 255 + 0.5).astype(np.uint8)).save(buffer, format="PNG")
        write_bytes(raster_path, buffer.getvalue())
        outputs["raster"] = str(raster_path)
    cancelled = bool(result.metadata.get("cancelled"))
    reporter.emit({"event": "done", **outputs, "loss": result.metadata["final_loss"],
                   "seed": result.metadata["seed"], "iterations": result.metadata["iterations"],
                   "cancelled": cancelled})
    return EXIT_CANCELLED if cancelled else 0


def main(argv: list[str] | None = None, interrupted_at_start: bool = False) -> int:
    """Run the command; ``interrupted_at_start``: a Ctrl-C came while the command was loading."""
    parser = build_parser()
    args = parser.parse_args(argv)
    reporter = Reporter(getattr(args, "progress", "bar"))
    try:
        if interrupted_at_start:
            raise KeyboardInterrupt
        return run_sketch(args, reporter)
    except ClipassoError as exc:
        reporter.error(str(exc), exc.exit_code)
        return exc.exit_code
    except KeyboardInterrupt:
        reporter.error("interrupted before a sketch existed; nothing written", EXIT_CANCELLED)
        return EXIT_CANCELLED
    except Exception as exc:  # a bug: still one line for the user and the integrations
        reporter.error(f"internal error ({exc.__class__.__name__}: {exc}); please report it", 1)
        return 1

