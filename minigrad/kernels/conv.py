"""conv2d forward and backward on arrays: im2col, one GEMM per group, col2im (the math, the
shapes and the layout: minigrad/ops/conv.py and kernels/im2col.py).

    conv2d_forward_*(x, weight, bias, geometry, groups, keep_cols)  -> (y, cols or None)
    conv2d_backward_*(grad, cols, weight, x_shape, geometry, groups, needs_input_grad)
                                                                    -> (dx, dW, db)

`cols` is what the forward keeps for dW (only when `keep_cols`); a gradient that is not needed
is None. The readable twin, `*_numpy`, comes first: it is the specification. The fast twin,
`*_numba`, computes the same, faster:

  * The batch in parts, one per core (`parallel`): the samples are independent, so each part does
    its own im2col, GEMM and layout copy, writing its rows of y; in backward each part computes
    its dx rows and its share of dW and db, which are summed. OpenBLAS is held at one thread
    meanwhile (`parallel.blas_held`), so that each part's GEMM runs on a core of its own and no
    idle OpenBLAS thread spins on the core the other part needs.
  * Recycled work buffers (`scratch`): `cols`, `dcols` and the GEMM outputs have the same shapes
    step after step, so they are taken from and given back to a pool instead of being allocated
    (and zero-filled by the OS) anew. The kept `cols` go back when the op lets go of them.
  * dx in blocks of samples: dcols = W^T @ dY is unfolded and folded by col2im at most
    DCOLS_ELEMENTS at a time (one sample's columns are consecutive), not whole.
  * Small layers at big batches (LeNet's at batch 256) in blocks of samples whose `cols` fit in
    the L2 cache (`sample_blocks`): each block is unfolded and multiplied at once, and in
    backward gives its dW, dcols and dx, so that `cols` and `dcols` are not written whole to
    memory and read back.
  * dW as the transposed product dW^T = cols @ dY^T, and long, thin GEMMs (a `cols` of few rows)
    in column slices small enough for OpenBLAS's small-matrix kernel (`column_slices`): the
    shapes at which OpenBLAS runs fastest.
  * dx by correlation when the layer narrows the channels (OC < C; stride 1, dilation 1,
    groups 1): dx is a stride-1 correlation of dY with the flipped, channel-transposed kernel,

        dx = corr(pad(dY), rot180(W)^T)    pad = KH-1-PH (KW-1-PW); W^T swaps OC and C
           = W' @ im2col(dY)               (C, OC*KH*KW) @ (OC*KH*KW, N*H*W) -> (C, N*H*W)

    The unfolded matrix has channels*KH*KW rows, so unfolding dY (OC channels) instead of
    producing dcols (C channels) and folding it back moves less memory when OC < C, and col2im's
    scattered adds become im2col's plain copies.
  * dx by that same correlation, tap by tap in a compiled loop (no GEMM), when the layer keeps
    the image size (stride 1, 'same' padding) with few output channels and a 3x3 or 5x5 kernel
    (LeNet's conv1): W^T @ dY is then a GEMM with a short inner dimension (OC) that mostly moves
    `dcols` to memory and back, where the loop keeps each dx element in a register while it
    adds its KH*KW taps.

Why each of these, with the figures: benchmarks/README.md. The two twins agree to rounding (the
fast one sums dW and db over the parts in another order).
"""
import numpy as np

from minigrad.kernels import parallel, scratch
from minigrad.kernels._numba import njit
from minigrad.kernels.im2col import Geometry, col2im_numba, col2im_numpy, im2col_numba, \
    im2col_numpy


