"""Optical flow between consecutive frames (OpenCV's DIS, no learned weights) and what it moves.

The flow is computed on grey frames downscaled to ``FLOW_SIDE`` px on the long side and expressed
in the frames' own px. ``residual``, the mean grey difference (0..1) between a frame and the next one
pulled back along the flow, tells a scene cut (the flow explains nothing) from motion.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FLOW_SIDE = 512
"""Long side (px) of the frames the flow is computed on."""
CUT_RESIDUAL = 0.12
"""A residual above this (mean grey difference, 0..1, after following the flow) is a scene cut."""


@dataclass
class Flow:
    """field: [h, w, 2] motion (dx, dy) in frame px of each flow-grid pixel from one frame to the
    next; scale: frame px per grid px; residual: mean |next pulled back - previous| in 0..1."""

    field: np.ndarray
    scale: float
    residual: float

    @property
    def is_cut(self) -> bool:
        return self.residual > CUT_RESIDUAL

    def move(self, points: np.ndarray) -> np.ndarray:
        """points [..., 2] (frame px) moved by the flow at each point (bilinear; points outside the
        frame take the motion of the nearest edge)."""
        h, w = self.field.shape[:2]
        grid = points.reshape(-1, 2) / self.scale - 0.5  # grid px, pixel centres at integers
        x = np.clip(grid[:, 0], 0, w - 1)
        y = np.clip(grid[:, 1], 0, h - 1)
        x0, y0 = np.minimum(np.floor(x).astype(int), w - 2 if w > 1 else 0), np.minimum(
            np.floor(y).astype(int), h - 2 if h > 1 else 0)
        x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
        fx, fy = (x - x0)[:, None], (y - y0)[:, None]
        f = self.field
        motion = ((1 - fx) * (1 - fy) * f[y0, x0] + fx * (1 - fy) * f[y0, x1]
                  + (1 - fx) * fy * f[y1, x0] + fx * fy * f[y1, x1])
        return (points.reshape(-1, 2) + motion * self.scale).reshape(points.shape).astype(points.dtype)


def grey(rgb: np.ndarray) -> np.ndarray:
    """An [H, W, 3] float frame (0..1) as the uint8 grey image the flow works on: long side FLOW_SIDE."""
    h, w = rgb.shape[:2]
    factor = FLOW_SIDE / max(h, w)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    small = cv2.resize(rgb.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    return np.clip(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY) * 255 + 0.5, 0, 255).astype(np.uint8)


def flow_between(previous: np.ndarray, current: np.ndarray, frame_width: float) -> Flow:
    """The flow from ``previous`` to ``current`` (grey images of ``grey``) of frames ``frame_width``
    px wide."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    field = dis.calc(previous, current, None)
    h, w = previous.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    pulled = cv2.remap(current, xs + field[..., 0], ys + field[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    residual = float(np.abs(pulled.astype(np.float32) - previous.astype(np.float32)).mean() / 255.0)
    return Flow(field, frame_width / w, residual)
