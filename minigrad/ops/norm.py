"""Batch normalisation and dropout, the two ops that behave differently in training and in eval,
and layer normalisation, batch normalisation's per-sample sibling.

batch_norm, per channel c (axis 1), over the other axes (N for (N, C); N, H, W for (N, C, H, W)):

    training:  mu, var = mean and biased variance of the batch     (M values per channel)
               running_mean = (1 - momentum) * running_mean + momentum * mu
               running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)
    eval:      mu, var = running_mean, running_var
    y = gamma * xhat + beta,   xhat = (x - mu) / sqrt(var + eps)

Backward (g = dL/dy, sums over the M values of a channel, s = 1 / sqrt(var + eps)):

    dgamma = sum(g * xhat),   dbeta = sum(g)
    eval:      dx = g * gamma * s                                    (mu, var are constants)
    training:  mu and var depend on every x, so differentiating through them gives
               dx = gamma * s / M * (M * g - sum(g) - xhat * sum(g * xhat))
    Derivation: dxhat = g*gamma; dvar = sum(dxhat*(x-mu)) * -s^3/2; dmu = -s*sum(dxhat) (the
    dvar term through mu sums to zero); dx = dxhat*s + dvar*2(x-mu)/M + dmu/M, which simplifies
    to the line above.

layer_norm: the same normalisation, but over the last axes of each sample (`normalized_shape`,
M values) instead of over the batch; weight and bias have the normalised shape, and there are no
running statistics, so training and eval agree. With g = dL/dy and dxhat = g * gamma (gamma now
differs inside the normalised group, so it goes in before the sums):

    dx = s / M * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))    (sums over the M values)
    dgamma, dbeta = sum over the leading axes of g * xhat and of g

batch_norm_uncentered, the B-cos v2 design's "bnu-linear" (Boehle et al., TPAMI 2024): per
channel, y = gamma * x * s, s = 1 / sqrt(var + eps), the same var as above (the batch's centred,
biased variance in training, running_var in eval) but x is not centred and there is no beta, so
the layer only rescales each channel. running_var <- (1 - momentum) running_var + momentum * var
(the biased var, as the authors'). With xc = x - mu and G = sum(g * x) over a channel's M values:

    dgamma = s * G,   dx = gamma * s * (g - xc * s**2 * G / M)   (batch statistics: var's path)
    dx = gamma * s * g                    (running statistics, or detach: s held fixed)

dropout (inverted): in training each element is zeroed with probability p and the survivors are
scaled by 1 / (1 - p), so the expected activation is unchanged and eval is the identity.

Second order: each op's `differentiable_backward` computes the same gradients from recorded
ops, xhat and 1 / sqrt(var + eps) rebuilt from x (`_normalized`), so that the second
derivatives through the batch statistics come from the mean's and the product's rules.
"""
import numpy as np

from minigrad import kernels
from minigrad.checks import check_floating, check_number, non_finite_report
from minigrad.function import Function
from minigrad.ops._args import as_array, check_not_empty
from minigrad.ops.elementwise import sqrt
from minigrad.ops.reduce import mean
from minigrad.tensor import Tensor


def _channel_view(a, ndim):
    """Per-channel (C,) array -> shape broadcastable against x: (1, C) or (1, C, 1, 1)."""
    return a.reshape((1, -1) + (1,) * (ndim - 2))


def _normalized(x, axes, eps):
    """xhat = (x - mean) * s and s = 1 / sqrt(var + eps) over `axes` (kept), as recorded ops on
    the Tensor x: what the second-order rules differentiate through."""
    centered = x - mean(x, axes, keepdim=True)
    inv_std = (mean(centered * centered, axes, keepdim=True) + eps) ** -0.5
    return centered * inv_std, inv_std


def _normalization_grad(dxhat, xhat, inv_std, axes):
    """dx = s / M * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)), sums over the M values
    of `axes`: on arrays, or on Tensors (recorded)."""
    M = int(np.prod([xhat.shape[a] for a in axes]))
    return inv_std / M * (M * dxhat - dxhat.sum(axis=axes, keepdims=True)
                          - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True))


