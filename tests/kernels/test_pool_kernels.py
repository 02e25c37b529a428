"""Pooling kernels: the Numba twins against the NumPy twins, and the tie rule."""
import numpy as np
from hypothesis import assume, given, strategies as st

from minigrad.kernels import pool as K
from minigrad.ops.pool import pool_output_size


@st.composite
def pool_cases(draw):
    """(x, geometry) with padding <= kernel/2, with and without ceil_mode's last partial
    window; some inputs rounded to force ties."""
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    KH, KW, SH, SW = (draw(st.integers(1, 4)) for _ in range(4))
    PH, PW = draw(st.integers(0, KH // 2)), draw(st.integers(0, KW // 2))
    assume(KH <= H + 2 * PH and KW <= W + 2 * PW)
    ceil_mode = draw(st.booleans())
    OH, OW = pool_output_size(H, KH, SH, PH, ceil_mode), pool_output_size(W, KW, SW, PW, ceil_mode)
    assume(OH >= 1 and OW >= 1)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((N, C, H, W))
    if draw(st.booleans()):
        x = np.round(x)                                   # many ties
    return x, (KH, KW, OH, OW, SH, SW, PH, PW), rng


@given(pool_cases(), st.sampled_from([np.float64, np.float32]))
def test_max_pool_twins_agree(case, dtype):
    x, g, rng = case
    x = x.astype(dtype)
    out_np, arg_np = K.max_pool2d_forward_numpy(x, *g)
    out_nb, arg_nb = K.max_pool2d_forward_numba(x, *g)
    np.testing.assert_array_equal(out_nb, out_np)
    np.testing.assert_array_equal(arg_nb, arg_np)
    assert out_nb.dtype == dtype
    dout = rng.standard_normal(out_np.shape).astype(dtype)
    tol = 0 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(K.max_pool2d_backward_numba(dout, arg_np, x.shape, *g),
                               K.max_pool2d_backward_numpy(dout, arg_np, x.shape, *g), rtol=tol,
                               atol=tol)


@given(st.sampled_from([(2, 2, 2, 2), (3, 3, 2, 2), (3, 3, 1, 1), (2, 3, 1, 2)]),
       st.integers(1, 3), st.integers(1, 4), st.integers(3, 13), st.integers(3, 13),
       st.integers(0, 2**32 - 1), st.sampled_from([np.float64, np.float32]))
def test_max_pool_twins_agree_at_the_windows_compiled_with_constant_sizes(window, N, C, H, W,
                                                                          seed, dtype):
    """The Numba forward and backward have their own calls for 2x2 stride 2, 3x3 stride 2 and
    3x3 stride 1 (windows inside the input): odd and even sizes, ties, NaNs."""
    KH, KW, SH, SW = window
    OH, OW = pool_output_size(H, KH, SH, 0), pool_output_size(W, KW, SW, 0)
    rng = np.random.default_rng(seed)
    x = np.round(rng.standard_normal((N, C, H, W)) * 2).astype(dtype)        # many ties
    x[rng.random(x.shape) < 0.05] = np.nan
    g = (KH, KW, OH, OW, SH, SW, 0, 0)
    out_np, arg_np = K.max_pool2d_forward_numpy(x, *g)
    out_nb, arg_nb = K.max_pool2d_forward_numba(x, *g)
    np.testing.assert_array_equal(out_nb, out_np)
    np.testing.assert_array_equal(arg_nb, arg_np)
    dout = rng.standard_normal(out_np.shape).astype(dtype)
    np.testing.assert_array_equal(K.max_pool2d_backward_numba(dout, arg_np, x.shape, *g),
                                  K.max_pool2d_backward_numpy(dout, arg_np, x.shape, *g))


@given(pool_cases())
def test_the_winners_hold_the_maxima(case):
    """max_pool2d_winners turns each window offset into the flat index of an element of the
    input plane that equals the window's maximum, inside the window."""
    x, g, _ = case
    KH, KW, OH, OW, SH, SW, PH, PW = g
    N, C, H, W = x.shape
    out, arg = K.max_pool2d_forward_numba(x, *g)
    flat = K.max_pool2d_winners(arg, x.shape, *g)
    np.testing.assert_array_equal(np.take_along_axis(x.reshape(N, C, -1),
                                                     flat.reshape(N, C, -1), 2),
                                  out.reshape(N, C, -1))
    h, w = np.divmod(flat, W)
    assert (h >= (np.arange(OH) * SH - PH)[:, None]).all()
    assert (h < (np.arange(OH) * SH - PH + KH)[:, None]).all()
    assert (w >= np.arange(OW) * SW - PW).all() and (w < np.arange(OW) * SW - PW + KW).all()


@given(pool_cases(), st.booleans(), st.sampled_from([np.float64, np.float32]))
def test_avg_pool_twins_agree(case, count_include_pad, dtype):
    x, g, rng = case
    x = x.astype(dtype)
    tol = 0 if dtype == np.float64 else 1e-6
    out = K.avg_pool2d_forward_numpy(x, *g, count_include_pad)
    np.testing.assert_allclose(K.avg_pool2d_forward_numba(x, *g, count_include_pad), out,
                               rtol=tol, atol=tol)
    dout = rng.standard_normal(out.shape).astype(dtype)
    np.testing.assert_allclose(K.avg_pool2d_backward_numba(dout, x.shape, *g, count_include_pad),
                               K.avg_pool2d_backward_numpy(dout, x.shape, *g, count_include_pad),
                               rtol=tol, atol=tol)


def test_max_pool_first_maximum_wins_ties_and_padding_never_wins():
    x = np.array([[[[-1.0, -1.0], [-1.0, -1.0]]]])      # all equal and negative
    for fwd in (K.max_pool2d_forward_numpy, K.max_pool2d_forward_numba):
        out, arg = fwd(x, 3, 3, 1, 1, 1, 1, 1, 1)       # 3x3 window, padding 1 around a 2x2
        assert out[0, 0, 0, 0] == -1.0                  # not the padding
        assert arg[0, 0, 0, 0] == 1 * 3 + 1             # the first of the four tied elements,
        # x[0, 0, 0, 0], at (1, 1) in the window that starts at (-1, -1)


def test_avg_pool_divisor_with_and_without_padding():
    x = np.ones((1, 1, 2, 2))
    for fwd in (K.avg_pool2d_forward_numpy, K.avg_pool2d_forward_numba):
        assert fwd(x, 2, 2, 2, 2, 1, 1, 1, 1, True)[0, 0, 0, 0] == 0.25    # 1 real of 4
        assert fwd(x, 2, 2, 2, 2, 1, 1, 1, 1, False)[0, 0, 0, 0] == 1.0


def test_max_pool_arg_is_a_compact_window_offset_in_both_twins_and_nan_propagates():
    x = np.array([[[[1.0, np.nan, 3.0, 2.0], [0.0, -1.0, 4.0, 5.0]]]], dtype=np.float32)
    results = [fwd(x, 2, 2, 1, 2, 2, 2, 0, 0)
               for fwd in (K.max_pool2d_forward_numpy, K.max_pool2d_forward_numba)]
    for out, arg in results:
        assert arg.dtype == np.uint8
        assert np.isnan(out[0, 0, 0, 0]) and out[0, 0, 0, 1] == 5.0
        np.testing.assert_array_equal(arg, [[[[1, 3]]]])       # kh*KW + kw in the window
        np.testing.assert_array_equal(arg, results[0][1])


def test_max_pool_arg_is_int32_for_windows_of_more_than_256_elements():
    x = np.random.default_rng(0).standard_normal((1, 2, 17, 16))
    x[0, 1, 16, 15] = 10.0                              # the last offset, 271, wins
    for fwd in (K.max_pool2d_forward_numpy, K.max_pool2d_forward_numba):
        out, arg = fwd(x, 17, 16, 1, 1, 1, 1, 0, 0)
        assert arg.dtype == np.int32 and arg[0, 1, 0, 0] == 16 * 16 + 15
