"""Speed benchmark: the presets against the paper recipe run the original way, in the same run.

    python tools/bench.py                 # CPU, rn101-random, 16 strokes, the bundled example image
    python tools/bench.py --json          # also one JSON line with every figure
    python tools/bench.py --full          # run the paper recipe's 2001 steps instead of extrapolating
    python tools/bench.py --device cuda
    python tools/bench.py --one --preset paper --seeds 1 > paper.json   # the full paper run alone
    python tools/bench.py --paper-from paper.json   # its final loss beside this run's timings

Each configuration runs in its own process (so peak resident memory is its own), on the same image,
seed and stroke count, masking off, end to end including model loading. Reported per configuration:
per-step time split into render (forward + backward), loss step (CLIP forward + backward and target
encoding) and evaluation; steps run; wall time; peak RSS; and the final evaluation loss recomputed
for every configuration the same way (fp32, clean pair, same backbone weights). The baseline is the
``paper`` preset run the original way: fp32, target re-encoded every step, one seed per process;
its best-of-3 time is 3 x its one-seed time. Unless --full, the baseline runs ``--paper-steps`` steps
and its 2001-step time is extrapolated (marked "extrapolated"). Ratios are against the baseline.
``--paper-from FILE`` takes the final loss (only) of a complete paper run made earlier with ``--one``
(its timings are not used: they may come from a busy machine).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAPER_STEPS = 2001


def measure_render(device: str, strokes: int, repeats: int = 30) -> float:
    """Mean ms of one rasterizer forward + backward for a saliency-initialised sketch, spread out
    like an optimised one (control offsets x3)."""
    import torch

    from clipasso_core import SketchConfig
    from clipasso_core.backbones import PROFILES, load_encoder
    from clipasso_core.pipeline import _initial_points, prepare
    from clipasso_core.rasterizer import render

    config = SketchConfig(strokes=strokes, backbone="tiny-random", mask="off")
    prepared = prepare(None, config)
    saliency = load_encoder(PROFILES["tiny-random"], "saliency")
    points = _initial_points(config, None, prepared, torch.device(device), [0], lambda: saliency)
    points = (points[:, :, :1] + (points - points[:, :, :1]) * 3).clamp(0, 224).requires_grad_(True)
    widths = torch.full((1, strokes), 3.0, device=device)
    colors = torch.tensor([0.0, 0.0, 0.0, 1.0], device=device).expand(1, strokes, 4)
    for _ in range(3):
        render(points, widths, colors, 224).mean().backward()
    start = time.perf_counter()
    for _ in range(repeats):
        render(points, widths, colors, 224).mean().backward()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats * 1000


def clean_loss(result, config, image, device: str) -> float:
    """The same evaluation for every configuration: the fp32 clean-pair loss of a returned sketch
    (its strokes as they are, in the canvas px of ``image``, None for the bundled example)."""
    import torch

    from clipasso_core.backbones import PROFILES, load_encoder
    from clipasso_core.canvas import CanvasTransform
    from clipasso_core.loss import ClipLoss
    from clipasso_core.pipeline import prepare
    from clipasso_core.rasterizer import render

    device = torch.device(device)
    prepared = prepare(image, config)
    t = CanvasTransform(result.width, result.height, 224)
    points = torch.tensor([[t.to_canvas(x, y) for x, y in s.points] for s in result.strokes], device=device)
    widths = torch.full((1, len(points)), config.canvas_stroke_width, device=device)
    colors = torch.tensor([0.0, 0.0, 0.0, 1.0], device=device).expand(1, len(points), 4)
    loss = ClipLoss(load_encoder(PROFILES[config.backbone], "loss").to(device))
    with torch.no_grad():
        drawn = render(points[None], widths, colors, 224)
        return ClipLoss.pair_losses(loss.encode(drawn), loss.encode(prepared.target[None].to(device))).item()


def run_one(args: argparse.Namespace) -> dict:
    """One configuration, in this process."""
    from clipasso_core import SketchConfig, sketch

    warnings.simplefilter("ignore")
    config = SketchConfig(strokes=args.strokes, preset=args.preset, seeds=args.seeds,
                          iterations=args.steps, seed=0, mask="off", device=args.device,
                          backbone=args.backbone)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    result = sketch(None, config, timings=timings)
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    steps = result.metadata["iterations"]
    seeds = len(result.metadata["seeds"])
    final = clean_loss(result, config, None, result.metadata["device"])
    total_steps = max(steps, 1)
    return {"preset": args.preset, "seeds": seeds, "steps": steps,
            "planned_steps": config.resolved_preset().iterations,
            "render_ms": 1000 * timings.get("render", 0) / total_steps,
            "loss_ms": 1000 * timings.get("loss", 0) / total_steps,
            "eval_ms": 1000 * timings.get("eval", 0) / total_steps,
            "step_ms": 1000 * sum(timings.values()) / total_steps,
            "wall_s": wall, "setup_s": wall - sum(timings.values()), "peak_mb": peak_mb,
            "final_loss": final, "precision": result.metadata["precision"]}


def child(args: argparse.Namespace, preset: str, seeds: int, steps: int | None) -> dict:
    cmd = [sys.executable, __file__, "--one", "--preset", preset, "--seeds", str(seeds),
           "--device", args.device, "--backbone", args.backbone, "--strokes", str(args.strokes)]
    if steps:
        cmd += ["--steps", str(steps)]
    return run_child(cmd)


def run_child(cmd: list[str]) -> dict:
    """Run one benchmark process; its figures are the JSON object on its last line of output."""
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"benchmark child failed: {' '.join(cmd)}\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backbone", default="rn101-random")
    parser.add_argument("--strokes", type=int, default=16)
    parser.add_argument("--full", action="store_true", help="run the paper recipe's 2001 steps")
    parser.add_argument("--paper-steps", type=int, default=20, help="baseline steps when not --full")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--paper-from", help="final loss of a full paper run (a --one JSON line)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--preset", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--seeds", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args)))
        return

    render16, render64 = measure_render(args.device, 16), measure_render(args.device, 64)
    paper = child(args, "paper", 1, None if args.full else args.paper_steps)
    extrapolated = not args.full
    if extrapolated:
        paper["wall_s"] = paper["setup_s"] + paper["step_ms"] / 1000 * PAPER_STEPS
        paper["steps"] = PAPER_STEPS
    if args.paper_from:
        full = json.loads(Path(args.paper_from).read_text().strip().splitlines()[-1])
        if full["preset"] != "paper" or full.get("planned_steps", PAPER_STEPS) != PAPER_STEPS:
            sys.exit(f"{args.paper_from} is not a complete paper run")
        paper["final_loss"] = full["final_loss"]
    rows = {"paper (original way, 1 seed)": paper,
            "default, 1 seed": child(args, "default", 1, None),
            "default, 3 seeds": child(args, "default", 3, None),
            "fast, 1 seed": child(args, "fast", 1, None)}
    print(f"device {args.device}, backbone {args.backbone}, {args.strokes} strokes, 224 px, masking off")
    print(f"renderer forward+backward: {render16:.1f} ms at 16 strokes, {render64:.1f} ms at 64 strokes")
    head = (f"{'configuration':30} {'steps':>6} {'render ms':>9} {'loss ms':>8} {'eval ms':>8} {'step ms':>8} "
            f"{'step x':>7} {'wall s':>8} {'wall x':>7} {'peak MB':>8} {'final loss':>11} {'loss x':>7}")
    print(head)
    for name, r in rows.items():
        print(f"{name:30} {r['steps']:>6} {r['render_ms']:>9.1f} {r['loss_ms']:>8.1f} {r['eval_ms']:>8.1f} "
              f"{r['step_ms']:>8.1f} {r['step_ms'] / paper['step_ms']:>7.3f} {r['wall_s']:>8.1f} "
              f"{r['wall_s'] / paper['wall_s']:>7.3f} {r['peak_mb']:>8.0f} {r['final_loss']:>11.4f} "
              f"{r['final_loss'] / paper['final_loss']:>7.3f}")
    three = rows["default, 3 seeds"]["wall_s"] / rows["default, 1 seed"]["wall_s"]
    print(f"best-of-3 / one seed (default preset): {three:.2f} x")
    if extrapolated:
        print(f"paper wall time extrapolated from {args.paper_steps} steps to {PAPER_STEPS}")
        print(f"paper final loss: from {args.paper_from} (a complete run)" if args.paper_from else
              f"paper final loss: after {args.paper_steps} steps only (use --full or --paper-from)")
    default, fast = rows["default, 1 seed"], rows["fast, 1 seed"]
    complete_paper = args.full or bool(args.paper_from)
    goals = [("renderer <= 15 ms at 16 strokes, <= 60 ms at 64", render16 <= 15 and render64 <= 60),
             ("default step <= 0.4 x paper step", default["step_ms"] <= 0.4 * paper["step_ms"]),
             ("default 1-seed wall <= 1/8 x paper wall", default["wall_s"] <= paper["wall_s"] / 8),
             ("default final loss <= 1.05 x paper final loss" + ("" if complete_paper else " (paper incomplete)"),
              complete_paper and default["final_loss"] <= 1.05 * paper["final_loss"]),
             ("best-of-3 <= 1.8 x one seed", three <= 1.8),
             ("default peak memory <= 3 GB", max(default["peak_mb"], rows["default, 3 seeds"]["peak_mb"]) <= 3072),
             ("fast wall <= 60 s", fast["wall_s"] <= 60)]
    print("goals (set for a CPU run with rn101-random and 16 strokes):")
    for text, met in goals:
        print(f"{'met' if met else 'NOT MET':>7}  {text}")
    if args.json:
        print(json.dumps({"device": args.device, "backbone": args.backbone, "strokes": args.strokes,
                          "render_ms_16": render16, "render_ms_64": render64, "extrapolated": extrapolated,
                          "best_of_3_ratio": three, "rows": rows,
                          "goals": {text: met for text, met in goals}}))


if __name__ == "__main__":
    main()
