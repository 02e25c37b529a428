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

The big work arrays (`cols`, `dcols`, the GEMM output before its NCHW copy, dY's transposed
copy) are recycled between calls through `kernels.scratch` (take/give): allocating them fresh
made the OS zero-fill megabytes of new pages every training step.

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
import numpy as np

from minigrad import kernels
from minigrad.function import Function
from minigrad.kernels import scratch
from minigrad.ops._args import as_array, check_4d, conv_padding, int_pair
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


class Conv2d(Function):
    """y = conv2d(x, W) + b by im2col + GEMM; see the module docstring for the shapes and math.

    params: stride (SH, SW), padding (top, bottom, left, right), dilation (DH, DW), groups G.
    """

    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0, 0, 0),
                dilation=(1, 1), groups=1):
        N, C, H, W = x.shape
        OC, Cg, KH, KW = weight.shape
        (SH, SW), (PT, PB, PL, PR), (DH, DW), G = stride, padding, dilation, groups
        OH = conv_output_size(H, KH, SH, (PT, PB), DH)
        OW = conv_output_size(W, KW, SW, (PL, PR), DW)
        # one tuple with everything im2col/col2im need after the input/columns argument
        self.geometry = (KH, KW, OH, OW, SH, SW, PT, PL, DH, DW)
        self.x_shape, self.weight, self.groups = x.shape, weight, G

        cols = kernels.im2col(np.ascontiguousarray(x), *self.geometry,     # (C*KH*KW, N*OH*OW)
                              out=scratch.take((C * KH * KW, N * OH * OW), x.dtype))
        w = weight.reshape(OC, Cg * KH * KW)
        y = scratch.take((OC, N * OH * OW), x.dtype)
        for o, c in self._group_slices(G, OC, Cg * KH * KW):
            np.matmul(w[o], cols[c], out=y[o])     # (OC/G, CgKK) @ (CgKK, N*L) -> (OC/G, N*L)
        self.cols = cols if self.needs_input_grad[1] else None    # only dW needs it ...
        if self.cols is None:
            scratch.give(cols)                   # ... else it is free for the next conv now
        yt = y.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)  # (OC, N, ...) -> (N, OC, OH, OW)
        out = np.empty((N, OC, OH, OW), dtype=y.dtype)        # the transposing copy ...
        if bias is None:
            np.copyto(out, yt)
        else:                                                  # ... adds the bias on the way
            np.add(yt, bias.reshape(1, OC, 1, 1), out=out)
        scratch.give(y)
        return out

    def release(self):
        """After backward: hand `cols` back for the next forward to reuse (see `scratch`)."""
        if getattr(self, "cols", None) is not None:
            scratch.give(self.cols)
        super().release()

    @staticmethod
    def _group_slices(G, OC, CgKK):
        """Rows of W / Y and rows of cols that belong to each group (one GEMM per group).

        2-D matmuls only: NumPy hands 2-D products with transposed operands to BLAS, but falls
        back to a slow loop for stacked (3-D) ones with a transposed operand.
        """
        OCg = OC // G
        return [(slice(g * OCg, (g + 1) * OCg), slice(g * CgKK, (g + 1) * CgKK)) for g in range(G)]

    def _dx_by_correlation(self):
        """Unfold the side with fewer channels: dY when OC < C (stride 1, dilation 1, groups 1,
        padding at most k-1 so that dY's padding KH-1-PT is not negative)."""
        OC, Cg = self.weight.shape[:2]                 # Cg == C when groups == 1
        KH, KW, _, _, SH, SW, PT, PL, DH, DW = self.geometry
        return (OC < Cg and self.groups == 1 and (SH, SW, DH, DW) == (1, 1, 1, 1)
                and PT <= KH - 1 and PL <= KW - 1)

    def _dx_correlation(self, dy):
        """dx = corr(pad(dY), rot180(W)^T): im2col of dY, then one GEMM (see the module docstring).

        dx[n, c, h, w] = sum_{oc,i,j} dY[n, oc, h - (KH-1-PT) + i, w - (KW-1-PL) + j]
                                      * W[oc, c, KH-1-i, KW-1-j]
        """
        N, C, H, W = self.x_shape
        OC, _, KH, KW = self.weight.shape
        PT, PL = self.geometry[6], self.geometry[7]
        # one output column per input pixel: a stride-1 "convolution" of dY back to H x W
        cols = kernels.im2col(np.ascontiguousarray(dy), KH, KW, H, W, 1, 1,   # (OC*KH*KW, N*H*W)
                              KH - 1 - PT, KW - 1 - PL, 1, 1,
                              out=scratch.take((OC * KH * KW, N * H * W), dy.dtype))
        # W' [c, (oc, i, j)] = W[oc, c, KH-1-i, KW-1-j]: flip the window, swap OC and C
        w_t = self.weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(C, OC * KH * KW)
        dxt = scratch.take((C, N * H * W), dy.dtype)
        np.matmul(w_t, cols, out=dxt)           # (C, OC*KH*KW) @ (OC*KH*KW, N*H*W)
        scratch.give(cols)
        dx = np.empty((N, C, H, W), dtype=dy.dtype)     # (C, N, H, W) -> (N, C, H, W)
        np.copyto(dx, dxt.reshape(C, N, H, W).transpose(1, 0, 2, 3))
        scratch.give(dxt)
        return dx

    def backward(self, dy):
        need_x, need_w, need_b = self.needs_input_grad
        weight, G = self.weight, self.groups
        OC, Cg, KH, KW = weight.shape
        N, L = dy.shape[0], dy.shape[2] * dy.shape[3]
        # (N, OC, OH, OW) -> (OC, N*OH*OW): the layout of the forward GEMM's output
        dy2 = scratch.take((OC, N * L), dy.dtype)
        np.copyto(dy2.reshape(OC, N, L), dy.reshape(N, OC, L).transpose(1, 0, 2))
        w = weight.reshape(OC, Cg * KH * KW)
        groups = self._group_slices(G, OC, Cg * KH * KW)
        dx = dw = db = None
        if need_w:
            dw = np.empty_like(w)
            for o, c in groups:       # dW = dY @ cols^T : (OC/G, N*L) @ (N*L, CgKK)
                np.matmul(dy2[o], self.cols[c].T, out=dw[o])
            dw = dw.reshape(weight.shape)
        if need_x and self._dx_by_correlation():
            dx = self._dx_correlation(dy)
        elif need_x:
            dcols = scratch.take((G * Cg * KH * KW, dy2.shape[1]), dy2.dtype)
            for o, c in groups:       # dcols = W^T @ dY : (CgKK, OC/G) @ (OC/G, N*L)
                np.matmul(w[o].T, dy2[o], out=dcols[c])
            dx = kernels.col2im(dcols, self.x_shape, *self.geometry)
            scratch.give(dcols)
        if need_b:
            db = dy2.sum(axis=1)       # = dY summed over N, OH, OW; dy2's rows are contiguous
        scratch.give(dy2)
        return dx, dw, db


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
    return Conv2d.apply(x, weight, bias, stride=stride, padding=pad, dilation=dilation,
                        groups=int(groups))


