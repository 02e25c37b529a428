"""Reductions over any axis or tuple of axes: sum mean max min var (with keepdims).

The backward of a reduction has to undo the lost axes: `_expand` puts them back (as size-1 axes
when keepdims was False) so the incoming gradient broadcasts over the elements that were reduced.
"""
import builtins

import numpy as np

from minigrad.function import Function


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


class Sum(Function):
    """y = sum of x over axes;  dL/dx = dL/dy copied to every element that was summed."""

    def forward(self, x, axes, keepdims):
        self.shape, self.axes, self.keepdims = x.shape, axes, keepdims
        return np.sum(x, axis=axes, keepdims=keepdims)

    def backward(self, grad):
        return np.broadcast_to(_expand(grad, self.axes, self.keepdims), self.shape).copy()


class Mean(Function):
    """y = sum(x) / n over axes;  dL/dx = dL/dy / n for every element that was averaged."""

    def forward(self, x, axes, keepdims):
        self.shape, self.axes, self.keepdims = x.shape, axes, keepdims
        self.count = int(np.prod([x.shape[a] for a in axes]))
        return np.mean(x, axis=axes, keepdims=keepdims)

    def backward(self, grad):
        grad = _expand(grad, self.axes, self.keepdims) / self.count
        return np.broadcast_to(grad, self.shape).copy()


class Max(Function):
    """y = max of x over axes;  dL/dx = dL/dy at the maxima, shared equally between ties, else 0.

    (`torch.amax` uses the same tie rule; `torch.max(x, dim)` instead picks one index.)
    """

    def forward(self, x, axes, keepdims, reduce=np.max):
        self.axes, self.keepdims = axes, keepdims
        y = reduce(x, axis=axes, keepdims=True)
        is_extreme = x == y
        self.share = is_extreme / is_extreme.sum(axis=axes, keepdims=True)
        return y if keepdims else np.squeeze(y, axis=axes)

    def backward(self, grad):
        return (_expand(grad, self.axes, self.keepdims) * self.share).astype(grad.dtype)


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


def sum(x, axis=None, keepdims=False):
    return Sum.apply(x, axes=normalize_axes(axis, x.ndim), keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return Mean.apply(x, axes=normalize_axes(axis, x.ndim), keepdims=keepdims)


def max(x, axis=None, keepdims=False):
    return Max.apply(x, axes=normalize_axes(axis, x.ndim), keepdims=keepdims)


def min(x, axis=None, keepdims=False):
    return Min.apply(x, axes=normalize_axes(axis, x.ndim), keepdims=keepdims)


def var(x, axis=None, keepdims=False, correction=1):
    return Var.apply(x, axes=normalize_axes(axis, x.ndim), keepdims=keepdims,
                     correction=correction)
