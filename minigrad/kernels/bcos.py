"""B-cos convolution and linear layer forward and backward on arrays, the convolution from one
im2col (the math: ops/bcos.py, `BcosConv`, `BcosDense`; the layout: kernels/im2col.py).

    bcos_conv2d_forward_*(x, weight, geometry, units, b, eps, encoded)   -> (out, saved)
    bcos_conv2d_backward_*(grad, saved, weight, x_shape, geometry, units, b, detach,
                           needs_input_grad, encoded)                     -> (dx, dW)
    bcos_linear_forward_*(x, weight, units, b, eps)             -> (out, saved)
    bcos_linear_backward_*(grad, saved, weight, units, b, detach, needs_input_grad) -> (dx, dW)

The patch norms are the column norms of the im2col matrix the convolution builds anyway, so
they cost a sum of squares, not a second convolution:

    cols = im2col(x)                          (D, P)       D = C*KH*KW, P = N*OH*OW
    z    = W @ cols                           (K*M, P)     K outputs of M units each
    l    = max over each output's M rows of z (K, P)       (MaxOut; M = 1: l = z)
    n    = sqrt(sum_rows cols**2 + eps)       (P,)         one norm per patch
    out  = |l / n|^(B-1) l                    (K, P)

and backward, with dl = g B s (detach: g s) and dn = sum_k g (1-B) out / n (detach: 0):

    dz    = dl at each output's winning unit, 0 at the others
    dW    = dz @ cols^T
    dcols = W^T @ dz + cols * dn / n          (d n / d cols = cols / n)
    dx    = col2im(dcols)

The linear layer is the same column math with one column per sample: cols = x^T (D, N).
`encoded`: the convolution of u = [x, 1 - x] (the B-cos input encoding, 2C channels) given x;
the readable twin builds u, the fast one never does (`_encoded_filters`): W @ u_cols is
(W_1 - W_2) @ x_cols plus a map over positions, the same for every image, and u's squared
norm at a pixel is sum_c x**2 + (1 - x)**2: half the columns and half the GEMM.

`saved` is what backward needs: cols, n, s = |l/n|^(B-1), out and the winning units. The
readable twin, `*_numpy`, is these lines (`bcos_columns_numpy` and its backward, shared by
both layers). The fast twin, `*_numba`, computes the same with
conv2d's fast pieces (kernels/conv.py: the batch in parts on threads, recycled buffers, dx in
blocks), one compiled loop for MaxOut and the scale together, and the norms from the per-pixel
squared norms q = sum_c x**2: the column sums of cols**2 are the sums of q over each window,
read from q itself (C times smaller than x, and KH*KW times smaller than its im2col), and the
norms' share of dx goes back through the same windows (`_window_sums`). The linear layer's
fast twin runs the same compiled loop after gemm.py's products. The twins agree to rounding (the
fast one sums in other orders).
"""
import numpy as np

from minigrad.kernels import parallel, scratch
from minigrad.kernels._numba import njit
from minigrad.kernels.conv import (PartColumns, dx_col2im, grouped_matmul, nchw_to_columns,
                                   unfold, weight_grad_transposed, weight_matrix)
from minigrad.kernels.gemm import matmul_numba
from minigrad.kernels.im2col import _valid_range, col2im_numpy, im2col_numpy


# ------------------------------------------------------------------------------------------------
# the readable twin
# ------------------------------------------------------------------------------------------------
def bcos_conv2d_forward_numpy(x, weight, geometry, units, b, eps, encoded):
    """out = |l/n|^(B-1) l with l the MaxOut of W @ cols and n the column norms of cols.
    encoded: of u = [x, 1 - x] (weight with 2C input channels), spelt out."""
    if encoded:
        x = np.concatenate([x, 1 - x], axis=1)                      # u, (N, 2C, H, W)
    cols = im2col_numpy(x, *geometry)                               # (D, P)
    out, kept = bcos_columns_numpy(weight_matrix(weight), cols, units, b, eps)
    y = out.reshape(out.shape[0], x.shape[0], geometry.OH, geometry.OW).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(y), (cols, kept)


