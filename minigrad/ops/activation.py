"""Activations: relu leaky_relu tanh sigmoid gelu softmax log_softmax.

Each op's `differentiable_backward`, under its `backward`, is its second-order rule: the same
gradient from Tensor ops (so gradients of gradients work), its docstring the second derivative.
"""
import math

import numpy as np

from minigrad import kernels
from minigrad.checks import check_floating
from minigrad.function import Function
from minigrad.ops import elementwise
from minigrad.ops._args import as_array, dim_in_range, dim_or_axis


class ReLU(Function):
    """y = max(x, 0);  dL/dx = dL/dy where x > 0, else 0 (0 at x = 0, as in PyTorch).

    NaN propagates through the forward, as in PyTorch (np.maximum keeps NaN; np.where(x > 0, x, 0)
    would turn it into 0 and hide a diverging network). The backward multiplies by the boolean
    mask (much faster than np.where, see benchmarks/README.md). The one difference from PyTorch: a
    non-finite incoming gradient at a unit that is off gives NaN (inf * 0) where PyTorch gives 0;
    by then the loss is non-finite anyway. (The arrays work: kernels/activation.py.)
    """
    piecewise_linear = True

    def forward(self, x):
        y, self.positive = kernels.relu_forward(x)    # positive = x > 0: 1 byte per element
        return y

    def backward(self, grad):
        return kernels.relu_backward(grad, self.positive)    # dL/dx = dL/dy * [x > 0]

    def differentiable_backward(self, grad, y, x):
        """d2y/dx2 = 0 (x != 0): a constant mask, so the product, on a Tensor, records itself."""
        return grad * self.positive


class LeakyReLU(Function):
    """y = x if x > 0 else slope * x;  dL/dx = dL/dy * (1 if x > 0 else slope)."""
    piecewise_linear = True

    def forward(self, x, negative_slope):
        self.slope = np.where(x > 0, x.dtype.type(1), x.dtype.type(negative_slope))
        return x * self.slope

    def backward(self, grad):
        return grad * self.slope

    def differentiable_backward(self, grad, y, x):
        """d2y/dx2 = 0 (x != 0): a constant slope, so backward, on a Tensor, records itself."""
        return self.backward(grad)


class Tanh(Function):
    """y = tanh(x);  dL/dx = dL/dy * (1 - y**2)."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, grad):
        return grad * (1 - self.y ** 2)

    def differentiable_backward(self, grad, y, x):
        """d2y/dx2 = -2 y (1 - y**2)."""
        return grad * (1 - y ** 2)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x));  dL/dx = dL/dy * y * (1 - y)."""

    def forward(self, x):
        self.y = stable_sigmoid(x)
        return self.y

    def backward(self, grad):
        return grad * self.y * (1 - self.y)

    def differentiable_backward(self, grad, y, x):
        """d2y/dx2 = y (1 - y) (1 - 2y)."""
        return grad * y * (1 - y)


def stable_sigmoid(x):
    """1 / (1 + exp(-x)) without overflow: exp is only ever taken of -|x| <= 0.

    For x >= 0 this is 1 / (1 + e), for x < 0 the equal form e / (1 + e), with e = exp(-|x|).
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class GELU(Function):
    """y = x * Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt(2))) / 2 (Hendrycks &
    Gimpel 2016);  dL/dx = dL/dy * (Phi(x) + x * phi(x)), phi(x) = exp(-x**2 / 2) / sqrt(2 pi).

    approximate='tanh': Phi(x) ~ (1 + tanh(u)) / 2 with u = sqrt(2/pi) * (x + 0.044715 x**3);
    then dL/dx = dL/dy * ((1 + t) / 2 + x / 2 * (1 - t**2) * du/dx), t = tanh(u),
    du/dx = sqrt(2/pi) * (1 + 3 * 0.044715 x**2). Both as PyTorch's GELU.
    """

    def forward(self, x, approximate):
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            self.t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
            return 0.5 * x * (1 + self.t)
        self.cdf = 0.5 * (1 + kernels.erf(x * x.dtype.type(1 / math.sqrt(2))))
        return x * self.cdf

    def backward(self, grad):
        x = self.x
        if self.approximate == "tanh":
            du_dx = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x ** 2)
            return grad * (0.5 * (1 + self.t) + 0.5 * x * (1 - self.t ** 2) * du_dx)
        pdf = np.exp(-0.5 * x ** 2) * x.dtype.type(1 / math.sqrt(2 * math.pi))
        return grad * (self.cdf + x * pdf)

    def differentiable_backward(self, grad, y, x):
        """d2y/dx2 = phi(x) (2 - x**2); for 'tanh', the derivative of its slope's own ops."""
        if self.approximate == "tanh":
            t = tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
            du_dx = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x ** 2)
            return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t ** 2) * du_dx)
        cdf = 0.5 * (1 + Erf.apply(x * (1 / math.sqrt(2))))
        pdf = elementwise.exp(-0.5 * x ** 2) * (1 / math.sqrt(2 * math.pi))
        return grad * (cdf + x * pdf)


