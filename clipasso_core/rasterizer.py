"""Differentiable rasterizer for cubic Bézier strokes, in pure PyTorch.

Each stroke is flattened into short line segments (enough that the chord error stays far below a
pixel), and a pixel's coverage by a stroke is the box-filtered area of a round-capped stroke of that
width, approximated by ``clamp(width / 2 + 0.5 - distance, 0, 1)`` with ``distance`` the distance of
the pixel centre to the flattened centreline. That is the exact box-filter coverage for a straight
edge and what SVG renderers (resvg, cairo) draw. Strokes are composited over a white canvas in order
with the SVG "over" operator.

Only pixels near a stroke are touched: segments are binned into 8x8 pixel tiles, and distances are
computed for (segment, tile) pairs only, so the cost grows with the ink, not the canvas area.
Gradients flow to the control points (and colours/opacities if they require grad) through the
anti-aliased band of each stroke. The same code runs on CPU and CUDA; a call waits for the device
four times, for the sizes that depend on the data (segments, (segment, tile) pairs, covered
entries, distinct (pixel, stroke) entries; a fifth on the path without float64).
"""
from __future__ import annotations

import math

import torch

TILE = 8
"""Side of the square pixel tiles that segments are binned into."""

MAX_SEGMENT_PX = 2.0
"""Flattening target: the control polygon length is divided into pieces of at most this many px."""


