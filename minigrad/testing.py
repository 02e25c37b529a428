"""Hypothesis strategies and gradient assertions, to property-test your own ops.

    from hypothesis import given
    from minigrad.testing import arrays, assert_gradients_match, assert_second_gradients_match

    @given(arrays())
    def test_my_op(x):
        assert_gradients_match(my_op, x)
        assert_second_gradients_match(my_op, x)       # gradients of gradients (gradgradcheck)

Needs `hypothesis` (the `test` extra). Arrays are float64, so finite differences are accurate.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.gradcheck import gradcheck, gradgradcheck
from minigrad.tensor import Tensor


def shapes(min_dims=0, max_dims=4, min_side=1, max_side=5):
    """Array shapes, including 0-d () and size-1 axes."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def arrays(shape=None, min_value=-3.0, max_value=3.0, away_from=None, margin=1e-2):
    """float64 arrays of the given shape (or a random one) with values in [min_value, max_value].

    `away_from`: points where the op is not differentiable (e.g. 0 for relu and abs); values
    within `margin` of them are pushed out, so central differences never straddle a kink.
    """
    elements = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False)
    strategy = hnp.arrays(np.float64, shape if shape is not None else shapes(), elements=elements)
    if away_from is None:
        return strategy
    return strategy.map(lambda a: _push_away(a, np.atleast_1d(away_from), margin))


def _push_away(a, points, margin):
    a = a.copy()
    for p in points:
        close = np.abs(a - p) < margin
        a[close] = p + np.where(a[close] >= p, margin, -margin)
    return a


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4):
    """Tuples of shapes that broadcast together, e.g. ((3, 1), (2, 1, 4))."""
    return hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims,
                                             max_dims=max_dims, max_side=max_side).map(
        lambda result: result.input_shapes)


def assert_gradients_match(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Assert fn's autograd gradients equal central differences for every array input.

    Arrays (and NumPy float scalars) become float64 Tensors that require grad; Tensors and other
    arguments pass unchanged.
    """
    gradcheck(fn, *_leaves(inputs), eps=eps, atol=atol, rtol=rtol)


def assert_second_gradients_match(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Assert fn's second derivatives (autograd with create_graph=True) equal central
    differences of its first derivatives (`gradgradcheck`); inputs as `assert_gradients_match`."""
    gradgradcheck(fn, *_leaves(inputs), eps=eps, atol=atol, rtol=rtol)


def _leaves(inputs):
    """Arrays (and NumPy float scalars) as float64 Tensors that require grad; the rest as given."""
    return [Tensor(np.array(x, dtype=np.float64), requires_grad=True)
            if isinstance(x, (np.ndarray, np.floating)) else x for x in inputs]
