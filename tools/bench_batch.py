"""Throughput benchmark: images per hour sketched one by one (``sketch()`` per image, as before
``clipasso batch``) against ``sketch_many`` with groups of B images, in the same run.

    python tools/bench_batch.py                                  # CPU, rn101-random, fast preset, 8 images, B = 1, 4, 8
    python tools/bench_batch.py --device cuda --preset default --images 32 --batches 8,16,32
    python tools/bench_batch.py --json                           # also one JSON line per row

Every row sketches the same images (crops of the bundled example at several sizes, masking off,
16 strokes) in this one process; the one-by-one row loads the models for every image, as separate
``sketch()`` calls do; the batch rows load them once. Reported per row: wall seconds, images per
hour and its ratio to one by one, the time to the first step (models, saliency and the target
banks of the first group; from the first progress event), and on CUDA the peak GPU memory.
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


def make_images(folder: Path, count: int) -> list[str]:
    """``count`` different crops of the bundled example (sizes 240-451 px wide)."""
    from PIL import Image

    from clipasso_core.pipeline import EXAMPLE_IMAGE

    source = Image.open(EXAMPLE_IMAGE).convert("RGB")
    paths = []
    for k in range(count):
        left, top = (k * 23) % 200, (k * 11) % 60
        crop = source.crop((left, top, min(451, left + 240 + (k * 37) % 211), 300))
        paths.append(str(folder / f"image{k:03d}.png"))
        crop.save(paths[-1])
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backbone", default="rn101-random")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--iterations", type=int, default=0, help="steps per image (0: the preset's)")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--batches", default="1,4,8")
    parser.add_argument("--skip-single", action="store_true", help="leave out the one-by-one row")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    from clipasso_core import SketchConfig, sketch
    from clipasso_core.batch import Item, sketch_many
    from clipasso_core.contract import events

    warnings.simplefilter("ignore")
    config = SketchConfig(preset=args.preset, iterations=args.iterations or None, mask="off",
                          device=args.device, backbone=args.backbone)
    cuda = args.device.startswith("cuda")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), args.images)

        def measure(name: str, run) -> dict:
            first = []

            def progress(event) -> None:
                if isinstance(event, events.Progress) and not first:
                    first.append(time.perf_counter())

            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            done = run(progress)
            if cuda:
                torch.cuda.synchronize()
            wall = time.perf_counter() - start
            row = {"row": name, "images": done, "wall_s": round(wall, 2), "per_hour": round(done / wall * 3600, 1),
                   "first_step_s": round(first[0] - start, 2) if first else None,
                   "peak_gib": round(torch.cuda.max_memory_allocated() / 2 ** 30, 2) if cuda else None}
            rows.append(row)
            return row

        if not args.skip_single:
            measure("one by one", lambda progress: sum(1 for p in paths if sketch(p, config, progress=progress)))
        for size in (int(b) for b in args.batches.split(",")):
            items = [Item(p, Path(p).stem) for p in paths]
            measure(f"batch {size}", lambda progress, size=size: sum(
                r.status == "done" for r in sketch_many(items, config, batch_size=size, progress=progress)))
    base = rows[0]["per_hour"]
    print(f"{args.images} images, {args.preset} preset, {args.backbone}, {args.device}"
          f"{' (' + torch.cuda.get_device_name() + ')' if cuda else ''}; ratios against '{rows[0]['row']}'")
    for row in rows:
        peak = f"  peak {row['peak_gib']:.2f} GiB" if row["peak_gib"] is not None else ""
        print(f"{row['row']:>12}: {row['wall_s']:8.1f} s  {row['per_hour']:8.1f} images/h  x{row['per_hour'] / base:5.2f}"
              f"  first step {row['first_step_s']} s{peak}")
        if args.json:
            print(json.dumps(row))


if __name__ == "__main__":
    main()