# ------------------------------------------------------------------------------------------------
# the same convolution from primitives: im2col as its own op, then matmul/reshape with autograd
# ------------------------------------------------------------------------------------------------
class Im2col(Function):
    """cols = im2col(x): (N, C, H, W) -> (C*KH*KW, N*OH*OW);  dL/dx = col2im(dL/dcols)."""

    def forward(self, x, geometry):
        self.x_shape, self.geometry = x.shape, geometry
        return kernels.im2col(np.ascontiguousarray(x), *geometry)

    def backward(self, dcols):
        return kernels.col2im(np.ascontiguousarray(dcols), self.x_shape, *self.geometry)


def conv2d_simple(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Readable reference for `conv2d` (groups=1): im2col, one matmul, reshape; autograd does
    the backward through the primitives. Slower, but every step is an op you already know."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    weight = weight if isinstance(weight, Tensor) else Tensor(weight)
    N, C, H, W = x.shape
    OC, _, KH, KW = weight.shape
    stride = int_pair(stride, "stride", "conv2d_simple", 1)
    dilation = int_pair(dilation, "dilation", "conv2d_simple", 1)
    PT, PB, PL, PR = conv_padding(padding, (KH, KW), dilation, stride, "conv2d_simple")
    OH = conv_output_size(H, KH, stride[0], (PT, PB), dilation[0])
    OW = conv_output_size(W, KW, stride[1], (PL, PR), dilation[1])
    cols = Im2col.apply(x, geometry=(KH, KW, OH, OW, stride[0], stride[1], PT, PL, *dilation))
    y = weight.reshape(OC, C * KH * KW) @ cols                  # (OC, N*OH*OW)
    y = y.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)          # (N, OC, OH, OW)
    if bias is not None:
        y = y + bias.reshape(1, OC, 1, 1)
    return y


__all__ = ["Conv2d", "conv2d", "conv2d_simple", "conv_output_size", "padding_sides", "Im2col"]
