#!/usr/bin/env python3
"""Extensions > Sketch > Fill Erased: after deleting strokes of a sketch, add back as many as are
missing, where ink is missing.

The count to go back to is the sketch's count after the last run of the core on it (Sketch from
Image, Refine Sketch, Add Strokes, Fill Erased), recorded in ``data-clipasso-count`` on the group
(with levels, on the shown level's sub-group; older sketches: their level's or their Strokes
setting). A shape selected with the sketch is the region the new strokes start in (then removed).
The shared machinery is clipasso_refine.EditSketch.
"""
import inkex

from clipasso_refine import EditSketch


class FillErased(EditSketch):
    """Add back the strokes deleted from the selected sketch."""

    TITLE = "Fill Erased"

    def add_edit_arguments(self, pars):
        pars.add_argument("--move_others", type=inkex.Boolean, default=False,
                          help="let the other unlocked strokes adjust too (else only the new ones move)")

    def edit_values(self, count, recorded):
        if recorded is None:
            raise inkex.AbortExtension("This sketch does not record how many strokes it had; use "
                                       "Extensions > Sketch > Add Strokes instead.")
        if count >= recorded:
            raise inkex.AbortExtension(f"Nothing to fill: the sketch has {count} strokes, as many as it had "
                                       f"({recorded}). Delete strokes first, or use Add Strokes.")
        return {"fill_to": recorded, "move": "unlocked" if self.options.move_others else "auto"}


if __name__ == "__main__":
    FillErased().run()
