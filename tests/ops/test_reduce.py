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


@pytest.mark.parametrize("name, reference", [("sum", np.sum), ("mean", np.mean),
                                             ("amax", np.max), ("amin", np.min)])
@given(case=array_and_axis(), keepdims=st.booleans())
def test_reductions(name, reference, case, keepdims):
    x, axis = case
    if name in ("amax", "amin"):
        # values 0.1 apart, in x's order, keep finite differences away from ties (adding
        # 0.1 * index to x could still bring two values within eps of each other)
        ranks = np.argsort(np.argsort(x, axis=None)).reshape(x.shape)
        x = (ranks - x.size / 2) * 0.1
    op = getattr(F, name)
    expected = reference(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(op(mg.tensor(x), axis, keepdims).data, expected, rtol=1e-12)
    # NumPy's keywords, keyword-only, are the same call (and for max/min the values alone)
    numpy_name = {"amax": "max", "amin": "min"}.get(name, name)
    np.testing.assert_allclose(getattr(F, numpy_name)(mg.tensor(x), axis=axis,
                                                      keepdims=keepdims).data, expected,
                               rtol=1e-12)
    assert_gradients_match(lambda t: op(t, axis, keepdims), x)


@given(case=array_and_axis(min_dims=1), keepdims=st.booleans(), correction=st.sampled_from([0, 1]))
def test_var(case, keepdims, correction):
    x, axis = case
    count = x.size if axis is None else int(np.prod([x.shape[a] for a in np.atleast_1d(axis)]))
    if count <= correction:
        return
    np.testing.assert_allclose(F.var(mg.tensor(x), axis, keepdim=keepdims,
                                     correction=correction).data,
                               np.var(x, axis=axis, keepdims=keepdims, ddof=correction),
                               rtol=1e-10, atol=1e-12)
    assert_gradients_match(lambda t: F.var(t, axis, keepdim=keepdims, correction=correction), x)


def test_var_keeps_correction_and_keepdim_keyword_only():
    """torch's old var(dim, unbiased) form must fail, not run with keepdim=True."""
    with pytest.raises(TypeError):
        mg.tensor(np.ones((2, 3))).var(1, True)


@given(case=array_and_axis(min_dims=1), keepdim=st.booleans(), data=st.data())
def test_max_and_min_along_a_dim_return_values_and_indices(case, keepdim, data):
    x, _ = case
    x = np.round(x)                                   # ties: the first extreme is chosen
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    for name, find in (("max", np.argmax), ("min", np.argmin)):
        values, indices = getattr(mg.tensor(x), name)(dim, keepdim)
        expected_indices = find(x, axis=dim, keepdims=keepdim)
        np.testing.assert_array_equal(indices.data, expected_indices)
        assert indices.dtype == np.int64 and not indices.requires_grad
        np.testing.assert_array_equal(values.data, getattr(np, name)(x, axis=dim,
                                                                     keepdims=keepdim))
    # the gradient goes to the chosen index only, even between ties
    t = leaf(x)
    values, indices = t.max(dim, keepdim=True)
    weights = np.random.default_rng(0).standard_normal(values.shape)
    values.backward(weights)
    expected = np.zeros_like(x)
    np.put_along_axis(expected, indices.data, weights, axis=dim)
    np.testing.assert_array_equal(t.grad, expected)


def test_max_of_a_batch_of_two_unpacks_into_values_and_indices():
    """The silent trap: with values only, `v, i = logits.max(1)` unpacked the two rows."""
    logits = mg.tensor([[0.1, 2.0, 0.3], [5.0, 0.2, 0.1]])
    values, indices = logits.max(1)
    np.testing.assert_array_equal(values.data, np.float32([2.0, 5.0]))
    np.testing.assert_array_equal(indices.data, [1, 0])
    assert logits.max(1).indices is not None and logits.min(dim=1).values.shape == (2,)
    np.testing.assert_array_equal(logits.max(axis=1).data, np.float32([2.0, 5.0]))  # NumPy's
    np.testing.assert_array_equal(logits.max(mg.tensor(1.0)).data,
                                  np.maximum(logits.data, 1.0))
    with pytest.raises(TypeError, match="one dim"):
        logits.max(dim=(0, 1))
    with pytest.raises(TypeError, match="not both"):
        logits.sum(dim=0, axis=1)


def test_argmax_and_argmin():
    x = np.array([[1.0, 7.0, 7.0], [4.0, 0.0, 4.0]])
    t = mg.tensor(x)
    assert t.argmax().item() == 1 and t.argmin().item() == 4
    np.testing.assert_array_equal(t.argmax(1).data, [1, 0])
    np.testing.assert_array_equal(t.argmin(dim=0, keepdim=True).data, [[0, 1, 1]])
    np.testing.assert_array_equal(F.argmax(t, -1).data, [1, 0])
    np.testing.assert_array_equal(t.argmax(axis=1, keepdims=True).data, [[1], [0]])   # NumPy's


def test_max_min_and_argmax_against_torch():
    torch = torch_or_skip()
    x = np.round(np.random.default_rng(2).normal(size=(4, 5, 3)))
    for dim in (0, 1, -1):
        ours, theirs = leaf(x), torch.tensor(x, requires_grad=True)
        (values, indices), expected = ours.max(dim), theirs.max(dim)
        (low, low_indices), expected_low = ours.min(dim, True), theirs.min(dim, True)
        np.testing.assert_array_equal(indices.data, expected.indices.numpy())
        np.testing.assert_array_equal(low_indices.data, expected_low.indices.numpy())
        np.testing.assert_array_equal(ours.argmax(dim).data, theirs.argmax(dim).numpy())
        (values.sum() + 2 * low.sum() + 3 * ours.amax(dim).sum()).backward()
        (expected.values.sum() + 2 * expected_low.values.sum()
         + 3 * theirs.amax(dim).sum()).backward()
        np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())


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
    (m.var(dim=(0, 2)) * m.mean(dim=(0, 2))).sum().backward()
    np.testing.assert_allclose(m.grad, t.grad.numpy(), rtol=1e-10)