# ------------------------------------------------------------------------------------------------
# the readable twin
# ------------------------------------------------------------------------------------------------
def conv2d_forward_numpy(x, weight, bias, geometry, groups, keep_cols=True):
    """Y = W @ cols (+ b), one GEMM per group: group g's filters see only its Cg channels."""
    N, OC, G = x.shape[0], weight.shape[0], groups
    cols = im2col_numpy(x, *geometry)                               # (C*KH*KW, N*OH*OW)
    w = weight.reshape(G, OC // G, -1)                              # (G, OC/G, Cg*KH*KW)
    y = w @ cols.reshape(G, w.shape[2], -1)                         # (G, OC/G, N*OH*OW)
    y = y.reshape(OC, N, geometry.OH, geometry.OW).transpose(1, 0, 2, 3)   # (N, OC, OH, OW)
    if bias is not None:
        y = y + bias.reshape(1, OC, 1, 1)
    return np.ascontiguousarray(y), (cols if keep_cols else None)   # only dW needs cols


def conv2d_backward_numpy(grad, cols, weight, x_shape, geometry, groups, needs_input_grad):
    """dW = dY @ cols^T,  dx = col2im(W^T @ dY),  db = dY summed over N, OH, OW; per group."""
    need_x, need_w, need_b = needs_input_grad
    OC, G = weight.shape[0], groups
    dy = grad.transpose(1, 0, 2, 3).reshape(G, OC // G, -1)       # (G, OC/G, N*OH*OW)
    w = weight.reshape(G, OC // G, -1)                              # (G, OC/G, Cg*KH*KW)
    dx = dw = db = None
    if need_w:                                  # (G, OC/G, N*OH*OW) @ (G, N*OH*OW, Cg*KH*KW)
        dw = (dy @ cols.reshape(G, w.shape[2], -1).transpose(0, 2, 1)).reshape(weight.shape)
    if need_x:                                  # (G, Cg*KH*KW, OC/G) @ (G, OC/G, N*OH*OW)
        dcols = w.transpose(0, 2, 1) @ dy
        dx = col2im_numpy(dcols.reshape(-1, dy.shape[2]), x_shape, *geometry)
    if need_b:
        db = grad.sum(axis=(0, 2, 3))
    return dx, dw, db


# ------------------------------------------------------------------------------------------------
# the fast twin: batch parts on threads, recycled buffers, dx in blocks or by correlation
# ------------------------------------------------------------------------------------------------
DCOLS_ELEMENTS = 2 ** 21    # the largest block of dcols that dx is folded from at once (8 MB)


def conv2d_forward_numba(x, weight, bias, geometry, groups, keep_cols=True):
    """Fast twin of `conv2d_forward_numpy`; `cols` is kept as one array per part of the batch,
    block after block (`sample_blocks`)."""
    x, w = np.ascontiguousarray(x), weight_matrix(weight)          # w: (OC, Cg*KH*KW)
    y = np.empty((x.shape[0], w.shape[0], geometry.OH, geometry.OW), dtype=x.dtype)
    rows, L = w.shape[1] * groups, geometry.OH * geometry.OW

    def forward_part(part):
        blocks = sample_blocks(part, rows * L * x.itemsize)
        buffer = scratch.take((rows * L * (part.stop - part.start),), x.dtype)
        for block, cols in zip(blocks, block_columns(buffer, blocks, rows, L)):
            im2col_numba(x[block], *geometry, out=cols)             # (C*KH*KW, b*OH*OW)
            columns_to_nchw(grouped_matmul(w, cols, groups), geometry, y[block], bias)
        if keep_cols:
            return buffer
        scratch.give(buffer)                                        # free for the next layer
    with parallel.blas_held():
        parts = parallel.split(x.shape[0], y.size)
        cols = parallel.map(forward_part, parts)                    # one `cols` per part
    return y, (PartColumns(cols, parts) if keep_cols else None)


COLS_BLOCK_BYTES = 2 ** 20  # a block of samples' columns: one core's L2 cache (1 MiB)
MIN_BLOCK_SAMPLES = 8       # fewer samples to a block: the GEMMs get narrow, the calls many


def sample_blocks(part, sample_bytes):
    """The part of the batch in blocks of samples whose `cols` (`sample_bytes` a sample) fit in
    COLS_BLOCK_BYTES, so that each block is unfolded and multiplied (and in backward its dcols
    made and folded) while it is in the cache, instead of the whole `cols` going to memory and
    back in between. Only where that pays (figures: benchmarks/README.md, #29): for a part
    whose `cols` is more than 4 blocks (below that it stays in the shared L3 cache, and the
    extra calls of the blocks cost more than they save) and a layer with at least
    MIN_BLOCK_SAMPLES samples to a block."""
    per_block = COLS_BLOCK_BYTES // max(sample_bytes, 1)
    samples = part.stop - part.start
    if per_block < MIN_BLOCK_SAMPLES or samples * sample_bytes <= 4 * COLS_BLOCK_BYTES:
        return [part]
    return [slice(first, min(first + per_block, part.stop))
            for first in range(part.start, part.stop, per_block)]


def block_columns(buffer, blocks, rows, L):
    """One part's `cols` buffer as each block's (rows, b*L) matrix, one after the other."""
    views, offset = [], 0
    for block in blocks:
        size = rows * L * (block.stop - block.start)
        views.append(buffer[offset:offset + size].reshape(rows, -1))
        offset += size
    return views


class PartColumns(list):
    """Each part's `cols`, kept from forward for dW, and the parts of the batch they cover.
    When the op lets go of them (after backward, or with its graph) they go back to the pool."""

    def __init__(self, cols, parts):
        super().__init__(cols)
        self.parts = parts

    def __del__(self):
        for cols in self:
            scratch.give(cols)


def conv2d_backward_numba(grad, cols, weight, x_shape, geometry, groups, needs_input_grad):
    """Fast twin of `conv2d_backward_numpy`: dW and db are the sums of the blocks'. Each block
    of samples computes its dW from its `cols` and its dx while its dY is in the cache."""
    need_x, need_w, need_b = needs_input_grad
    w = weight_matrix(weight)                                       # (OC, Cg*KH*KW)
    by_correlation = need_x and dx_by_correlation(weight.shape, geometry, groups)
    by_taps = need_x and not by_correlation and dx_by_taps(weight.shape, x_shape, geometry, groups)
    dx = np.empty(x_shape, dtype=grad.dtype) if need_x else None
    grad = np.ascontiguousarray(grad)
    rows, L = w.shape[1] * groups, geometry.OH * geometry.OW

    def backward_block(block, cols):
        dy = nchw_to_columns(grad[block])                           # (OC, b*OH*OW)
        dw_t = weight_grad_transposed(dy, cols, w.shape, groups) if need_w else 0
        if by_taps:
            _dx_taps(grad[block], weight, dx[block], geometry.PH, geometry.PW)
        elif by_correlation:
            dx_correlation(grad[block], weight, x_shape, geometry, out=dx[block])
        elif need_x:
            dx_col2im(w, dy, geometry, groups, dx[block])
        db = dy.sum(axis=1) if need_b else 0        # = dY summed over b, OH, OW
        scratch.give(dy)
        return dw_t, db

    def backward_part(part, buffer):
        itemsize = grad.itemsize if buffer is None else buffer.itemsize     # as in forward
        blocks = sample_blocks(part, rows * L * itemsize)
        kept = block_columns(buffer, blocks, rows, L) if need_w else [None] * len(blocks)
        sums = [backward_block(block, cols) for block, cols in zip(blocks, kept)]
        return tuple(sum(terms[1:], terms[0]) for terms in zip(*sums))

    with parallel.blas_held():
        parts = cols.parts if need_w else parallel.split(x_shape[0], grad.size)
        dw_ts, dbs = zip(*parallel.map(backward_part, parts, cols or [None] * len(parts)))
    dw = np.ascontiguousarray(sum(dw_ts[1:], dw_ts[0]).T).reshape(weight.shape) \
        if need_w else None
    db = sum(dbs[1:], dbs[0]) if need_b else None               # sums over the parts
    return dx, dw, db


def dx_col2im(w, dy, geometry, groups, dx):
    """dx = col2im(W^T @ dY) into `dx` (n, C, H, W), a few samples at a time: the columns of
    one sample are consecutive, so a block of samples is a block of columns, and the folded
    `dcols` never needs more than DCOLS_ELEMENTS."""
    L = geometry.OH * geometry.OW
    rows = groups * w.shape[1]                                # G*Cg*KH*KW
    per_block = max(1, DCOLS_ELEMENTS // (rows * L))           # samples per block
    for first in range(0, dx.shape[0], per_block):
        samples = slice(first, min(first + per_block, dx.shape[0]))
        columns = slice(samples.start * L, samples.stop * L)
        dcols = scratch.take((rows, columns.stop - columns.start), dy.dtype)
        for o, c in group_slices(groups, w.shape):            # dcols = W^T @ dY
            np.matmul(w[o].T, dy[o, columns], out=dcols[c])   # (CgKK, OC/G) @ (OC/G, l)
        col2im_numba(dcols, dx[samples].shape, *geometry, out=dx[samples])
        scratch.give(dcols)


def dx_by_correlation(weight_shape, geometry, groups):
    """Unfold dY rather than fold dcols when the layer narrows the channels: OC < C, stride 1,
    dilation 1, groups 1, padding at most k-1 (so that dY's padding k-1-p is not negative)."""
    OC, Cg = weight_shape[:2]                      # Cg == C when groups == 1
    g = geometry
    return (OC < Cg and groups == 1 and (g.SH, g.SW, g.DH, g.DW) == (1, 1, 1, 1)
            and g.PH <= g.KH - 1 and g.PW <= g.KW - 1)


def dx_by_taps(weight_shape, x_shape, geometry, groups):
    """dx tap by tap (`_dx_taps`) when the output keeps the input's size (stride 1, 'same'
    padding), OC <= 16 and the kernel is 3x3 or 5x5 (compiled with its size as constants); a
    layer that narrows the channels takes `dx_correlation` first. It wins at LeNet's conv1,
    loses at conv2 (no padding there: the loop would add a zero tap for every one it needs) and
    ties at AlexNet-lite's conv1 (figures: benchmarks/README.md, #29)."""
    OC, _, KH, KW = weight_shape
    g = geometry
    return (groups == 1 and OC <= 16 and (KH, KW) in ((3, 3), (5, 5))
            and (g.SH, g.SW, g.DH, g.DW) == (1, 1, 1, 1) and (g.OH, g.OW) == tuple(x_shape[2:]))


@njit(cache=True, nogil=True)
def _dx_taps(grad, weight, dx, PH, PW):
    # the kernel's size as constants, so that LLVM unrolls the taps (with the size as variables
    # it cannot); dx_by_taps lets only 5x5 and 3x3 kernels come here
    if weight.shape[2] == 5:
        _dx_taps_sized(grad, weight, dx, PH, PW, 5, 5)
    else:
        _dx_taps_sized(grad, weight, dx, PH, PW, 3, 3)


@njit(cache=True, nogil=True)
def _dx_taps_sized(grad, weight, dx, PH, PW, KH, KW):
    """dx = corr(pad(dY), rot180(W)^T) (dx_correlation's formula) into dx (n, C, H, W), one
    sample at a time. dY's planes sit in a zero frame, Wf = W + KW - 1 wide, so that tap (i, j)
    of every dx element is the frame read i*Wf + j further on: one long, vectorisable loop over
    the dx elements in the frame's layout (its last KW - 1 columns are computed and dropped)."""
    N, OC, OH, OW = grad.shape
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    QH, QW = KH - 1 - PH, KW - 1 - PW           # dY's padding
    Wf = W + KW - 1
    plane = (H + KH) * Wf                       # one spare row: the dropped columns' taps read on
    L = H * Wf
    frame = np.zeros(OC * plane, dtype=grad.dtype)       # only dY's own places are written
    total = np.empty(L, dtype=grad.dtype)
    u = np.uint64                               # unsigned indices: no wraparound branch
    for n in range(N):
        for oc in range(OC):
            for oh in range(OH):
                for ow in range(OW):
                    frame[oc * plane + (oh + QH) * Wf + ow + QW] = grad[n, oc, oh, ow]
        for c in range(C):
            total[:] = 0
            for oc in range(OC):
                flipped = weight[oc, c, ::-1, ::-1]
                start = u(oc * plane)
                for e in range(u(L)):
                    t = total[e]
                    for i in range(KH):
                        for j in range(KW):
                            t += flipped[i, j] * frame[start + e + u(i * Wf + j)]
                    total[e] = t
            for h in range(H):
                for w in range(W):
                    dx[n, c, h, w] = total[h * Wf + w]


def dx_correlation(grad, weight, x_shape, geometry, out):
    """dx = corr(pad(dY), rot180(W)^T) into `out`: im2col of dY, then one GEMM (see the module
    docstring).

    dx[n, c, h, w] = sum_{oc,i,j} dY[n, oc, h - (KH-1-PH) + i, w - (KW-1-PW) + j]
                                  * W[oc, c, KH-1-i, KW-1-j]
    """
    C, H, W = x_shape[1:]
    OC, _, KH, KW = weight.shape
    # one output column per input pixel: a stride-1 "convolution" of dY back to H x W
    back = Geometry(KH, KW, H, W, 1, 1, KH - 1 - geometry.PH, KW - 1 - geometry.PW, 1, 1)
    cols = unfold(grad, back)                                     # (OC*KH*KW, n*H*W)
    # W' [c, (oc, i, j)] = W[oc, c, KH-1-i, KW-1-j]: flip the window, swap OC and C
    w_t = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(C, OC * KH * KW)
    dx = grouped_matmul(w_t, cols, 1)        # (C, OC*KH*KW) @ (OC*KH*KW, n*H*W)
    scratch.give(cols)
    columns_to_nchw(dx, back, out)


# ----- the layout changes around the GEMMs, with recycled work buffers --------------------------
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
    return im2col_numba(x, *geometry, out=out)


# OpenBLAS (0.3.x) runs a product of at most this many multiply-adds (M * N * K) with its
# small-matrix kernel where it has one (SkylakeX: kernel/x86_64/sgemm_small_kernel_permit_
# skylakex.c), far faster than its general path for a first layer's long, thin products.
SMALL_GEMM_LIMIT = 10 ** 6
MIN_SLICE_COLUMNS = 1024    # narrower slices: the calls cost more than the small kernel saves


def column_slices(rows, L, outputs):
    """The column slices of `cols` (`rows` x L) to run a GEMM with `outputs` rows of W over:
    slices small enough for OpenBLAS's small-matrix kernel (outputs * rows * width at most
    SMALL_GEMM_LIMIT, a width a multiple of 16), when such a slice is still MIN_SLICE_COLUMNS
    wide (a first layer of few input channels: LeNet conv1, a 2- or 3-channel input); else
    the product whole (benchmarks/README.md, #29)."""
    step = SMALL_GEMM_LIMIT // max(outputs * rows, 1) // 16 * 16
    if step < MIN_SLICE_COLUMNS:
        step = max(L, 1)                                # L = 0: an empty batch, no slice
    return [slice(start, start + step) for start in range(0, L, step)]


def grouped_matmul(w, cols, groups):
    """Y = W @ cols, one GEMM per group, into a recycled buffer: (OC, CgKK) @ (G*CgKK, L)."""
    y = scratch.take((w.shape[0], cols.shape[1]), cols.dtype)
    for o, c in group_slices(groups, w.shape):
        for s in column_slices(w.shape[1], cols.shape[1], o.stop - o.start):
            # (OC/G, CgKK) @ (CgKK, l)
            np.matmul(w[o], cols[c, s], out=y[o, s])
    return y


def weight_grad_transposed(dy, cols, w_shape, groups):
    """dW^T = cols @ dY^T, one group at a time: (CgKK, n*L) @ (n*L, OC/G) -> (CgKK, OC).

    The transposed product, which OpenBLAS runs faster than dY @ cols^T at these shapes
    (benchmarks/README.md); the caller transposes the small sum of the parts."""
    dw_t = np.zeros((w_shape[1], w_shape[0]), dtype=dy.dtype)
    for o, c in group_slices(groups, w_shape):
        for s in column_slices(w_shape[1], dy.shape[1], o.stop - o.start):
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
