"""Shared fixtures: SVG rendering with real renderers, and the offline rembg model home."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
REMBG_HOME = (ROOT / ".." / "shared" / "models" / "rembg").resolve()


def render_svg(svg: str, width: int, height: int, renderer: str = "resvg") -> np.ndarray:
    """Grey image [H, W] in 0..1 of SVG text rendered over white by resvg or cairosvg."""
    if renderer == "resvg":
        import resvg_py

        png = bytes(resvg_py.svg_to_bytes(svg_string=svg, width=width, height=height, background="white", dpi=96))
    else:
        import cairosvg

        png = cairosvg.svg2png(bytestring=svg.encode(), output_width=width, output_height=height,
                               background_color="white")
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32) / 255.0


def ink_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of the ink (value < 0.5) of two grey images."""
    ia, ib = a < 0.5, b < 0.5
    return float((ia & ib).sum() / max((ia | ib).sum(), 1))


@pytest.fixture
def rembg_home(monkeypatch):
    if not (REMBG_HOME / "models" / "u2netp" / "u2netp.onnx").exists():
        pytest.fail(f"offline rembg model missing under {REMBG_HOME}")
    monkeypatch.setenv("U2NET_HOME", str(REMBG_HOME))
    return REMBG_HOME


@pytest.fixture
def cli_env(tmp_path):
    """Environment for CLI subprocesses: offline model hub, test-local caches."""
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), U2NET_HOME=str(REMBG_HOME))
    return env