class BatchNorm(Function):
    """y = gamma * (x - mu) / sqrt(var + eps) + beta; the docstring of the module derives dx."""

    def forward(self, x, weight=None, bias=None, *, running_mean=None, running_var=None,
                training=False, momentum=0.1, eps=1e-5):
        # running_mean/var are plain ndarrays passed as params (not graph inputs): updated in place
        axes = (0,) + tuple(range(2, x.ndim))              # every axis but the channel axis
        M = x.size // x.shape[1]                          # values per channel
        if M == 0:                 # an empty batch (N = 0): nothing to normalise or to track
            self.M = 0
            return np.empty_like(x)
        if training or running_mean is None:             # batch statistics
            mu = x.mean(axis=axes)
            var = x.var(axis=axes)
            if training and running_mean is not None:    # PyTorch: unbiased var in the estimate
                _refuse_non_finite_statistics(x, mu, var, "batch_norm",
                                              "running mean and variance")
                running_mean *= 1 - momentum
                running_mean += momentum * mu
                running_var *= 1 - momentum
                running_var += momentum * var * (M / (M - 1))
        else:
            mu, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
        self.batch_stats = training or running_mean is None
        inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
        xhat = (x - _channel_view(mu, x.ndim)) * _channel_view(inv_std, x.ndim)
        self.xhat, self.inv_std, self.weight, self.axes, self.M = xhat, inv_std, weight, axes, M
        self.mu, self.eps = mu, eps                       # for the second-order rule
        y = xhat if weight is None else xhat * _channel_view(weight, x.ndim)
        return y if bias is None else y + _channel_view(bias, x.ndim)

    def backward(self, grad):
        if self.M == 0:                                        # an empty batch
            return (np.zeros_like(grad) if self.needs_input_grad[0] else None,
                    *(np.zeros(grad.shape[1], grad.dtype) if need else None
                      for need in self.needs_input_grad[1:3]))
        xhat, axes, M, nd = self.xhat, self.axes, self.M, grad.ndim
        need_x, need_w, need_b = self.needs_input_grad[:3]
        sum_g = grad.sum(axis=axes)
        sum_g_xhat = (grad * xhat).sum(axis=axes)
        scale = self.inv_std if self.weight is None else self.inv_std * self.weight  # gamma * s
        dx = None
        if need_x:
            if self.batch_stats:   # dx = gamma*s/M * (M*g - sum(g) - xhat*sum(g*xhat))
                dx = _channel_view(scale / M, nd) * (
                    M * grad - _channel_view(sum_g, nd) - xhat * _channel_view(sum_g_xhat, nd))
            else:                  # dx = gamma * s * g
                dx = grad * _channel_view(scale, nd)
        return dx, (sum_g_xhat if need_w else None), (sum_g if need_b else None)

    def differentiable_backward(self, grad, y, x, weight, bias):
        """d2y/dx2 through the batch statistics: the same dx from recorded ops; with running
        statistics xhat is linear in x, so d2y/dx2 = 0 and d2y/dx dgamma = s."""
        if self.M == 0:                          # an empty batch: zeros, which depend on nothing
            return tuple(None if g is None else Tensor(g) for g in self.backward(grad.data))
        if self.batch_stats:
            xhat, inv_std = _normalized(x, self.axes, self.eps)
        else:
            inv_std = _channel_view(self.inv_std, x.ndim)
            xhat = (x - _channel_view(self.mu, x.ndim)) * inv_std
        dxhat = grad if weight is None else grad * _channel_view(weight, x.ndim)
        dx = (_normalization_grad(dxhat, xhat, inv_std, self.axes) if self.batch_stats
              else dxhat * inv_std)
        return dx, (grad * xhat).sum(axis=self.axes), grad.sum(axis=self.axes)

    def piecewise_linear(self, varies):
        """Affine with running statistics; batch statistics depend on x."""
        return not self.batch_stats


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation of x (N, C) or (N, C, H, W) over all axes but the channel axis 1.

    running_mean, running_var: ndarrays of shape (C,), updated *in place* when training (or None:
    then batch statistics are always used and nothing is tracked). weight (gamma) and bias (beta):
    Tensors of shape (C,) or None. PyTorch semantics, including the unbiased running variance.
    """
    xa = as_array(x)
    if xa.ndim < 2:
        raise ValueError(f"batch_norm: expected an input (N, C) or (N, C, H, W), got shape "
                         f"{xa.shape}")
    if not np.issubdtype(xa.dtype, np.floating):
        raise TypeError(f"batch_norm: expected a floating-point input, got dtype {xa.dtype}")
    if 0 in xa.shape[1:]:                  # as PyTorch: only the batch may be empty (N = 0)
        check_not_empty(xa, "batch_norm")
    check_number(momentum, "momentum", "batch_norm", 0.0, 1.0)
    check_number(eps, "eps", "batch_norm", 0.0, low_open=True)
    C = xa.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var)):
        if value is None:
            continue
        if not isinstance(value, np.ndarray):
            raise TypeError(f"batch_norm: {name} must be an ndarray (it is updated in place), "
                            f"got {type(value).__name__}")
        if value.shape != (C,):
            raise ValueError(f"batch_norm: {name} must have shape ({C},) for an input with {C} "
                             f"channels, got {value.shape}")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and as_array(value).shape != (C,):
            raise ValueError(f"batch_norm: {name} must have shape ({C},) for an input with {C} "
                             f"channels, got {as_array(value).shape}")
    if training and xa.size // max(C, 1) == 1:
        raise ValueError(f"batch_norm: training needs more than 1 value per channel to compute "
                         f"a variance, got input shape {xa.shape}")
    return BatchNorm.apply(x, weight, bias, running_mean=running_mean, running_var=running_var,
                           training=bool(training), momentum=momentum, eps=eps)


def _refuse_non_finite_statistics(x, mu, var, where, statistics):
    """A NaN or infinity in the batch makes its mean and variance NaN, and they would make the
    running statistics NaN for good (every later prediction NaN): refuse the step before they
    change, as the loss guard refuses the optimizer's step (minigrad/runs.py)."""
    if np.isfinite(mu).all() and np.isfinite(var).all():    # C values each: a cheap test
        return
    raise ValueError(f"{where}: the batch {non_finite_report(x)}, which would make the "
                     f"{statistics} NaN; nothing was updated. Look for NaN "
                     f"in the data, or in the layers before this one (minigrad.detect_anomaly)")


