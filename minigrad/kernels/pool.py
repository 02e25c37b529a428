"""Pooling kernels: max and average pooling, forward and backward, on NCHW arrays.

    x     (N, C, H, W)         input
    out   (N, C, OH, OW)       out[n, c, oh, ow] pools the window of rows oh*SH - PH + [0, KH)
                               and columns ow*SW - PW + [0, KW)
    arg   (N, C, OH, OW) int32 max pooling only: the winner's flat index h*W + w in its input plane
                               (int32, not int64: half the memory traffic; planes < 2**31 elements)

Max pooling pads with -inf, so padding never wins (a zero pad would beat negative inputs).
Tie rule (as PyTorch on CPU): the *first* maximum in row-major window order wins, because a later
element replaces the current best only if it is strictly greater - or NaN, so NaNs propagate.
The gradient of each output goes entirely to its winner; windows that overlap (3x3 stride 2) can
share a winner, whose gradient is then the sum.

Average pooling pads with 0; the divisor is KH*KW with `count_include_pad`, else the number of
real (non-padding) elements in the window. (With ceil_mode the last window may run past the
padding; as in PyTorch, that overhang is never counted: the divisor is the window's part inside
the padded input.)

Each kernel comes twice with the same signature: `*_numpy` (readable) and `*_numba` (fast).
"""
import numpy as np

from minigrad.kernels import parallel
from minigrad.kernels._numba import njit


# ------------------------------------------------------------------------------------------------
# NumPy twins: loop over the KH*KW offsets of the window, each a strided slice of the padded input
# ------------------------------------------------------------------------------------------------
def _pad(x, OH, OW, KH, KW, SH, SW, PH, PW, value):
    """Pad x on every side so that all windows fit; the fill value is `value`."""
    N, C, H, W = x.shape
    Hp = max(H + PH, (OH - 1) * SH + KH)
    Wp = max(W + PW, (OW - 1) * SW + KW)
    xp = np.full((N, C, Hp, Wp), value, dtype=x.dtype)
    xp[:, :, PH:PH + H, PW:PW + W] = x
    return xp


def _window(xp, kh, kw, OH, OW, SH, SW):
    """The element at offset (kh, kw) of every window: xp[:, :, oh*SH + kh, ow*SW + kw]."""
    return xp[:, :, kh:kh + SH * (OH - 1) + 1:SH, kw:kw + SW * (OW - 1) + 1:SW]


def max_pool2d_forward_numpy(x, KH, KW, OH, OW, SH, SW, PH, PW):
    """x (N, C, H, W) -> (out (N, C, OH, OW), arg (N, C, OH, OW) int32). Readable twin."""
    N, C, H, W = x.shape
    xp = _pad(x, OH, OW, KH, KW, SH, SW, PH, PW, -np.inf)
    h_start = np.arange(OH) * SH - PH                   # first input row of each window
    w_start = np.arange(OW) * SW - PW
    out = np.full((N, C, OH, OW), -np.inf, dtype=x.dtype)
    # until something beats -inf, point at the window's first real element (as PyTorch does)
    first = np.maximum(h_start, 0)[:, None] * W + np.maximum(w_start, 0)[None, :]
    arg = np.broadcast_to(first, (N, C, OH, OW)).astype(np.int64)
    for kh in range(KH):
        for kw in range(KW):
            v = _window(xp, kh, kw, OH, OW, SH, SW)
            better = (v > out) | np.isnan(v)           # strict '>': the first maximum keeps ties
            out = np.where(better, v, out)
            index = (h_start + kh)[:, None] * W + (w_start + kw)[None, :]   # h*W + w, (OH, OW)
            arg = np.where(better, index, arg)
    return out, arg.astype(np.int32)


def max_pool2d_backward_numpy(dout, arg, x_shape):
    """Route each dout element to its window's arg-max: dx.flat[arg] += dout. Readable twin."""
    N, C, H, W = x_shape
    dx = np.zeros((N * C, H * W), dtype=dout.dtype)
    plane = np.arange(N * C)[:, None]                   # which (n, c) plane each output is in
    np.add.at(dx, (plane, arg.reshape(N * C, -1)), dout.reshape(N * C, -1))   # shared winners add
    return dx.reshape(N, C, H, W)


