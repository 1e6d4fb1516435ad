"""``clipasso export --plotter`` and ``sketch --plotter``: through the command line, checked by vpype."""
from __future__ import annotations

import subprocess
import sys

import pytest

from clipasso_core.svg import from_svg
from test_plotter_layers import vpype_stat


def clipasso(args, env):
    return subprocess.run([sys.executable, "-m", "clipasso_core", *args], env=env, capture_output=True, text=True,
                          timeout=600)


def test_a_64_stroke_sketch_plots_with_at_most_half_the_pen_up_travel(tmp_path, cli_env):
    sketch, json_path = tmp_path / "cat.svg", tmp_path / "cat.json"
    run = clipasso(["sketch", "--backbone", "tiny-random", "--mask", "off", "--preset", "fast", "--iterations", "10",
                    "--strokes", "64", "-o", str(sketch), "--json", str(json_path), "--progress", "none"], cli_env)
    assert run.returncode == 0, run.stderr
    plot = tmp_path / "plot.svg"
    run = clipasso(["export", "--plotter", str(json_path), "-o", str(plot), "--units", "mm"], cli_env)
    assert run.returncode == 0 and "64 strokes" in run.stdout, run.stderr
    unordered, ordered = vpype_stat(sketch), vpype_stat(plot)
    by_vpype = vpype_stat(sketch, "linesort")
    print(f"\npen-up travel (vpype stat, px): importance order {unordered['Pen-up length']:.0f}, "
          f"clipasso --plotter {ordered['Pen-up length']:.0f} "
          f"({ordered['Pen-up length'] / unordered['Pen-up length']:.2f} x), "
          f"vpype linesort {by_vpype['Pen-up length']:.0f}")
    assert ordered["Pen-up length"] <= 0.5 * unordered["Pen-up length"]
    assert ordered["Length"] == pytest.approx(unordered["Length"], rel=1e-3)  # the same drawing
    assert ordered["Path count"] <= 64


def test_sketch_plotter_writes_the_plotter_svg_and_bad_exports_exit_2(tmp_path, cli_env):
    plot = tmp_path / "plot.svg"
    run = clipasso(["sketch", "--backbone", "tiny-random", "--mask", "off", "--preset", "fast", "--iterations", "3",
                    "--strokes", "6", "--plotter", "--order", "importance", "-o", str(plot), "--progress", "none"],
                   cli_env)
    assert run.returncode == 0, run.stderr
    assert 'inkscape:groupmode="layer"' in plot.read_text()
    assert from_svg(plot.read_text()).metadata["plotter"]["order"] == "importance"
    for args, message in ((["export", "--plotter", str(tmp_path / "none.json"), "-o", str(tmp_path / "x.svg")],
                           "could not read sketch"),
                          (["export", str(plot), "-o", str(tmp_path / "x.svg")], "required: --plotter"),
                          (["export", "--plotter", str(plot), "-o", str(tmp_path / "x.png")], "should end in .svg"),
                          (["export", "--plotter", str(plot), "-o", str(tmp_path / "x.svg"), "--level", "3"],
                           "--level 3: the sketch has no level of 3 strokes"),
                          (["sketch", "--plotter", "--draw-on", "2", "-o", str(tmp_path / "x.svg")], "leave out --draw-on")):
        run = clipasso(args, cli_env)
        assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr, run.stderr
        assert not (tmp_path / "x.svg").exists()