class LayerNorm(Function):
    """y = gamma * (x - mu) / sqrt(var + eps) + beta over the last axes; the module docstring
    derives dx = s / M * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)), dxhat = g*gamma."""

    def forward(self, x, weight=None, bias=None, *, ndim=1, eps=1e-5):
        self.axes = tuple(range(x.ndim - ndim, x.ndim))    # the normalised axes, the last ones
        mu = x.mean(axis=self.axes, keepdims=True)
        var = x.var(axis=self.axes, keepdims=True)          # biased, as PyTorch
        self.inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
        self.xhat, self.weight, self.eps = (x - mu) * self.inv_std, weight, eps
        y = self.xhat if weight is None else self.xhat * weight
        return y if bias is None else y + bias

    def backward(self, grad):
        xhat, axes = self.xhat, self.axes
        leading = tuple(range(xhat.ndim - len(axes)))
        need_x, need_w, need_b = self.needs_input_grad[:3]
        dx = None
        if need_x:
            dxhat = grad if self.weight is None else grad * self.weight
            dx = _normalization_grad(dxhat, xhat, self.inv_std, axes)
        dw = (grad * xhat).sum(axis=leading) if need_w else None
        db = grad.sum(axis=leading) if need_b else None
        return dx, dw, db

    def differentiable_backward(self, grad, y, x, weight, bias):
        """d2y/dx2 through the statistics: the same dx from recorded ops on xhat rebuilt from x."""
        xhat, inv_std = _normalized(x, self.axes, self.eps)
        leading = tuple(range(x.ndim - len(self.axes)))
        dxhat = grad if weight is None else grad * weight
        return (_normalization_grad(dxhat, xhat, inv_std, self.axes),
                (grad * xhat).sum(axis=leading), grad.sum(axis=leading))


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation over the last len(normalized_shape) axes of x, as
    torch.nn.functional.layer_norm: x (..., *normalized_shape); weight and bias Tensors of
    shape normalized_shape, or None."""
    xa = as_array(x)
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(normalized_shape)
    if not np.issubdtype(xa.dtype, np.floating):
        raise TypeError(f"layer_norm: expected a floating-point input, got dtype {xa.dtype}")
    if not shape or len(shape) > xa.ndim or xa.shape[xa.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: expected an input of shape (..., "
                         f"{', '.join(map(str, shape))}) for normalized_shape {shape}, "
                         f"got {xa.shape}")
    if 0 in shape:                         # only the leading axes (the batch) may be empty
        check_not_empty(xa, "layer_norm")
    check_number(eps, "eps", "layer_norm", 0.0, low_open=True)
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and as_array(value).shape != shape:
            raise ValueError(f"layer_norm: {name} must have the normalized shape {shape}, got "
                             f"{as_array(value).shape}")
    return LayerNorm.apply(x, weight, bias, ndim=len(shape), eps=eps)


class BatchNormUncentered(Function):
    """y = gamma * x / sqrt(var + eps) per channel; the module docstring derives
    dx = gamma * s * (g - xc * s**2 * sum(g * x) / M) and dgamma = s * sum(g * x) (the arrays
    work: kernels/norm.py)."""

    def forward(self, x, weight, *, running_var, training, detach, momentum, eps):
        self.mu, self.M = None, x.size // x.shape[1]                      # M values per channel
        if self.M == 0:            # an empty batch (N = 0): nothing to normalise or to track
            self.weight = weight
            return np.empty_like(x)
        if training:
            self.mu, var = kernels.channel_moments(x)
            _refuse_non_finite_statistics(x, self.mu, var, "batch_norm_uncentered",
                                          "running variance")
            running_var *= 1 - momentum
            running_var += momentum * var
        else:
            var = running_var.astype(x.dtype)
        root = np.sqrt(var + eps)
        self.inv_std, self.x, self.weight, self.eps = 1.0 / root, x, weight, eps
        self.axes = (0,) + tuple(range(2, x.ndim))
        self.through_var = training and not detach     # does the gradient go through var?
        return kernels.scale_channels(x, weight / root)

    def backward(self, grad):
        need_x, need_w = self.needs_input_grad[:2]
        if self.M == 0:
            return np.zeros_like(grad), np.zeros_like(self.weight)
        dx, sum_gx = kernels.uncentered_norm_backward(grad, self.x, self.mu,
                                                      self.weight * self.inv_std, self.inv_std,
                                                      self.through_var, need_x)
        return dx, (self.inv_std * sum_gx if need_w else None)

    def differentiable_backward(self, grad, y, x, weight):
        """The same gradients from recorded ops, xc and s rebuilt from x when the gradient goes
        through var (else s is a constant): the second derivatives come from the ops' rules."""
        if self.through_var:
            centered = x - mean(x, self.axes, keepdim=True)
            inv_std = (mean(centered * centered, self.axes, keepdim=True) + self.eps) ** -0.5
        else:
            inv_std = Tensor(_channel_view(self.inv_std, x.ndim))
        sum_gx = (grad * x).sum(axis=self.axes, keepdims=True)
        scale = _channel_view(weight, x.ndim) * inv_std
        dx = grad * scale
        if self.through_var:
            dx = dx - centered * (scale * inv_std ** 2 * sum_gx / self.M)
        return dx, (inv_std * sum_gx).reshape(-1)

    def piecewise_linear(self, varies):
        """Linear in x with running statistics or a held s; through var it is not."""
        return not self.through_var


