"""The layers: each holds its parameters and calls one function of `minigrad.functional`.

Shapes follow PyTorch: images are (N, C, H, W), features (N, F). Parameters are float32 and
initialised as in PyTorch; call `model.double()` for float64 (gradient checks).
"""
import math

import numpy as np

from minigrad import functional as F
from minigrad.checks import check_number
from minigrad.nn import init
from minigrad.nn.module import Module, Parameter
from minigrad.ops._args import conv_padding, int_pair
from minigrad.ops.activation import GELU_APPROXIMATIONS
from minigrad.ops.conv import padding_sides
from minigrad.ops.pool import pool_window
from minigrad.tensor import Tensor


def _check_input(layer, x, ndims, expected, channels=None):
    """Raise, naming the layer, unless x has one of `ndims` dimensions and `channels` on axis 1."""
    def name():                  # built only for a message: forward is a hot path
        return f"{type(layer).__name__}({layer.extra_repr()})"
    _check_tensor(name, x)
    if x.ndim not in ndims:
        raise ValueError(f"{name()}: expected input of shape {expected}, got {x.shape}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name()}: expected {channels} channels on axis 1 of the input "
                         f"{expected}, got shape {x.shape}, which has {x.shape[1]}")


def _check_tensor(name, x):
    """A layer takes a Tensor (or an ndarray), as a torch layer takes a torch.Tensor; name() names
    the layer in the error."""
    if not isinstance(x, (Tensor, np.ndarray)):
        raise TypeError(f"{name()}: expected a Tensor input, got {type(x).__name__}; make one "
                        f"with minigrad.tensor(...)")


def _positive_int(value, name, layer):
    """value as an int >= 1, or an error naming the layer and the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{layer}: {name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{layer}: {name} must be >= 1, got {value}")
    return int(value)


def _affine_parameters(weight_shape, bias):
    """PyTorch's default for Linear and Conv2d: weight ~ kaiming_uniform_(a=sqrt(5)), i.e.
    uniform(+-1/sqrt(fan_in)), and bias ~ uniform(+-1/sqrt(fan_in)) -- small enough that the
    first forward passes neither saturate nor explode."""
    weight = Parameter(np.empty(weight_shape, dtype=np.float32))
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if not bias:
        return weight, None
    bound = 1 / math.sqrt(init.fans(weight_shape)[0])
    return weight, init.uniform_(Parameter(np.empty(weight_shape[0], dtype=np.float32)),
                                 -bound, bound)


class Linear(Module):
    """y = x @ W^T + b.   x: (N, ..., in_features) -> y: (N, ..., out_features).

    weight: (out_features, in_features), bias: (out_features,).
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features", "Linear")
        self.out_features = _positive_int(out_features, "out_features", "Linear")
        self.weight, self.bias = _affine_parameters((out_features, in_features), bias)

    def forward(self, x):
        _check_tensor(self.__repr__, x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self!r}: expected input of shape (N, {self.in_features}), "
                             f"got {x.shape}")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Conv2d(Module):
    """2-D convolution.  x: (N, in_channels, H, W) -> y: (N, out_channels, OH, OW) with
    OH = floor((H + 2*padding - dilation*(KH - 1) - 1) / stride) + 1 (same for OW).

    weight: (out_channels, in_channels // groups, KH, KW), bias: (out_channels,).
    padding: int, pair, 'valid' or 'same'.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True):
        super().__init__()
        self.in_channels = _positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = _positive_int(out_channels, "out_channels", "Conv2d")
        self.groups = _positive_int(groups, "groups", "Conv2d")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        self.kernel_size = int_pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = int_pair(stride, "stride", "Conv2d", 1)
        self.dilation = int_pair(dilation, "dilation", "Conv2d", 1)
        conv_padding(padding, self.kernel_size, self.dilation, self.stride, "Conv2d")  # checks
        self.padding = padding if isinstance(padding, str) else int_pair(padding, "padding",
                                                                          "Conv2d", 0)
        self.weight, self.bias = _affine_parameters(
            (out_channels, in_channels // groups) + self.kernel_size, bias)

    def forward(self, x):
        _check_input(self, x, (4,), f"(N, {self.in_channels}, H, W)", self.in_channels)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    @property
    def padding_sides(self):
        """The padding in pixels, (top, bottom, left, right), whatever form `padding` took."""
        return padding_sides(self.padding, self.kernel_size, self.stride, self.dilation)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " \
               f"stride={self.stride}"
        for name, default in (("padding", (0, 0)), ("dilation", (1, 1)), ("groups", 1)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text + ("" if self.bias is not None else ", bias=False")


class _Pool2d(Module):
    """What max and average pooling share: the window's arguments, checked once here."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        pool_window(kernel_size, stride, padding, type(self).__name__)      # checks
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
                + (", ceil_mode=True" if self.ceil_mode else ""))


