"""Reductions over any axis or tuple of axes: sum mean max min var std norm, amax amin, argmax
argmin, any all.

The arguments are PyTorch's, `dim` and `keepdim`: `x.sum(1)`, `x.mean(dim=(2, 3), keepdim=True)`.
NumPy's names work too, keyword-only: `x.sum(axis=1, keepdims=True)` is the same call.

One place where the two libraries differ is kept apart by the keyword: `x.max(1)` (or
`x.max(dim=1)`) is PyTorch's and returns the pair (values, indices), while `x.max(axis=1)` is
NumPy's and returns the values alone, as do `x.amax(1)` and `x.max()` over everything.

The backward of a reduction has to undo the lost axes: `_expand` puts them back (as size-1 axes
when keepdims was False) so the incoming gradient broadcasts over the elements that were reduced;
`_expanded` does the same to a Tensor gradient in each op's second-order rule
(`differentiable_backward`: the gradient from Tensor ops, its docstring the second derivative).
"""
import builtins
import warnings
from typing import NamedTuple

import numpy as np

from minigrad.function import Function
from minigrad.ops._args import dim_or_axis
from minigrad.ops.elementwise import abs, cast, maximum, minimum, ne, sqrt, where
from minigrad.ops.shape import Expand, gather, reshape, squeeze
from minigrad.tensor import Tensor, as_array


