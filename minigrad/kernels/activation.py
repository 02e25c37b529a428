"""ReLU's forward and backward on arrays (the math: ops/activation.py, `ReLU`).

    relu_forward_*(x)                 -> (y, positive)   y = max(x, 0), positive = x > 0
    relu_backward_*(grad, positive)   -> grad * positive

The readable twin is NumPy's lines. NumPy reads x twice in the forward (once for the mask, once
for the maximum) and turns the mask into floats in the backward; the fast twin makes one pass
each, which at LeNet-5's sizes is 2-4x faster (benchmarks/README.md). Both keep NaN as
np.maximum does (a NaN stays NaN, its sign too) and give +0 for -0; they agree bit for bit.
The fast twin's loops take float32 and float64 arrays; any other dtype runs the NumPy lines.
"""
import numpy as np

from minigrad.kernels._numba import njit

_LOOP_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def relu_forward_numpy(x):
    """-> (max(x, 0), x > 0). Readable twin."""
    return np.maximum(x, x.dtype.type(0)), x > 0


def relu_backward_numpy(grad, positive):
    """dL/dx = dL/dy * [x > 0]. Readable twin."""
    return grad * positive


@njit(cache=True, nogil=True)
def _relu_loop(x, y, positive):
    for i in range(x.size):
        v = x[i]
        on = v > 0
        positive[i] = on
        y[i] = v if on or v != v else 0     # v != v: NaN, kept as np.maximum keeps it


@njit(cache=True, nogil=True)
def _masked_loop(grad, positive, out):
    for i in range(grad.size):
        out[i] = grad[i] * positive[i]


def relu_forward_numba(x):
    """-> (max(x, 0), x > 0), in one pass over x. Fast twin."""
    if x.dtype not in _LOOP_DTYPES:
        return relu_forward_numpy(x)
    y, positive = np.empty(x.shape, x.dtype), np.empty(x.shape, np.bool_)
    _relu_loop(np.ascontiguousarray(x).reshape(-1), y.reshape(-1), positive.reshape(-1))
    return y, positive


def relu_backward_numba(grad, positive):
    """dL/dx = dL/dy * [x > 0], in one pass. Fast twin."""
    if grad.dtype not in _LOOP_DTYPES or grad.shape != positive.shape:
        return relu_backward_numpy(grad, positive)
    out = np.empty(grad.shape, grad.dtype)
    _masked_loop(np.ascontiguousarray(grad).reshape(-1), positive.reshape(-1), out.reshape(-1))
    return out