def _divisor_numpy(x_shape, KH, KW, OH, OW, SH, SW, PH, PW, count_include_pad):
    """Number each window is divided by: KH*KW, or only its real elements. Shape (OH, OW)."""
    N, C, H, W = x_shape
    h0, w0 = np.arange(OH) * SH - PH, np.arange(OW) * SW - PW       # each window's first row, col
    if count_include_pad:       # the window inside the padded input: KH*KW unless it overhangs
        rows, cols = np.minimum(h0 + KH, H + PH) - h0, np.minimum(w0 + KW, W + PW) - w0
    else:
        rows = np.minimum(h0 + KH, H) - np.maximum(h0, 0)
        cols = np.minimum(w0 + KW, W) - np.maximum(w0, 0)
    return rows[:, None] * cols[None, :]


def avg_pool2d_forward_numpy(x, KH, KW, OH, OW, SH, SW, PH, PW, count_include_pad):
    """x (N, C, H, W) -> out (N, C, OH, OW), the mean of each window. Readable twin."""
    xp = _pad(x, OH, OW, KH, KW, SH, SW, PH, PW, 0)
    total = np.zeros((x.shape[0], x.shape[1], OH, OW), dtype=x.dtype)
    for kh in range(KH):
        for kw in range(KW):
            total += _window(xp, kh, kw, OH, OW, SH, SW)
    return total / _divisor_numpy(x.shape, KH, KW, OH, OW, SH, SW, PH, PW,
                                  count_include_pad).astype(x.dtype)


def avg_pool2d_backward_numpy(dout, x_shape, KH, KW, OH, OW, SH, SW, PH, PW, count_include_pad):
    """Spread each dout / divisor evenly over its window (overlaps add). Readable twin."""
    N, C, H, W = x_shape
    share = dout / _divisor_numpy(x_shape, KH, KW, OH, OW, SH, SW, PH, PW,
                                  count_include_pad).astype(dout.dtype)
    dxp = _pad(np.zeros(x_shape, dtype=dout.dtype), OH, OW, KH, KW, SH, SW, PH, PW, 0)
    for kh in range(KH):
        for kw in range(KW):
            _window(dxp, kh, kw, OH, OW, SH, SW)[...] += share
    return np.ascontiguousarray(dxp[:, :, PH:PH + H, PW:PW + W])


# ------------------------------------------------------------------------------------------------
# Numba twins: one (n, c) plane at a time; the window is clipped to the input instead of padding
# it, which gives the same result (-inf / 0 padding never contributes). Outputs are allocated by
# NumPy in thin wrappers (huge pages, see kernels/im2col.py), which run the compiled loops on
# parts of the batch at once (`parallel`: the loops release the GIL).
# ------------------------------------------------------------------------------------------------
# A part pays for its hand-off to a thread only when its loop has enough to do, and pooling's
# loops do one compare or one add per element they visit, so smaller jobs run whole (the
# measurement: benchmarks/README.md).
MIN_VISITS = 2 ** 18


def _on_parts(kernel, visits, *arrays_then_args):
    """kernel(a[part] for each batch array, then the scalars) for each part of the batch;
    `visits` is how many elements the loops visit in all (split from MIN_VISITS on)."""
    arrays = [a for a in arrays_then_args if isinstance(a, np.ndarray)]
    scalars = arrays_then_args[len(arrays):]
    parallel.map(lambda part: kernel(*(a[part] for a in arrays), *scalars),
                 parallel.split(arrays[0].shape[0], visits, minimum=MIN_VISITS))


def max_pool2d_forward_numba(x, KH, KW, OH, OW, SH, SW, PH, PW):
    """Fast twin of `max_pool2d_forward_numpy` (same tie rule)."""
    out = np.empty(x.shape[:2] + (OH, OW), dtype=x.dtype)
    arg = np.empty(x.shape[:2] + (OH, OW), dtype=np.int32)
    _on_parts(_max_pool2d_forward, out.size * KH * KW, x, out, arg, KH, KW, SH, SW, PH, PW)
    return out, arg


@njit(cache=True, nogil=True)
def _max_pool2d_forward(x, out, arg, KH, KW, SH, SW, PH, PW):
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    xf, of, af = x.reshape(-1), out.reshape(-1), arg.reshape(-1)   # flat views, as in im2col:
    u = np.uint64                                  # unsigned indices skip the wraparound branch
    for nc in range(N * C):                        # (~20% faster here than x[n, c, h, w])
        plane = u(nc * H * W)                      # xf[plane + h*W + w] is x[n, c, h, w]
        for oh in range(OH):
            h0 = oh * SH - PH
            h_lo, h_hi = max(h0, 0), min(h0 + KH, H)
            for ow in range(OW):
                w0 = ow * SW - PW
                w_lo, w_hi = max(w0, 0), min(w0 + KW, W)
                best_i = h_lo * W + w_lo           # start from the window's first real element
                best = xf[plane + u(best_i)]       # (same result as -inf: it is visited again)
                for h in range(h_lo, h_hi):
                    for w in range(w_lo, w_hi):
                        i = h * W + w
                        v = xf[plane + u(i)]
                        if v > best or v != v:     # v != v: NaN (np.isnan was slower here)
                            best = v
                            best_i = i
                o = u((nc * OH + oh) * OW + ow)
                of[o] = best
                af[o] = best_i


