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

The big work arrays (`cols`, `dcols`, the GEMM output before its NCHW copy) live only inside
the op, so the helpers at the end of this file recycle them through `kernels.scratch` instead of
allocating them anew at every step (why: benchmarks/README.md, "Recycled work buffers").

When the layer narrows the channels (OC < C; stride 1, dilation 1, groups 1) dx is computed
the other way round, as a stride-1 correlation of dY with the flipped, channel-transposed kernel:

    dx = corr(pad(dY), rot180(W)^T)    pad = KH-1-PT (KW-1-PL); W^T swaps OC and C
       = W' @ im2col(dY)               (C, OC*KH*KW) @ (OC*KH*KW, N*H*W) -> (C, N*H*W)

The unfolded matrix has channels*KH*KW rows, so unfolding dY (OC channels) instead of producing
dcols (C channels) and folding it back moves less memory when OC < C (AlexNet-lite conv5:
256 -> 128), and col2im's scattered adds become im2col's plain copies.

Groups split the channels: group g's filters see only group g's input channels, and since a
group's rows of `cols` are consecutive this is a batched matmul over groups.
`conv2d_simple` below builds the same convolution from primitives (im2col + matmul + reshape)
and lets autograd derive the backward: use it to check `conv2d` by hand.
"""
from typing import NamedTuple

import numpy as np

from minigrad import kernels
from minigrad.function import Function
from minigrad.kernels import parallel, scratch
from minigrad.ops._args import as_array, check_4d, conv_padding, int_pair
from minigrad.tensor import Tensor


DCOLS_ELEMENTS = 2 ** 21    # the largest block of dcols that dx_col2im unfolds at once (8 MB)


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


class Geometry(NamedTuple):
    """Where every window of a convolution lies: what im2col and col2im need besides the array.

    KH, KW kernel; OH, OW output size; SH, SW stride; PH, PW padding at the top and the left (the
    bottom/right padding is implied by OH, OW); DH, DW dilation. `kernels.im2col(x, *geometry)`.
    """
    KH: int
    KW: int
    OH: int
    OW: int
    SH: int
    SW: int
    PH: int
    PW: int
    DH: int
    DW: int


def conv_geometry(x_shape, kernel, stride, padding, dilation):
    """The Geometry of a convolution of an input (N, C, H, W); padding is (top, bottom, left,
    right)."""
    (KH, KW), (SH, SW), (PT, PB, PL, PR), (DH, DW) = kernel, stride, padding, dilation
    OH = conv_output_size(x_shape[2], KH, SH, (PT, PB), DH)
    OW = conv_output_size(x_shape[3], KW, SW, (PL, PR), DW)
    return Geometry(KH, KW, OH, OW, SH, SW, PT, PL, DH, DW)


class Conv2d(Function):
    """y = conv2d(x, W) + b by im2col + GEMM; see the module docstring for the shapes and math.

    dL/dW = dY @ cols^T,  dL/dx = col2im(W^T @ dY),  dL/db = dY summed over N, OH, OW.

    The samples of a batch are independent, so forward and backward run on parts of the batch,
    one part per core (`kernels.parallel`); dW and db are the sums of the parts' dW and db.
    """

    def forward(self, x, weight, bias, geometry, groups):
        self.x_shape, self.weight, self.geometry, self.groups = x.shape, weight, geometry, groups
        x, w = np.ascontiguousarray(x), weight_matrix(weight)        # w: (OC, Cg*KH*KW)
        y = np.empty((x.shape[0], w.shape[0], geometry.OH, geometry.OW), dtype=x.dtype)
        keep_cols = self.needs_input_grad[1]                          # only dW needs them

        def forward_part(part):
            cols = unfold(x[part], geometry)                          # (C*KH*KW, n*OH*OW)
            columns_to_nchw(grouped_matmul(w, cols, groups), geometry, y[part], bias)
            if keep_cols:
                return cols
            scratch.give(cols)                                        # free for the next layer
        self.parts = parallel.split(x.shape[0], y.size)
        self.cols = parallel.map(forward_part, self.parts)           # one `cols` per part
        return y                                                      # (N, OC, OH, OW)

    def backward(self, grad):
        need_x, need_w, need_b = self.needs_input_grad
        w, groups = weight_matrix(self.weight), self.groups           # (OC, Cg*KH*KW)
        by_correlation = need_x and self.dx_by_correlation()
        dx = np.empty(self.x_shape, dtype=grad.dtype) if need_x else None

        def backward_part(part, cols):
            dy = nchw_to_columns(grad[part])                          # (OC, n*OH*OW)
            dw_t = weight_grad_transposed(dy, cols, w.shape, groups) if need_w else None
            db = None
            if by_correlation:
                self.dx_correlation(grad[part], out=dx[part])
            elif need_x:
                self.dx_col2im(w, dy, dx[part])
            if need_b:
                db = dy.sum(axis=1)                  # = dY summed over n, OH, OW
            scratch.give(dy)
            return dw_t, db

        cols = self.cols if need_w else [None] * len(self.parts)
        dw_ts, dbs = zip(*parallel.map(backward_part, self.parts, cols))
        dw = np.ascontiguousarray(sum(dw_ts[1:], dw_ts[0]).T).reshape(self.weight.shape) \
            if need_w else None
        db = sum(dbs[1:], dbs[0]) if need_b else None               # sums over the parts
        return dx, dw, db

    def release(self):
        """After backward: hand `cols` back for the next forward to reuse (see `scratch`)."""
        for cols in getattr(self, "cols", None) or ():
            if cols is not None:
                scratch.give(cols)
        super().release()

    def dx_col2im(self, w, dy, dx):
        """dx = col2im(W^T @ dY) into `dx` (n, C, H, W), a few samples at a time: the columns of
        one sample are consecutive, so a block of samples is a block of columns, and the folded
        `dcols` never needs more than ~8 MB (92 MB whole at AlexNet-lite conv2)."""
        L = self.geometry.OH * self.geometry.OW
        rows = self.groups * w.shape[1]                           # G*Cg*KH*KW
        per_block = max(1, DCOLS_ELEMENTS // (rows * L))           # samples per block
        for first in range(0, dx.shape[0], per_block):
            samples = slice(first, min(first + per_block, dx.shape[0]))
            columns = slice(samples.start * L, samples.stop * L)
            dcols = scratch.take((rows, columns.stop - columns.start), dy.dtype)
            for o, c in group_slices(self.groups, w.shape):       # dcols = W^T @ dY
                np.matmul(w[o].T, dy[o, columns], out=dcols[c])   # (CgKK, OC/G) @ (OC/G, l)
            kernels.col2im(dcols, dx[samples].shape, *self.geometry, out=dx[samples])
            scratch.give(dcols)

    def dx_by_correlation(self):
        """Unfold dY rather than fold dcols when the layer narrows the channels: OC < C, stride 1,
        dilation 1, groups 1, padding at most k-1 (so that dY's padding k-1-p is not negative)."""
        OC, Cg = self.weight.shape[:2]                 # Cg == C when groups == 1
        g = self.geometry
        return (OC < Cg and self.groups == 1 and (g.SH, g.SW, g.DH, g.DW) == (1, 1, 1, 1)
                and g.PH <= g.KH - 1 and g.PW <= g.KW - 1)

    def dx_correlation(self, grad, out):
        """dx = corr(pad(dY), rot180(W)^T) into `out`: im2col of dY, then one GEMM (see the
        module docstring).

        dx[n, c, h, w] = sum_{oc,i,j} dY[n, oc, h - (KH-1-PH) + i, w - (KW-1-PW) + j]
                                      * W[oc, c, KH-1-i, KW-1-j]
        """
        C, H, W = self.x_shape[1:]
        OC, _, KH, KW = self.weight.shape
        g = self.geometry
        # one output column per input pixel: a stride-1 "convolution" of dY back to H x W
        back = Geometry(KH, KW, H, W, 1, 1, KH - 1 - g.PH, KW - 1 - g.PW, 1, 1)
        cols = unfold(grad, back)                                     # (OC*KH*KW, n*H*W)
        # W' [c, (oc, i, j)] = W[oc, c, KH-1-i, KW-1-j]: flip the window, swap OC and C
        w_t = self.weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(C, OC * KH * KW)
        dx = grouped_matmul(w_t, cols, 1)        # (C, OC*KH*KW) @ (OC*KH*KW, n*H*W)
        scratch.give(cols)
        columns_to_nchw(dx, back, out)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of x (N, C, H, W) with weight (OC, C // groups, KH, KW) -> (N, OC, OH, OW).

    PyTorch semantics (cross-correlation: the kernel is not flipped). `padding` is an int, a pair
    (ph, pw), or 'valid' (0), 'same' (output size = input size; stride 1) or 'full' (every partial
    overlap, dilation*(k-1) on each side). groups = C gives a depthwise convolution.
    """
    xa, wa = as_array(x), as_array(weight)
    check_4d(xa, "conv2d")
    check_4d(wa, "conv2d", "weight (out_channels, in_channels // groups, KH, KW)")
    stride = int_pair(stride, "stride", "conv2d", 1)
    dilation = int_pair(dilation, "dilation", "conv2d", 1)
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"conv2d: groups must be a positive int, got {groups!r}")
    N, C, H, W = xa.shape
    OC, Cg, KH, KW = wa.shape
    if C % groups or OC % groups:
        raise ValueError(f"conv2d: groups={groups} must divide both in_channels ({C}) and "
                         f"out_channels ({OC})")
    if Cg * groups != C:
        raise ValueError(f"conv2d: input has {C} channels but the weight {wa.shape} expects "
                         f"{Cg * groups} (weight.shape[1] * groups = {Cg} * {groups}). "
                         f"Expect: x.shape[1] == {Cg * groups}. Actual: x.shape[1] == {C}")
    if xa.dtype != wa.dtype:
        raise TypeError(f"conv2d: input dtype {xa.dtype} and weight dtype {wa.dtype} differ")
    if bias is not None:
        ba = as_array(bias)
        if ba.shape != (OC,):
            raise ValueError(f"conv2d: bias must have shape ({OC},) (one per output channel), "
                             f"got {ba.shape}")
        if ba.dtype != xa.dtype:
            raise TypeError(f"conv2d: bias dtype {ba.dtype} differs from input dtype {xa.dtype}")
    pad = conv_padding(padding, (KH, KW), dilation, stride, "conv2d")
    span_h, span_w = dilation[0] * (KH - 1) + 1, dilation[1] * (KW - 1) + 1
    Hp, Wp = H + pad[0] + pad[1], W + pad[2] + pad[3]
    if span_h > Hp or span_w > Wp:
        raise ValueError(f"conv2d: kernel {KH}x{KW} (dilated extent {span_h}x{span_w}) is larger "
                         f"than the padded input {Hp}x{Wp} (input {H}x{W}, padding {padding!r})")
    geometry = conv_geometry(xa.shape, (KH, KW), stride, pad, dilation)
    return Conv2d.apply(x, weight, bias, geometry=geometry, groups=int(groups))


# ------------------------------------------------------------------------------------------------
# the layout changes around the GEMMs, with recycled work buffers
# ------------------------------------------------------------------------------------------------
def weight_matrix(weight):
    """(OC, Cg, KH, KW) -> (OC, Cg*KH*KW): one filter a row (a view, no copy)."""
    return weight.reshape(weight.shape[0], -1)


def group_slices(groups, w_shape):
    """Rows of W / Y and rows of cols that belong to each group (one GEMM per group).

    2-D matmuls only: NumPy hands 2-D products with transposed operands to BLAS, but falls back
    to a slow loop for stacked (3-D) ones with a transposed operand.
    """
    OCg, CgKK = w_shape[0] // groups, w_shape[1]
    return [(slice(g * OCg, (g + 1) * OCg), slice(g * CgKK, (g + 1) * CgKK))
            for g in range(groups)]


def unfold(x, geometry):
    """im2col into a recycled buffer: (N, C, H, W) -> cols (C*KH*KW, N*OH*OW)."""
    N, C = x.shape[:2]
    g = geometry
    out = scratch.take((C * g.KH * g.KW, N * g.OH * g.OW), x.dtype)
    return kernels.im2col(x, *geometry, out=out)


def column_slices(rows, L):
    """The column slices of `cols` to run a GEMM over. For a `cols` of few rows (LeNet conv1:
    25) OpenBLAS runs the long, thin products 2-4x faster in slices of 4096 columns than whole
    (benchmarks/README.md); for more rows, slicing gains nothing."""
    step = L if rows > 64 else 4096
    return [slice(start, start + step) for start in range(0, L, step)]


def grouped_matmul(w, cols, groups):
    """Y = W @ cols, one GEMM per group, into a recycled buffer: (OC, CgKK) @ (G*CgKK, L)."""
    y = scratch.take((w.shape[0], cols.shape[1]), cols.dtype)
    for o, c in group_slices(groups, w.shape):
        for s in column_slices(w.shape[1], cols.shape[1]):    # (OC/G, CgKK) @ (CgKK, l)
            np.matmul(w[o], cols[c, s], out=y[o, s])
    return y


def weight_grad_transposed(dy, cols, w_shape, groups):
    """dW^T = cols @ dY^T, one group at a time: (CgKK, n*L) @ (n*L, OC/G) -> (CgKK, OC).

    The transposed product: OpenBLAS runs cols @ dY^T up to 1.8x faster than dY @ cols^T here
    (LeNet conv2; benchmarks/README.md); the caller transposes the small sum of the parts."""
    dw_t = np.zeros((w_shape[1], w_shape[0]), dtype=dy.dtype)
    for o, c in group_slices(groups, w_shape):
        for s in column_slices(w_shape[1], dy.shape[1]):
            dw_t[:, o] += cols[c, s] @ dy[o, s].T            # (CgKK, l) @ (l, OC/G)
    return dw_t


def columns_to_nchw(y, geometry, out, bias=None):
    """(OC, n*OH*OW) -> `out` (n, OC, OH, OW), adding the bias on the way; y is given back to
    the pool."""
    OC = y.shape[0]
    yt = y.reshape(OC, out.shape[0], geometry.OH, geometry.OW).transpose(1, 0, 2, 3)
    if bias is None:
        np.copyto(out, yt)
    else:
        np.add(yt, bias.reshape(1, OC, 1, 1), out=out)
    scratch.give(y)
    return out


def nchw_to_columns(grad):
    """(N, OC, OH, OW) -> a recycled (OC, N*OH*OW): the layout of the forward GEMM's output."""
    N, OC = grad.shape[:2]
    L = grad.shape[2] * grad.shape[3]
    rows = scratch.take((OC, N * L), grad.dtype)
    np.copyto(rows.reshape(OC, N, L), grad.reshape(N, OC, L).transpose(1, 0, 2))
    return rows


# ------------------------------------------------------------------------------------------------
# the same convolution from primitives: im2col as its own op, then matmul/reshape with autograd
# ------------------------------------------------------------------------------------------------
class Im2col(Function):
    """cols = im2col(x): (N, C, H, W) -> (C*KH*KW, N*OH*OW);  dL/dx = col2im(dL/dcols)."""

    def forward(self, x, geometry):
        self.x_shape, self.geometry = x.shape, geometry
        return kernels.im2col(np.ascontiguousarray(x), *geometry)

    def backward(self, grad):
        return kernels.col2im(np.ascontiguousarray(grad), self.x_shape, *self.geometry)


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


__all__ = ["Conv2d", "conv2d", "conv2d_simple", "conv_output_size", "conv_geometry", "Geometry",
           "padding_sides", "Im2col"]