def normalize_axes(axis, ndim):
    """None -> all axes; int or tuple (negative allowed) -> a sorted tuple of positive axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(a % ndim for a in axes))


def _expand(grad, axes, keepdims):
    """Give `grad` back the reduced axes as size-1 axes, so it broadcasts over the input."""
    return grad if keepdims else np.expand_dims(grad, axes)


def _expanded(grad, shape, axes):
    """A Tensor gradient dL/dy given back the reduced axes and broadcast to the input's `shape`,
    by recorded ops (a reshape, then an Expand)."""
    kept = tuple(1 if axis in axes else n for axis, n in enumerate(shape))
    return Expand.apply(reshape(grad, kept), shape=shape)


class Sum(Function):
    """y = sum of x over axes;  dL/dx = dL/dy copied to every element that was summed."""
    piecewise_linear = True

    def forward(self, x, axes, keepdims):
        self.shape, self.axes, self.keepdims = x.shape, axes, keepdims
        return np.sum(x, axis=axes, keepdims=keepdims)

    def backward(self, grad):
        return np.broadcast_to(_expand(grad, self.axes, self.keepdims), self.shape).copy()

    def differentiable_backward(self, grad, y, x):
        """d2y/dx2 = 0: dL/dy copied, by an Expand."""
        return _expanded(grad, self.shape, self.axes)


class Mean(Function):
    """y = sum(x) / n over axes;  dL/dx = dL/dy / n for every element that was averaged."""
    piecewise_linear = True

    def forward(self, x, axes, keepdims):
        self.shape, self.axes, self.keepdims = x.shape, axes, keepdims
        self.count = int(np.prod([x.shape[a] for a in axes]))
        if self.count:
            return np.mean(x, axis=axes, keepdims=keepdims)
        # the mean of nothing is NaN, as torch says, without NumPy's warning (caught here only:
        # catch_warnings resets the once-per-line record of every warning in the program)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.mean(x, axis=axes, keepdims=keepdims)

    def backward(self, grad):
        grad = _expand(grad, self.axes, self.keepdims) / self.count
        return np.broadcast_to(grad, self.shape).copy()

    def differentiable_backward(self, grad, y, x):
        """d2y/dx2 = 0: dL/dy / n copied, by an Expand."""
        return _expanded(grad, self.shape, self.axes) / self.count


class Max(Function):
    """y = max of x over axes;  dL/dx = dL/dy at the maxima, shared equally between ties, else 0.

    (`torch.amax` uses the same tie rule; `torch.max(x, dim)` instead picks one index.)
    """
    piecewise_linear = True

    def forward(self, x, axes, keepdims, reduce=np.max):
        self.axes, self.keepdims = axes, keepdims
        y = reduce(x, axis=axes, keepdims=True)
        is_extreme = x == y
        self.share = is_extreme / is_extreme.sum(axis=axes, keepdims=True)
        return y if keepdims else np.squeeze(y, axis=axes)

    def backward(self, grad):
        return (_expand(grad, self.axes, self.keepdims) * self.share).astype(grad.dtype)

    def differentiable_backward(self, grad, y, x):
        """d2y/dx2 = 0 (away from ties): dL/dy copied, times the constant shares."""
        return _expanded(grad, self.share.shape, self.axes) * self.share


class Min(Max):
    """y = min of x over axes;  dL/dx = dL/dy at the minima, shared equally between ties."""

    def forward(self, x, axes, keepdims):
        return super().forward(x, axes, keepdims, reduce=np.min)


class Var(Function):
    """y = sum((x - mean)**2) / (n - correction);  dL/dx = dL/dy * 2 (x - mean) / (n - correction).

    `correction=1` (the default, as in PyTorch) is the unbiased estimate; 0 the population one.
    """

    def forward(self, x, axes, keepdims, correction):
        self.axes, self.keepdims = axes, keepdims
        count = int(np.prod([x.shape[a] for a in axes]))
        self.centered = x - x.mean(axis=axes, keepdims=True)
        self.divisor = builtins.max(count - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.centered ** 2).sum(axis=axes, keepdims=keepdims) / self.divisor

    def backward(self, grad):
        grad = _expand(grad, self.axes, self.keepdims)
        return grad * 2 * self.centered / self.divisor

    def differentiable_backward(self, grad, y, x):
        """d2y/dx_i dx_j = 2 (delta_ij - 1/n) / (n - correction), n the count."""
        centered = x - mean(x, self.axes, keepdim=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _expanded(grad, x.shape, self.axes) * 2 * centered / self.divisor


class Norm(Function):
    """y = sqrt(sum of x**2) over axes (the 2-norm);  dL/dx = dL/dy * x / y, and 0 where y == 0
    (as PyTorch: the subgradient 0 of |x| at 0)."""

    def forward(self, x, axes, keepdims):
        self.x, self.axes, self.keepdims = x, axes, keepdims
        self.y = np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
        return self.y if keepdims else np.squeeze(self.y, axis=axes)

    def backward(self, grad):
        grad = _expand(grad, self.axes, self.keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.y == 0, 0, grad / self.y).astype(grad.dtype) * self.x

    def differentiable_backward(self, grad, y, x):
        """d2y/dx_i dx_j = (delta_ij - x_i x_j / y**2) / y (0 where y == 0, as backward)."""
        nonzero = self.y != 0
        safe_y = where(nonzero, reshape(y, self.y.shape), 1.0)
        return where(nonzero, reshape(grad, self.y.shape) / safe_y, 0.0) * x


class MaxResult(NamedTuple):
    """What `x.max(dim)` and `x.min(dim)` return, as PyTorch: `values, indices = x.max(1)`."""
    values: Tensor
    indices: Tensor


def reduction(function, x, dim, keepdim, axis, keepdims, **options):
    """Apply a reduction Function over PyTorch's (dim, keepdim) or NumPy's (axis, keepdims)."""
    op = function.__name__.lower()
    axes = normalize_axes(dim_or_axis(dim, axis, op), x.ndim)
    if function in (Max, Min) and builtins.any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{op}: the {op}imum of nothing is undefined: axes {axes} of the shape "
                         f"{x.shape} include an empty one (torch refuses it too)")
    keep = keepdim if keepdims is None else keepdims
    return function.apply(x, axes=axes, keepdims=bool(keep), **options)


def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    return reduction(Sum, x, dim, keepdim, axis, keepdims)


def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    return reduction(Mean, x, dim, keepdim, axis, keepdims)


def amax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The largest value over dim (all axes by default); ties share the gradient equally."""
    return reduction(Max, x, dim, keepdim, axis, keepdims)


def amin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The smallest value over dim (all axes by default); ties share the gradient equally."""
    return reduction(Min, x, dim, keepdim, axis, keepdims)


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """PyTorch's three forms, told apart by what comes second:

        x.max()          the largest value of all (ties share the gradient)
        x.max(dim)       MaxResult(values, indices) along one dim; the gradient goes to the index
                         (the first maximum, as PyTorch on CPU and np.argmax)
        x.max(other)     the elementwise maximum of two tensors, as F.maximum

    `x.max(axis=..., keepdims=...)` is NumPy's form: the values alone (the same as `x.amax`).
    """
    return _extreme(x, dim, keepdim, axis, keepdims, "max")


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """As `max`, for the smallest values (MaxResult of the minima and their indices)."""
    return _extreme(x, dim, keepdim, axis, keepdims, "min")


def _extreme(x, dim, keepdim, axis, keepdims, op):
    if isinstance(dim, Tensor):
        return (maximum if op == "max" else minimum)(x, dim)
    if dim is None or axis is not None:          # over everything, or NumPy's axis=: values only
        return (amax if op == "max" else amin)(x, dim, keepdim, axis=axis, keepdims=keepdims)
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}(dim) takes one dim, as in PyTorch, got {dim!r}; for the values "
                        f"over several axes use a{op}(dim={dim!r}) or {op}(axis={dim!r})")
    indices = (argmax if op == "max" else argmin)(x, dim, keepdim=True)
    values = gather(x, dim, indices)
    if not (keepdim if keepdims is None else keepdims):
        values, indices = squeeze(values, dim), squeeze(indices, dim)
    return MaxResult(values, indices)


def argmax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the first maximum along dim (of the flattened tensor when dim is None), int64;
    an index has no gradient."""
    return _arg(np.argmax, x, dim_or_axis(dim, axis, "argmax"), keepdim, keepdims)


