"""B-cos layers (Boehle, Fritz, Schiele, CVPR 2022): the math is in minigrad/ops/bcos.py.

    AddInverse      x -> [x, 1 - x] on the channel axis (2 channels for grey, 6 for RGB), so
                    that a dark pixel is a large input too: a B-cos unit, which has no bias,
                    can only respond to what has a norm (a BcosConv2d right after it convolves
                    x with add_inverse, never unfolding the 2C channels, when x takes no
                    gradient, outside explanation mode)
    BcosLinear      MaxOut of `max_out` B-cos units |cos(x, w)|^(B-1) w^T x per output,
                    divided by a fixed scale sqrt(D) / scale_fact (D = in_features)
    BcosConv2d      the same for every k x k patch of an image (D = in_channels * KH * KW)
    BatchNormUncentered1d/2d   the v2 design's normalisation (Boehle et al., TPAMI 2024, their
                    "bnu-linear"): x / sqrt(var + eps) times a learnt weight per channel,
                    no mean subtracted and no bias, so the network stays y = W(x) x

The fixed output scale is the v1 paper's code's (github.com/moboehle/B-cos, scale_fact = 100):
a B-cos unit's output is about ||x|| / D for a random weight (|cos| ~ 1 / sqrt(D), squared),
so without it the activations shrink by orders of magnitude per layer at initialisation
(measured: the logits of bcos-lenet ~ 3e-5 without it, ~ 5 with it). It is a constant factor,
so the network stays y = W(x) x. The v2 design drops it (scale_fact=None) and lets
BatchNormUncentered2d set the magnitudes, as a deep network needs: a fixed scale right for one
depth is wrong for another (models/bcos.py measures it on bcos-alexnet-lite), while the
normalisation measures each layer's output.
    bcos_explanation_mode(model)   inside it, every B-cos layer holds its |cos|^(B-1) fixed in
                    backward, and every BatchNormUncentered2d its variance: the input gradient
                    is then the dynamic linear map W(x), y = W(x) x

A B-cos network has no ReLU (the B-cos units are its non-linearity), no centred BatchNorm and
no bias anywhere, and scales its logits by a fixed temperature (see models/bcos.py).
"""
import contextlib
import math

import numpy as np

from minigrad.checks import check_number
from minigrad.nn import init
from minigrad.nn.layers import _check_input, _positive_int
from minigrad.nn.module import Module, Parameter
from minigrad.ops._args import conv_padding, int_pair
from minigrad.ops.bcos import bcos_conv2d, bcos_linear, check_b
from minigrad.ops.norm import batch_norm_uncentered
from minigrad.ops.shape import concatenate
from minigrad.tensor import Tensor


class AddInverse(Module):
    """x (N, C, ...) -> [x, 1 - x] (N, 2C, ...): the B-cos input encoding, for x in [0, 1].
    The output remembers the x it encodes (`encoding_of`), so that a BcosConv2d right after
    it can convolve x itself (bcos_conv2d's add_inverse: the same numbers for half the work)."""

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        encoded = concatenate([x, 1.0 - x], axis=1)
        encoded.encoding_of = (x, x._version, encoded._version)
        return encoded


def _untouched_source(encoded):
    """The image x of AddInverse's output [x, 1 - x], if x takes no gradient (so neither does
    the encoding: no hook or retain_grad can be waiting on it) and neither array has changed in
    place since it was encoded; else None."""
    note = getattr(encoded, "encoding_of", None)
    if note is None:
        return None
    x, x_version, encoded_version = note
    untouched = x._version == x_version and encoded._version == encoded_version
    return x if untouched and not x.requires_grad else None


class Detachable(Module):
    """A layer that bcos_explanation_mode switches: `explanation` True holds its input-dependent
    factor fixed in backward (the authors' DetachableModule)."""
    explanation = False


class _Bcos(Detachable):
    """What both B-cos layers share: B, MaxOut, eps, the output scale, the explanation switch,
    and a weight of out_features * max_out units drawn like PyTorch's Linear/Conv2d weight (its
    scale does not matter: every unit is normalised). scale_fact None: no output scale."""

    def __init__(self, weight_shape, b, max_out, eps, scale_fact):
        super().__init__()
        self.b = check_b(b, type(self).__name__)
        self.max_out = _positive_int(max_out, "max_out", type(self).__name__)
        self.eps = eps
        if scale_fact is not None and not scale_fact > 0:
            raise ValueError(f"{type(self).__name__}: scale_fact must be > 0 or None, got "
                             f"{scale_fact!r}")
        self.scale_fact = None if scale_fact is None else float(scale_fact)
        self.scale = 1.0 if scale_fact is None else \
            math.sqrt(math.prod(weight_shape[1:])) / self.scale_fact
        shape = (weight_shape[0] * self.max_out,) + tuple(weight_shape[1:])
        self.weight = Parameter(np.empty(shape, dtype=np.float32))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))