def batch_norm_uncentered(x, running_var, weight, training=False, momentum=0.1, eps=1e-5,
                          detach=False):
    """The B-cos v2 design's uncentred batch norm of x (N, C, ...): y = weight * x / sqrt(var +
    eps) per channel (axis 1), var the batch's biased variance in training (running_var, an
    ndarray (C,), then updated in place) and running_var in eval. detach: in training, s is a
    constant in backward (bcos_explanation_mode's dynamic linear map). One op; the modules
    nn.BatchNormUncentered1d/2d name themselves in the same checks."""
    xa = as_array(x)
    if xa.ndim < 2 or xa.shape[1] == 0:
        raise ValueError(f"batch_norm_uncentered: expected an input (N, C) or (N, C, H, W) with "
                         f"C > 0, got shape {xa.shape}")
    check_floating(xa, "batch_norm_uncentered")
    C = xa.shape[1]
    if not isinstance(running_var, np.ndarray) or running_var.shape != (C,):
        raise ValueError(f"batch_norm_uncentered: running_var must be an ndarray of shape ({C},) "
                         f"(it is updated in place), got {getattr(running_var, 'shape', None)}")
    if as_array(weight).shape != (C,):
        raise ValueError(f"batch_norm_uncentered: weight must have shape ({C},) for an input with "
                         f"{C} channels, got {as_array(weight).shape}")
    if as_array(weight).dtype != xa.dtype:
        raise TypeError(f"batch_norm_uncentered: weight dtype {as_array(weight).dtype} and input "
                        f"dtype {xa.dtype} differ; convert one (e.g. module.double())")
    check_number(momentum, "momentum", "batch_norm_uncentered", 0.0, 1.0)
    check_number(eps, "eps", "batch_norm_uncentered", 0.0, low_open=True)
    return BatchNormUncentered.apply(x, weight, running_var=running_var, training=bool(training),
                                     detach=bool(detach), momentum=momentum, eps=eps)