class MaxPool2d(_Pool2d):
    """Max over each kernel_size window.  (N, C, H, W) -> (N, C, OH, OW); stride defaults to
    kernel_size; padding counts as -inf. ceil_mode (keyword-only: PyTorch's 4th and 5th
    arguments are dilation and return_indices, which minigrad lacks) keeps a last partial
    window."""

    def __init__(self, kernel_size, stride=None, padding=0, *, ceil_mode=False):
        super().__init__(kernel_size, stride, padding, ceil_mode)

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding,
                            ceil_mode=self.ceil_mode)


class AvgPool2d(_Pool2d):
    """Mean over each kernel_size window; padding counts as 0 and, with count_include_pad,
    is part of the divisor. Arguments in PyTorch's order."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size: (N, C, H, W) -> (N, C, *output_size), whatever H
    and W are. AdaptiveAvgPool2d(1) is global average pooling, (N, C, 1, 1): follow it with
    Flatten(), as in PyTorch, to feed a Linear."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    @property
    def is_global(self):
        """True when every channel is pooled to a single value (output size 1)."""
        return int_pair(self.output_size, "output_size", "AdaptiveAvgPool2d", 1) == (1, 1)

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class GlobalAvgPool2d(AdaptiveAvgPool2d):
    """Mean over all of H and W: (N, C, H, W) -> (N, C), or (N, C, 1, 1) with keepdims=True.

    Not a PyTorch layer: it is AdaptiveAvgPool2d(1) and Flatten() in one module, so a Sequential
    that uses it numbers its later layers one lower than the same model in PyTorch. Write
    AdaptiveAvgPool2d(1), Flatten() where the state-dict keys must match PyTorch's.
    """

    def __init__(self, keepdims=False):
        super().__init__(1)
        self.keepdims = keepdims

    def forward(self, x):
        return F.global_avg_pool2d(x, self.keepdims)

    def extra_repr(self):
        return "keepdims=True" if self.keepdims else ""


class _BatchNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per channel (axis 1).

    Training: mean and var of the batch, and running_mean/var <- (1 - momentum) * running +
    momentum * batch (unbiased var), counted in num_batches_tracked. Eval: the running ones.
    """

    # Set by each subclass: the input shapes it accepts, as text and as numbers of dimensions.
    input_shapes, input_ndims = "", ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True):
        super().__init__()
        layer = type(self).__name__
        num_features = _positive_int(num_features, "num_features", layer)
        check_number(eps, "eps", layer, 0, 1, low_open=True)
        check_number(momentum, "momentum", layer, 0, 1)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, dtype=np.float32)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype=np.float32)) if affine else None
        tracked = track_running_stats
        self.register_buffer("running_mean",
                             np.zeros(num_features, dtype=np.float32) if tracked else None)
        self.register_buffer("running_var",
                             np.ones(num_features, dtype=np.float32) if tracked else None)
        self.register_buffer("num_batches_tracked", np.array(0) if tracked else None)

    def forward(self, x):
        _check_input(self, x, self.input_ndims, self.input_shapes, self.num_features)
        use_batch_stats = self.training or not self.track_running_stats
        y = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                         use_batch_stats, self.momentum, self.eps)
        if self.training and self.track_running_stats:    # counted once the batch was taken
            self.num_batches_tracked += 1
        return y

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, " \
               f"affine={self.affine}, track_running_stats={self.track_running_stats}"


