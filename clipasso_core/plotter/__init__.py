"""Plotter-ready output: strokes ordered for little pen-up travel (``order``), one layer per colour
in the SVG that vpype and AxiDraw tools read (``layers``), and ``clipasso export`` (``command``)."""
