"""The checks of input values that the ops, the layers, saliency and the attacks share: NaN and
infinity, floating dtypes, numbers in an interval, (low, high) ranges, broadcasting.

NaN gets a check of its own because it does not fail loudly: argmax of a row of NaN is 0, so a model "predicts" class 0
for a NaN image; a saliency map of a NaN image is NaN, and normalising it gives zeros; a NaN in a
batch becomes a NaN running mean in BatchNorm, and every later prediction is NaN. So the places
where a NaN would turn into a plausible number refuse it, saying how many values and where.
"""
import math
import numbers

import numpy as np


def non_finite_report(array):
    """'holds 3 NaN or infinite values among 784 (the first, nan, at index (0, 0, 5, 7))', or
    None if every value is finite."""
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.inexact):       # integers and bools are always finite
        return None
    bad = ~np.isfinite(array)
    if not bad.any():
        return None
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    count = int(bad.sum())
    return (f"holds {count} NaN or infinite value{'s' if count > 1 else ''} among "
            f"{array.size} (the first, {array[first]}, at index {first})")


def check_finite(array, op, what="input"):
    """Raise a ValueError naming `op`, unless every value of `array` is finite."""
    report = non_finite_report(array)
    if report is not None:
        raise ValueError(f"{op}: the {what} (shape {np.shape(array)}) {report}")


def is_whole(value):
    """An int of Python or NumPy (np.int64 ...), not a bool (True is no count, class or unit)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_floating(x, op, what="input"):
    """A clear TypeError unless x is a floating-point array (a model's input, not raw pixels)."""
    if not np.issubdtype(x.dtype, np.floating):
        # uint8 is most often a batch of images straight from a data set: say how to scale it
        hint = (" (uint8 images: scale them to float32 in [0, 1] first, e.g. with ScaleUint8() "
                "at the head of the DataLoader's transform)") if x.dtype == np.uint8 else ""
        raise TypeError(f"{op}: expected a floating-point {what}, got dtype {x.dtype}{hint}")


def check_number(value, name, op, low=-math.inf, high=math.inf, low_open=False):
    """A clear error unless value is a real number (not bool, not NaN) in [low, high] (or
    (low, high] with low_open)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    inside = (low < value if low_open else low <= value) and value <= high
    if not inside:                                   # NaN fails both comparisons
        interval = f"{'(' if low_open else '['}{low}, {high}]"
        raise ValueError(f"{op}: {name} must be a number in {interval}, got {value!r}")
    return value


def check_range(value, name, op, hint=""):
    """(low, high): two real numbers (not bool) with low < high, or a clear ValueError."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else ()
    numbers = all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                  for v in pair)
    if len(pair) != 2 or not numbers or not pair[0] < pair[1]:     # NaN fails low < high
        raise ValueError(f"{op}: {name} must be a range (low, high), two numbers with "
                         f"low < high{hint}; got {value!r}")
    return pair


def broadcasts_to(shape, target):
    """Whether an array of `shape` broadcasts to `target` (so its gradient sums back to it)."""
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False
