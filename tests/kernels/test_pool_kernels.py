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
    np.testing.assert_allclose(K.max_pool2d_backward_numba(dout, arg_np, x.shape),
                               K.max_pool2d_backward_numpy(dout, arg_np, x.shape), rtol=tol,
                               atol=tol)


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
        assert arg[0, 0, 0, 0] == 0                     # the first of the four tied elements


def test_avg_pool_divisor_with_and_without_padding():
    x = np.ones((1, 1, 2, 2))
    for fwd in (K.avg_pool2d_forward_numpy, K.avg_pool2d_forward_numba):
        assert fwd(x, 2, 2, 2, 2, 1, 1, 1, 1, True)[0, 0, 0, 0] == 0.25    # 1 real of 4
        assert fwd(x, 2, 2, 2, 2, 1, 1, 1, 1, False)[0, 0, 0, 0] == 1.0


def test_max_pool_arg_is_int32_in_both_twins_and_nan_propagates():
    x = np.array([[[[1.0, np.nan, 3.0, 2.0], [0.0, -1.0, 4.0, 5.0]]]], dtype=np.float32)
    results = [fwd(x, 2, 2, 1, 2, 2, 2, 0, 0)
               for fwd in (K.max_pool2d_forward_numpy, K.max_pool2d_forward_numba)]
    for out, arg in results:
        assert arg.dtype == np.int32
        assert np.isnan(out[0, 0, 0, 0]) and out[0, 0, 0, 1] == 5.0
        np.testing.assert_array_equal(arg, results[0][1])