def batch_norm_uncentered_simple(x, running_var, weight, training=False, momentum=0.1, eps=1e-5,
                                 detach=False):
    """Readable reference for `batch_norm_uncentered`, built from primitives that autograd
    differentiates (the composition the modules used before the op)."""
    channels = (1, -1) + (1,) * (x.ndim - 2)                          # (1, C, 1, ...)
    if training:
        seen = x.detach() if detach else x
        var = seen.var(axis=(0, *range(2, x.ndim)), correction=0, keepdims=True)
        running_var *= 1 - momentum
        running_var += momentum * var.data.reshape(-1)
    else:
        var = running_var.reshape(channels).astype(x.dtype)
    return x * (weight.reshape(channels) / sqrt(var + eps))


class Dropout(Function):
    """y = x * mask / (1 - p), mask ~ Bernoulli(1 - p);  dL/dx = dL/dy * mask / (1 - p)."""

    def forward(self, x, p=0.5, rng=None):
        keep = rng.random(x.shape, dtype=np.float32) >= p     # True with probability 1 - p
        # the mask already carries the 1/(1-p) scale, so backward is one multiply
        self.mask = keep * x.dtype.type(1.0 / (1.0 - p)) if p < 1 else np.zeros_like(x)
        return x * self.mask

    def backward(self, grad):
        return grad * self.mask

    def differentiable_backward(self, grad, y, x):
        """d2y/dx2 = 0: a constant mask, so backward, on a Tensor, records itself."""
        return self.backward(grad)


def dropout(x, p=0.5, training=True, *, rng=None):
    """Inverted dropout: zero each element with probability p and scale the rest by 1 / (1 - p)
    in training; the identity (returns x itself) in eval or when p == 0.

    rng: a np.random.Generator, an int seed (reproducible masks), or None (fresh randomness);
    keyword-only, since PyTorch's fourth argument is `inplace`.
    """
    if not isinstance(p, (int, float, np.floating)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    if not training or p == 0:
        return x
    if 0 < p < 1 and not np.issubdtype(as_array(x).dtype, np.inexact):
        # scaled by 1 / (1 - p), integers would be cut back to integers: torch refuses, too
        raise TypeError(f"dropout: expected a floating-point input in training, got dtype "
                        f"{as_array(x).dtype}; convert it, e.g. x.float()")
    if rng is None or isinstance(rng, (int, np.integer)):
        rng = np.random.default_rng(rng)
    elif not isinstance(rng, np.random.Generator):
        raise TypeError(f"dropout: rng must be a np.random.Generator, an int seed or None, "
                        f"got {type(rng).__name__}")
    return Dropout.apply(x, p=float(p), rng=rng)


__all__ = ["BatchNorm", "batch_norm", "BatchNormUncentered", "batch_norm_uncentered",
           "batch_norm_uncentered_simple", "LayerNorm", "layer_norm", "Dropout", "dropout"]