def max_pool2d_backward_numba(dout, arg, x_shape):
    """Fast twin of `max_pool2d_backward_numpy`."""
    N, C, H, W = x_shape
    dx = np.empty((N, C, H * W), dtype=dout.dtype)
    _on_parts(_max_pool2d_backward, dout.size, dout, arg, dx)
    return dx.reshape(N, C, H, W)


@njit(cache=True, nogil=True)
def _max_pool2d_backward(dout, arg, dx):
    N, C, OH, OW = dout.shape
    for nc in range(N * C):
        n = nc // C
        c = nc - n * C
        dx[n, c, :] = 0                            # zeroed here: in parallel, and in cache
        for oh in range(OH):
            for ow in range(OW):
                dx[n, c, arg[n, c, oh, ow]] += dout[n, c, oh, ow]


@njit(cache=True, nogil=True)
def _divisor(h0, w0, KH, KW, H, W, PH, PW, count_include_pad):
    if count_include_pad:
        return (min(h0 + KH, H + PH) - h0) * (min(w0 + KW, W + PW) - w0)
    return (min(h0 + KH, H) - max(h0, 0)) * (min(w0 + KW, W) - max(w0, 0))


def avg_pool2d_forward_numba(x, KH, KW, OH, OW, SH, SW, PH, PW, count_include_pad):
    """Fast twin of `avg_pool2d_forward_numpy` (same summation order)."""
    out = np.empty(x.shape[:2] + (OH, OW), dtype=x.dtype)
    _on_parts(_avg_pool2d_forward, out.size * KH * KW, x, out, KH, KW, SH, SW, PH, PW,
              count_include_pad)
    return out


@njit(cache=True, nogil=True)
def _avg_pool2d_forward(x, out, KH, KW, SH, SW, PH, PW, count_include_pad):
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    for nc in range(N * C):
        n = nc // C
        c = nc - n * C
        for oh in range(OH):
            h0 = oh * SH - PH
            for ow in range(OW):
                w0 = ow * SW - PW
                total = x.dtype.type(0)
                for h in range(max(h0, 0), min(h0 + KH, H)):
                    for w in range(max(w0, 0), min(w0 + KW, W)):
                        total += x[n, c, h, w]
                out[n, c, oh, ow] = total / x.dtype.type(
                    _divisor(h0, w0, KH, KW, H, W, PH, PW, count_include_pad))


def avg_pool2d_backward_numba(dout, x_shape, KH, KW, OH, OW, SH, SW, PH, PW, count_include_pad):
    """Fast twin of `avg_pool2d_backward_numpy` (same (kh, kw) summation order)."""
    dx = np.empty(tuple(x_shape), dtype=dout.dtype)
    _on_parts(_avg_pool2d_backward, dout.size * KH * KW, dout, dx, KH, KW, SH, SW, PH, PW,
              count_include_pad)
    return dx


@njit(cache=True, nogil=True)
def _avg_pool2d_backward(dout, dx, KH, KW, SH, SW, PH, PW, count_include_pad):
    N, C, H, W = dx.shape
    OH, OW = dout.shape[2], dout.shape[3]
    for nc in range(N * C):
        n = nc // C
        c = nc - n * C
        dx[n, c] = 0
        share = np.empty((OH, OW), dtype=dout.dtype)
        for oh in range(OH):
            for ow in range(OW):
                share[oh, ow] = dout[n, c, oh, ow] / dout.dtype.type(
                    _divisor(oh * SH - PH, ow * SW - PW, KH, KW, H, W, PH, PW,
                             count_include_pad))
        for kh in range(KH):
            for kw in range(KW):
                for oh in range(OH):
                    h = oh * SH - PH + kh
                    if h < 0 or h >= H:
                        continue
                    for ow in range(OW):
                        w = ow * SW - PW + kw
                        if w >= 0 and w < W:
                            dx[n, c, h, w] += share[oh, ow]
