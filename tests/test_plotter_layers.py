"""plotter.layers: a layer per colour, no fills or CSS, px or mm, as vpype reads it."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from clipasso_core.contract.formats import Sketch, Stroke
from clipasso_core.plotter.layers import MM_PER_PX, plotter_drawing
from clipasso_core.svg import from_svg

VPYPE = str(Path(sys.executable).parent / "vpype")


def vpype_stat(path: Path, *commands: str) -> dict[str, float]:
    """vpype's own figures of an SVG ("Pen-up length", "Path count", "Layer count" of the totals)."""
    run = subprocess.run([VPYPE, "read", str(path), *commands, "stat"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    totals = run.stdout.split("Totals", 1)[1]
    return {key: float(re.search(rf"{key}: ([0-9.e+-]+)", totals).group(1))
            for key in ("Pen-up length", "Path count", "Layer count", "Length")}


def _sketch():
    strokes = [Stroke([(10 + 20 * k, 10), (15 + 20 * k, 30), (20 + 20 * k, 30), (25 + 20 * k, 10)], 2.0,
                      "#000000" if k % 3 else "#cc0000", 0.4, id=k, rank=k) for k in range(9)]
    return Sketch(200, 100, strokes, {"generator": "clipasso"})


@pytest.mark.parametrize("units", ["px", "mm"])
def test_one_layer_per_colour_no_fill_no_css_read_by_vpype(tmp_path, units):
    drawing = plotter_drawing(_sketch())
    svg = drawing.to_svg(units)
    assert svg.count('inkscape:groupmode="layer"') == 2 and 'fill="none"' in svg
    assert "style=" not in svg and "<style" not in svg and "opacity" not in svg
    assert [layer.color for layer in drawing.layers] == ["#cc0000", "#000000"]
    path = tmp_path / "plot.svg"
    path.write_text(svg)
    stat = vpype_stat(path)
    assert stat["Layer count"] == 2 and stat["Path count"] == 9
    assert stat["Pen-up length"] == pytest.approx(drawing.pen_up, rel=1e-3)  # vpype measures in CSS px
    k = MM_PER_PX if units == "mm" else 1.0
    read = from_svg(svg)
    assert (read.width, read.height) == (pytest.approx(200 * k, abs=1e-3), pytest.approx(100 * k, abs=1e-3))
    assert read.metadata["plotter"]["order"] == "travel"


def test_importance_order_keeps_the_sketchs_order_in_each_layer():
    drawing = plotter_drawing(_sketch(), "importance")
    assert [s.rank for path in drawing.layers[1].paths for s in path] == [1, 2, 4, 5, 7, 8]
    with pytest.raises(ValueError, match="order must be"):
        plotter_drawing(_sketch(), "random")
