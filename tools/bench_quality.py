"""Drawing-quality benchmark: presets (and variants) on a trained stand-in network and on rn101-random.

    python tools/bench_quality.py                               # stand-in, 4 images, 3 presets, 8/16/32 strokes
    python tools/bench_quality.py --encoder rn101-random --presets fast --strokes 16
    python tools/bench_quality.py --presets default,fast --variant slow=default:lr=2.0 --strokes 16
    python tools/bench_quality.py --json                        # also one JSON line per run

No CLIP weights reach this workplace, so drawing quality is judged on ``standin`` (MobileNetV2 with
TRAINED ImageNet weights, ``tools/standin_mobilenet.py``; not CLIP: a hint, not a proof) and shown
beside ``rn101-random`` (CLIP RN101's shape, random weights: only the pipeline's mechanics). Masking
is off (full-frame photos keep their border); one process runs everything in turn, on the CPU unless
--device. The ``paper`` preset is the reference drawing style (the original recipe, 2001 steps; one
seed unless --paper-seeds, to keep the benchmark within an hour on a 2-core CPU).

Per run: the final loss (fp32, clean pair, recomputed the same way for every run), the loss ratio to
the paper run of the same image and stroke count, wall time and its ratio to the paper's, and the
drawing measures of ``drawing_measures``. Writes the SVGs, a contact sheet PNG (rows: image x
preset and stroke count; columns: images; each render by resvg from the SVG a user gets) and a table to --out.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

IMAGES = ("cat", "coffee", "astronaut", "horse")
BAND = 0.08
"""Width of the measured border band, as a fraction of the image's shorter side (fixed, so that runs
with another border fade, --feather, compare)."""


def load_images(names: list[str]) -> dict:
    """``LoadedImage`` per name: "cat" (bundled), a scikit-image sample, or a file path."""
    import skimage.data

    from clipasso_core.image_io import load_image
    from clipasso_core.pipeline import EXAMPLE_IMAGE

    out = {}
    for name in names:
        if name == "cat":
            out[name] = load_image(EXAMPLE_IMAGE)
        elif Path(name).is_file():
            out[Path(name).stem] = load_image(name)
        else:
            import tempfile

            from PIL import Image

            array = getattr(skimage.data, name)()
            if array.ndim == 2:  # the horse: a boolean silhouette, True outside it
                array = (np.where(array, 255, 0) if array.dtype == bool else array).astype(np.uint8)
            path = Path(tempfile.mkdtemp()) / f"{name}.png"
            Image.fromarray(array).save(path)
            out[name] = load_image(path)
    return out


def drawing_measures(sketch) -> dict:
    """Measures of a sketch on the optimiser's canvas, each read so that a sketch-like drawing is low
    or near a stated reference:

    - overdraw: summed ink (coverage) of every stroke drawn alone / the area they cover together
      (the pixel-wise maximum). 1.0 = no stroke lies on another; hatching (strokes folded back and
      forth over a body) is high.
    - border_ink: share of the sketch's ink within ``BAND`` x the shorter side of the image's outer
      border; ``border_area`` is that band's share of the image (what evenly spread ink would give).
    - frame_strokes: strokes with >= 60% of their length inside that band (lines along the frame).
    - length: mean stroke length in % of the image's longer side; length_cv its coefficient of variation.
    - turning: mean total turning (degrees) along a stroke; folded: share of strokes that end within
      30% of their length of where they started (hairpins and loops: a stroke folded back on itself).
    """
    import torch

    from clipasso_core.canvas import CanvasTransform, inner_area
    from clipasso_core.config import CANVAS
    from clipasso_core.rasterizer import render

    t = CanvasTransform(sketch.width, sketch.height, CANVAS)
    points = torch.tensor([[t.to_canvas(x, y) for x, y in s.points] for s in sketch.strokes])  # [S, 4, 2]
    widths = torch.tensor([s.width / t.scale for s in sketch.strokes])
    black = torch.tensor([0.0, 0.0, 0.0, 1.0]).expand(len(points), 4)
    with torch.no_grad():
        alone = 1 - render(points[:, None], widths[:, None], black[:, None], CANVAS).mean(1)  # [S, H, W]
    union = alone.max(0).values  # [H, W] the area the strokes cover together
    x0, y0, x1, y1 = t.image_box()
    band = BAND * min(x1 - x0, y1 - y0)
    inside = torch.from_numpy(inner_area(t, 0.0))
    near = inside & ~torch.from_numpy(inner_area(t, BAND))
    ink = float(union.sum())
    tt = torch.linspace(0, 1, 65)[:, None]
    curve = ((1 - tt) ** 3)[None] * points[:, None, 0] + (3 * (1 - tt) ** 2 * tt)[None] * points[:, None, 1] \
        + (3 * (1 - tt) * tt ** 2)[None] * points[:, None, 2] + (tt ** 3)[None] * points[:, None, 3]  # [S, 65, 2]
    seg = curve[:, 1:] - curve[:, :-1]
    seg_len = seg.norm(dim=-1)
    lengths = seg_len.sum(1)
    angle = torch.atan2(seg[..., 1], seg[..., 0])
    turn = torch.remainder(angle[:, 1:] - angle[:, :-1] + math.pi, 2 * math.pi) - math.pi
    moving = (seg_len[:, 1:] > 1e-3) & (seg_len[:, :-1] > 1e-3)
    turning = torch.rad2deg((turn.abs() * moving).sum(1))
    mid = (curve[:, 1:] + curve[:, :-1]) / 2
    in_band = ((mid[..., 0] < x0 + band) | (mid[..., 0] > x1 - band) | (mid[..., 1] < y0 + band)
               | (mid[..., 1] > y1 - band))
    band_share = (seg_len * in_band).sum(1) / lengths.clamp_min(1e-6)
    longer = max(x1 - x0, y1 - y0)
    return {
        "overdraw": round(float(alone.sum()) / max(ink, 1e-6), 3),
        "border_ink": round(float(union[near].sum()) / max(ink, 1e-6), 3),
        "border_area": round(float(near.sum()) / float(inside.sum()), 3),
        "frame_strokes": int((band_share >= 0.6).sum()),
        "length": round(float(lengths.mean()) / longer * 100, 1),
        "length_cv": round(float(lengths.std() / lengths.mean()), 2) if len(lengths) > 1 else 0.0,
        "turning": round(float(turning.mean()), 1),
        "folded": round(float(((curve[:, -1] - curve[:, 0]).norm(dim=-1) < 0.3 * lengths).float().mean()), 3),
    }


class UniformSaliency(torch.nn.Module):
    """A saliency ``SketchEncoder`` that prefers no place: start points follow the edges alone."""

    name = "uniform"
    compute_dtypes = (torch.float32,)

    def __init__(self, like):
        super().__init__()
        self.input_size, self.mean, self.std = like.input_size, like.mean, like.std

    def attention(self, image: torch.Tensor) -> torch.Tensor:
        return torch.ones(image.shape[-2:], device=image.device)


def fp32_loss(sketch, target, encoder) -> float:
    """The clean pair's loss of a sketch against target [3, 224, 224] in fp32 (the same for every run)."""
    import torch

    from clipasso_core.loss import ClipLoss
    from clipasso_core.pipeline import canvas_raster

    loss = ClipLoss(encoder, fold=False)  # the judge as loaded: no folded copy per sketch
    image = torch.from_numpy(canvas_raster(sketch)).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        return float(ClipLoss.pair_losses(loss.encode(image), loss.encode(target[None]))[0])


