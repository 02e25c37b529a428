"""What the command lines share: argparse types that check a value's range as it is parsed (so a
bad value is an argparse error, exit 2, before any work), `--debug`, and `UsageError`."""
import argparse
import math


class UsageError(Exception):
    """A mistake of the user's: printed as one line, `minigrad: error: ...`, no traceback.

    usage=True: the fault of an argument, reported the way argparse reports one (with the
    command's usage line, exit 2)."""

    def __init__(self, message, usage=False):
        super().__init__(message)
        self.usage = usage


def _number(kind, text, accept, expected):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not (math.isfinite(value) and accept(value)):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
    return value


def positive_int(text):
    return _number(int, text, lambda v: v >= 1, "an integer >= 1")


def non_negative_int(text):
    return _number(int, text, lambda v: v >= 0, "an integer >= 0")


def positive_float(text):
    return _number(float, text, lambda v: v > 0, "a finite number > 0")


def non_negative_float(text):
    return _number(float, text, lambda v: v >= 0, "a finite number >= 0")


def add_debug_option(parser, default=False):
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show the full Python traceback of an error")
