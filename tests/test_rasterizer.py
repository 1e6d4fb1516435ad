"""The differentiable rasterizer draws what SVG renderers draw, and its gradients are right."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from clipasso_core.rasterizer import render
from clipasso_core.contract.formats import Sketch, Stroke
from clipasso_core.svg import to_svg
from conftest import ink_iou, render_svg

SIZE = 224


def random_strokes(count: int, seed: int, spread: float = 80.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    centre = torch.rand(count, 1, 2, generator=gen) * SIZE
    return (centre + (torch.rand(count, 4, 2, generator=gen) - 0.5) * spread).clamp(0, SIZE)


def to_sketch(points, widths, colors) -> Sketch:
    strokes = [Stroke([tuple(p) for p in pts.tolist()], float(w),
                      "#" + "".join(f"{round(c * 255):02x}" for c in col[:3].tolist()), float(col[3]))
               for pts, w, col in zip(points, widths, colors)]
    return Sketch(SIZE, SIZE, strokes)


@pytest.mark.parametrize("renderer", ["resvg", "cairosvg"])
@pytest.mark.parametrize("count", [16, 64])
def test_matches_svg_renderers(count, renderer):
    points = random_strokes(count, seed=count)
    widths = torch.full((count,), 3.0)
    colors = torch.tensor([0.0, 0.0, 0.0, 1.0]).expand(count, 4)
    ours = render(points[None], widths[None], colors[None], SIZE)[0].mean(0).numpy()
    ref = render_svg(to_svg(to_sketch(points, widths, colors)), SIZE, SIZE, renderer)
    mad = float(np.abs(ours - ref).mean())
    iou = ink_iou(ours, ref)
    print(f"{renderer} {count} strokes: mean abs diff {mad:.4f}, ink IoU {iou:.4f}")
    assert mad <= 0.01
    assert iou >= 0.9


def test_colours_widths_and_opacity_match_resvg():
    count = 24
    gen = torch.Generator().manual_seed(7)
    points = random_strokes(count, seed=3)
    widths = 1.0 + torch.rand(count, generator=gen) * 6
    colors = torch.cat([torch.rand(count, 3, generator=gen), 0.3 + 0.7 * torch.rand(count, 1, generator=gen)], 1)
    ours = render(points[None], widths[None], colors[None], SIZE)[0].mean(0).numpy()
    ref = render_svg(to_svg(to_sketch(points, widths, colors)), SIZE, SIZE)
    assert float(np.abs(ours - ref).mean()) <= 0.01


def test_batch_renders_each_sketch_independently():
    a, b = random_strokes(8, 1), random_strokes(8, 2)
    widths = torch.full((1, 8), 3.0)
    colors = torch.tensor([0.0, 0.0, 0.0, 1.0]).expand(1, 8, 4)
    both = render(torch.stack([a, b]), widths.expand(2, -1), colors.expand(2, -1, -1), SIZE)
    assert torch.allclose(both[0], render(a[None], widths, colors, SIZE)[0], atol=1e-6)
    assert torch.allclose(both[1], render(b[None], widths, colors, SIZE)[0], atol=1e-6)


def test_empty_canvas_is_white_and_stroke_inks_black():
    points = torch.tensor([[[[20.0, 100.0], [60.0, 100.0], [140.0, 100.0], [200.0, 100.0]]]])
    image = render(points, torch.tensor([[5.0]]), torch.tensor([[[0.0, 0.0, 0.0, 1.0]]]), SIZE)[0]
    assert image[:, 10, 10].tolist() == [1.0, 1.0, 1.0]
    assert image[:, 100, 100].max().item() < 1e-4  # centre of a 5 px line
    assert image.min() >= 0 and image.max() <= 1


def test_gradient_matches_finite_differences():
    torch.manual_seed(0)
    points = random_strokes(6, seed=11, spread=60).double()
    widths = torch.full((1, 6), 3.0, dtype=torch.float64)
    colors = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64).expand(1, 6, 4)
    weights = torch.rand(1, 3, SIZE, SIZE, dtype=torch.float64)

    def f(p):
        return (render(p[None], widths, colors, SIZE) * weights).sum()

    p = points.clone().requires_grad_(True)
    f(p).backward()
    analytic = p.grad.flatten()
    numeric = torch.zeros_like(analytic)
    eps = 1e-3
    flat = points.flatten()
    for i in range(len(flat)):
        plus, minus = flat.clone(), flat.clone()
        plus[i] += eps
        minus[i] -= eps
        numeric[i] = (f(plus.view_as(points)) - f(minus.view_as(points))) / (2 * eps)
    assert analytic.abs().max() > 0
    rel = (analytic - numeric).norm() / numeric.norm()
    cos = torch.nn.functional.cosine_similarity(analytic, numeric, dim=0)
    assert rel < 0.05, rel
    assert cos > 0.995, cos


def test_the_path_without_float64_gives_the_same_raster_and_gradients(monkeypatch):
    """Apple's MPS has no float64: its path (padded per-pixel sums in float32), run here on the CPU,
    matches the float64 path within 1e-4."""
    from clipasso_core import rasterizer

    assert not rasterizer.has_float64(torch.device("mps")) and rasterizer.has_float64(torch.device("cpu"))
    torch.manual_seed(0)
    points = (torch.rand(3, 64, 4, 2) * 224).requires_grad_(True)
    widths, colors = torch.full((3, 64), 3.0), torch.rand(3, 64, 4)
    colors[..., 3] = 0.8
    reference = rasterizer.render(points, widths, colors, 224)
    (grad64,) = torch.autograd.grad(reference.sum(), points)
    monkeypatch.setattr(rasterizer, "has_float64", lambda device: False)
    image = rasterizer.render(points, widths, colors, 224)
    (grad32,) = torch.autograd.grad(image.sum(), points)
    assert (image - reference).abs().max().item() < 1e-4
    assert torch.allclose(grad32, grad64, rtol=1e-3, atol=1e-3)


def test_strokes_off_the_canvas_leave_it_white_on_both_paths(monkeypatch):
    from clipasso_core import rasterizer

    points = torch.full((1, 2, 4, 2), -50.0)
    widths, colors = torch.full((1, 2), 3.0), torch.tensor([0.0, 0.0, 0.0, 1.0]).expand(1, 2, 4)
    assert torch.equal(rasterizer.render(points, widths, colors, 32), torch.ones(1, 3, 32, 32))
    monkeypatch.setattr(rasterizer, "has_float64", lambda device: False)
    assert torch.equal(rasterizer.render(points, widths, colors, 32), torch.ones(1, 3, 32, 32))
