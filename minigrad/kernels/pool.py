"""Pooling kernels: max and average pooling, forward and backward, on NCHW arrays.

    x     (N, C, H, W)         input
    out   (N, C, OH, OW)       out[n, c, oh, ow] pools the window of rows oh*SH - PH + [0, KH)
                               and columns ow*SW - PW + [0, KW)
    arg   (N, C, OH, OW)       max pooling only: where the winner is in its window, kh*KW + kw,
                               as uint8 (int32 for windows of more than 256 elements): a quarter
                               of int32's memory traffic; `max_pool2d_winners` turns it into the
                               winner's flat index h*W + w in its input plane

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


def window_index_dtype(KH, KW):
    """The dtype of max pooling's `arg`: the smallest that holds every offset kh*KW + kw."""
    return np.uint8 if KH * KW <= 256 else np.int32


def max_pool2d_forward_numpy(x, KH, KW, OH, OW, SH, SW, PH, PW):
    """x (N, C, H, W) -> (out (N, C, OH, OW), arg (N, C, OH, OW): the winner's kh*KW + kw).
    Readable twin."""
    N, C, H, W = x.shape
    xp = _pad(x, OH, OW, KH, KW, SH, SW, PH, PW, -np.inf)
    h_start = np.arange(OH) * SH - PH                   # first input row of each window
    w_start = np.arange(OW) * SW - PW
    out = np.full((N, C, OH, OW), -np.inf, dtype=x.dtype)
    # until something beats -inf, point at the window's first real element (as PyTorch does)
    first = (np.maximum(h_start, 0) - h_start)[:, None] * KW + \
        (np.maximum(w_start, 0) - w_start)[None, :]
    arg = np.broadcast_to(first, (N, C, OH, OW)).astype(window_index_dtype(KH, KW))
    for kh in range(KH):
        for kw in range(KW):
            v = _window(xp, kh, kw, OH, OW, SH, SW)
            better = (v > out) | np.isnan(v)           # strict '>': the first maximum keeps ties
            out = np.where(better, v, out)
            arg[better] = kh * KW + kw
    return out, arg


def max_pool2d_winners(arg, x_shape, KH, KW, OH, OW, SH, SW, PH, PW):
    """Each window's winner as its flat index h*W + w in its input plane, from its offset
    kh*KW + kw in the window (the `arg` of max_pool2d_forward). -> int64 (N, C, OH, OW)."""
    W = x_shape[3]
    kh, kw = np.divmod(arg.astype(np.int64), KW)
    h = (np.arange(OH) * SH - PH)[:, None] + kh         # (N, C, OH, OW)
    w = (np.arange(OW) * SW - PW)[None, :] + kw
    return h * W + w


def max_pool2d_backward_numpy(dout, arg, x_shape, KH, KW, OH, OW, SH, SW, PH, PW):
    """Route each dout element to its window's winner: dx.flat[winner] += dout. Readable twin."""
    N, C, H, W = x_shape
    winners = max_pool2d_winners(arg, x_shape, KH, KW, OH, OW, SH, SW, PH, PW)
    dx = np.zeros((N * C, H * W), dtype=dout.dtype)
    plane = np.arange(N * C)[:, None]                   # which (n, c) plane each output is in
    np.add.at(dx, (plane, winners.reshape(N * C, -1)), dout.reshape(N * C, -1))   # shared add
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
    arg = np.empty(x.shape[:2] + (OH, OW), dtype=window_index_dtype(KH, KW))
    _on_parts(_max_pool2d_forward, out.size * KH * KW, x, out, arg, KH, KW, SH, SW, PH, PW)
    return out, arg


# The window's size and stride as compile-time constants make the loops over the window
# unrollable, and LLVM then turns the compares into selects over several windows at once, which
# the same loop with the sizes as variables cannot (benchmarks/README.md, #29). So the usual
# windows get a call with constants of their own; the others, the same loop.
@njit(cache=True, nogil=True)
def _max_pool2d_forward(x, out, arg, KH, KW, SH, SW, PH, PW):
    H, W = x.shape[2], x.shape[3]
    OH, OW = out.shape[2], out.shape[3]
    if PH or PW or (OH - 1) * SH + KH > H or (OW - 1) * SW + KW > W:
        _max_pool2d_clipped(x, out, arg, KH, KW, SH, SW, PH, PW)   # windows reach outside
    elif KH == 2 and KW == 2 and SH == 2 and SW == 2:
        _max_pool2d_inside(x, out, arg, 2, 2, 2, 2)
    elif KH == 3 and KW == 3 and SH == 2 and SW == 2:
        _max_pool2d_inside(x, out, arg, 3, 3, 2, 2)
    elif KH == 3 and KW == 3 and SH == 1 and SW == 1:
        _max_pool2d_inside(x, out, arg, 3, 3, 1, 1)
    else:
        _max_pool2d_inside(x, out, arg, KH, KW, SH, SW)


