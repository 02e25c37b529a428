import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad.testing import arrays, assert_gradients_match, shapes
from tests.helpers import leaf, torch_or_skip


@st.composite
def array_and_axis(draw, min_dims=0):
    x = draw(arrays(shapes(min_dims=min_dims)))
    if x.ndim == 0:
        return x, None
    axes = draw(st.lists(st.integers(-x.ndim, x.ndim - 1), unique_by=lambda a: a % x.ndim,
                         max_size=x.ndim))
    axis = draw(st.sampled_from([None, tuple(axes)] + ([axes[0]] if axes else [])))
    return x, axis


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@given(case=array_and_axis(), keepdims=st.booleans())
def test_reductions(name, case, keepdims):
    x, axis = case
    if name in ("max", "min"):
        # distinct values keep finite differences away from ties
        x = x + np.arange(x.size).reshape(x.shape) * 0.1
    op, reference = getattr(F, name), getattr(np, name)
    np.testing.assert_allclose(op(mg.tensor(x), axis, keepdims).data,
                               reference(x, axis=axis, keepdims=keepdims), rtol=1e-12)
    assert_gradients_match(lambda t: op(t, axis, keepdims), x)


@given(case=array_and_axis(min_dims=1), keepdims=st.booleans(), correction=st.sampled_from([0, 1]))
def test_var(case, keepdims, correction):
    x, axis = case
    count = x.size if axis is None else int(np.prod([x.shape[a] for a in np.atleast_1d(axis)]))
    if count <= correction:
        return
    np.testing.assert_allclose(F.var(mg.tensor(x), axis, keepdims, correction).data,
                               np.var(x, axis=axis, keepdims=keepdims, ddof=correction),
                               rtol=1e-10, atol=1e-12)
    assert_gradients_match(lambda t: F.var(t, axis, keepdims, correction), x)


def test_max_shares_gradient_between_ties():
    x = leaf([1.0, 3.0, 3.0, 2.0])
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0, 0.5, 0.5, 0])


def test_axis_out_of_range():
    with pytest.raises(ValueError, match="axis 2 is out of range.*2 dimensions"):
        mg.tensor(np.zeros((2, 3))).sum(axis=2)


def test_var_and_mean_against_torch():
    torch = torch_or_skip()
    x = np.random.default_rng(1).normal(size=(3, 4, 5))
    t = torch.tensor(x, requires_grad=True)
    (t.var(dim=(0, 2)) * t.mean(dim=(0, 2))).sum().backward()
    m = leaf(x)
    (m.var(axis=(0, 2)) * m.mean(axis=(0, 2))).sum().backward()
    np.testing.assert_allclose(m.grad, t.grad.numpy(), rtol=1e-10)
