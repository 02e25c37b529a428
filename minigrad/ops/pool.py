"""Pooling on NCHW tensors: max, average and global average.

    x    (N, C, H, W)
    y    (N, C, OH, OW)      OH = floor((H + 2*PH - KH) / SH) + 1   (stride defaults to the kernel)
                             ceil_mode: ceil instead of floor, so a last partial window counts too

The loops live in kernels/pool.py (a NumPy twin and a Numba twin); these Functions only check the
arguments, call the kernels, and keep what the backward needs.

Every pooling is linear in x (max pooling piecewise), so its backward is linear in the gradient
with constant weights and every second derivative is 0; each op's second-order rule
(`differentiable_backward`) moves a Tensor gradient back with a recorded op.
"""
import numpy as np

from minigrad import kernels
from minigrad.function import Function
from minigrad.kernels import Geometry
from minigrad.ops._args import as_array, check_4d, int_pair
from minigrad.ops.reduce import mean
from minigrad.ops.shape import IndexAdd, expand, getitem, reshape, stack


class MaxPool2d(Function):
    """y = max over each window;  dL/dx[winner] += dL/dy (every other element of the window gets 0).

    The winner is the first maximum in row-major window order (ties go to the earliest element,
    as in PyTorch); windows that share a winner add their gradients there.
    """
    piecewise_linear = True

    def forward(self, x, geometry):
        self.x_shape, self.geometry = x.shape, geometry
        y, self.argmax = kernels.max_pool2d_forward(np.ascontiguousarray(x), *geometry)
        return y                                # argmax: each winner's place in its window

    def backward(self, grad):
        return kernels.max_pool2d_backward(np.ascontiguousarray(grad), self.argmax, self.x_shape,
                                           *self.geometry)

    def differentiable_backward(self, grad, y, x):
        """d2y/dx2 = 0 (away from ties): dL/dy added at the winners, an IndexAdd per (n, c)
        plane (the winner's index in its plane is h * W + w)."""
        N, C, H, W = self.x_shape
        planes = np.arange(N * C)[:, None]
        flat = kernels.max_pool2d_winners(self.argmax, self.x_shape, *self.geometry)
        winners = (planes, flat.reshape(N * C, -1))
        grad_x = IndexAdd.apply(reshape(grad, (N * C, -1)), shape=(N * C, H * W), index=winners)
        return reshape(grad_x, self.x_shape)


class AvgPool2d(Function):
    """y = sum(window) / divisor;  dL/dx = dL/dy / divisor, spread over the window (overlaps add).

    divisor = KH*KW with count_include_pad (PyTorch's default), else the window's real elements.
    """
    piecewise_linear = True

    def forward(self, x, geometry, count_include_pad=True):
        self.x_shape, self.geometry, self.count_include_pad = x.shape, geometry, count_include_pad
        return kernels.avg_pool2d_forward(np.ascontiguousarray(x), *geometry, count_include_pad)

    def backward(self, grad):
        return kernels.avg_pool2d_backward(np.ascontiguousarray(grad), self.x_shape,
                                           *self.geometry, self.count_include_pad)

    def differentiable_backward(self, grad, y, x):
        """d2y/dx2 = 0 (linear): the backward as an op, AvgPool2dBackward."""
        return AvgPool2dBackward.apply(grad, x_shape=self.x_shape, geometry=self.geometry,
                                       count_include_pad=self.count_include_pad)


class AvgPool2dBackward(Function):
    """dx = AvgPool2d's backward of dy, as an op (its second-order rule needs one);
    dL/d(dy) = avg_pool2d(dL/d(dx)): a linear map's backward is its transpose, and the two are
    each other's."""
    piecewise_linear = True

    def forward(self, dy, x_shape, geometry, count_include_pad):
        self.geometry, self.count_include_pad = geometry, count_include_pad
        return kernels.avg_pool2d_backward(np.ascontiguousarray(dy), x_shape, *geometry,
                                           count_include_pad)

    def backward(self, grad):
        return kernels.avg_pool2d_forward(np.ascontiguousarray(grad), *self.geometry,
                                          self.count_include_pad)

    def differentiable_backward(self, grad, dx, dy):
        """Second derivative 0 (linear): an AvgPool2d."""
        return AvgPool2d.apply(grad, geometry=self.geometry,
                               count_include_pad=self.count_include_pad)


class GlobalAvgPool2d(Function):
    """y[n, c] = mean over H, W of x[n, c];  dL/dx[n, c, h, w] = dL/dy[n, c] / (H*W)."""
    piecewise_linear = True

    def forward(self, x, keepdims=False):
        self.x_shape = x.shape
        return x.mean(axis=(2, 3), keepdims=keepdims)

    def backward(self, grad):
        N, C, H, W = self.x_shape
        share = grad.reshape(N, C, 1, 1) / (H * W)
        return np.broadcast_to(share, self.x_shape).copy()

    def differentiable_backward(self, grad, y, x):
        """d2y/dx2 = 0: dL/dy / (H*W) copied, by an Expand."""
        N, C, H, W = self.x_shape
        return expand(reshape(grad, (N, C, 1, 1)) / (H * W), self.x_shape)


