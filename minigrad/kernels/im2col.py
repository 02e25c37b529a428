"""im2col / col2im: turn a convolution into one matrix product, and fold its gradient back.

Layout used everywhere in minigrad (chosen so that the GEMMs need no transposed copies):

    x     (N, C, H, W)                   the (unpadded) input
    cols  (C*KH*KW, N*OH*OW)             row  (c, kh, kw)  ->  c*KH*KW + kh*KW + kw
                                         col  (n, oh, ow)  ->  n*OH*OW + oh*OW + ow
    cols[(c, kh, kw), (n, oh, ow)] = x[n, c, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW]
                                     (0 where that position falls in the padding)

With this layout the convolution is  Y = W.reshape(OC, C*KH*KW) @ cols  -> (OC, N*OH*OW), and
since the rows of one group's channels are consecutive, grouped convolution is a batched matmul.

col2im is the adjoint (the transpose) of im2col: every column entry is *added* back to the input
position it was copied from, so positions covered by several overlapping windows sum their
gradients. PH/PW are the top/left padding; the bottom/right padding is implied by OH/OW (windows
reaching past the input read zeros), which is how asymmetric 'same' padding is expressed.

Each kernel comes twice with the same signature: `*_numpy`, the readable specification, and
`*_numba`, the fast twin. They are tested equal (exactly in float64).
"""
from typing import NamedTuple

import numpy as np

from minigrad.kernels._numba import njit


class Geometry(NamedTuple):
    """Where every window of a convolution or a pooling lies: what im2col and col2im (and the
    pooling kernels) need besides the array.

    KH, KW kernel; OH, OW output size; SH, SW stride; PH, PW padding at the top and the left (the
    bottom/right padding is implied by OH, OW); DH, DW dilation (1 for pooling).
    `im2col(x, *geometry)`; the pooling kernels take the first eight fields.
    """
    KH: int
    KW: int
    OH: int
    OW: int
    SH: int
    SW: int
    PH: int
    PW: int
    DH: int = 1
    DW: int = 1


# ------------------------------------------------------------------------------------------------
# NumPy twins: one strided slice per kernel offset (kh, kw)
# ------------------------------------------------------------------------------------------------
def _padded_extent(size, out, k, s, p, d):
    """Length of the padded axis needed so that every window fits inside it."""
    last_needed = (out - 1) * s + (k - 1) * d + 1       # one past the last index any window reads
    return max(size + p, last_needed)


def im2col_numpy(x, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW):
    """x (N, C, H, W) -> cols (C*KH*KW, N*OH*OW). Readable twin."""
    N, C, H, W = x.shape
    Hp = _padded_extent(H, OH, KH, SH, PH, DH)
    Wp = _padded_extent(W, OW, KW, SW, PW, DW)
    xp = np.zeros((N, C, Hp, Wp), dtype=x.dtype)
    xp[:, :, PH:PH + H, PW:PW + W] = x                  # zero padding around the input

    cols = np.empty((C, KH, KW, N, OH, OW), dtype=x.dtype)
    for kh in range(KH):
        h0 = kh * DH                                    # padded row read by window (0, 0)
        for kw in range(KW):
            w0 = kw * DW
            # window (oh, ow) reads padded position (h0 + oh*SH, w0 + ow*SW): a strided slice
            patch = xp[:, :, h0:h0 + SH * (OH - 1) + 1:SH, w0:w0 + SW * (OW - 1) + 1:SW]
            cols[:, kh, kw] = patch.transpose(1, 0, 2, 3)   # (N, C, OH, OW) -> (C, N, OH, OW)
    return cols.reshape(C * KH * KW, N * OH * OW)


def col2im_numpy(cols, x_shape, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW):
    """cols (C*KH*KW, N*OH*OW) -> x (N, C, H, W), summing overlapping windows. Readable twin."""
    N, C, H, W = x_shape
    Hp = _padded_extent(H, OH, KH, SH, PH, DH)
    Wp = _padded_extent(W, OW, KW, SW, PW, DW)
    xp = np.zeros((N, C, Hp, Wp), dtype=cols.dtype)
    cols = cols.reshape(C, KH, KW, N, OH, OW)
    for kh in range(KH):
        h0 = kh * DH
        for kw in range(KW):
            w0 = kw * DW
            # the exact reverse of im2col's copy; '+=' because windows overlap
            xp[:, :, h0:h0 + SH * (OH - 1) + 1:SH, w0:w0 + SW * (OW - 1) + 1:SW] += \
                cols[:, kh, kw].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(xp[:, :, PH:PH + H, PW:PW + W])   # drop the padding