class Erf(Function):
    """y = erf(x), the error function (GELU's second-order rule needs it as an op);
    dL/dx = dL/dy * 2/sqrt(pi) exp(-x**2)."""

    def forward(self, x):
        self.x = x
        return kernels.erf(x)

    def backward(self, grad):
        return grad * (2 / math.sqrt(math.pi)) * np.exp(-self.x ** 2)

    def differentiable_backward(self, grad, y, x):
        """d2y/dx2 = -4x/sqrt(pi) exp(-x**2)."""
        return grad * (2 / math.sqrt(math.pi)) * elementwise.exp(-x ** 2)


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
GELU_APPROXIMATIONS = ("none", "tanh")


class Softmax(Function):
    """y = exp(x) / sum(exp(x)) along axis;  dL/dx = y * (dL/dy - sum(dL/dy * y)).

    The max is subtracted before exp (softmax is unchanged by a shift), so logits of 1e4 do not
    overflow.
    """

    def forward(self, x, axis):
        self.axis = axis
        e = np.exp(x - _row_max(x, axis))
        self.y = e / e.sum(axis=axis, keepdims=True)
        return self.y

    def backward(self, grad):
        return self.y * (grad - (grad * self.y).sum(axis=self.axis, keepdims=True))

    def differentiable_backward(self, grad, y, x):
        """d2y_i/dx_j dx_k = the derivative of y_i (delta_ij - y_j) by x_k, through y."""
        return y * (grad - (grad * y).sum(axis=self.axis, keepdims=True))


def log_softmax_array(x, axis):
    """log(softmax(x)) = x - max - log(sum(exp(x - max))): never exp of a positive number."""
    shifted = x - _row_max(x, axis)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x) along axis;  dL/dx = dL/dy - softmax(x) * sum(dL/dy)."""

    def forward(self, x, axis):
        self.axis = axis
        self.y = log_softmax_array(x, axis)
        return self.y

    def backward(self, grad):
        return grad - np.exp(self.y) * grad.sum(axis=self.axis, keepdims=True)

    def differentiable_backward(self, grad, y, x):
        """d2y_i/dx_j dx_k = -(diag(p) - p p^T)_jk, p = softmax(x) = exp(y)."""
        return grad - elementwise.exp(y) * grad.sum(axis=self.axis, keepdims=True)


def relu(x):
    return ReLU.apply(x)


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLU.apply(x, negative_slope=negative_slope)


def tanh(x):
    return Tanh.apply(elementwise.real(x))


def sigmoid(x):
    return Sigmoid.apply(elementwise.real(x))


def gelu(x, approximate="none"):
    """GELU, x * Phi(x): approximate='none' (exact, with erf) or 'tanh', as in PyTorch."""
    if approximate not in GELU_APPROXIMATIONS:
        raise ValueError(f"gelu: approximate must be one of {GELU_APPROXIMATIONS}, got "
                         f"{approximate!r}")
    dtype = getattr(x, "dtype", np.asarray(x).dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"gelu: expected a floating-point input, got dtype {dtype}")
    return GELU.apply(x, approximate=approximate)


def softmax(x, dim=None, *, axis=None):
    """Softmax along dim (PyTorch's name; NumPy's `axis` works too, keyword-only). Without
    either, the last axis (PyTorch guesses an axis there and warns)."""
    return Softmax.apply(x, axis=_softmax_axis(x, dim_or_axis(dim, axis, "softmax"), "softmax"))


def log_softmax(x, dim=None, *, axis=None):
    """log(softmax(x)) along dim, computed stably; the last axis by default."""
    return LogSoftmax.apply(x, axis=_softmax_axis(x, dim_or_axis(dim, axis, "log_softmax"),
                                                  "log_softmax"))


def _softmax_axis(x, dim, op):
    """The axis to normalise along (the last by default), checked: None for a 0-d tensor,
    whose one value is the whole distribution. Integers and bools are refused, as torch does
    (a probability is not an integer)."""
    check_floating(as_array(x), op)
    ndim = np.ndim(as_array(x))
    axis = dim_in_range(-1 if dim is None else dim, ndim, op)
    return None if ndim == 0 else axis


def _row_max(x, axis):
    """The max along axis, kept as a size-1 axis; 0 for an empty x (NumPy has no max of nothing,
    and an empty x needs no shift)."""
    return x.max(axis=axis, keepdims=True) if x.size else 0
