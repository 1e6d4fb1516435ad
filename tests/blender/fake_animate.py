"""A stand-in for ``clipasso animate`` that speaks the contract (events, sequence JSON, exit codes,
cancel and --watch-parent) without torch, so the add-on's animation tests run fast and know the
strokes in advance. Run with the core's Python (PIL and PyAV read the input's frames):

    python fake_animate.py animate INPUT -o OUT.svg --json OUT.json [--start N] [--end N] [--step K]
        [--strokes S] [--iterations I] ... --progress json --watch-parent

Frame k (input frame index i) of a W x H input has S strokes; stroke s runs from
(W * (s + 1) / (S + 1), H * 0.1 + i) down to (W * (s + 1) / (S + 1) + i, H * 0.9): ``strokes_of``.
Each frame takes I steps of ``STEP_S`` seconds (a progress event each), so a cancel can land
between frames. Stops like the core: SIGINT/SIGTERM or stdin closing keep the frames done.
FAKE_ANIMATE_CRASH_AFTER=N: exits 1 (an internal error) after N frames.
"""
from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STEP_S = float(os.environ.get("FAKE_ANIMATE_STEP_S", "0.02"))


def _contract():
    folder = ROOT / "clipasso_core" / "contract"
    spec = importlib.util.spec_from_file_location("fake_contract", folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_contract"] = module
    spec.loader.exec_module(module)
    return module


contract = _contract()
events, formats, sequence = contract.events, contract.formats, contract.sequence


def strokes_of(index: int, width: float, height: float, count: int, stroke_width: float = 3.0):
    """The strokes this stand-in draws on input frame ``index`` (ids 0..count-1, in order)."""
    out = []
    for s in range(count):
        x = width * (s + 1) / (count + 1)
        top, bottom = (x, height * 0.1 + index), (x + index, height * 0.9)
        out.append(formats.Stroke([top, (x + 3, height * 0.4), (x - 3, height * 0.6), bottom], stroke_width,
                                  "#000000", 1.0, id=s, rank=s))
    return out


def _natural(name: str):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def frame_sizes(path: str) -> tuple[int, int, int, float]:
    """(width, height, frame count, fps) of an input."""
    from PIL import Image

    if os.path.isdir(path) or any(c in path for c in "*?["):
        files = sorted(glob.glob(os.path.join(path, "*")) if os.path.isdir(path) else glob.glob(path),
                       key=lambda p: _natural(os.path.basename(p)))
        if not files:
            raise ValueError(f"no images in {path}")
        with Image.open(files[0]) as image:
            return image.width, image.height, len(files), 24.0
    if path.lower().endswith((".mp4", ".mov", ".mkv", ".avi", ".webm")):
        import av

        with av.open(path) as container:
            stream = container.streams.video[0]
            count = sum(1 for _ in container.decode(video=0))
            return stream.width, stream.height, count, float(stream.average_rate or 24)
    with Image.open(path) as image:
        return image.width, image.height, getattr(image, "n_frames", 1), 24.0


def emit(event) -> None:
    try:
        print(events.to_line(event), flush=True)
    except BrokenPipeError:
        os._exit(1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("input")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--json", required=True)
    parser.add_argument("--frames-dir")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--end", type=int, default=-1)
    parser.add_argument("--step", type=int, default=1)
    parser.add_argument("--fps", type=float, default=0.0)
    parser.add_argument("--strokes", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=0)
    parser.add_argument("--width", type=float, default=3.0)
    parser.add_argument("--progress")
    parser.add_argument("--watch-parent", action="store_true")
    args, _ = parser.parse_known_args(argv)
    assert args.command == "animate", args.command

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if args.watch_parent:
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()

    try:
        width, height, count, fps = frame_sizes(args.input)
    except Exception as exc:  # noqa: BLE001 - any unreadable input is "bad input" (exit 2)
        emit(events.Error(f"cannot read {args.input}: {exc}", 2))
        print(f"clipasso: error: cannot read {args.input}: {exc}", file=sys.stderr)
        return 2
    last = count - 1 if args.end < 0 else min(args.end, count - 1)
    indices = list(range(args.start, last + 1, args.step))
    steps = max(1, args.iterations)
    emit(events.Start("fake", args.input, args.strokes, 1, steps, "fast", "fake", frames=len(indices)))
    done: list = []
    for index in indices:
        for step in range(1, steps + 1):
            if stop.is_set():
                break
            time.sleep(STEP_S)
            emit(events.Progress(step, steps, 1.0, 1.0, 0.1, 0.1, frame=index))
        if stop.is_set():
            break
        if len(done) == int(os.environ.get("FAKE_ANIMATE_CRASH_AFTER", "-1")):
            print("Traceback (most recent call last):\nRuntimeError: the fake core broke down", file=sys.stderr)
            return 1
        strokes = strokes_of(index, width, height, args.strokes, args.width)
        done.append(sequence.Frame(index, strokes, cut=index == indices[0]))
        sketch = formats.Sketch(width, height, strokes, {"frame": index})
        emit(events.FrameDone(index, len(done), len(indices), 1.0, index == indices[0], sketch))
    if not done:
        emit(events.Error("cancelled before the first frame was sketched: nothing written", 3))
        return 3
    result = sequence.SketchSequence(width, height, args.fps or fps, done, {"generator": "fake_animate"})
    Path(args.json).write_text(result.to_json(), encoding="utf-8")
    Path(args.output).write_text("<svg xmlns='http://www.w3.org/2000/svg'/>", encoding="utf-8")
    emit(events.Done(args.output, 1.0, 0, steps * len(done), stop.is_set(), json=args.json, frames=len(done)))
    return 3 if stop.is_set() else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
