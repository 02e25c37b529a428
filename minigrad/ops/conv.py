"""2-D convolution (cross-correlation, as in PyTorch) on NCHW tensors, by im2col + one GEMM.

    x       (N, C, H, W)
    weight  (OC, C // groups, KH, KW)
    bias    (OC,) or None
    y       (N, OC, OH, OW)      OH = floor((H + pad_top + pad_bottom - DH*(KH-1) - 1) / SH) + 1

The idea: every output pixel is a dot product between the flattened weights of one filter and the
flattened input window under it. `im2col` copies every window into a column of a matrix
`cols` (C*KH*KW, N*OH*OW); then all the output pixels of all the filters are one matrix product

    Y = W @ cols        (OC, C*KH*KW) @ (C*KH*KW, N*OH*OW) -> (OC, N*OH*OW)

and the backward is the backward of a matmul, plus folding the columns back into the image:

    dW    = dY @ cols^T            (OC, N*OH*OW) @ (N*OH*OW, C*KH*KW) -> (OC, C*KH*KW)
    dcols = W^T @ dY               (C*KH*KW, OC) @ (OC, N*OH*OW)      -> (C*KH*KW, N*OH*OW)
    dx    = col2im(dcols)          windows that overlap add their gradients
    db    = dY summed over N, OH, OW

Groups split the channels: group g's filters see only group g's input channels, and since a
group's rows of `cols` are consecutive this is a batched matmul over groups.

Here: the output size, the padding, the windows' geometry, the checks, and the op. The arrays
work is in kernels/conv.py, whose readable twin is these equations in NumPy (read it next, with
kernels/im2col.py). `conv2d_simple` below builds the same convolution from primitives and lets
autograd derive the backward: use it to check `conv2d` by hand.

Second order: dW and dx are bilinear (in dY and cols, in W and dY), so `Conv2d`'s second-order
rule (`differentiable_backward`) writes the same GEMMs with recorded ops, around `Im2col` and
`Col2im`, two ops that are each other's backward.
"""
import numpy as np