def bcos_conv2d_backward_numpy(grad, saved, weight, x_shape, geometry, units, b, detach,
                               needs_input_grad, encoded):
    """dW = dz @ cols^T,  dx = col2im(W^T @ dz + cols * dn / n)  (encoded: that is du, and
    dx = du_1 - du_2, u = [x, 1 - x])."""
    cols, kept = saved
    g = grad.transpose(1, 0, 2, 3).reshape(grad.shape[1], -1)      # (K, P)
    dcols, dw = bcos_columns_backward_numpy(g, kept, cols, weight_matrix(weight), units, b,
                                            detach, needs_input_grad)
    dw = None if dw is None else dw.reshape(weight.shape)
    if dcols is None:
        return None, dw
    C = x_shape[1]
    du = col2im_numpy(dcols, (x_shape[0], 2 * C if encoded else C) + tuple(x_shape[2:]),
                      *geometry)
    return (du[:, :C] - du[:, C:] if encoded else du), dw


def bcos_linear_forward_numpy(x, weight, units, b, eps):
    """The convolution's column math with one column per sample, cols = x^T: -> (N, K)."""
    out, kept = bcos_columns_numpy(weight, x.T, units, b, eps)
    return np.ascontiguousarray(out.T), (x, kept)


def bcos_linear_backward_numpy(grad, saved, weight, units, b, detach, needs_input_grad):
    """dW = dz @ x,  dx = (W^T @ dz + x^T * dn / n)^T."""
    x, kept = saved
    dcols, dw = bcos_columns_backward_numpy(grad.T, kept, x.T, weight, units, b, detach,
                                            needs_input_grad)
    return (None if dcols is None else np.ascontiguousarray(dcols.T)), dw


