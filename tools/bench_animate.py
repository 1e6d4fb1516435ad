"""Animation benchmark: do the strokes follow the motion, how much does a later frame cost, does
memory grow with the number of frames.

    python tools/bench_animate.py                          # CPU, tiny-random and rn101-random
    python tools/bench_animate.py --backbone rn101-random --json
    python tools/bench_animate.py --device cuda
    python tools/bench_animate.py --temporal-weight 0.05   # try another temporal weight

Three sequences made from the bundled cat (451 x 300 px), each its own process: (a) translated by
2 px per frame, (b) the same image every frame, (c) zoomed by 1% per frame about the centre;
``--frames`` frames (24), 16 strokes, preset fast, one seed, masking off. Reported:
- follow error: between consecutive frames, the mean over all control points of |moved - true
  motion| (px of the image), and the error of the mean motion (goal: within 0.75 px for (a) and (c));
- jitter: in (b), the mean distance a control point moves between frames (goal <= 0.25 px);
- time: the mean later frame over the first frame (goal <= 0.2; both from the same run);
- peak RSS of (a) with 8 frames and with ``--frames`` frames (memory does not grow with frames).
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools"))

from bench import run_child  # noqa: E402

MOTIONS = {"translate": dict(dx=2.0), "still": dict(), "zoom": dict(zoom=1.01)}
"""Motion between consecutive frames of each sequence."""


def frames_of(motion: str, count: int):
    """The sequence's frames, made one at a time (the k-th: the motion applied k times)."""
    from frame_inputs import cat, moved

    base = cat()
    step = MOTIONS[motion]
    for k in range(count):
        yield moved(base, dx=step.get("dx", 0.0) * k, zoom=step.get("zoom", 1.0) ** k)


def run_one(args: argparse.Namespace) -> dict:
    """One sequence in this process: follow error, jitter, times, peak RSS."""
    import numpy as np

    from clipasso_core import animation
    from clipasso_core.config import SketchConfig
    from frame_inputs import true_motion, write_folder

    warnings.simplefilter("ignore")
    if args.temporal_weight is not None:
        animation.TEMPORAL_WEIGHT = args.temporal_weight
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for k, frame in enumerate(frames_of(args.motion, args.frames)):
            write_folder(folder, [frame], name=f"frame{k:03d}.png")
        config = SketchConfig(strokes=args.strokes, preset="fast", seeds=1, seed=0, mask="off", device=args.device,
                              backbone=args.backbone[-1])
        timings: dict = {}
        started = time.perf_counter()
        seq = animation.animate(folder, config, timings=timings)
        wall = time.perf_counter() - started
    points = np.array([[s.points for s in f.strokes] for f in seq.frames], dtype=np.float64)  # [F, S, 4, 2]
    step = MOTIONS[args.motion]
    size = (seq.width, seq.height)
    truth = np.stack([true_motion(p, size, **step) - p for p in points[:-1]])
    moved = points[1:] - points[:-1]
    return {
        "frames": len(seq.frames), "cuts": seq.metadata["cuts"], "wall_s": wall,
        "follow_error_px": float(np.linalg.norm(moved - truth, axis=-1).mean()),
        "mean_motion_error_px": float(np.linalg.norm((moved - truth).mean(axis=(1, 2)), axis=-1).mean()),
        "jitter_px": float(np.linalg.norm(moved, axis=-1).mean()),
        "first_s": timings["first_s"], "later_s": float(np.mean(timings["later_s"])),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(args: argparse.Namespace, backbone: str, motion: str, frames: int) -> dict:
    cmd = [sys.executable, __file__, "--one", "--backbone", backbone, "--motion", motion, "--frames", str(frames),
           "--device", args.device, "--strokes", str(args.strokes)]
    if args.temporal_weight is not None:
        cmd += ["--temporal-weight", str(args.temporal_weight)]
    return run_child(cmd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backbone", action="append", help="tiny-random and rn101-random unless given")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--strokes", type=int, default=16)
    parser.add_argument("--temporal-weight", type=float, help="override animation.TEMPORAL_WEIGHT")
    parser.add_argument("--json", action="store_true", help="also print one JSON line with every figure")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--motion", default="translate", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args)))
        return
    from clipasso_core import animation

    weight = args.temporal_weight if args.temporal_weight is not None else animation.TEMPORAL_WEIGHT
    figures = {}
    for backbone in args.backbone or ["tiny-random", "rn101-random"]:
        runs = {motion: child(args, backbone, motion, args.frames) for motion in MOTIONS}
        short = child(args, backbone, "translate", 8)
        figures[backbone] = {**runs, "translate_8_frames": short}
        a, b, c = runs["translate"], runs["still"], runs["zoom"]
        print(f"\n{backbone}, {args.device}, {args.strokes} strokes, preset fast, {args.frames} frames of the "
              f"bundled cat, temporal weight {weight:g}")
        print("| sequence | follow error (px) | mean-motion error (px) | jitter (px) | first frame (s) | "
              "later frame (s) | later / first | cuts |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, run, goal in (("(a) 2 px/frame", a, "follow"), ("(b) still", b, "jitter"),
                                ("(c) zoom 1%/frame", c, "follow")):
            print(f"| {name} | {run['follow_error_px']:.3f} | {run['mean_motion_error_px']:.3f} | "
                  f"{run['jitter_px']:.3f} | {run['first_s']:.2f} | {run['later_s']:.2f} | "
                  f"{run['later_s'] / run['first_s']:.3f} | {run['cuts']} |")
        print("goals: follow error <= 0.75 px in (a) and (c), jitter <= 0.25 px in (b), later/first <= 0.2")
        print(f"peak RSS, (a): {short['peak_rss_mb']:.0f} MB with 8 frames, {a['peak_rss_mb']:.0f} MB with "
              f"{args.frames} ({a['peak_rss_mb'] / short['peak_rss_mb']:.3f} x)")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