def pool_output_size(size, kernel_size, stride, padding, ceil_mode=False):
    """Output length of a pooling along one axis: floor((size + 2*padding - kernel) / stride) + 1,
    or with ceil_mode the ceiling, keeping a last window only if it starts inside the input or
    its left padding (PyTorch's rule)."""
    span = size + 2 * padding - kernel_size
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def pool_window(kernel_size, stride, padding, op):
    """The checked window of a pooling (its functions' and its layers' one check):
    -> (KH, KW), (SH, SW), (PH, PW); stride None means the kernel size."""
    KH, KW = int_pair(kernel_size, "kernel_size", op, 1)
    SH, SW = (KH, KW) if stride is None else int_pair(stride, "stride", op, 1)
    PH, PW = int_pair(padding, "padding", op, 0)
    if 2 * PH > KH or 2 * PW > KW:                      # else some window would be all padding
        raise ValueError(f"{op}: padding should be at most half the kernel size, got padding "
                         f"{(PH, PW)} for kernel {(KH, KW)}")
    return (KH, KW), (SH, SW), (PH, PW)


def _pool_geometry(x, kernel_size, stride, padding, ceil_mode, op):
    """Check the arguments; -> where the windows lie: the first eight fields of a convolution's
    Geometry (pooling has no dilation), as the pooling kernels take them."""
    xa = as_array(x)
    check_4d(xa, op)
    (KH, KW), (SH, SW), (PH, PW) = pool_window(kernel_size, stride, padding, op)
    H, W = xa.shape[2:]
    if KH > H + 2 * PH or KW > W + 2 * PW:
        raise ValueError(f"{op}: kernel {KH}x{KW} is larger than the padded input "
                         f"{H + 2 * PH}x{W + 2 * PW} (input {H}x{W}, padding {(PH, PW)})")
    OH = pool_output_size(H, KH, SH, PH, ceil_mode)
    OW = pool_output_size(W, KW, SW, PW, ceil_mode)
    return Geometry(KH, KW, OH, OW, SH, SW, PH, PW)[:8]


def max_pool2d(x, kernel_size, stride=None, padding=0, *, ceil_mode=False):
    """Max pooling of x (N, C, H, W); stride defaults to kernel_size; padding is -inf.
    (PyTorch's 5th argument is dilation, which minigrad's pooling lacks: ceil_mode is
    keyword-only here, so that a positional call cannot mean something else.)"""
    return MaxPool2d.apply(x, geometry=_pool_geometry(x, kernel_size, stride, padding,
                                                      bool(ceil_mode), "max_pool2d"))


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Average pooling of x (N, C, H, W); stride defaults to kernel_size; padding is 0 and counts
    in the divisor unless count_include_pad=False (PyTorch's arguments and semantics)."""
    return AvgPool2d.apply(x, geometry=_pool_geometry(x, kernel_size, stride, padding,
                                                      bool(ceil_mode), "avg_pool2d"),
                           count_include_pad=bool(count_include_pad))


def adaptive_avg_pool2d(x, output_size):
    """Average pooling to a fixed output size (OH, OW), as PyTorch: output cell (i, j) averages
    rows floor(i*H/OH) .. ceil((i+1)*H/OH) - 1 and the columns alike, so the windows may differ
    in size by one and overlap. output_size 1 is global average pooling, keeping (N, C, 1, 1)."""
    check_4d(as_array(x), "adaptive_avg_pool2d")
    OH, OW = int_pair(output_size, "output_size", "adaptive_avg_pool2d", 1)
    H, W = as_array(x).shape[2:]
    if (OH, OW) == (1, 1):
        return global_avg_pool2d(x, keepdims=True)
    if H % OH == 0 and W % OW == 0:                     # equal windows side by side
        return avg_pool2d(x, (H // OH, W // OW))
    rows = [(i * H // OH, -(-(i + 1) * H // OH)) for i in range(OH)]
    cols = [(j * W // OW, -(-(j + 1) * W // OW)) for j in range(OW)]
    cells = [stack([mean(getitem(x, (slice(None), slice(None), slice(r0, r1), slice(c0, c1))),
                         dim=(2, 3)) for c0, c1 in cols], dim=-1)
             for r0, r1 in rows]                                            # OH x (N, C, OW)
    return stack(cells, dim=-2)                                             # (N, C, OH, OW)


def global_avg_pool2d(x, keepdims=False):
    """Mean over H and W: (N, C, H, W) -> (N, C), or (N, C, 1, 1) with keepdims=True
    (the latter is PyTorch's adaptive_avg_pool2d(x, 1))."""
    check_4d(as_array(x), "global_avg_pool2d")
    return GlobalAvgPool2d.apply(x, keepdims=bool(keepdims))


__all__ = ["MaxPool2d", "AvgPool2d", "GlobalAvgPool2d", "max_pool2d", "avg_pool2d",
           "adaptive_avg_pool2d", "global_avg_pool2d", "pool_output_size", "pool_window"]