@njit(cache=True, nogil=True)
def _max_pool2d_inside(x, out, arg, KH, KW, SH, SW):
    """Every window inside the input (no padding, no ceil_mode overhang): nothing to clip."""
    N, C = x.shape[0], x.shape[1]
    OH, OW = out.shape[2], out.shape[3]
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                o, a = out[n, c, oh], arg[n, c, oh]
                for ow in range(OW):
                    best, best_k = x[n, c, oh * SH, ow * SW], 0
                    for kh in range(KH):
                        row = x[n, c, oh * SH + kh]
                        for kw in range(KW):
                            v = row[ow * SW + kw]
                            if v > best or v != v:         # v != v: NaN, which propagates
                                best, best_k = v, kh * KW + kw
                    o[ow], a[ow] = best, best_k


@njit(cache=True, nogil=True)
def _max_pool2d_clipped(x, out, arg, KH, KW, SH, SW, PH, PW):
    """Any windows: each one clipped to the input (-inf padding never wins)."""
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    xf, of, af = x.reshape(-1), out.reshape(-1), arg.reshape(-1)   # flat views, as in im2col:
    u = np.uint64                                  # unsigned indices skip the wraparound branch
    for nc in range(N * C):                        # (that x[n, c, h, w] indexing would take)
        plane = u(nc * H * W)                      # xf[plane + h*W + w] is x[n, c, h, w]
        for oh in range(OH):
            h0 = oh * SH - PH
            h_lo, h_hi = max(h0, 0), min(h0 + KH, H)
            for ow in range(OW):
                w0 = ow * SW - PW
                w_lo, w_hi = max(w0, 0), min(w0 + KW, W)
                best = xf[plane + u(h_lo * W + w_lo)]   # the window's first real element
                best_k = (h_lo - h0) * KW + w_lo - w0
                for h in range(h_lo, h_hi):
                    for w in range(w_lo, w_hi):
                        v = xf[plane + u(h * W + w)]
                        if v > best or v != v:
                            best, best_k = v, (h - h0) * KW + w - w0
                o = u((nc * OH + oh) * OW + ow)
                of[o], af[o] = best, best_k


def max_pool2d_backward_numba(dout, arg, x_shape, KH, KW, OH, OW, SH, SW, PH, PW):
    """Fast twin of `max_pool2d_backward_numpy`."""
    dx = np.empty(tuple(x_shape), dtype=dout.dtype)
    _on_parts(_max_pool2d_backward, dout.size, dout, arg, dx, KH, KW, SH, SW, PH, PW)
    return dx


@njit(cache=True, nogil=True)
def _max_pool2d_backward(dout, arg, dx, KH, KW, SH, SW, PH, PW):
    if PH == 0 and PW == 0 and KH == 2 and KW == 2 and SH == 2 and SW == 2:
        _max_pool2d_scatter(dout, arg, dx, 2, 2, 2, 2, 0, 0)       # constants, as in forward
    elif PH == 0 and PW == 0 and KH == 3 and KW == 3 and SH == 2 and SW == 2:
        _max_pool2d_scatter(dout, arg, dx, 3, 3, 2, 2, 0, 0)
    else:
        _max_pool2d_scatter(dout, arg, dx, KH, KW, SH, SW, PH, PW)


@njit(cache=True, nogil=True)
def _max_pool2d_scatter(dout, arg, dx, KH, KW, SH, SW, PH, PW):
    N, C, OH, OW = dout.shape
    H, W = dx.shape[2], dx.shape[3]
    df = dx.reshape(-1)                  # flat, unsigned indices: no wraparound branch (im2col)
    u = np.uint64
    for n in range(N):
        for c in range(C):
            plane = (n * C + c) * H * W
            df[plane:plane + H * W] = 0                # zeroed here: in parallel, and in cache
            for oh in range(OH):
                for ow in range(OW):
                    kh, kw = divmod(u(arg[n, c, oh, ow]), u(KW))      # the winner's window place
                    corner = plane + (oh * SH - PH) * W + ow * SW - PW  # may lie in the padding
                    df[u(corner) + kh * u(W) + kw] += dout[n, c, oh, ow]


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