def bcos_columns_numpy(w, cols, units, b, eps):
    """B-cos units of the weight rows w (K*M, D) on the columns of cols (D, P): the forward's
    lines. -> (out (K, P), kept = (n, s, out, winner))."""
    z = (w @ cols).reshape(w.shape[0] // units, units, -1)          # (K, M, P)
    winner = z.argmax(axis=1)                                       # (K, P)
    l = np.take_along_axis(z, winner[:, None], axis=1)[:, 0]        # (K, P)
    n = np.sqrt((cols * cols).sum(axis=0) + eps)                    # (P,)
    s = np.abs(l / n) ** (b - 1)
    out = l * s
    return out, (n, s, out, winner)


def bcos_columns_backward_numpy(g, kept, cols, w, units, b, detach, needs_input_grad):
    """The backward's lines, for g = dL/dout (K, P): -> (dcols (D, P), dW (K*M, D)), each None
    unless asked for."""
    n, s, out, winner = kept
    dz = np.zeros((g.shape[0], units, g.shape[1]), dtype=g.dtype)
    np.put_along_axis(dz, winner[:, None], (g * s * (1 if detach else b))[:, None], axis=1)
    dz = dz.reshape(w.shape[0], -1)                                 # (K*M, P)
    dcols = dw = None
    if needs_input_grad[1]:
        dw = dz @ cols.T                                            # (K*M, D)
    if needs_input_grad[0]:
        dcols = w.T @ dz                                            # (D, P)
        if not detach:
            dn = (g * (1 - b) * out).sum(axis=0) / n                # dL/dn, (P,)
            dcols += cols * (dn / n)
    return dcols, dw


# ------------------------------------------------------------------------------------------------
# the fast twin: conv2d's parts and buffers; the norms as window sums of one channel
# ------------------------------------------------------------------------------------------------
def bcos_conv2d_forward_numba(x, weight, geometry, units, b, eps, encoded):
    """Fast twin of `bcos_conv2d_forward_numpy`. A patch's squared norm is the window sum of
    the per-pixel squared norms q = sum_c x**2 (`_patch_norms`), read from q, an image C times
    smaller than x. `saved`: x, the filter matrix and ones_cols used (for backward) and, per part
    of the batch, cols and the loop's arrays. encoded: u = [x, 1 - x] is never
    built (`_encoded_filters`): the GEMM is on x's C channels, not u's 2C, and
    q = sum_c x**2 + (1 - x)**2."""
    x = np.ascontiguousarray(x)
    w, position_map, ones = _encoded_filters(weight, geometry, x.shape[2:]) if encoded else \
        (weight_matrix(weight), None, None)
    K = w.shape[0] // units
    y = np.empty((x.shape[0], K, geometry.OH, geometry.OW), dtype=x.dtype)

    def forward_part(part):
        cols = unfold(x[part], geometry)                            # (D, p)
        z = grouped_matmul(w, cols, 1)                              # (K*M, p)
        if encoded:                                                 # + W_2 @ ones_cols
            per_image = z.reshape(w.shape[0], -1, position_map.shape[1])
            per_image += position_map[:, None]
        n = _patch_norms(_squared_norms(x[part], encoded), geometry, eps)   # (p,)
        kept = _scaled_columns(n, z, units, b)
        scratch.give(z)
        out = kept[2]
        np.copyto(y[part], out.reshape(K, -1, geometry.OH, geometry.OW).transpose(1, 0, 2, 3))
        return cols, kept

    with parallel.blas_held():
        parts = parallel.split(x.shape[0], y.size * units)
        cols, kept = zip(*parallel.map(forward_part, parts))
    return y, (x, w, ones, PartColumns(cols, parts), kept)


def bcos_conv2d_backward_numba(grad, saved, weight, x_shape, geometry, units, b, detach,
                               needs_input_grad, encoded):
    """Fast twin of `bcos_conv2d_backward_numpy`: dW is the sum of the parts'. The norms'
    share of dx, col2im(cols * dn / n), is x times the sum of dn / n over the windows that hold
    the pixel, as d ||patch|| / d x = x / ||patch|| at every pixel.
    encoded: dx = du_1 - du_2 = col2im((W_1 - W_2)^T @ dz) + (x - (1 - x)) * spread, and
    dW = [dz @ cols^T, dz @ ones_cols^T - dz @ cols^T] (u_2 = 1 - x inside the image)."""
    x, w, ones, cols, kept = saved                  # w, ones: the forward's (_encoded_filters)
    dx = np.empty(x_shape, dtype=grad.dtype) if needs_input_grad[0] else None

    def backward_part(part, cols, kept):
        g = nchw_to_columns(grad[part])                             # (K, p)
        dz = scratch.take((w.shape[0], g.shape[1]), g.dtype)        # (K*M, p)
        dn_over_n = _column_grads(g, kept, units, b, detach, dz)
        scratch.give(g)
        dw_t = dz_sum = None
        if needs_input_grad[1]:
            dw_t = weight_grad_transposed(dz, cols, w.shape, 1)
            if encoded:                                             # sum over the images
                dz_sum = dz.reshape(w.shape[0], -1, ones.shape[1]).sum(axis=1)
        if needs_input_grad[0]:
            dx_col2im(w, dz, geometry, 1, dx[part])
            if not detach:
                spread = np.zeros((dx[part].shape[0], 1) + x_shape[2:], dx.dtype)
                _window_sums(spread, dn_over_n, *geometry, False)    # col2im of dn / n
                _add_times(dx[part], x[part], spread, encoded)      # dx += x * spread
        scratch.give(dz)
        return dw_t, dz_sum

    with parallel.blas_held():
        dw_ts, dz_sums = zip(*parallel.map(backward_part, cols.parts, cols, kept))
    if not needs_input_grad[1]:
        return dx, None
    dw = sum(dw_ts[1:], dw_ts[0]).T                                 # (K*M, C*KH*KW)
    if encoded:
        dw = dw.reshape(w.shape[0], x_shape[1], -1)
        ones_part = (sum(dz_sums[1:], dz_sums[0]) @ ones.T)[:, None]   # (K*M, 1, KH*KW)
        dw = np.concatenate([dw, ones_part - dw], axis=1)
    return dx, np.ascontiguousarray(dw).reshape(weight.shape)


def bcos_linear_forward_numba(x, weight, units, b, eps):
    """Fast twin of `bcos_linear_forward_numpy`: the GEMM on minigrad's threads (gemm.py), the
    rows' norms by einsum, MaxOut and scale in the convolution's loop."""
    z = matmul_numba(weight, x.T)                                   # (K*M, N)
    n = np.sqrt(np.einsum("nd,nd->n", x, x) + eps)                  # (N,)
    kept = _scaled_columns(n, z, units, b)
    return np.ascontiguousarray(kept[2].T), (x, kept)


def bcos_linear_backward_numba(grad, saved, weight, units, b, detach, needs_input_grad):
    """Fast twin of `bcos_linear_backward_numpy`."""
    x, kept = saved
    dz = np.empty((weight.shape[0], x.shape[0]), grad.dtype)        # (K*M, N)
    dn_over_n = _column_grads(np.ascontiguousarray(grad.T), kept, units, b, detach, dz)
    dw = matmul_numba(dz, x) if needs_input_grad[1] else None
    dx = None
    if needs_input_grad[0]:
        dx = matmul_numba(dz.T, weight)                             # (N, D)
        if not detach:
            dx += x * dn_over_n[:, None]
    return dx, dw


def _scaled_columns(n, z, units, b):
    """The forward's loop (`_bcos_columns`) on fresh arrays, given the column norms n (P,):
    -> (n, s, out, winner); without MaxOut (one unit) there is no winner to keep: empty."""
    K, P = z.shape[0] // units, z.shape[1]
    s, out = np.empty((K, P), z.dtype), np.empty((K, P), z.dtype)
    winner = np.empty((K, P) if units > 1 else (0, 0), np.int64)
    _bcos_columns(n, z, units, b, s, out, winner)
    return n, s, out, winner


def _column_grads(g, kept, units, b, detach, dz):
    """The backward's loop (`_bcos_grad_columns`) into dz (K*M, P): -> dL/dn / n (P,)."""
    n, s, out, winner = kept
    dn_over_n = np.empty(g.shape[1], g.dtype)
    _bcos_grad_columns(g, n, s, out, winner, units, b, detach, dz, dn_over_n)
    return dn_over_n


def _encoded_filters(weight, geometry, image_shape):
    """For u = [x, 1 - x] and weight [W_1, W_2]: W @ u_cols = (W_1 - W_2) @ x_cols +
    W_2 @ ones_cols, ones_cols being im2col of an image of ones, zero-padded as u is: the same
    for every image and every channel, so W_2 @ ones_cols = (W_2 summed over the channels) @
    ones_cols of one channel. -> (W_1 - W_2 (K*M, C*KH*KW), that map (K*M, OH*OW), ones_cols
    of one channel (KH*KW, OH*OW))."""
    C = weight.shape[1] // 2
    ones = im2col_numpy(np.ones((1, 1) + tuple(image_shape), weight.dtype), *geometry)
    w2 = weight[:, C:]
    position_map = w2.sum(axis=1).reshape(w2.shape[0], -1) @ ones
    return weight_matrix(weight[:, :C] - w2), position_map, ones


@njit(cache=True, nogil=True)
def _squared_norms(x, encoded):
    """q[n, 0] = sum_c x[n, c]**2 (encoded: + (1 - x[n, c])**2, u = [x, 1 - x]'s):
    (N, C, H, W) -> (N, 1, H, W)."""
    N, C, H, W = x.shape
    q = np.zeros((N, 1, H, W), x.dtype)
    for i in range(N):
        for c in range(C):
            for h in range(H):
                for j in range(W):
                    v = x[i, c, h, j]
                    q[i, 0, h, j] += v * v + (1 - v) * (1 - v) if encoded else v * v
    return q


def _patch_norms(q, geometry, eps):
    """sqrt(eps + the sum of q (N, 1, H, W) over each column's window): the column norms of
    im2col(x) given q = sum_c x**2, without building im2col(q). -> (N*OH*OW,)"""
    n = np.full(q.shape[0] * geometry.OH * geometry.OW, eps, q.dtype)
    _window_sums(q, n, *geometry, True)
    return np.sqrt(n, out=n)


@njit(cache=True, nogil=True)
def _window_sums(image, columns, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW, gather):
    """Over every window element: gather: columns[p] += image[pixel] (the column sums of
    im2col(image), image (N, 1, H, W) C-contiguous, columns (N*OH*OW,)); else image[pixel] +=
    columns[p] (col2im of `columns` repeated on the KH*KW rows). Each sum in im2col's row order
    (kh, kw), as the column sums and col2im add: the same results to the last bit."""
    N, _, H, W = image.shape
    pixels = image.reshape(-1)
    u = np.uint64                           # unsigned: no negative-index checks, so it vectorises
    for i in range(N):
        for kh in range(KH):
            h_lo, h_hi = _valid_range(kh * DH - PH, SH, H, OH)
            for kw in range(KW):
                w_off = kw * DW - PW
                w_lo, w_hi = _valid_range(w_off, SW, W, OW)
                for oh in range(h_lo, h_hi):
                    p0 = u((i * OH + oh) * OW + w_lo)
                    pixel0 = u((i * H + oh * SH + kh * DH - PH) * W + w_off + w_lo * SW)
                    for j in range(u(w_hi - w_lo)):
                        if gather:
                            columns[p0 + j] += pixels[pixel0 + j * u(SW)]
                        else:
                            pixels[pixel0 + j * u(SW)] += columns[p0 + j]


@njit(cache=True, nogil=True)
def _bcos_columns(n, z, M, b, s, out, winner):
    """Per output k and column p (norm n[p]): the winning unit of z's M rows, l = its
    response, s = |l/n|^(B-1), out = l s (the forward's last lines)."""
    P = n.size
    for k in range(out.shape[0]):
        for p in range(P):
            best = 0
            for m in range(1, M):
                if z[k * M + m, p] > z[k * M + best, p]:
                    best = m
            l = z[k * M + best, p]
            c = abs(l) / n[p]
            scale = c if b == 2.0 else c ** (b - 1.0)
            s[k, p], out[k, p] = scale, l * scale
            if M > 1:
                winner[k, p] = best


@njit(cache=True, nogil=True)
def _bcos_grad_columns(g, n, s, out, winner, M, b, detach, dz, dn_over_n):
    """dz = g B s (detach: g s) at the winning units, 0 elsewhere; dn_over_n = dL/dn / n."""
    K, P = g.shape
    factor = 1.0 if detach else b
    if M == 1:                              # no MaxOut: dz row k is output k's (vectorised)
        for k in range(K):
            for p in range(P):
                dz[k, p] = g[k, p] * factor * s[k, p]
    else:
        dz[:] = 0.0
        for k in range(K):
            for p in range(P):
                dz[k * M + winner[k, p], p] = g[k, p] * factor * s[k, p]
    dn_over_n[:] = 0.0
    if not detach:
        for k in range(K):
            for p in range(P):
                dn_over_n[p] += g[k, p] * out[k, p]
        for p in range(P):
            dn_over_n[p] *= (1.0 - b) / (n[p] * n[p])


@njit(cache=True, nogil=True)
def _add_times(dx, x, spread, encoded):
    """dx += x * spread (encoded: (x - (1 - x)) * spread), spread (N, 1, H, W) broadcast over
    the channels."""
    N, C, H, W = x.shape
    for i in range(N):
        for c in range(C):
            for h in range(H):
                for j in range(W):
                    v = 2 * x[i, c, h, j] - 1 if encoded else x[i, c, h, j]
                    dx[i, c, h, j] += v * spread[i, 0, h, j]
