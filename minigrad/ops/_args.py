"""Argument checks shared by the image ops (conv, pooling, batch norm) and CNN-Fixations: each
turns what the user passed into the form the op needs, or raises an error that names the op, the
argument, what was expected and what came."""
import numpy as np

from minigrad.checks import check_floating
from minigrad.tensor import as_array  # noqa: F401  (the ops' checks take Tensors or arrays)


def dim_or_axis(dim, axis, op):
    """PyTorch's `dim` or NumPy's keyword-only `axis` (the same thing under two names)."""
    if axis is None:
        return dim
    if dim is not None:
        raise TypeError(f"{op}: give dim (PyTorch's name) or axis (NumPy's), not both")
    return axis


def dim_in_range(dim, ndim, op):
    """dim in [-ndim, ndim) -> the axis in [0, ndim); else an IndexError worded as torch's."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):   # a 0-d tensor has the axis 0 (or -1), as torch
        raise IndexError(f"{op}: dimension out of range (expected to be in range of "
                         f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {dim})")
    return int(dim) % max(ndim, 1)


def int_pair(value, name, op, minimum):
    """An int or a pair of ints -> a pair of ints >= minimum, or a clear TypeError / ValueError."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value) \
        if isinstance(value, (tuple, list)) else None
    if (pair is None or len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair)
            or isinstance(value, bool)):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def check_4d(x, op, what="input"):
    """A clear error unless x is a 4-D floating-point (N, C, H, W) array."""
    if x.ndim != 4:
        hint = " (add a batch axis with x.reshape(1, *x.shape))" if x.ndim == 3 else ""
        raise ValueError(f"{op}: expected a 4-D {what} (N, C, H, W), got shape {x.shape}{hint}")
    check_floating(x, op, what)
    if 0 in x.shape[1:]:                         # as PyTorch: only the batch may be empty
        raise ValueError(f"{op}: expected C, H and W of at least 1 in the {what}, got shape "
                         f"{x.shape}")


def conv_padding(padding, kernel, dilation, stride, op):
    """padding as int, pair, 'valid', 'same' or 'full' -> (top, bottom, left, right)."""
    if isinstance(padding, str):
        mode = padding.lower()
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]   # sum of both sides, per axis
        if mode == "valid":
            return 0, 0, 0, 0
        if mode == "full":                              # every partial overlap: out = in + k - 1
            return total[0], total[0], total[1], total[1]
        if mode == "same":                                  # out = in; odd extra goes bottom/right
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1 (as in PyTorch), "
                                 f"got stride {stride}")
            return (total[0] // 2, total[0] - total[0] // 2,
                    total[1] // 2, total[1] - total[1] // 2)
        raise ValueError(f"{op}: padding must be an int, a pair, 'valid', 'same' or 'full', "
                         f"got {padding!r}")
    ph, pw = int_pair(padding, "padding", op, 0)
    return ph, ph, pw, pw


def check_not_empty(x, op, what="input"):
    if x.size == 0:
        raise ValueError(f"{op}: the {what} is empty (shape {x.shape}); it needs at least one "
                         f"element along every axis")
