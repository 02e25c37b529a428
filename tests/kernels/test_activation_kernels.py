"""kernels/activation.py: ReLU's twins agree bit for bit -- NaN (and its sign), -0, infinities,
0-d, empty and strided arrays included -- and agree with NumPy's formula."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.kernels import activation

SPECIAL = [np.nan, -np.nan, 0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 3.5, -2.0]


def bits(a):
    """The array's bytes as unsigned integers: equal bits, so NaN == NaN and -0 != +0."""
    return a.view(np.dtype(f"u{a.dtype.itemsize}"))


def assert_same_bits(readable, fast):
    assert readable.shape == fast.shape and readable.dtype == fast.dtype
    np.testing.assert_array_equal(bits(readable), bits(fast))


arrays = st.sampled_from([np.float32, np.float64]).flatmap(
    lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0,
                                                     max_side=6),
                             elements=st.one_of(st.sampled_from(SPECIAL),
                                                st.floats(-1e6, 1e6, width=32))))


@settings(max_examples=60, deadline=None)
@given(x=arrays)
def test_the_relu_twins_agree_bit_for_bit(x):
    y_readable, positive_readable = activation.relu_forward_numpy(x)
    y_fast, positive_fast = activation.relu_forward_numba(x)
    assert_same_bits(y_readable, y_fast)
    np.testing.assert_array_equal(positive_readable, positive_fast)
    grad = np.flip(x).copy() if x.ndim else x.copy()           # signs, NaN and inf as gradients
    with np.errstate(invalid="ignore"):                         # inf * 0 = NaN, meant here
        readable = activation.relu_backward_numpy(grad, positive_readable)
    assert_same_bits(readable, activation.relu_backward_numba(grad, positive_fast))


def test_relu_is_the_formula_at_the_special_values():
    x = np.array(SPECIAL, dtype=np.float32)
    y, positive = activation.relu_forward_numba(x)
    np.testing.assert_array_equal(positive, x > 0)
    assert np.isnan(y[0]) and np.isnan(y[1]) and np.signbit(y[1])     # NaN stays NaN, sign too
    assert not np.signbit(y[3]) and y[3] == 0                          # -0 -> +0
    np.testing.assert_array_equal(y[2:], [0, 0, np.inf, 0, np.float32(1e-45), 0, 3.5, 0])
    grad = np.array([2.0, -1.0, np.nan, 4.0, -5.0, np.inf, 1.0, 1.0, -7.0, 8.0], np.float32)
    np.testing.assert_array_equal(activation.relu_backward_numba(grad, positive),
                                  [0, -0.0, np.nan, 0, -5.0, np.nan, 1.0, 0, -7.0, 0])


@pytest.mark.parametrize("dtype", [np.float16, np.int32])
def test_other_dtypes_run_the_numpy_lines(dtype, monkeypatch):
    def not_for_this_dtype(*arrays):
        raise AssertionError("a compiled loop ran on a dtype it does not take")
    monkeypatch.setattr(activation, "_relu_loop", not_for_this_dtype)
    monkeypatch.setattr(activation, "_masked_loop", not_for_this_dtype)
    x = np.array([[-2, 0, 3]], dtype=dtype)
    y, positive = activation.relu_forward_numba(x)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, [[0, 0, 3]])
    np.testing.assert_array_equal(activation.relu_backward_numba(x, positive), [[0, 0, 3]])


def test_a_strided_view_is_read_where_it_lies():
    x = np.arange(-12, 12, dtype=np.float32).reshape(4, 6)[:, ::2].T   # neither C nor F order
    y, positive = activation.relu_forward_numba(x)
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    np.testing.assert_array_equal(activation.relu_backward_numba(x, positive), x * (x > 0))
