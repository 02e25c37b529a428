"""What the lessons in examples/ share: settings that also work in a notebook, and claims that
are checked, not just printed.

A lesson states what it shows as claims, with the numbers it measured:

    lesson = Lesson(parser)                 # lesson.args: the settings
    ...
    lesson.claim(ratio < 1e-4, f"sigmoid under Xavier: the first layer gets {ratio:.0e} ...")

At the lesson's default settings a claim that fails ends the run (exit status 1) with "the
lesson's claim did not hold: ..."; at other settings (the tests' tiny ones) it is printed as not
checked, since a model trained for one epoch on 64 images is not expected to show what the
lesson's full run does. `tools/run_lessons.py` runs every lesson at its defaults and collects
the "claim held:" lines into the README's table of lessons.
"""
import sys

HELD = "claim held: "
NOT_CHECKED = "claim not checked (not the default settings): "
FAILED = "the lesson's claim did not hold: "


class Lesson:
    """The settings of one lesson (`args`, from `parser`) and whether they are its defaults
    (`at_defaults`).

    `not_claimed`: settings that do not change what the lesson measures (where to write its
    picture, say); the claims are still checked when only these differ from the defaults."""

    def __init__(self, parser=None, not_claimed=("out",)):
        if parser is None:                  # a lesson without settings: always at its defaults
            self.args, self.at_defaults = None, True
            return
        # In a notebook the kernel's own command line (-f kernel.json) is not the lesson's:
        # there the lesson runs at its defaults (edit them in the cell to try others).
        in_notebook = "ipykernel" in sys.modules
        self.args = parser.parse_args([] if in_notebook else None)
        defaults = vars(parser.parse_args([]))
        self.at_defaults = all(getattr(self.args, name) == value
                               for name, value in defaults.items() if name not in not_claimed)

    def claim(self, holds, statement):
        """Print `statement` as checked (at the defaults) or as not checked (elsewhere); at the
        defaults, a claim that does not hold ends the lesson with exit status 1."""
        if not self.at_defaults:
            print(NOT_CHECKED + statement)
        elif holds:
            print(HELD + statement)
        else:
            sys.exit(FAILED + statement)
