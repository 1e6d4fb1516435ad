"""The artist in the loop, measured on the trained stand-in: lock, add in a region, erase and fill.

    python tools/bench_refine.py                         # cat and horse, default preset, 16 strokes
    python tools/bench_refine.py --images cat --preset fast

Per image: a fresh sketch of --strokes strokes; then, each from that sketch,
  locked:  its --lock most important strokes locked, the rest re-sketched (``--resketch``: started
           afresh around them); the locked strokes' largest movement (px) and the loss against the
           fresh sketch's (the artist's trade, no goal);
  added:   --add strokes in a rectangle (the middle of the image): are all their control points in it,
           and the loss before and after;
  filled:  --erase strokes erased (every other one from rank 1), then --fill-to the fresh count: the
           loss of the erased sketch, of the filled one, and of the fresh one.
Losses: the stand-in's clean-pair loss in fp32 (``bench_quality.fp32_loss``), the same for every
sketch. Writes the SVGs, a contact sheet and a table to --out (tools/results/refine_standin).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="cat,horse")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--strokes", type=int, default=16)
    parser.add_argument("--lock", type=int, default=6, help="most important strokes locked")
    parser.add_argument("--add", type=int, default=4)
    parser.add_argument("--erase", type=int, default=6)
    parser.add_argument("--out", default=str(ROOT / "tools" / "results" / "refine_standin"))
    args = parser.parse_args(argv)

    import torch

    from bench_quality import UniformSaliency, contact_sheet, fp32_loss, load_images, render_tile, target_tile
    from standin_mobilenet import load_standin

    from clipasso_core import SketchConfig, sketch, to_svg
    from clipasso_core.backbones import Encoders
    from clipasso_core.contract.formats import Sketch
    from clipasso_core.edit.region import parse_region
    from clipasso_core.pipeline import RandomWeightsWarning, prepare

    warnings.simplefilter("ignore", RandomWeightsWarning)
    standin = load_standin()
    encoders = Encoders(loss=standin, saliency=UniformSaliency(standin))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, sheet = [], []
    columns = ["input", "fresh", f"{args.lock} locked", f"+{args.add} in box", f"{args.erase} erased", "filled"]
    for name, loaded in load_images(args.images.split(",")).items():
        base = dict(preset=args.preset, mask="off", backbone="tiny-random")
        target = prepare(loaded, SketchConfig(**base)).target

        def run(stem: str, **options) -> Sketch:
            started = time.perf_counter()
            result = sketch(loaded, SketchConfig(**base, **options), encoders=encoders)
            result.metadata["bench_s"] = round(time.perf_counter() - started, 1)
            (out / f"{name}_{stem}.svg").write_text(to_svg(result))
            (out / f"{name}_{stem}.json").write_text(result.to_json())
            return result

        def loss(s: Sketch) -> float:
            return round(fp32_loss(s, target, standin), 4)

        fresh = run("fresh", strokes=args.strokes)
        fresh_path = out / f"{name}_fresh.json"
        locked = run("locked", init=str(fresh_path), lock=tuple(s.id for s in fresh.strokes[:args.lock]),
                     resketch=True)
        before = {s.id: np.array(s.points) for s in fresh.strokes[:args.lock]}
        moved = max(float(np.abs(np.array(s.points) - before[s.id]).max()) for s in locked.strokes if s.id in before)
        w, h = loaded.width, loaded.height
        box = f"{w * 0.3:.0f},{h * 0.3:.0f},{w * 0.7:.0f},{h * 0.7:.0f}"
        added = run("added", init=str(fresh_path), add=args.add, region=box)
        region = parse_region(box, w, h)
        new = torch.tensor([p for s in added.strokes if s.id >= args.strokes for p in s.points], dtype=torch.float64)
        outside = float((region.project(new) - new).abs().max())
        kept = [s for s in fresh.strokes if s.rank % 2 == 0 or s.rank > 2 * args.erase - 1]
        erased = Sketch(fresh.width, fresh.height, kept, dict(fresh.metadata))
        erased_path = out / f"{name}_erased.json"
        erased_path.write_text(erased.to_json())
        (out / f"{name}_erased.svg").write_text(to_svg(erased))
        filled = run("filled", init=str(erased_path), fill_to=args.strokes)
        row = {"image": name, "preset": args.preset, "strokes": args.strokes,
               "fresh_loss": loss(fresh), "locked_loss": loss(locked), "locked_moved_px": moved,
               "locked_vs_fresh": round(loss(locked) / loss(fresh), 3),
               "added_outside_px": outside, "added_loss": loss(added), "added_vs_before": round(loss(added) / loss(fresh), 3),
               "erased_loss": loss(erased), "filled_loss": loss(filled),
               "filled_vs_erased": round(loss(filled) / loss(erased), 3), "filled_vs_fresh": round(loss(filled) / loss(fresh), 3),
               "seconds": {k: s.metadata["bench_s"] for k, s in
                           (("fresh", fresh), ("locked", locked), ("added", added), ("filled", filled))}}
        rows.append(row)
        print(json.dumps(row), flush=True)
        sheet.append((name, [target_tile(loaded, 200)] + [render_tile(to_svg(s), w, h, 200)
                                                          for s in (fresh, locked, added, erased, filled)]))
    contact_sheet(sheet, columns, out / "contact_sheet.png")
    (out / "table.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {out / 'contact_sheet.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