def argmin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the first minimum along dim (of the flattened tensor when dim is None), int64."""
    return _arg(np.argmin, x, dim_or_axis(dim, axis, "argmin"), keepdim, keepdims)


def _arg(find, x, dim, keepdim, keepdims):
    data = as_array(x)
    if dim is not None:
        (dim,) = normalize_axes(dim, data.ndim)
    keep = keepdim if keepdims is None else keepdims
    return Tensor(find(data, axis=dim, keepdims=bool(keep)).astype(np.int64))


def var(x, dim=None, *, correction=None, keepdim=False, unbiased=None, axis=None, keepdims=None):
    """Variance over dim, divided by n - correction: 1 by default (the unbiased estimate, as in
    PyTorch), 0 for the population variance; `unbiased=False` is correction 0 too.

    PyTorch's signature: correction and keepdim are keyword-only, so the positional
    `var(dim, unbiased)` fails instead of running; `x.var(False)` is PyTorch's var(unbiased).
    """
    if isinstance(dim, bool):                        # torch's overload var(unbiased)
        dim, unbiased = None, dim
    return reduction(Var, x, dim, keepdim, axis, keepdims,
                     correction=_correction(correction, unbiased))


def _correction(correction, unbiased):
    if correction is not None and unbiased is not None:
        raise TypeError("var/std: give correction or unbiased, not both")
    if unbiased is not None:
        return int(bool(unbiased))
    return 1 if correction is None else correction


def std(x, dim=None, *, correction=None, keepdim=False, unbiased=None, axis=None,
        keepdims=None):
    """Standard deviation, sqrt(var(...)), with var's arguments (PyTorch's: unbiased by default)."""
    return sqrt(var(x, dim, correction=correction, keepdim=keepdim, unbiased=unbiased, axis=axis,
                    keepdims=keepdims))


def norm(x, p="fro", dim=None, keepdim=False, *, dtype=None):
    """The p-norm over dim (all elements by default), as torch's x.norm: p = 2 or "fro" (the
    default: the square root of the sum of squares), 1, inf, -inf, 0 (the number of non-zero
    elements) or any other number, (sum |x|**p) ** (1/p)."""
    if dtype is not None:
        x = cast(x, dtype)
    if p in ("fro", 2):
        return reduction(Norm, x, dim, keepdim, None, None)
    if isinstance(p, (str, bool)) or not isinstance(p, (int, float, np.number)):
        raise ValueError(f"norm: p must be a number or 'fro', got {p!r} (the nuclear norm "
                         f"'nuc' is not implemented)")
    if p == 1:
        return sum(abs(x), dim, keepdim)
    if p == np.inf:
        return amax(abs(x), dim, keepdim)
    if p == -np.inf:
        return amin(abs(x), dim, keepdim)
    if p == 0:
        return sum(ne(x, 0), dim, keepdim).astype(x.dtype)
    return sum(abs(x) ** p, dim, keepdim) ** (1.0 / p)


def any(x, dim=None, keepdim=False, *, axis=None, keepdims=None, out=None):
    """True where some element along dim (all of them by default) is non-zero: a bool tensor.
    (NumPy's keywords too, so np.any(x) works: it calls x.any(axis=None, out=None).)"""
    return _logical(np.any, x, dim, keepdim, axis, keepdims, out)


def all(x, dim=None, keepdim=False, *, axis=None, keepdims=None, out=None):
    """True where every element along dim (all of them by default) is non-zero: a bool tensor."""
    return _logical(np.all, x, dim, keepdim, axis, keepdims, out)


def _logical(reduce, x, dim, keepdim, axis, keepdims, out):
    if out is not None:
        raise TypeError(f"{reduce.__name__}: out= is not supported; use the returned tensor")
    axes = normalize_axes(dim_or_axis(dim, axis, reduce.__name__), x.ndim)
    keep = keepdim if keepdims is None else keepdims
    return Tensor(reduce(x.data, axis=axes, keepdims=bool(keep)))