class BcosLinear(_Bcos):
    """x: (N, in_features) -> (N, out_features). weight: (out_features * max_out, in_features);
    no bias. B (b) >= 1, default 2; max_out: units per output, default 2 (the paper's)."""

    def __init__(self, in_features, out_features, b=2.0, max_out=2, eps=1e-6, scale_fact=100.0):
        self.in_features = _positive_int(in_features, "in_features", "BcosLinear")
        self.out_features = _positive_int(out_features, "out_features", "BcosLinear")
        super().__init__((out_features, in_features), b, max_out, eps, scale_fact)

    def forward(self, x):
        _check_input(self, x, (2,), f"(N, {self.in_features})", self.in_features)
        return _unscaled(bcos_linear(x, self.weight, self.b, self.max_out, self.eps,
                                     self.explanation), self.scale)

    def extra_repr(self):
        return (f"{self.in_features}, {self.out_features}, b={self.b}, max_out={self.max_out}, "
                f"scale_fact={self.scale_fact}")


class BcosConv2d(_Bcos):
    """x: (N, in_channels, H, W) -> (N, out_channels, OH, OW), OH as for Conv2d.
    weight: (out_channels * max_out, in_channels, KH, KW); no bias, no groups."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, b=2.0, max_out=2, eps=1e-6, scale_fact=100.0):
        self.in_channels = _positive_int(in_channels, "in_channels", "BcosConv2d")
        self.out_channels = _positive_int(out_channels, "out_channels", "BcosConv2d")
        self.kernel_size = int_pair(kernel_size, "kernel_size", "BcosConv2d", 1)
        self.stride = int_pair(stride, "stride", "BcosConv2d", 1)
        self.dilation = int_pair(dilation, "dilation", "BcosConv2d", 1)
        conv_padding(padding, self.kernel_size, self.dilation, self.stride, "BcosConv2d")
        self.padding = padding if isinstance(padding, str) else int_pair(padding, "padding",
                                                                          "BcosConv2d", 0)
        super().__init__((out_channels, in_channels) + self.kernel_size, b, max_out, eps,
                         scale_fact)

    def forward(self, x):
        """Of AddInverse's [x, 1 - x], when no gradient is asked of the image and neither was
        changed in place since: x convolved with add_inverse (the same output, half the
        unfolding and products). Otherwise, and in explanation mode, [x, 1 - x] itself."""
        _check_input(self, x, (4,), f"(N, {self.in_channels}, H, W)", self.in_channels)
        source = _untouched_source(x)
        fused = source is not None and not self.explanation
        return _unscaled(bcos_conv2d(source if fused else x, self.weight, self.b, self.max_out,
                                     self.stride, self.padding, self.dilation, self.eps,
                                     self.explanation, add_inverse=fused), self.scale)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, b={self.b}, "
                f"max_out={self.max_out}, scale_fact={self.scale_fact}")


def _unscaled(out, scale):
    return out if scale == 1.0 else out / scale


class _BatchNormUncentered(Detachable):
    """y = weight * x / sqrt(var + eps) per channel (axis 1): BatchNorm without the mean and
    without the bias, the v2 B-cos design's ("bnu-linear"). It only rescales each channel, so
    a B-cos network stays dynamic linear, y = W(x) x.

    Training: var is the batch's variance over every axis but the channels' (the population
    variance, as the authors'), and running_var <- (1 - momentum) running_var + momentum var.
    Eval: running_var. Explanation mode in training: var is taken of the detached input, a
    constant in backward, so the layer's gradient is its own fixed map (in eval it always is).
    dL/dx = weight / sqrt(var + eps) * dL/dy, plus, in training and outside explanation mode,
    the path through var: one op, ops/norm.py's batch_norm_uncentered, which derives it."""

    input_shapes, input_ndims = "", ()      # set by each subclass

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        layer = type(self).__name__
        self.num_features = _positive_int(num_features, "num_features", layer)
        check_number(eps, "eps", layer, 0, 1, low_open=True)
        check_number(momentum, "momentum", layer, 0, 1)
        self.eps, self.momentum = eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype=np.float32))
        self.register_buffer("running_var", np.ones(num_features, dtype=np.float32))

    def forward(self, x):
        _check_input(self, x, self.input_ndims, self.input_shapes, self.num_features)
        return batch_norm_uncentered(x, self.running_var, self.weight, self.training,
                                     self.momentum, self.eps, detach=self.explanation)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNormUncentered1d(_BatchNormUncentered):
    input_shapes, input_ndims = "(N, C)", (2,)


class BatchNormUncentered2d(_BatchNormUncentered):
    input_shapes, input_ndims = "(N, C, H, W)", (4,)


@contextlib.contextmanager
def bcos_explanation_mode(model):
    """Inside the block every B-cos layer of `model` detaches its scale |cos|^(B-1), and every
    BatchNormUncentered2d its variance: the forward is unchanged, the gradient of y_c with
    respect to the layers' input is row c of the dynamic linear map W(x). Restored however
    the block ends."""
    layers = [m for m in model.modules() if isinstance(m, Detachable)]
    for layer in layers:
        layer.explanation = True
    try:
        yield layers
    finally:
        for layer in layers:
            layer.explanation = False


def is_bcos(model):
    """True if the model has a B-cos layer."""
    return any(isinstance(m, _Bcos) for m in model.modules())
