"""``clipasso export --plotter IN -o OUT.svg``: an existing sketch (SVG or sketch JSON) as a plotter
SVG (``layers``), and the ``--plotter`` options ``sketch`` shares."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError

EXPORT_DESCRIPTION = """\
Write an existing sketch (a clipasso SVG, any SVG of strokes, or a sketch JSON) for a pen plotter:
one layer per colour, strokes ordered for little pen-up travel, no fills, no CSS, absolute
coordinates in px or mm. vpype and AxiDraw's tools read it as it is."""
EXPORT_EXAMPLES = """\
examples:
  clipasso export --plotter sketch.svg -o plot.svg               ordered for little pen-up travel
  clipasso export --plotter sketch.json -o plot.svg --units mm   coordinates in mm
  clipasso export --plotter sketch.json -o plot.svg --order importance --level 8"""


def add_plotter_options(parser: argparse.ArgumentParser) -> None:
    """``--order`` and ``--units`` of plotter output."""
    from .layers import ORDERS, UNITS

    parser.add_argument("--order", default="travel", choices=ORDERS,
                        help="plotter stroke order: travel (little pen-up travel) or importance (most "
                             "important first; default: travel)")
    parser.add_argument("--units", default="px", choices=UNITS,
                        help="plotter SVG coordinates: px (the sketch's own) or mm at 96 px per inch (default: px)")


def add_parser(sub) -> None:
    """The ``export`` subcommand."""
    e = sub.add_parser("export", help="write an existing sketch for a pen plotter (--plotter)",
                       description=EXPORT_DESCRIPTION, epilog=EXPORT_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("input", metavar="IN", help="sketch to export: SVG or sketch JSON")
    e.add_argument("-o", "--output", required=True, metavar="OUT.svg", help="SVG to write")
    e.add_argument("--plotter", action="store_true", required=True,
                   help="plotter SVG: a layer per colour, ordered strokes (the export there is)")
    e.add_argument("--level", type=int, help="with levels in a sketch JSON: the level to export (default: the largest)")
    add_plotter_options(e)


def run_export(args: argparse.Namespace) -> int:
    """Write the plotter SVG of ``args.input``; one line on stdout with its figures."""
    from ..atomic import check_writable, write_files
    from ..contract.formats import FormatError
    from ..svg import read_sketch
    from .layers import plotter_drawing

    out = Path(args.output)
    if out.suffix.lower() != ".svg":
        raise InputError(f"output {args.output} should end in .svg")
    check_writable(out)
    sketch = read_sketch(args.input, "sketch")
    if args.level is not None:
        try:
            sketch = sketch.level(args.level)
        except FormatError as exc:
            raise InputError(f"--level {args.level}: {exc}") from None
    drawing = plotter_drawing(sketch, args.order)
    write_files({out: drawing.to_svg(args.units).encode("utf-8")})
    paths = sum(len(layer.paths) for layer in drawing.layers)
    print(f"wrote {out}: {len(sketch.strokes)} strokes in {paths} paths on {len(drawing.layers)} layer(s), "
          f"pen-up travel {drawing.pen_up:.1f} px ({args.order} order)")
    return 0
