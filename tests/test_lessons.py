"""minigrad.lessons: a lesson's claims are checked at its defaults and only reported elsewhere."""
import argparse
import sys

import pytest

from minigrad.lessons import Lesson


def lesson_with(monkeypatch, *argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", default="picture")
    monkeypatch.setattr(sys, "argv", ["lesson.py", *argv])
    return Lesson(parser)


def test_a_failed_claim_at_the_defaults_ends_the_lesson(monkeypatch, capsys):
    lesson = lesson_with(monkeypatch, "--out", "elsewhere")      # --out changes no claim
    assert lesson.at_defaults and lesson.args.out == "elsewhere"
    lesson.claim(True, "2 + 2 = 4")
    assert capsys.readouterr().out == "claim held: 2 + 2 = 4\n"
    with pytest.raises(SystemExit) as stop:
        lesson.claim(False, "2 + 2 = 5")
    assert stop.value.code == "the lesson's claim did not hold: 2 + 2 = 5"


def test_away_from_the_defaults_a_claim_is_reported_not_checked(monkeypatch, capsys):
    lesson = lesson_with(monkeypatch, "--epochs", "1")
    assert not lesson.at_defaults and lesson.args.epochs == 1
    lesson.claim(False, "an epoch is enough")
    assert capsys.readouterr().out == ("claim not checked (not the default settings): an epoch "
                                       "is enough\n")


def test_a_lesson_without_settings_is_always_at_its_defaults():
    lesson = Lesson()
    assert lesson.at_defaults and lesson.args is None
    with pytest.raises(SystemExit, match="the lesson's claim did not hold: 1 = 2"):
        lesson.claim(False, "1 = 2")