def render_tile(svg: str, width: float, height: float, tile: int):
    """A PIL image [tile, tile] of the SVG rendered by resvg, fitted and centred on white."""
    import io

    import resvg_py
    from PIL import Image

    scale = tile / max(width, height)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    png = bytes(resvg_py.svg_to_bytes(svg_string=svg, width=w, height=h, background="white"))
    out = Image.new("RGB", (tile, tile), "white")
    out.paste(Image.open(io.BytesIO(png)).convert("RGB"), ((tile - w) // 2, (tile - h) // 2))
    return out


def target_tile(loaded, tile: int):
    """A PIL image [tile, tile] of the input photo, fitted and centred on white."""
    from PIL import Image

    image = Image.fromarray((loaded.rgb * 255 + 0.5).astype(np.uint8))
    image.thumbnail((tile, tile))
    out = Image.new("RGB", (tile, tile), "white")
    out.paste(image, ((tile - image.width) // 2, (tile - image.height) // 2))
    return out


def contact_sheet(rows: list[tuple[str, list]], columns: list[str], path: Path, tile: int = 200) -> None:
    """rows: (label, [PIL tile per column]); a label column left, column titles on top."""
    from PIL import Image, ImageDraw

    label_w, title_h, gap = 110, 20, 6
    step = tile + gap
    sheet = Image.new("RGB", (label_w + step * len(columns), title_h + step * len(rows)), "#d0d0d0")
    draw = ImageDraw.Draw(sheet)
    for c, title in enumerate(columns):
        draw.text((label_w + c * step + 4, 4), title, fill="black")
    for r, (label, tiles) in enumerate(rows):
        top = title_h + r * step
        draw.multiline_text((4, top + 4), label, fill="black")
        for c, image in enumerate(tiles):
            sheet.paste(image, (label_w + c * step, top))
    sheet.save(path)


def parse_variant(text: str):
    """"name=base:field=value,field=value" -> a Preset registered under ``name``."""
    from clipasso_core.config import PRESETS, Preset

    name, _, rest = text.partition("=")
    base, _, fields = rest.partition(":")
    kinds = {f: type(getattr(PRESETS[base], f)) for f in Preset.__dataclass_fields__}
    changes = {}
    for item in filter(None, fields.split(",")):
        key, _, value = item.partition("=")
        kinds_key = kinds[key]
        changes[key] = value.lower() in ("1", "true") if kinds_key is bool else kinds_key(value)
    PRESETS[name] = replace(PRESETS[base], name=name, **changes)
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="standin", choices=("standin", "rn101-random", "tiny-random"))
    parser.add_argument("--images", default=",".join(IMAGES))
    parser.add_argument("--presets", default="paper,default,fast")
    parser.add_argument("--variant", action="append", default=[], help="NAME=BASE:field=value,...")
    parser.add_argument("--strokes", default="8,16,32")
    parser.add_argument("--reference", default="paper", help="the preset (or variant) whose drawings the "
                        "others are compared with; paper_bf16 = the paper recipe under bf16 autocast (3 x faster on "
                        "a CPU with bf16; the same steps, lr and fresh augmentations)")
    parser.add_argument("--paper-seeds", type=int, default=1, help="seeds of the reference runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--feather", type=float, default=None,
                        help="the target's border fade (canvas.TARGET_FEATHER; 0 = plain white padding)")
    parser.add_argument("--saliency", default="cam", choices=("cam", "uniform"),
                        help="stand-in start points: its class activation map, or uniform (edges alone)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=None, help="folder for SVGs, contact sheet and table "
                        "(default tools/results/quality_<encoder>)")
    parser.add_argument("--paper-from", default=None, help="a folder of an earlier run: its paper rows "
                        "and SVGs are the reference where this run has no paper run of the same image and count")
    parser.add_argument("--levels", default=None, help="instead of the grid: a levels run (e.g. 32,16,8,4) "
                        "of each image with the first of --presets; levels_sheet.png")
    parser.add_argument("--animate", type=int, default=0, help="instead of the grid: an animation of this "
                        "many frames of the first image panned and zoomed, first of --presets; animation_sheet.png")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from clipasso_core import SketchConfig, sketch, to_svg
    from clipasso_core import canvas as canvas_module
    from clipasso_core.backbones import PROFILES, Encoders, load_encoder
    from clipasso_core.pipeline import RandomWeightsWarning, prepare

    warnings.simplefilter("ignore", RandomWeightsWarning)
    if args.feather is not None:
        canvas_module.TARGET_FEATHER = args.feather
    parse_variant("paper_bf16=paper:precision=auto")
    presets = [p for p in args.presets.split(",") if p] + [parse_variant(v) for v in args.variant]
    counts = [int(n) for n in args.strokes.split(",")]
    images = load_images(args.images.split(","))
    out = Path(args.out or ROOT / "tools" / "results" / f"quality_{args.encoder}")
    if args.paper_from and Path(args.paper_from).resolve() == out.resolve():
        parser.error("--paper-from must be another folder than --out (this run rewrites --out)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs.jsonl").unlink(missing_ok=True)
    if args.encoder == "standin":
        from standin_mobilenet import load_standin

        standin = load_standin().to(args.device)
        saliency = standin if args.saliency == "cam" else UniformSaliency(standin)
        encoders, backbone, judge = Encoders(loss=standin, saliency=saliency), "tiny-random", standin
    else:
        encoders, backbone = Encoders(), args.encoder
        judge = load_encoder(PROFILES[backbone], "loss").to(args.device)

    if args.levels or args.animate:
        check = run_levels if args.levels else run_animation
        check(args, images, presets[0], encoders, backbone, out)
        return 0
    tiles: dict[tuple[str, int], list] = {}  # (preset, count) -> a tile per image
    targets, table = [], []
    for image_name, loaded in images.items():
        target_cfg = SketchConfig(mask="off", backbone=backbone)
        target = prepare(loaded, target_cfg).target.to(args.device)
        targets.append(target_tile(loaded, 200))
        paper = earlier_paper(args.paper_from, image_name, args.reference)
        for preset in presets:
            for count in counts:
                if preset == args.reference and count in paper:  # the earlier run's, not run again
                    table.append(paper[count])
                    print(format_row(paper[count]), flush=True)
                    svg = (Path(args.paper_from) / f"{image_name}_{preset}_{count}.svg").read_text()
                    (out / f"{image_name}_{preset}_{count}.svg").write_text(svg)
                    tiles.setdefault((preset, count), []).append(render_tile(svg, loaded.width, loaded.height, 200))
                    continue
                seeds = args.paper_seeds if preset == args.reference else None
                config = SketchConfig(strokes=count, preset=preset, seeds=seeds, seed=args.seed, mask="off",
                                      device=args.device, backbone=backbone)
                started = time.perf_counter()
                result = sketch(loaded, config, encoders=encoders)
                wall = time.perf_counter() - started
                svg = to_svg(result)
                stem = f"{image_name}_{preset}_{count}"
                (out / f"{stem}.svg").write_text(svg)
                row = {"image": image_name, "preset": preset, "strokes": count, "encoder": args.encoder,
                       "feather": canvas_module.TARGET_FEATHER, "saliency": args.saliency, "seeds": len(result.metadata["seeds"]),
                       "steps": result.metadata["iterations"], "wall_s": round(wall, 1),
                       "loss": round(fp32_loss(result, target, judge), 4), **drawing_measures(result)}
                if preset == args.reference:
                    paper[count] = row
                if count in paper:
                    row["loss_vs_ref"] = round(row["loss"] / paper[count]["loss"], 3)
                    row["time_vs_ref"] = round(wall / paper[count]["wall_s"], 3)
                    row["overdraw_vs_ref"] = round(row["overdraw"] / paper[count]["overdraw"], 2)
                table.append(row)
                with open(out / "runs.jsonl", "a") as log:  # row by row: a cut-short run keeps its rows
                    log.write(json.dumps(row) + "\n")
                print(format_row(row), flush=True)
                if args.json:
                    print(json.dumps(row), flush=True)
                tiles.setdefault((preset, count), []).append(render_tile(svg, result.width, result.height, 200))
    rows = [("input", targets)] + [(f"{preset}\n{count} strokes", row) for (preset, count), row in tiles.items()]
    contact_sheet(rows, list(images), out / "contact_sheet.png")
    (out / "table.txt").write_text("\n".join(format_row(r) for r in table) + "\n" + summary(table))
    print(summary(table))
    print(f"wrote {out / 'contact_sheet.png'}")
    return 0


def run_levels(args, images: dict, preset: str, encoders, backbone: str, out: Path) -> None:
    """A levels run per image: each level's measures and render (rows: levels; columns: images)."""
    from clipasso_core import SketchConfig, sketch, to_svg
    from clipasso_core.contract.formats import Sketch

    counts = [int(n) for n in args.levels.split(",")]
    rows: dict[int, list] = {}
    lines = []
    for name, loaded in images.items():
        started = time.perf_counter()
        config = SketchConfig(levels=tuple(counts), preset=preset, seed=args.seed, mask="off", device=args.device,
                              backbone=backbone)
        result = sketch(loaded, config, encoders=encoders)
        wall = time.perf_counter() - started
        for level in result.levels:
            level_sketch = Sketch(result.width, result.height, level.strokes, {})
            row = {"image": name, "preset": preset, "level": level.count, "wall_s": round(wall, 1),
                   "loss": round(level.loss, 4), **drawing_measures(level_sketch)}
            lines.append(json.dumps(row))
            print(json.dumps(row), flush=True)
            svg = to_svg(level_sketch)
            (out / f"{name}_{preset}_level{level.count}.svg").write_text(svg)
            rows.setdefault(level.count, []).append(render_tile(svg, result.width, result.height, 200))
    (out / "levels.jsonl").write_text("\n".join(lines) + "\n")
    contact_sheet([(f"{preset}\nlevel {n}", r) for n, r in rows.items()], list(images), out / "levels_sheet.png")
    print(f"wrote {out / 'levels_sheet.png'}")


def panned_frames(loaded, count: int, folder: Path) -> Path:
    """``count`` PNG frames of a photo seen through a square window that pans and zooms in."""
    from PIL import Image

    image = Image.fromarray((loaded.rgb * 255 + 0.5).astype(np.uint8))
    w, h = image.size
    for k in range(count):
        f = k / max(count - 1, 1)
        side = int(min(w, h) * (0.95 - 0.2 * f))
        left, top = int((w - side) * (0.2 + 0.6 * f)), int((h - side) * 0.5)
        image.crop((left, top, left + side, top + side)).resize((256, 256)).save(folder / f"frame_{k:03d}.png")
    return folder


def run_animation(args, images: dict, preset: str, encoders, backbone: str, out: Path) -> None:
    """An animation of the first image panned and zoomed: each frame's measures and render."""
    import tempfile

    from clipasso_core import SketchConfig, animate, to_svg
    from clipasso_core.contract.formats import Sketch

    name, loaded = next(iter(images.items()))
    folder = panned_frames(loaded, args.animate, Path(tempfile.mkdtemp()))
    config = SketchConfig(strokes=int(args.strokes.split(",")[0]), preset=preset, seed=args.seed, mask="off",
                          device=args.device, backbone=backbone)
    started = time.perf_counter()
    sequence = animate(folder, config, encoders=encoders)
    wall = time.perf_counter() - started
    frames, renders, lines = [], [], []
    for frame in sequence.frames:
        frame_sketch = Sketch(sequence.width, sequence.height, frame.strokes, {})
        row = {"image": name, "preset": preset, "frame": frame.index, "cut": frame.cut, **drawing_measures(frame_sketch)}
        lines.append(json.dumps(row))
        print(json.dumps(row), flush=True)
        renders.append(render_tile(to_svg(frame_sketch), sequence.width, sequence.height, 160))
        frames.append(target_tile(_load(folder / f"frame_{frame.index:03d}.png"), 160))
    print(f"{len(sequence.frames)} frames in {wall:.0f} s, mean loss {sequence.metadata['mean_loss']}")
    (out / "animation.jsonl").write_text("\n".join(lines) + "\n")
    half = (len(frames) + 1) // 2
    contact_sheet([(f"frames\n0-{half - 1}", frames[:half]), (preset, renders[:half]),
                   (f"frames\n{half}-{len(frames) - 1}", frames[half:]), (preset, renders[half:])],
                  ["" for _ in range(half)], out / "animation_sheet.png", 160)
    print(f"wrote {out / 'animation_sheet.png'}")


def _load(path: Path):
    from clipasso_core.image_io import load_image

    return load_image(path)


def earlier_paper(folder: str | None, image: str, reference: str) -> dict[int, dict]:
    """The ``reference`` rows of ``image`` by stroke count in an earlier run's runs.jsonl, their drawing
    measures taken again from the SVGs (none without a folder)."""
    from clipasso_core import from_svg

    if folder is None or not (Path(folder) / "runs.jsonl").is_file():
        return {}
    rows = [json.loads(line) for line in (Path(folder) / "runs.jsonl").read_text().splitlines() if line]
    found = {}
    for r in rows:
        if r["image"] == image and r["preset"] == reference:
            svg = (Path(folder) / f"{image}_{reference}_{r['strokes']}.svg").read_text()
            found[r["strokes"]] = {**r, **drawing_measures(from_svg(svg)), "earlier": True}
    return found


def format_row(r: dict) -> str:
    rel = (f" loss/ref {r['loss_vs_ref']:.3f} time/ref {r['time_vs_ref']:.3f} "
           f"overdraw/ref {r['overdraw_vs_ref']:.2f}") if "loss_vs_ref" in r else ""
    return (f"{r['image']:>10} {r['preset']:>10} {r['strokes']:>3}  loss {r['loss']:.4f}  {r['wall_s']:7.1f} s "
            f"({r['steps']} steps)  overdraw {r['overdraw']:.2f}  border {r['border_ink']:.3f}/{r['border_area']:.3f} "
            f"frame {r['frame_strokes']}  len {r['length']:.1f}% cv {r['length_cv']:.2f}  turn {r['turning']:.0f} "
            f"folded {r['folded']:.2f}{rel}")


def summary(table: list[dict]) -> str:
    """Means per preset over images and stroke counts."""
    lines = ["", "mean per preset: overdraw, border ink, frame strokes, folded, loss/ref, time/ref"]
    for preset in dict.fromkeys(r["preset"] for r in table):
        rs = [r for r in table if r["preset"] == preset]
        mean = lambda key: np.mean([r[key] for r in rs if key in r]) if any(key in r for r in rs) else float("nan")  # noqa: E731
        lines.append(f"{preset:>10}: overdraw {mean('overdraw'):.2f}  border {mean('border_ink'):.3f}  "
                     f"frame {mean('frame_strokes'):.2f}  folded {mean('folded'):.2f}  "
                     f"loss/ref {mean('loss_vs_ref'):.3f}  time/ref {mean('time_vs_ref'):.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