# ------------------------------------------------------------------------------------------------
# Numba twins. Two details make them fast, both measured (see benchmarks/README.md):
#  * the output is allocated by NumPy in a thin Python wrapper and filled by the compiled loop:
#    NumPy asks the OS for huge pages on big arrays, an array allocated inside Numba is faulted
#    in 4 KiB at a time, which makes a big `cols` much slower to fill;
#  * the loops index flat 1-D views with *unsigned* integers: Numba wraps negative indices
#    (x[-1]) with a branch on every signed index, which stops LLVM from vectorising the copy.
# For each (kh, kw) the valid output columns [lo, hi) are computed once, so the inner loops are
# branch-free strided copies. The loops are serial: see kernels/__init__.py for why.
# ------------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _valid_range(k_off, S, size, out):
    """Output indices o with 0 <= o*S + k_off < size, as [lo, hi) clipped to [0, out)."""
    lo = 0
    if k_off < 0:
        lo = (-k_off + S - 1) // S
    hi = (size - 1 - k_off) // S + 1 if size - 1 - k_off >= 0 else 0
    hi = min(hi, out)
    lo = min(lo, out)
    return lo, max(lo, hi)


@njit(cache=True, nogil=True)
def _row_offsets(row, KH, KW, PH, PW, DH, DW):
    """Row (c, kh, kw) of `cols` -> its channel c and the input offsets of its window element:
    input row = oh*SH + h_off, input column = ow*SW + w_off."""
    c = row // (KH * KW)
    kh = (row // KW) % KH
    kw = row % KW
    return c, kh * DH - PH, kw * DW - PW


@njit(cache=True, nogil=True)
def _im2col_into(x, cols, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW):
    N, C, H, W = x.shape
    if SH == 1 and SW == 1 and OW == W:
        _im2col_rows_into(x, cols, KH, KW, OH, OW, PH, PW, DH, DW)
        return
    if _inside_stride_one(H, W, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW):
        _inside_windows(x, cols, KH, KW, OH, OW, DH, DW)
        return
    L = OH * OW
    P = N * L
    xf = x.reshape(-1)                          # flat views: xf[((n*C + c)*H + h)*W + w]
    cf = cols.reshape(-1)                       #             cf[row*P + n*L + oh*OW + ow]
    u = np.uint64
    for row in range(C * KH * KW):              # row = (c, kh, kw), written front to back
        c, h_off, w_off = _row_offsets(row, KH, KW, PH, PW, DH, DW)
        lo, hi = _valid_range(w_off, SW, W, OW)
        for n in range(N):
            for oh in range(OH):
                h = oh * SH + h_off
                dst = u(row * P + n * L + oh * OW)
                if h < 0 or h >= H:             # the whole window row is padding
                    for ow in range(u(OW)):
                        cf[dst + ow] = 0
                else:
                    for ow in range(u(lo)):
                        cf[dst + ow] = 0
                    src = u(((n * C + c) * H + h) * W + w_off + lo * SW)
                    d = dst + u(lo)
                    for i in range(u(hi - lo)):
                        cf[d + i] = xf[src + i * u(SW)]
                    for ow in range(u(hi), u(OW)):
                        cf[dst + ow] = 0


@njit(cache=True, nogil=True)
def _inside_stride_one(H, W, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW):
    """Stride 1, no padding, every window inside the input (e.g. LeNet's conv2): no clipping."""
    return (SH == 1 and SW == 1 and PH == 0 and PW == 0
            and OH - 1 + (KH - 1) * DH < H and OW - 1 + (KW - 1) * DW < W)


@njit(cache=True, nogil=True)
def _inside_windows(x, cols, KH, KW, OH, OW, DH, DW):
    """im2col (x -> cols) when `_inside_stride_one`: each window row is a plain run of OW
    elements, with no test for the padding and only unsigned indices (figures:
    benchmarks/README.md, #29). `_fold_inside_windows` is its mirror image: one loop for both,
    with a flag, does not compile for a read-only x or cols, and a generator of the offsets
    made both slower."""
    N, C, H, W = x.shape
    L = OH * OW
    xf = x.reshape(-1)
    cf = cols.reshape(-1)
    u = np.uint64
    for row in range(C * KH * KW):
        c, h_off, w_off = _row_offsets(row, KH, KW, 0, 0, DH, DW)
        for n in range(N):
            at_x, at_cols = u(((n * C + c) * H + h_off) * W + w_off), u((row * N + n) * L)
            for oh in range(u(OH)):
                i, j = at_x + oh * u(W), at_cols + oh * u(OW)
                for ow in range(u(OW)):
                    cf[j + ow] = xf[i + ow]


@njit(cache=True, nogil=True)
def _fold_inside_windows(cols, dx, KH, KW, OH, OW, DH, DW):
    """col2im (cols added into dx) when `_inside_stride_one`."""
    N, C, H, W = dx.shape
    L = OH * OW
    xf = dx.reshape(-1)
    cf = cols.reshape(-1)
    u = np.uint64
    for row in range(C * KH * KW):
        c, h_off, w_off = _row_offsets(row, KH, KW, 0, 0, DH, DW)
        for n in range(N):
            at_x, at_cols = u(((n * C + c) * H + h_off) * W + w_off), u((row * N + n) * L)
            for oh in range(u(OH)):
                i, j = at_x + oh * u(W), at_cols + oh * u(OW)
                for ow in range(u(OW)):
                    xf[i + ow] += cf[j + ow]


@njit(cache=True, nogil=True)
def _im2col_rows_into(x, cols, KH, KW, OH, OW, PH, PW, DH, DW):
    """_im2col_into for stride 1 with OW == W (e.g. 'same' padding, or dY in conv's backward).

    Then output pixel i = oh*OW + ow reads input pixel i + h_off*W + w_off of the same plane:
    one (n, c, kh, kw) block of `cols` is a single contiguous copy of the (n, c) plane, shifted,
    instead of OH copies of OW elements (short ones, on small images). The copy also fills the
    positions whose window column falls in the left/right padding (it wraps to the neighbouring
    input row); those are zeroed afterwards, a few elements per output row.
    """
    N, C, H, W = x.shape
    L = OH * OW
    P = N * L
    xf = x.reshape(-1)
    cf = cols.reshape(-1)
    u = np.uint64
    for row in range(C * KH * KW):
        c, h_off, w_off = _row_offsets(row, KH, KW, PH, PW, DH, DW)
        ohlo, ohhi = _valid_range(h_off, 1, H, OH)     # output rows inside the input
        lo, hi = _valid_range(w_off, 1, W, OW)         # output columns inside the input
        i0, i1 = 0, 0                                  # [i0, i1): the span that is copied
        if ohlo < ohhi and lo < hi:
            i0, i1 = ohlo * OW + lo, (ohhi - 1) * OW + hi
        for n in range(N):
            dst = u(row * P + n * L)
            for i in range(u(i0)):
                cf[dst + i] = 0
            src = u((n * C + c) * H * W + i0 + h_off * W + w_off)   # >= 0 by choice of i0
            d = dst + u(i0)
            for i in range(u(i1 - i0)):
                cf[d + i] = xf[src + i]
            for i in range(u(i1), u(L)):
                cf[dst + i] = 0
            if i0 < i1:
                for oh in range(ohlo, ohhi):           # zero the wrapped padding columns
                    r = dst + u(oh * OW)
                    for ow in range(u(lo)):
                        cf[r + ow] = 0
                    for ow in range(u(hi), u(OW)):
                        cf[r + ow] = 0


@njit(cache=True, nogil=True)
def _col2im_into(cols, dx, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW):
    N, C, H, W = dx.shape
    if _inside_stride_one(H, W, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW):
        _fold_inside_windows(cols, dx, KH, KW, OH, OW, DH, DW)
        return
    L = OH * OW
    P = N * L
    cf = cols.reshape(-1)
    df = dx.reshape(-1)
    u = np.uint64
    # the mirror image of _im2col_into: `cols` is read front to back, one row (c, kh, kw) at a
    # time: one sequential stream, where reading all rows of one (n, c) at once would stream
    # C*KH*KW rows in parallel (slower; benchmarks/README.md)
    for row in range(C * KH * KW):
        c, h_off, w_off = _row_offsets(row, KH, KW, PH, PW, DH, DW)
        lo, hi = _valid_range(w_off, SW, W, OW)
        for n in range(N):
            for oh in range(OH):
                h = oh * SH + h_off
                if h >= 0 and h < H:
                    src = u(row * P + n * L + oh * OW + lo)
                    dst = u(((n * C + c) * H + h) * W + w_off + lo * SW)
                    for i in range(u(hi - lo)):
                        df[dst + i * u(SW)] += cf[src + i]


def im2col_numba(x, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW, out=None):
    """x (N, C, H, W) -> cols (C*KH*KW, N*OH*OW). Fast twin of `im2col_numpy`; `out`: a
    C-contiguous array of that shape to fill instead of a new one (a recycled buffer)."""
    N, C, H, W = x.shape
    if out is None:
        out = np.empty((C * KH * KW, N * OH * OW), dtype=x.dtype)
    _im2col_into(np.ascontiguousarray(x), out, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW)
    return out


def col2im_numba(cols, x_shape, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW, out=None):
    """cols (C*KH*KW, N*OH*OW) -> x (N, C, H, W). Fast twin of `col2im_numpy`; `out`: a
    C-contiguous (N, C, H, W) array to write into instead of a new one (a part of a batch).

    Contributions to one element are added in (kh, kw) order (rows of one channel c are
    consecutive), as in the NumPy twin, so the two agree exactly in float64.
    """
    dx = np.empty(tuple(x_shape), dtype=cols.dtype) if out is None else out
    dx[...] = 0
    _col2im_into(np.ascontiguousarray(cols), dx, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW)
    return dx
