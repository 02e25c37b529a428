"""The check for NaN and infinity that evaluation, saliency, their metrics and batch norm share.

A NaN does not fail loudly on its own: argmax of a row of NaN is 0, so a model "predicts" class 0
for a NaN image; a saliency map of a NaN image is NaN, and normalising it gives zeros; a NaN in a
batch becomes a NaN running mean in BatchNorm, and every later prediction is NaN. So the places
where a NaN would turn into a plausible number refuse it, saying how many values and where.
"""
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
