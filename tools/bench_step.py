"""Speed benchmark of the loss encoder's step: folded BatchNorm and weights kept in the compute dtype
(``ClipLoss``'s default) against the plain encoder (``ClipLoss(fold=False)``), in the same run.

    python tools/bench_step.py                  # CPU, rn101-random, default preset, 16 strokes
    python tools/bench_step.py --repeats 5 --device cuda --json

Each path runs in its own fresh process, the two alternately, ``--repeats`` times; every figure is
the minimum over the repeats (the machine may be busy with other work) and is printed with its
ratio new / plain. Per process, as ``pipeline`` and ``optimize`` do it for the preset (bfloat16 where
the device supports it; saliency-initialised points, spread like optimised ones, not timed):

- setup: loss model load (open_clip import, weights, calibration of random weights), ``ClipLoss``,
  and the target bank's encoding (``ClipObjective``): the time to the first step;
- first step: setup plus the first ``PointsTrainer.step`` (with the library's first-call costs);
- step, N seeds: one optimisation step (render, encoder forward + backward, Adam) for the preset's
  seeds (chunked by ``seed_chunk``) and for one seed (after pruning), minimum over ``--steps``;
  "step, run mean" weighs them as a run does (all seeds until ``prune_at``, then one);
- encoder: CLIP forward + backward alone of one chunk's batch (``seed_chunk`` x (1 + augmentations)).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_one(args: argparse.Namespace) -> dict:
    """One path (``args.fold``), in this process: seconds per figure."""
    import numpy as np
    import torch

    from clipasso_core import SketchConfig
    from clipasso_core.backbones import PROFILES, load_encoder
    from clipasso_core.loss import ClipLoss
    from clipasso_core.optimize import ClipObjective, PointsTrainer, StrokeStyle
    from clipasso_core.pipeline import _initial_points, bf16_supported, prepare

    device = torch.device(args.device)
    config = SketchConfig(strokes=args.strokes, preset=args.preset, backbone=args.backbone, mask="off")
    preset = config.resolved_preset()
    seeds = list(range(preset.seeds))
    prepared = prepare(None, config)
    start_config = SketchConfig(strokes=args.strokes, backbone="tiny-random", mask="off")  # cheap saliency
    points = _initial_points(start_config, None, prepared, device, [1000 * s for s in seeds])
    points = (points[:, :, :1] + (points - points[:, :, :1]) * 3).clamp(0, 224)
    style = StrokeStyle(torch.full((args.strokes,), 3.0, device=device),
                        torch.tensor([0.0, 0.0, 0.0, 1.0], device=device).expand(args.strokes, 4), (0, 0, 224, 224))
    target = prepared.target.to(device)
    rngs = [np.random.default_rng(s) for s in seeds]
    bf16 = preset.precision == "auto" and bf16_supported(device)

    def wait() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    start = wait()
    loss = ClipLoss(load_encoder(PROFILES[args.backbone], "loss").to(device), bf16=bf16, fold=args.fold)
    objective = ClipObjective(loss, target, preset, np.random.default_rng(0))
    setup = wait() - start
    trainer = PointsTrainer(points, style, objective, rngs, preset.lr)
    trainer.step(seeds, preset.lr, preset.seed_chunk)
    first = wait() - start

    def fastest(work, times: int) -> float:
        best = float("inf")
        for _ in range(times):
            begin = wait()
            work()
            best = min(best, wait() - begin)
        return best

    all_seeds = fastest(lambda: trainer.step(seeds, preset.lr, preset.seed_chunk), args.steps)
    one_seed = fastest(lambda: trainer.step(seeds[:1], preset.lr, preset.seed_chunk), args.steps)
    chunk = min(preset.seed_chunk or len(seeds), len(seeds))
    batch = torch.rand(chunk * (1 + preset.augmentations), 3, 224, 224, generator=torch.Generator().manual_seed(0))
    batch = batch.to(device)

    def encoder_step():
        images = batch.clone().requires_grad_(True)
        features = loss.encode(images)
        (features.layer2.sum() + features.layer3.sum() + features.embedding.sum()).backward()

    encoder = fastest(encoder_step, args.steps)
    pruned = preset.prune_at if len(seeds) > 1 else 0.0
    return {"setup": setup, "first step": first, f"step, {len(seeds)} seeds": all_seeds, "step, 1 seed": one_seed,
            "step, run mean": pruned * all_seeds + (1 - pruned) * one_seed, f"encoder, batch {len(batch)}": encoder,
            "bf16": bf16}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backbone", default="rn101-random")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--strokes", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per path")
    parser.add_argument("--steps", type=int, default=3, help="timed steps (and encoder passes) per process")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", choices=("plain", "folded"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        args.fold = args.one == "folded"
        print(json.dumps(run_one(args)))
        return

    runs: dict[str, list[dict]] = {"plain": [], "folded": []}
    for _ in range(args.repeats):
        for path in runs:
            cmd = [sys.executable, __file__, "--one", path, "--device", args.device, "--backbone", args.backbone,
                   "--preset", args.preset, "--strokes", str(args.strokes), "--steps", str(args.steps)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                sys.exit(f"benchmark child failed: {' '.join(cmd)}\n{out.stderr[-3000:]}")
            runs[path].append(json.loads(out.stdout.strip().splitlines()[-1]))
    figures = [name for name in runs["plain"][0] if name != "bf16"]
    best = {path: {name: min(r[name] for r in rows) for name in figures} for path, rows in runs.items()}
    print(f"device {args.device}, backbone {args.backbone}, preset {args.preset}, {args.strokes} strokes, "
          f"{'bf16' if runs['plain'][0]['bf16'] else 'fp32'}; minimum of {args.repeats} processes per path")
    print(f"{'figure':22} {'plain s':>9} {'folded s':>9} {'folded/plain':>13}")
    for name in figures:
        plain, folded = best["plain"][name], best["folded"][name]
        print(f"{name:22} {plain:>9.3f} {folded:>9.3f} {folded / plain:>13.3f}")
    goals = [("step (run mean) <= 0.75 x plain", best["folded"]["step, run mean"] <= 0.75 * best["plain"]["step, run mean"]),
             ("time to first step (setup) <= 0.6 x plain", best["folded"]["setup"] <= 0.6 * best["plain"]["setup"])]
    for text, met in goals:
        print(f"{'met' if met else 'NOT MET':>7}  {text}")
    if args.json:
        print(json.dumps({"device": args.device, "backbone": args.backbone, "preset": args.preset,
                          "strokes": args.strokes, "best": best, "runs": runs,
                          "goals": {text: met for text, met in goals}}))


if __name__ == "__main__":
    main()