def _bezier_points(control: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Points on cubic Béziers. control: [K, 4, 2] per sample; t: [K] -> [K, 2]."""
    t = t[:, None]
    u = 1.0 - t
    return (u * u * u * control[:, 0] + 3.0 * u * u * t * control[:, 1]
            + 3.0 * u * t * t * control[:, 2] + t * t * t * control[:, 3])


def flatten(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Flatten strokes into line segments.

    points: [S, 4, 2] control points (px). Returns (a [G, 2], b [G, 2], stroke [G]) with segment
    endpoints and the index of the stroke each segment belongs to. The number of segments of a stroke
    follows its control-polygon length (an upper bound of its arc length), at most 2 px each.
    """
    device = points.device
    with torch.no_grad():
        polygon = (points[:, 1:] - points[:, :-1]).norm(dim=-1).sum(dim=-1)
        counts = (polygon / MAX_SEGMENT_PX).ceil().clamp(4, 512).long()  # [S]
        stroke = torch.repeat_interleave(torch.arange(points.shape[0], device=device), counts)
        starts = torch.cumsum(counts, 0) - counts
        local = torch.arange(stroke.shape[0], device=device) - starts[stroke]
        steps = counts[stroke].to(points.dtype)
        t0 = local.to(points.dtype) / steps
        t1 = (local + 1).to(points.dtype) / steps
    control = points[stroke]
    return _bezier_points(control, t0), _bezier_points(control, t1), stroke


def _tile_pairs(a: torch.Tensor, b: torch.Tensor, reach: torch.Tensor, size: int):
    """(segment, tile) pairs whose tile may hold a pixel within ``reach`` px of the segment.

    a, b: [G, 2] segment ends (px); reach: [G] px. Returns (segment [P], tile_x [P], tile_y [P]).
    """
    tiles = math.ceil(size / TILE)
    lo = torch.minimum(a, b) - reach[:, None]
    hi = torch.maximum(a, b) + reach[:, None]
    t_lo = (lo / TILE).floor().long().clamp(0, tiles - 1)
    t_hi = (hi / TILE).floor().long().clamp(0, tiles - 1)
    inside = (hi > 0).all(dim=1) & (lo < size).all(dim=1)
    nx = (t_hi[:, 0] - t_lo[:, 0] + 1) * inside
    ny = t_hi[:, 1] - t_lo[:, 1] + 1
    count = nx * ny
    segment = torch.repeat_interleave(torch.arange(a.shape[0], device=a.device), count)
    starts = torch.cumsum(count, 0) - count
    k = torch.arange(segment.shape[0], device=a.device) - starts[segment]
    tx = t_lo[segment, 0] + k % nx[segment]
    ty = t_lo[segment, 1] + torch.div(k, nx[segment], rounding_mode="floor")
    return segment, tx, ty


def _coverage_entries(points: torch.Tensor, widths: torch.Tensor, size: int):
    """Non-zero anti-aliased coverage of strokes, as sparse entries.

    points: [S, 4, 2] control points in px (x right, y down, pixel centres at +0.5); widths: [S] full
    stroke widths in px; size: canvas side in px. Returns (stroke [E], pixel [E], coverage [E]) with
    pixel = y * size + x; a (stroke, pixel) may repeat (the caller takes the maximum).
    """
    a, b, stroke = flatten(points)
    half = widths[stroke] / 2.0
    with torch.no_grad():
        segment, tx, ty = _tile_pairs(a.detach(), b.detach(), half.detach() + 1.0, size)
        offsets = torch.arange(TILE * TILE, device=points.device)
        px = tx[:, None] * TILE + offsets % TILE  # [P, T*T]
        py = ty[:, None] * TILE + torch.div(offsets, TILE, rounding_mode="floor")
        # Cheap no-grad pass over every (segment, tile pixel) to keep only the covered entries.
        dist = _distance(px + 0.5, py + 0.5, a.detach()[segment][:, None], b.detach()[segment][:, None])
        keep = (dist < half.detach()[segment][:, None] + 0.5) & (px < size) & (py < size)
        pair, column = keep.nonzero(as_tuple=True)
        px, py, segment = px[pair, column], py[pair, column], segment[pair]
    dist = _distance(px.to(points.dtype) + 0.5, py.to(points.dtype) + 0.5, a[segment], b[segment])
    cov = (half[segment] + 0.5 - dist).clamp(0.0, 1.0)
    return stroke[segment], py * size + px, cov


def _distance(x: torch.Tensor, y: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance (px) of points (x, y) to segments a-b; a, b broadcast against x, y with a trailing 2."""
    abx, aby = b[..., 0] - a[..., 0], b[..., 1] - a[..., 1]
    apx, apy = x - a[..., 0], y - a[..., 1]
    t = ((apx * abx + apy * aby) / (abx * abx + aby * aby).clamp_min(1e-12)).clamp(0.0, 1.0)
    dx, dy = apx - t * abx, apy - t * aby
    return torch.sqrt(dx * dx + dy * dy + 1e-12)


def render(points: torch.Tensor, widths: torch.Tensor, colors: torch.Tensor, size: int) -> torch.Tensor:
    """Render batches of sketches over white.

    points: [B, S, 4, 2] px; widths: [B, S] px; colors: [B, S, 4] RGBA in 0..1 (alpha = opacity);
    size: canvas side (px). Returns images [B, 3, size, size] in 0..1.

    Compositing is SVG "over" in stroke order, done sparsely: entries are sorted by (pixel, stroke),
    and each stroke's contribution is alpha_i * prod_{j > i} (1 - alpha_j), computed in log space.
    """
    batch, strokes = points.shape[:2]
    area = size * size
    stroke, pixel, cov = _coverage_entries(points.reshape(-1, 4, 2), widths.reshape(-1), size)
    image_pixel = torch.div(stroke, strokes, rounding_mode="floor") * area + pixel
    key, inverse = torch.unique(image_pixel * strokes + stroke % strokes, return_inverse=True)
    cov = torch.zeros(len(key), device=cov.device, dtype=cov.dtype).scatter_reduce(
        0, inverse, cov, reduce="amax", include_self=True)
    image_pixel = torch.div(key, strokes, rounding_mode="floor")
    stroke = torch.div(image_pixel, area, rounding_mode="floor") * strokes + key % strokes
    flat_colors = colors.reshape(-1, 4)
    alpha = (cov * flat_colors[stroke, 3]).clamp(max=1.0 - 1e-6)
    log_transmit = torch.log1p(-alpha)
    later = _later_sums if has_float64(points.device) else _later_sums_float32
    after = torch.exp(later(log_transmit, image_pixel)).to(alpha.dtype)  # prod over later strokes, same pixel
    weight = alpha * after
    pixels = batch * area
    ink = torch.zeros(pixels, 3, device=points.device, dtype=points.dtype).index_add(
        0, image_pixel, weight[:, None] * flat_colors[stroke, :3])
    log_total = torch.zeros(pixels, device=points.device, dtype=log_transmit.dtype).index_add(
        0, image_pixel, log_transmit)
    image = ink + torch.exp(log_total).to(points.dtype)[:, None]  # white background
    return image.view(batch, size, size, 3).permute(0, 3, 1, 2)


def has_float64(device: torch.device) -> bool:
    """Whether the device computes in float64 (Apple's MPS does not)."""
    return device.type != "mps"


def _later_sums(values: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """For entries [N] with sorted group keys ``groups`` [N] (equal keys = one group): the sum of the
    values after each entry in its group (float64 running sums, so long inputs lose nothing). No
    host-device synchronisation."""
    running = torch.cumsum(values.double(), 0)
    group_end = running[torch.searchsorted(groups, groups, right=True) - 1]  # at the group's last entry
    return group_end - running


def _later_sums_float32(values: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """``_later_sums`` without float64: each group summed on its own in a padded [groups, deepest]
    table (a global float32 running sum would lose the small values late in long inputs); one
    host-device synchronisation, for the table's size."""
    if not len(values):
        return values
    new = torch.ones_like(groups, dtype=torch.bool)
    new[1:] = groups[1:] != groups[:-1]
    group = torch.cumsum(new, 0) - 1
    depth = torch.arange(len(values), device=values.device) - torch.searchsorted(groups, groups)
    rows, deepest = (torch.stack([group[-1], depth.max()]) + 1).tolist()
    table = torch.zeros(rows, deepest, device=values.device, dtype=values.dtype)
    table = table.index_put((group, depth), values)
    suffix = torch.flip(torch.cumsum(torch.flip(table, [1]), 1), [1])  # sum from each entry to its group's end
    return suffix[group, depth] - values