class BatchNorm1d(_BatchNorm):
    input_shapes, input_ndims = "(N, C) or (N, C, L)", (2, 3)


class BatchNorm2d(_BatchNorm):
    input_shapes, input_ndims = "(N, C, H, W)", (4,)


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last axes of each sample:
    x (..., *normalized_shape). weight (ones) and bias (zeros) have normalized_shape; no running
    statistics, so training and eval compute the same. As torch.nn.LayerNorm."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) \
            else tuple(normalized_shape)
        for size in shape:
            _positive_int(size, "normalized_shape", "LayerNorm")
        check_number(eps, "eps", "LayerNorm", 0, 1, low_open=True)
        self.normalized_shape, self.eps = tuple(int(n) for n in shape), eps
        self.elementwise_affine = elementwise_affine
        affine = elementwise_affine
        self.weight = Parameter(np.ones(shape, dtype=np.float32)) if affine else None
        self.bias = Parameter(np.zeros(shape, dtype=np.float32)) if affine and bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, " \
               f"elementwise_affine={self.elementwise_affine}"


class Dropout(Module):
    """Training: zero each value with probability p and scale the rest by 1 / (1 - p), so the
    expected output equals the input. Eval: the identity.

    seed (keyword-only: PyTorch's second argument is `inplace`): this layer's own random stream
    (reproducible masks); None draws from the generator shared by `minigrad.nn` (see
    `minigrad.manual_seed`).
    """

    def __init__(self, p=0.5, *, seed=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p}")
        self.p = p
        self.rng = None if seed is None else np.random.default_rng(seed)

    def forward(self, x):
        rng = self.rng if self.rng is not None else init.generator()
        return F.dropout(x, self.p, self.training, rng=rng)

    def extra_repr(self):
        return f"p={self.p}"


class Embedding(Module):
    """A learned vector per token: integer indices (any shape) -> (*indices.shape,
    embedding_dim). weight: (num_embeddings, embedding_dim), initialised N(0, 1) as in PyTorch;
    the row of padding_idx starts at zero and is never updated (its gradient is 0)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        self.weight = init.normal_(Parameter(np.empty((num_embeddings, embedding_dim),
                                                     dtype=np.float32)))
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0

    def forward(self, indices):
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}" + (
            "" if self.padding_idx is None else f", padding_idx={self.padding_idx}")


class Flatten(Module):
    """Merge axes start_dim..end_dim: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """y = x (a placeholder, e.g. where `fuse` removed a BatchNorm)."""

    def forward(self, x):
        return x


class ReLU(Module):
    """y = max(x, 0).

    `inplace` is accepted so that PyTorch code (`nn.ReLU(inplace=True)`) runs unchanged; minigrad
    never overwrites its input, and the output is the same either way.
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope * x (`inplace` as in ReLU)."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Tanh(Module):
    """y = tanh(x)."""

    def forward(self, x):
        return F.tanh(x)


class GELU(Module):
    """y = x * Phi(x) (Phi: the standard normal CDF); approximate='tanh' for the tanh form."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in GELU_APPROXIMATIONS:
            raise ValueError(f"GELU: approximate must be one of {GELU_APPROXIMATIONS}, got "
                             f"{approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x))."""

    def forward(self, x):
        return F.sigmoid(x)


class Softmax(Module):
    """y = exp(x) / sum(exp(x)) along dim."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """y = x - log(sum(exp(x))) along dim (pair it with nll_loss)."""

    def forward(self, x):
        return F.log_softmax(x, self.dim)
