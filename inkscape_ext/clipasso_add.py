#!/usr/bin/env python3
"""Extensions > Sketch > Add Strokes: N new strokes in the selected sketch, where ink is missing.

Select the sketch group and, optionally, a shape drawn over it (rectangle, ellipse, star, path): the
new strokes start inside the shape, which is then removed. By default only the new strokes move;
"Let the other strokes adjust" moves every unlocked stroke too (locked ones never move: Inkscape's
lock or ``data-locked``, see Refine Sketch). The shared machinery is clipasso_refine.EditSketch.
"""
import inkex

from clipasso_contract.options import EDIT_OPTIONS
from clipasso_refine import EditSketch

DEFAULT_ADD = 4
"""The dialog's default number of strokes to add (the contract's --add default, 0, adds none)."""


class AddStrokes(EditSketch):
    """Add strokes to the selected sketch, inside the selected shape when there is one."""

    TITLE = "Add Strokes"

    def add_edit_arguments(self, pars):
        pars.add_argument("--add", type=int, default=DEFAULT_ADD, help=EDIT_OPTIONS["add"].help)
        pars.add_argument("--move_others", type=inkex.Boolean, default=False,
                          help="let the other unlocked strokes adjust too (else only the new ones move)")

    def edit_values(self, count, recorded):
        if self.options.add < 1:
            raise inkex.AbortExtension("Choose at least 1 stroke to add.")
        return {"add": self.options.add, "move": "unlocked" if self.options.move_others else "auto"}


if __name__ == "__main__":
    AddStrokes().run()
