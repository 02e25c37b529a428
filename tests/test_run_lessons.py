"""tools/run_lessons.py: what a lesson printed becomes its row of the README's table."""
import runpy
from pathlib import Path

TOOL = runpy.run_path(str(Path(__file__).resolve().parents[1] / "tools" / "run_lessons.py"))


def test_the_claims_that_held_become_the_row():
    output = ("some numbers\nclaim held: 2 + 2 = 4 (measured)\nmore\n"
              "claim held: |x| >= 0\n")
    cell = TOOL["what_it_showed"](0, output)
    assert cell == "2 + 2 = 4 (measured); |x| >= 0"
    assert TOOL["row"]("a.py", cell, 75.0, 2.0, "2026-12-07 03:30 UTC, load 2.0") == (
        "| `a.py` | 2 + 2 = 4 (measured); \\|x\\| >= 0 | 1 min 15 s (2.0 s CPU), 2026-12-07 03:30 "
        "UTC, load 2.0 |")


def test_a_failed_claim_or_a_crash_is_named_in_the_row():
    failed = "claim held: one\nthe lesson's claim did not hold: two is three\n"
    assert TOOL["what_it_showed"](1, failed) == ("**FAILED** (exit status 1): the lesson's "
                                                 "claim did not hold: two is three")
    assert TOOL["what_it_showed"](1, "Traceback ...\nValueError: bad\n").endswith("ValueError: bad")
    assert TOOL["what_it_showed"](0, "no claims here\n").startswith("*(no claim checked")


def test_rows_not_run_again_are_kept():
    text = (f"intro\n{TOOL['BEGIN']}\nnote\n\n| lesson | x | time |\n|---|---|---|\n"
            f"| `a.py` | old | 1 s |\n| `b.py` | older | 2 s |\n{TOOL['END']}\nafter\n")
    assert TOOL["kept_rows"](text) == {"a.py": "| `a.py` | old | 1 s |",
                                       "b.py": "| `b.py` | older | 2 s |"}


def test_rows_written_meanwhile_by_another_run_are_kept():
    """Two runs at once (say --only a.py, and a long --only c.py): the second to finish keeps
    the row the first wrote, since rows come from the README as it is when the table is written."""
    lessons = [Path(name) for name in ("a.py", "b.py", "c.py")]
    written_meanwhile = (f"{TOOL['BEGIN']}\nnote\n\n| lesson | x | time |\n|---|---|---|\n"
                         f"| `a.py` | new from the other run | 1 s |\n{TOOL['END']}\n")
    rows = TOOL["merged_rows"](lessons, written_meanwhile, {"c.py": "| `c.py` | this run | 3 s |"})
    assert rows == ["| `a.py` | new from the other run | 1 s |",
                    "| `b.py` | *(not run yet by tools/run_lessons.py)* | |",
                    "| `c.py` | this run | 3 s |"]
