"""Speed benchmark of the loss encoder's step and the time to the first step, "now" (``ClipLoss``'s
default: folded BatchNorm, weights kept in the compute dtype; target bank entries encoded when first
drawn) against "before" (the encoder as loaded, ``ClipLoss(fold=False)``, and the whole target bank
encoded before the first step, as before issue 21), in the same run.

    python tools/bench_step.py                  # CPU, rn101-random, default preset, 16 strokes
    python tools/bench_step.py --device cuda --json
    python tools/bench_step.py --threads 1 --clock cpu   # CPU seconds of one thread: steadier on a busy machine

As ``pipeline`` and ``optimize`` do it for the preset (bfloat16 where the device supports it;
saliency-initialised points spread like optimised ones; the same points and augmentations for both
paths). Figures, each the minimum over ``--repeats`` with its ratio now / before:

- time to first step: in fresh processes, the two paths alternately: loss model load (weights,
  calibration of random weights; open_clip is imported before, for the start points, as in a run),
  ``ClipLoss``, the target's encoding (``ClipObjective``: before, the whole bank; now, the clean
  target only); "+ first step" adds the first ``PointsTrainer.step`` (with its first-call costs;
  now, the bank entries it draws are encoded in it);
- in one process, both paths loaded and measured alternately, repeat by repeat (so that a busy
  machine slows both alike; "paired" is the median of the repeats' ratios): "encoder" the CLIP
  forward + backward alone of one chunk's batch (``seed_chunk`` x (1 + augmentations) images);
  "bank" the no-gradient encoding of the target bank (now spread over the first steps, before all
  done before the first); "step, N seeds" one optimisation step (render,
  encoder forward + backward, Adam) of the preset's seeds (chunked by ``seed_chunk``) and of one seed
  (after pruning); "step, run mean" weighs the two as a run does (all seeds until ``prune_at``).

On CUDA the "now" steps replay the loss part from CUDA graphs (``step.graph``; captured in the
warm-up) and a third goal compares the step with the encoder's own forward + backward.

``--clock cpu`` counts the process's CPU seconds instead of wall seconds: with ``--threads 1``, the
work done whatever else the machine runs (CPU devices only).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import run_child  # tools/ is the script's folder: on sys.path

PATHS = ("before", "now")


class Run:
    """The preset's pieces for one benchmark process: target, start points, style, seeds."""

    def __init__(self, args: argparse.Namespace):
        import numpy as np
        import torch

        from clipasso_core import SketchConfig
        from clipasso_core.optimize import StrokeStyle
        from clipasso_core.backbones import PROFILES, load_encoder
        from clipasso_core.pipeline import _initial_points, bf16_supported, prepare

        if args.threads:
            torch.set_num_threads(args.threads)
        self.args, self.np, self.torch = args, np, torch
        self.device = torch.device(args.device)
        config = SketchConfig(strokes=args.strokes, preset=args.preset, backbone=args.backbone, mask="off")
        self.preset = config.resolved_preset()
        if self.device.type == "cuda":  # as the engine runs it: every seed in one chunk
            self.preset = replace(self.preset, seed_chunk=0)
        self.seeds = list(range(self.preset.seeds))
        prepared = prepare(None, config)
        self.target = prepared.target.to(self.device)
        cheap = SketchConfig(strokes=args.strokes, backbone="tiny-random", mask="off")  # saliency only
        saliency = load_encoder(PROFILES["tiny-random"], "saliency").to(self.device)
        points = _initial_points(cheap, None, prepared, self.device, [1000 * s for s in self.seeds], lambda: saliency)
        self.points = (points[:, :, :1] + (points - points[:, :, :1]) * 3).clamp(0, 224)
        black = torch.tensor([0.0, 0.0, 0.0, 1.0], device=self.device).expand(args.strokes, 4)
        self.style = StrokeStyle(torch.full((args.strokes,), 3.0, device=self.device), black, (0, 0, 224, 224))
        self.bf16 = self.preset.precision == "auto" and bf16_supported(self.device)

    def now(self) -> float:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()
        return time.process_time() if self.args.clock == "cpu" else time.perf_counter()

    def load(self):
        from clipasso_core.backbones import PROFILES, load_encoder

        return load_encoder(PROFILES[self.args.backbone], "loss").to(self.device)

    def trainer(self, encoder, now: bool):
        """A ``PointsTrainer`` of the preset on ``encoder`` (now, or before: unfolded, the whole bank
        encoded at once, eager), from the start points; now on CUDA, the loss part replayed from CUDA graphs."""
        from clipasso_core.loss import ClipLoss
        from clipasso_core.optimize import ClipObjective, Job, PointsTrainer
        from clipasso_core.step.graph import LossGraphs

        objective = ClipObjective(ClipLoss(encoder, bf16=self.bf16, fold=now), self.target, self.preset,
                                  self.np.random.default_rng(0))
        if not now and objective.targets.grids is not None:
            objective.targets._fill(self.np.arange(len(objective.targets.grids)))
        rngs = [self.np.random.default_rng(s) for s in self.seeds]
        graphs = LossGraphs(objective.loss, self.device) if now else None
        return PointsTrainer([Job(self.points, self.style, objective, rngs)], self.preset.lr, graphs=graphs)

    def step(self, trainer, seeds: list[int]) -> None:
        trainer.step([(0, seed) for seed in seeds], self.preset.lr, self.preset.seed_chunk)