from minigrad import kernels
from minigrad.function import Function
from minigrad.kernels import Geometry
from minigrad.ops._args import as_array, check_4d, conv_padding, int_pair
from minigrad.ops.shape import permute, reshape, transpose
from minigrad.tensor import Tensor


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Output length of a convolution or pooling along one axis.

        out = floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1

    `padding` is the padding on each side, or a pair (before, after) for asymmetric padding.
    """
    before, after = (padding, padding) if np.isscalar(padding) else padding
    return (size + before + after - dilation * (kernel_size - 1) - 1) // stride + 1


def padding_sides(padding, kernel_size, stride=1, dilation=1):
    """What `padding` (int, pair, 'valid', 'same' or 'full') means for this kernel: the padding
    (top, bottom, left, right) in pixels. 'same' puts an odd extra pixel at the bottom/right."""
    kernel = int_pair(kernel_size, "kernel_size", "conv2d", 1)
    stride = int_pair(stride, "stride", "conv2d", 1)
    dilation = int_pair(dilation, "dilation", "conv2d", 1)
    return conv_padding(padding, kernel, dilation, stride, "conv2d")


def conv_geometry(x_shape, kernel, stride, padding, dilation):
    """The Geometry of a convolution of an input (N, C, H, W); padding is (top, bottom, left,
    right)."""
    (KH, KW), (SH, SW), (PT, PB, PL, PR), (DH, DW) = kernel, stride, padding, dilation
    OH = conv_output_size(x_shape[2], KH, SH, (PT, PB), DH)
    OW = conv_output_size(x_shape[3], KW, SW, (PL, PR), DW)
    return Geometry(KH, KW, OH, OW, SH, SW, PT, PL, DH, DW)


class Conv2d(Function):
    """y = W @ im2col(x) + b, one GEMM per group (the shapes: the module docstring);
    dL/dW = dY @ cols^T,  dL/dx = col2im(W^T @ dY),  dL/db = dY summed over N, OH, OW."""

    def forward(self, x, weight, bias, geometry, groups):
        self.x_shape, self.weight, self.geometry, self.groups = x.shape, weight, geometry, groups
        y, self.saved = kernels.conv2d_forward(x, weight, bias, geometry, groups,
                                               keep_cols=self.needs_input_grad[1])  # for dW
        return y                                                      # (N, OC, OH, OW)

    def backward(self, grad):
        return kernels.conv2d_backward(grad, self.saved, self.weight, self.x_shape,
                                       self.geometry, self.groups, self.needs_input_grad)

    def differentiable_backward(self, grad, y, x, weight, bias):
        """d2y/dx dW pairs dY's windows with W (bilinear), d2y/dx2 = d2y/dW2 = 0: the backward's
        GEMMs per group as recorded ops, im2col and col2im as Im2col and Col2im."""
        OC, G = weight.shape[0], self.groups
        dy = reshape(permute(grad, (1, 0, 2, 3)), (G, OC // G, -1))   # (G, OC/G, N*OH*OW)
        w = reshape(weight, (G, OC // G, -1))                           # (G, OC/G, Cg*KH*KW)
        dx = dw = None
        if self.needs_input_grad[0]:      # (G, Cg*KH*KW, OC/G) @ (G, OC/G, N*OH*OW), col2im
            dcols = reshape(transpose(w, 1, 2) @ dy, (-1, dy.shape[2]))
            dx = Col2im.apply(dcols, x_shape=self.x_shape, geometry=self.geometry)
        if self.needs_input_grad[1]:      # (G, OC/G, N*OH*OW) @ (G, N*OH*OW, Cg*KH*KW)
            cols = reshape(Im2col.apply(x, geometry=self.geometry), (G, w.shape[2], -1))
            dw = reshape(dy @ transpose(cols, 1, 2), weight.shape)
        return dx, dw, (grad.sum(axis=(0, 2, 3)) if self.needs_input_grad[2] else None)

    def piecewise_linear(self, varies):
        """Bilinear: linear in the input that varies while the other one is constant."""
        return sum(varies) <= 1


def checked_geometry(xa, wa, stride, padding, dilation, groups, where):
    """The Geometry of convolving the array xa (N, C, H, W) with wa (OC, C // groups, KH, KW),
    or a clear error naming `where` if the two do not make a convolution."""
    check_4d(xa, where)
    check_4d(wa, where, "weight (out_channels, in_channels // groups, KH, KW)")
    stride = int_pair(stride, "stride", where, 1)
    dilation = int_pair(dilation, "dilation", where, 1)
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{where}: groups must be a positive int, got {groups!r}")
    N, C, H, W = xa.shape
    OC, Cg, KH, KW = wa.shape
    if C % groups or OC % groups:
        raise ValueError(f"{where}: groups={groups} must divide both in_channels ({C}) and "
                         f"out_channels ({OC})")
    if Cg * groups != C:
        raise ValueError(f"{where}: input has {C} channels but the weight {wa.shape} expects "
                         f"{Cg * groups} (weight.shape[1] * groups = {Cg} * {groups}). "
                         f"Expect: x.shape[1] == {Cg * groups}. Actual: x.shape[1] == {C}")
    if xa.dtype != wa.dtype:
        raise TypeError(f"{where}: input dtype {xa.dtype} and weight dtype {wa.dtype} differ")
    pad = conv_padding(padding, (KH, KW), dilation, stride, where)
    span_h, span_w = dilation[0] * (KH - 1) + 1, dilation[1] * (KW - 1) + 1
    Hp, Wp = H + pad[0] + pad[1], W + pad[2] + pad[3]
    if span_h > Hp or span_w > Wp:
        raise ValueError(f"{where}: kernel {KH}x{KW} (dilated extent {span_h}x{span_w}) is larger "
                         f"than the padded input {Hp}x{Wp} (input {H}x{W}, padding {padding!r})")
    return conv_geometry(xa.shape, (KH, KW), stride, pad, dilation)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of x (N, C, H, W) with weight (OC, C // groups, KH, KW) -> (N, OC, OH, OW).

    PyTorch semantics (cross-correlation: the kernel is not flipped). `padding` is an int, a pair
    (ph, pw), or 'valid' (0), 'same' (output size = input size; stride 1) or 'full' (every partial
    overlap, dilation*(k-1) on each side). groups = C gives a depthwise convolution.
    """
    xa, wa = as_array(x), as_array(weight)
    geometry = checked_geometry(xa, wa, stride, padding, dilation, groups, "conv2d")
    if bias is not None:
        ba = as_array(bias)
        if ba.shape != (wa.shape[0],):
            raise ValueError(f"conv2d: bias must have shape ({wa.shape[0]},) (one per output "
                             f"channel), got {ba.shape}")
        if ba.dtype != xa.dtype:
            raise TypeError(f"conv2d: bias dtype {ba.dtype} differs from input dtype {xa.dtype}")
    return Conv2d.apply(x, weight, bias, geometry=geometry, groups=int(groups))


# ------------------------------------------------------------------------------------------------
# the same convolution from primitives: im2col as its own op, then matmul/reshape with autograd
# ------------------------------------------------------------------------------------------------
class Im2col(Function):
    """cols = im2col(x): (N, C, H, W) -> (C*KH*KW, N*OH*OW);  dL/dx = col2im(dL/dcols)."""
    piecewise_linear = True

    def forward(self, x, geometry):
        self.x_shape, self.geometry = x.shape, geometry
        return kernels.im2col(np.ascontiguousarray(x), *geometry)

    def backward(self, grad):
        return kernels.col2im(np.ascontiguousarray(grad), self.x_shape, *self.geometry)

    def differentiable_backward(self, grad, cols, x):
        """d2cols/dx2 = 0 (linear): a Col2im."""
        return Col2im.apply(grad, x_shape=self.x_shape, geometry=self.geometry)


class Col2im(Function):
    """x = col2im(cols): (C*KH*KW, N*OH*OW) -> (N, C, H, W), overlapping windows added (Im2col's
    backward as an op);  dL/dcols = im2col(dL/dx)."""
    piecewise_linear = True

    def forward(self, cols, x_shape, geometry):
        self.geometry = geometry
        return kernels.col2im(np.ascontiguousarray(cols), x_shape, *geometry)

    def backward(self, grad):
        return kernels.im2col(np.ascontiguousarray(grad), *self.geometry)

    def differentiable_backward(self, grad, x, cols):
        """d2x/dcols2 = 0 (linear): an Im2col."""
        return Im2col.apply(grad, geometry=self.geometry)


def conv2d_simple(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Readable reference for `conv2d` (groups=1): im2col, one matmul, reshape; autograd does
    the backward through the primitives. Slower, but every step is an op you already know."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    weight = weight if isinstance(weight, Tensor) else Tensor(weight)
    N, C, H, W = x.shape
    OC, _, KH, KW = weight.shape
    stride = int_pair(stride, "stride", "conv2d_simple", 1)
    dilation = int_pair(dilation, "dilation", "conv2d_simple", 1)
    pad = conv_padding(padding, (KH, KW), dilation, stride, "conv2d_simple")
    geometry = conv_geometry(x.shape, (KH, KW), stride, pad, dilation)
    cols = Im2col.apply(x, geometry=geometry)                   # (C*KH*KW, N*OH*OW)
    y = weight.reshape(OC, C * KH * KW) @ cols                  # (OC, N*OH*OW)
    y = y.reshape(OC, N, geometry.OH, geometry.OW).permute(1, 0, 2, 3)   # (N, OC, OH, OW)
    if bias is not None:
        y = y + bias.reshape(1, OC, 1, 1)
    return y


__all__ = ["Conv2d", "conv2d", "checked_geometry", "conv2d_simple", "conv_output_size",
           "conv_geometry", "Geometry", "padding_sides", "Im2col", "Col2im"]
