"""Levels benchmark: abstraction levels from one run against separate runs, and the drawing order.

    python tools/bench_levels.py                        # CPU, rn101-random, preset fast, 2 images
    python tools/bench_levels.py --preset default --backbone tiny-random --json

For each image (the bundled cat, and scikit-image's bundled ``coffee`` photo), in one process tree:
(1) runs with ``--levels 32,16,8,4`` and (2) 32-stroke runs (the baseline), ``--repeat`` of each
taken in turn, the wall-time ratio from the fastest of each (a busy moment slows one run, not both);
(3) separate runs with 16, 8 and 4 strokes (each level's final loss over the separate run's: the
same preset, seed and image, the loss evaluated the same way: fp32 clean pair); (4) ranking: a
16-stroke sketch with its lowest-ranked quarter removed against random quarters removed (loss rise,
mean over ``--random`` draws). Every run is its own process, one seed, masking off.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bench import clean_loss, run_child  # noqa: E402

LEVELS = (32, 16, 8, 4)


def image_paths(folder: Path) -> dict[str, str]:
    """The two benchmark images: the bundled cat and scikit-image's coffee (written as PNG)."""
    from PIL import Image
    from skimage import data

    coffee = folder / "coffee.png"
    Image.fromarray(data.coffee()).save(coffee)
    return {"cat": str(ROOT / "clipasso_core" / "data" / "cat.jpg"), "coffee": str(coffee)}


def run_one(args: argparse.Namespace) -> dict:
    """One run in this process: wall time, the loss of every level (or of the one sketch), and with
    --rank the ranking figures."""
    import numpy as np

    from clipasso_core import SketchConfig, Sketch, sketch

    warnings.simplefilter("ignore")
    levels = tuple(int(v) for v in args.levels.split(",")) if args.levels else ()
    config = SketchConfig(strokes=args.strokes, preset=args.preset, seeds=1, seed=0, mask="off",
                          device=args.device, backbone=args.backbone, levels=levels)
    start = time.perf_counter()
    result = sketch(args.image, config)
    wall = time.perf_counter() - start
    out = {"wall_s": wall}
    if levels:
        out["losses"] = {str(level.count): clean_loss(result.level(level.count), config, args.image, args.device)
                         for level in result.levels}
    else:
        out["loss"] = clean_loss(result, config, args.image, args.device)
    if args.rank:
        quarter = len(result.strokes) // 4
        keep = lambda strokes: Sketch(result.width, result.height, strokes)  # noqa: E731
        lowest = clean_loss(keep(result.strokes[:-quarter]), config, args.image, args.device)
        rng = np.random.default_rng(0)
        randoms = []
        for _ in range(args.random):
            dropped = set(rng.choice(len(result.strokes), size=quarter, replace=False).tolist())
            randoms.append(clean_loss(keep([s for i, s in enumerate(result.strokes) if i not in dropped]),
                                      config, args.image, args.device))
        out.update(full=out["loss"], without_lowest=lowest, without_random=float(np.mean(randoms)))
    return out


def child(args: argparse.Namespace, image: str, strokes: int, levels: str = "", rank: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--one", "--image", image, "--strokes", str(strokes), "--preset", args.preset,
           "--device", args.device, "--backbone", args.backbone, "--random", str(args.random)]
    cmd += ["--levels", levels] if levels else []
    cmd += ["--rank"] if rank else []
    return run_child(cmd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backbone", default="rn101-random")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--random", type=int, default=8, help="random quarters removed (ranking row)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of the levels run and of the baseline")
    parser.add_argument("--json", action="store_true", help="also print one JSON line with every figure")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--image", help=argparse.SUPPRESS)
    parser.add_argument("--strokes", type=int, default=32, help=argparse.SUPPRESS)
    parser.add_argument("--levels", default="", help=argparse.SUPPRESS)
    parser.add_argument("--rank", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args)))
        return
    figures = {}
    print(f"levels {','.join(map(str, LEVELS))} from one run vs separate runs; {args.backbone}, preset "
          f"{args.preset}, {args.device}, 1 seed, masking off")
    with tempfile.TemporaryDirectory() as tmp:
        for name, image in image_paths(Path(tmp)).items():
            ones, bases = [], []
            for _ in range(args.repeat):
                ones.append(child(args, image, LEVELS[0], ",".join(map(str, LEVELS))))
                bases.append(child(args, image, LEVELS[0]))
            one, base = (min(runs, key=lambda run: run["wall_s"]) for runs in (ones, bases))
            separate = {str(n): child(args, image, n, rank=(n == 16)) for n in LEVELS[1:]}
            separate[str(LEVELS[0])] = base
            ranking = separate["16"]
            figures[name] = {"levels_run": one, "separate": separate,
                             "walls_s": {"levels": [run["wall_s"] for run in ones],
                                         "one": [run["wall_s"] for run in bases]}}
            print(f"\n{name}: levels run {one['wall_s']:.1f} s = {one['wall_s'] / base['wall_s']:.2f} x one "
                  f"{LEVELS[0]}-stroke run ({base['wall_s']:.1f} s; fastest of {args.repeat} each; goal <= 1.6)")
            for n in LEVELS:
                level, alone = one["losses"][str(n)], separate[str(n)]["loss"]
                print(f"  {n:2d} strokes: level loss {level:9.2f}  separate run {alone:9.2f}  ratio "
                      f"{level / alone:.3f} (goal <= 1.05)")
            print(f"  ranking, 16 strokes (loss {ranking['full']:.2f}): remove the lowest-ranked quarter "
                  f"+{ranking['without_lowest'] - ranking['full']:.2f}, a random quarter "
                  f"+{ranking['without_random'] - ranking['full']:.2f} (mean of {args.random})")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