def first_step(args: argparse.Namespace) -> dict:
    """Seconds to the first step and to the end of it, of one path, in this fresh process."""
    run = Run(args)
    start = run.now()
    trainer = run.trainer(run.load(), args.first == "now")
    setup = run.now() - start
    run.step(trainer, run.seeds)
    return {"time to first step": setup, "+ first step": run.now() - start}


def steady(args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    """Seconds per figure and path, ``args.repeats`` each, both paths in this process alternately."""
    run = Run(args)
    torch, preset = run.torch, run.preset
    encoder = run.load()
    trainers = {path: run.trainer(encoder, path == "now") for path in PATHS}
    targets = trainers["now"].jobs[0].objective.targets
    if targets.grids is not None:  # the steps alone: the bank's cost is its own figure
        targets._fill(run.np.arange(len(targets.grids)))
    chunk = min(preset.seed_chunk or len(run.seeds), len(run.seeds))
    batch = torch.rand(chunk * (1 + preset.augmentations), 3, 224, 224, generator=torch.Generator().manual_seed(0))
    batch = batch.to(run.device)

    def encoder_pass(trainer):
        images = batch.clone().requires_grad_(True)
        features = trainer.jobs[0].objective.loss.encode(images)
        (features.layer2.sum() + features.layer3.sum() + features.embedding.sum()).backward()

    def bank(trainer):
        targets = trainer.jobs[0].objective.targets
        with torch.no_grad():
            targets._encode(targets.grids)

    work = {f"encoder, batch {len(batch)}": encoder_pass, f"bank of {preset.target_bank}": bank,
            f"step, {len(run.seeds)} seeds": lambda t: run.step(t, run.seeds),
            "step, 1 seed": lambda t: run.step(t, run.seeds[:1])}
    times = {name: {path: [] for path in PATHS} for name in work}
    for name, job in work.items():
        for path in PATHS:  # warm-up
            job(trainers[path])
        for _ in range(args.repeats):
            for path in PATHS:
                start = run.now()
                job(trainers[path])
                times[name][path].append(run.now() - start)
    pruned = preset.prune_at if len(run.seeds) > 1 else 0.0
    every, one = times[f"step, {len(run.seeds)} seeds"], times["step, 1 seed"]
    times["step, run mean"] = {path: [pruned * a + (1 - pruned) * b for a, b in zip(every[path], one[path])]
                               for path in PATHS}
    return times


def child(args: argparse.Namespace, mode: list[str]) -> dict:
    cmd = [sys.executable, __file__, *mode, "--device", args.device, "--backbone", args.backbone,
           "--preset", args.preset, "--strokes", str(args.strokes), "--repeats", str(args.repeats),
           "--threads", str(args.threads), "--clock", args.clock]
    return run_child(cmd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backbone", default="rn101-random")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--strokes", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per path; repeats of each figure")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--first", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--steady", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first or args.steady:
        print(json.dumps(first_step(args) if args.first else steady(args)))
        return

    times: dict[str, dict[str, list[float]]] = {}
    for _ in range(args.repeats):
        for path in PATHS:
            for name, seconds in child(args, ["--first", path]).items():
                times.setdefault(name, {p: [] for p in PATHS})[path].append(seconds)
    times.update(child(args, ["--steady"]))
    print(f"device {args.device}, backbone {args.backbone}, preset {args.preset}, {args.strokes} strokes, "
          f"{args.threads or 'default'} threads, {args.clock} seconds, minimum of {args.repeats}")
    print(f"{'figure':20} {'before s':>9} {'now s':>9} {'now/before':>13} {'paired':>7}")
    best = {}
    for name, by_path in times.items():
        best[name] = {path: min(seconds) for path, seconds in by_path.items()}
        paired = statistics.median(n / b for b, n in zip(by_path["before"], by_path["now"]))
        before, now = best[name]["before"], best[name]["now"]
        print(f"{name:20} {before:>9.3f} {now:>9.3f} {now / before:>13.3f} {paired:>7.3f}")
    goals = [("step (run mean) <= 0.75 x before",
              best["step, run mean"]["now"] <= 0.75 * best["step, run mean"]["before"]),
             ("time to first step <= 0.6 x before",
              best["time to first step"]["now"] <= 0.6 * best["time to first step"]["before"])]
    if args.device.startswith("cuda"):
        encoder = next(name for name in best if name.startswith("encoder"))
        step = next(name for name in best if name.startswith("step, ") and name.endswith(" seeds"))
        goals.append((f"{step} <= 1.3 x {encoder} (now)", best[step]["now"] <= 1.3 * best[encoder]["now"]))
    for text, met in goals:
        print(f"{'met' if met else 'NOT MET':>7}  {text}")
    if args.json:
        print(json.dumps({"device": args.device, "backbone": args.backbone, "preset": args.preset,
                          "strokes": args.strokes, "threads": args.threads, "clock": args.clock,
                          "times": times, "goals": {text: met for text, met in goals}}))


if __name__ == "__main__":
    main()
