"""The array work of the B-cos uncentred batch norm (ops/norm.py's BatchNormUncentered, whose
docstring has the math), per channel c (axis 1) of x (N, C, ...), over its M values (N * H * W):

    channel_moments(x)          -> mu, var: the mean and the biased, centred variance
    scale_channels(x, scale)    -> x * scale[c]
    uncentered_norm_backward(grad, x, mu, scale, inv_std, through_var, need_x)
                                -> dx, G:  G = sum(grad * x),  dx = scale * grad, minus
                                   (x - mu) * scale * inv_std**2 * G / M when through_var
                                   (mu is None without it)

The NumPy twins compute the moments as ops/reduce.py's Var does, bit for bit, so that the op
equals the composition of ops it replaced. The Numba twins make one pass over x per sum, where
NumPy makes one per temporary; they sum in float64 in another order, so they equal the NumPy
twins to rounding. Neither keeps a centred copy of x: the backward takes x - mu again.
"""
import math

import numpy as np

from minigrad.kernels._numba import njit


def _channel_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(values, ndim):
    """(C,) -> (1, C, 1, ...), broadcastable against x."""
    return values.reshape((1, -1) + (1,) * (ndim - 2))


def _planes(x):
    """x (N, C, ...) as a C-contiguous (N, C, L) array, L the values of a sample's channel."""
    return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))


def channel_moments_numpy(x):
    """(mean, biased variance) of every channel, each (C,) in x's dtype. Readable twin."""
    axes = _channel_axes(x)
    with np.errstate(divide="ignore", invalid="ignore"):     # an empty batch: NaN, as Var
        mean = x.mean(axis=axes, keepdims=True)
        return mean.reshape(-1), ((x - mean) ** 2).sum(axis=axes) / (x.size // x.shape[1])


# fastmath "reassoc" (only that flag: NaN and infinity keep their meaning) lets LLVM keep several
# partial sums in SIMD lanes instead of one chain of adds (figures: benchmarks/README.md, #27).
@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _channel_sum(planes, c):
    total = 0.0
    for n in range(planes.shape[0]):
        for i in range(planes.shape[2]):
            total += planes[n, c, i]
    return total


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _channel_dot(a, b, c, shift):
    """sum over channel c of (a - shift) * (b - shift)."""
    total = 0.0
    for n in range(a.shape[0]):
        for i in range(a.shape[2]):
            total += (a[n, c, i] - shift) * (b[n, c, i] - shift)
    return total


@njit(cache=True, nogil=True, error_model="numpy")   # an empty batch: 0 / 0 = NaN, as NumPy
def _moments_loop(planes, mu, var):
    M = planes.shape[0] * planes.shape[2]
    for c in range(planes.shape[1]):
        mu[c] = _channel_sum(planes, c) / M
        var[c] = _channel_dot(planes, planes, c, mu[c]) / M


def channel_moments_numba(x):
    """(mean, biased variance) of every channel, each (C,) in x's dtype. Fast twin."""
    mu, var = np.empty(x.shape[1], np.float64), np.empty(x.shape[1], np.float64)
    _moments_loop(_planes(x), mu, var)
    return mu.astype(x.dtype), var.astype(x.dtype)


def scale_channels_numpy(x, scale):
    """x * scale[c] on channel c. Readable twin."""
    return x * _per_channel(scale, x.ndim)


@njit(cache=True, nogil=True)
def _scale_loop(planes, scale, out):
    N, C, L = planes.shape
    for n in range(N):
        for c in range(C):
            s = scale[c]
            for i in range(L):
                out[n, c, i] = planes[n, c, i] * s


def scale_channels_numba(x, scale):
    """x * scale[c] on channel c. Fast twin."""
    planes = _planes(x)
    out = np.empty(planes.shape, x.dtype)
    _scale_loop(planes, scale.astype(x.dtype), out)
    return out.reshape(x.shape)


def uncentered_norm_backward_numpy(grad, x, mu, scale, inv_std, through_var, need_x):
    """-> (dx or None, G = sum of grad * x per channel). Readable twin."""
    axes, nd = _channel_axes(x), x.ndim
    sum_gx = (grad * x).sum(axis=axes)
    if not need_x:
        return None, sum_gx
    dx = grad * _per_channel(scale, nd)
    if through_var:            # var's path: dvar = -G gamma s^3 / 2, dvar/dx = 2 (x - mu) / M
        M = x.size // x.shape[1]
        dx -= (x - _per_channel(mu, nd)) * _per_channel(scale * inv_std ** 2 * sum_gx / M, nd)
    return dx, sum_gx


@njit(cache=True, nogil=True)
def _input_grad_loop(g, x, mu, scale, through_scale, dx):
    """dx = scale[c] * g - through_scale[c] * (x - mu[c])."""
    N, C, L = g.shape
    for n in range(N):
        for c in range(C):
            s, k, m = scale[c], through_scale[c], mu[c]
            for i in range(L):
                dx[n, c, i] = s * g[n, c, i] - k * (x[n, c, i] - m)


def uncentered_norm_backward_numba(grad, x, mu, scale, inv_std, through_var, need_x):
    """-> (dx or None, G = sum of grad * x per channel). Fast twin."""
    g, planes = _planes(grad), _planes(x)
    sum_gx = np.array([_channel_dot(g, planes, c, 0.0) for c in range(x.shape[1])], x.dtype)
    if not need_x:
        return None, sum_gx
    M = x.size // x.shape[1]
    through_scale = (scale * inv_std ** 2 * sum_gx / M if through_var
                     else np.zeros_like(scale)).astype(np.float64)
    mu = np.zeros(x.shape[1]) if mu is None else mu.astype(np.float64)
    dx = np.empty(g.shape, x.dtype)
    _input_grad_loop(g, planes, mu, scale.astype(np.float64), through_scale, dx)
    return dx.reshape(x.shape), sum_gx
