"""kernels/bcos.py: the fast twins of the B-cos convolution and linear layer against the
readable ones (equal to rounding: the fast convolution takes the patch norms from the per-pixel
squared norms, and both sum in other orders), the convolution on one part of the batch and on
two threads."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from minigrad.kernels import bcos as K
from minigrad.kernels import parallel
from minigrad.kernels._numba import HAVE_NUMBA
from minigrad.ops.conv import conv_geometry

needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")


def upstream(out):
    """dL/dout, the same for both twins: a function of out's shape, not of its values (from
    each twin's own out, cos(out) amplified float32 rounding of out ~ 50 into the gradients)."""
    return np.cos(np.arange(out.size)).reshape(out.shape).astype(out.dtype)


def twin_result(twin, x, w, geometry, units, b, detach, needs=(True, True), encoded=False):
    """(out, dx, dW) of one convolution twin, its backward after its own forward."""
    out, saved = getattr(K, f"bcos_conv2d_forward_{twin}")(x, w, geometry, units, b, 1e-6,
                                                           encoded)
    grads = getattr(K, f"bcos_conv2d_backward_{twin}")(upstream(out), saved, w, x.shape,
                                                       geometry, units, b, detach, needs,
                                                       encoded)
    return (out, *grads)


def linear_twin_result(twin, x, w, units, b, detach, needs=(True, True)):
    """(out, dx, dW) of one linear twin, its backward after its own forward."""
    out, saved = getattr(K, f"bcos_linear_forward_{twin}")(x, w, units, b, 1e-6)
    grads = getattr(K, f"bcos_linear_backward_{twin}")(upstream(out), saved, w, units, b,
                                                       detach, needs)
    return (out, *grads)


def assert_twins_agree(x, w, geometry, units, b, detach, needs=(True, True), encoded=False):
    assert_equal_results(*(twin_result(twin, x, w, geometry, units, b, detach, needs, encoded)
                           for twin in ("numpy", "numba")), x.dtype)


def assert_equal_results(readable, fast, dtype):
    tolerance = 1e-11 if dtype == np.float64 else 1e-4
    for r, f in zip(readable, fast):
        assert (r is None) == (f is None)
        if r is not None:
            assert r.dtype == f.dtype == dtype
            np.testing.assert_allclose(f, r, rtol=tolerance, atol=tolerance)


cases = st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(4, 8), st.integers(1, 3),
                  st.sampled_from([1, 2, 3]), st.integers(0, 2), st.integers(1, 2),
                  st.integers(1, 2), st.integers(1, 2))


@needs_numba
@settings(deadline=None, max_examples=60)
@given(case=cases, dtype=st.sampled_from([np.float64, np.float32]),
       b=st.sampled_from([1.0, 1.5, 2.0, 2.5]), detach=st.booleans(),
       needs=st.sampled_from([(True, True), (True, False), (False, True)]),
       encoded=st.booleans())
def test_the_fast_twin_equals_the_readable_twin(case, dtype, b, detach, needs, encoded):
    """encoded: the readable twin builds [x, 1 - x], the fast one works on x alone."""
    n, c, size, k_out, kernel, padding, stride, dilation, units = case
    rng = np.random.default_rng(sum(case))
    x = rng.standard_normal((n, c, size, size)).astype(dtype)
    w = rng.standard_normal((k_out * units, 2 * c if encoded else c, kernel, kernel)
                            ).astype(dtype)
    assume(dilation * (kernel - 1) + 1 <= size + 2 * padding)      # else no window fits
    geometry = conv_geometry(x.shape, (kernel, kernel), (stride, stride),
                             (padding,) * 4, (dilation, dilation))
    assert_twins_agree(x, w, geometry, units, b, detach, needs, encoded)


@needs_numba
@pytest.mark.parametrize("units, b, detach, encoded", [(1, 2.0, False, False),
                                                       (2, 2.0, False, False),
                                                       (2, 1.5, True, False),
                                                       (1, 2.0, False, True)])
def test_parts_of_the_batch_on_two_threads_give_the_whole_batch_result(two_threads, units, b,
                                                                       detach, encoded):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 3, 7, 7))
    w = rng.standard_normal((4 * units, 6 if encoded else 3, 3, 3))
    geometry = conv_geometry(x.shape, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1))
    parallel.set_num_threads(1)
    whole = twin_result("numba", x, w, geometry, units, b, detach, encoded=encoded)
    parallel.set_num_threads(2)
    split = twin_result("numba", x, w, geometry, units, b, detach, encoded=encoded)
    assert two_threads[-1] == 2                    # the backward really ran in two parts
    for a, c in zip(whole, split):
        np.testing.assert_allclose(c, a, rtol=1e-12, atol=1e-12)
    assert_twins_agree(x, w, geometry, units, b, detach, encoded=encoded)


@needs_numba
@settings(deadline=None, max_examples=60)
@given(shape=st.tuples(st.integers(1, 5), st.integers(1, 9), st.integers(1, 4), st.integers(1, 3)),
       dtype=st.sampled_from([np.float64, np.float32]), b=st.sampled_from([1.0, 1.5, 2.0, 2.5]),
       detach=st.booleans(),
       needs=st.sampled_from([(True, True), (True, False), (False, True)]))
def test_the_fast_linear_twin_equals_the_readable_twin(shape, dtype, b, detach, needs):
    n, features, outputs, units = shape
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal((n, features)).astype(dtype)
    w = rng.standard_normal((outputs * units, features)).astype(dtype)
    assert_equal_results(*(linear_twin_result(twin, x, w, units, b, detach, needs)
                           for twin in ("numpy", "numba")), dtype)
