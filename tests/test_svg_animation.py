"""svg_animation: one path per stroke stepping through the frames (SMIL, discrete); frame one without SMIL."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from clipasso_core.contract.formats import Stroke
from clipasso_core.contract.sequence import Frame, SketchSequence
from clipasso_core.svg_animation import frame_times, to_animated_svg
from conftest import ink_iou, render_svg

NS = {"svg": "http://www.w3.org/2000/svg"}


def sequence(indices=(0, 1, 2)) -> SketchSequence:
    frames = [Frame(i, [Stroke([(10 + 20 * i, 10), (10 + 20 * i, 30), (15 + 20 * i, 60), (15 + 20 * i, 90)], 4.0,
                               "#000000", 1.0, k, k) for k in range(2)]) for i in indices]
    return SketchSequence(100, 100, 4.0, frames, {"frames": len(frames)})


def test_one_discrete_animate_per_stroke_with_every_frame():
    root = ET.fromstring(to_animated_svg(sequence()))
    paths = root.findall(".//svg:path", NS)
    assert len(paths) == 2 and paths[0].get("data-stroke-id") == "0"
    animate = paths[0].find("svg:animate", NS)
    assert animate.get("attributeName") == "d" and animate.get("calcMode") == "discrete"
    assert animate.get("dur") == "0.75s" and animate.get("repeatCount") == "indefinite"
    assert animate.get("keyTimes") == "0;0.333333;0.666667"
    values = animate.get("values").split(";")
    assert len(values) == 3 and values[0] == paths[0].get("d") and values[2].startswith("M 50 10")


def test_a_step_holds_each_frame_for_its_gap():
    starts, duration = frame_times(sequence((3, 5, 7)))
    assert starts == [0.0, 0.5, 1.0] and duration == 1.5


def test_a_single_frame_is_a_still_svg():
    svg = to_animated_svg(sequence((0,)))
    assert "<animate" not in svg and len(re.findall("<path", svg)) == 2


def test_without_smil_the_first_frame_shows():
    seq = sequence()
    from clipasso_core.svg import to_svg

    animated = render_svg(to_animated_svg(seq), 100, 100)
    first = render_svg(to_svg(seq.frame_sketch(0)), 100, 100)
    assert ink_iou(animated, first) == pytest.approx(1.0)


def _browser_frame(svg: str, seconds: float, tmp_path) -> "np.ndarray":
    """The animated SVG as chromium shows it at ``seconds`` (SMIL paused there), grey 0..1."""
    import subprocess

    import numpy as np
    from PIL import Image

    page = tmp_path / f"at-{seconds}.html"
    page.write_text(f'<html><body style="margin:0;background:white">{svg.split("?>", 1)[1]}<script>'
                    f"const s = document.querySelector('svg'); s.pauseAnimations(); s.setCurrentTime({seconds});"
                    f"</script></body></html>")
    shot = tmp_path / f"at-{seconds}.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={shot}",
                    "--window-size=100,100", page.as_uri()], capture_output=True, timeout=120, check=True)
    return np.asarray(Image.open(shot).convert("L"), dtype=np.float32)[:100, :100] / 255.0


@pytest.mark.skipif(not __import__("shutil").which("chromium"), reason="chromium (apt) plays SMIL")
def test_a_browser_shows_each_frame_at_its_time(tmp_path):
    from clipasso_core.svg import to_svg

    seq = sequence()
    svg = to_animated_svg(seq)
    starts, _ = frame_times(seq)
    for k, start in enumerate(starts):
        shown = _browser_frame(svg, start + 0.05, tmp_path)
        scores = [ink_iou(shown, render_svg(to_svg(seq.frame_sketch(j)), 100, 100)) for j in range(len(starts))]
        assert scores[k] > 0.9 and max(s for j, s in enumerate(scores) if j != k) < 0.5
