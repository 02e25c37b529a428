"""kernels/norm.py: the uncentred batch norm's twins agree (to rounding: the Numba twins sum in
float64 in another order) on 2-D and 4-D inputs, float32 and float64, a broadcast gradient and
an empty batch, and the NumPy twins equal NumPy's mean, var and the formula of dx."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minigrad.kernels import norm

TOLERANCE = {np.float64: {"rtol": 1e-12, "atol": 1e-12}, np.float32: {"rtol": 2e-5, "atol": 2e-5}}


@st.composite
def cases(draw):
    shape = draw(st.one_of(st.tuples(st.integers(1, 9), st.integers(1, 5)),
                           st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 6),
                                     st.integers(1, 6))))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = (rng.standard_normal(shape) * 2 + draw(st.floats(-3, 3))).astype(dtype)
    grad = rng.standard_normal(shape).astype(dtype)
    scale, inv_std = (rng.random(shape[1]).astype(dtype) + 0.5 for _ in range(2))
    return x, grad, scale, inv_std


def assert_twins_agree(a, b, dtype):
    assert (a is None) == (b is None)
    if a is not None:
        assert a.dtype == b.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, **TOLERANCE[dtype.type])


@settings(deadline=None)
@given(cases(), st.booleans(), st.booleans())
def test_twins_agree(case, through_var, need_x):
    x, grad, scale, inv_std = case
    mu = x.mean(axis=(0,) + tuple(range(2, x.ndim))) if through_var else None
    for name, args in (("channel_moments", (x,)), ("scale_channels", (x, scale)),
                       ("uncentered_norm_backward",
                        (grad, x, mu, scale, inv_std, through_var, need_x))):
        readable = getattr(norm, f"{name}_numpy")(*args)
        fast = getattr(norm, f"{name}_numba")(*args)
        for a, b in zip(*(r if isinstance(r, tuple) else (r,) for r in (readable, fast))):
            assert_twins_agree(a, b, x.dtype)


@pytest.mark.parametrize("twin", ["numpy", "numba"])
def test_each_twin_is_the_formula(twin):
    rng = np.random.default_rng(0)
    x, grad = rng.normal(1.0, 2.0, (3, 2, 4, 5)), rng.standard_normal((1, 2, 1, 5))
    grad = np.broadcast_to(grad, x.shape)                # a broadcast view, as sum() passes back
    scale, inv_std = np.array([0.5, -2.0]), np.array([1.5, 0.25])
    mu, var = getattr(norm, f"channel_moments_{twin}")(x)
    np.testing.assert_allclose(mu, x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(var, x.var(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(getattr(norm, f"scale_channels_{twin}")(x, scale),
                               x * scale[:, None, None], rtol=1e-15)
    dx, sum_gx = getattr(norm, f"uncentered_norm_backward_{twin}")(grad, x, mu, scale, inv_std,
                                                                   True, True)
    expected_sum = (grad * x).sum(axis=(0, 2, 3))
    np.testing.assert_allclose(sum_gx, expected_sum, rtol=1e-12)
    view = (slice(None), None, None)
    np.testing.assert_allclose(dx, grad * scale[view] - (x - mu[view])
                               * (scale * inv_std ** 2 * expected_sum / 60)[view], rtol=1e-12)


@pytest.mark.filterwarnings("ignore:Mean of empty slice")       # NumPy's, as Var's before
@pytest.mark.parametrize("twin", ["numpy", "numba"])
def test_an_empty_batch_has_nan_moments(twin):
    mu, var = getattr(norm, f"channel_moments_{twin}")(np.zeros((0, 3, 2, 2), np.float32))
    assert mu.shape == var.shape == (3,) and np.isnan(mu).all() and np.isnan(var).all()
