import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad.testing import arrays, assert_gradients_match, shapes
from tests.helpers import leaf, torch_or_skip


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


@given(arrays(away_from=0.0))
def test_relu_and_leaky_relu(x):
    np.testing.assert_array_equal(F.relu(mg.tensor(x)).data, np.maximum(x, 0))
    np.testing.assert_allclose(F.leaky_relu(mg.tensor(x), 0.1).data, np.where(x > 0, x, 0.1 * x))
    assert_gradients_match(F.relu, x)
    assert_gradients_match(lambda t: F.leaky_relu(t, 0.1), x)


def test_relu_propagates_nan_like_pytorch():
    x = np.array([np.nan, -1.0, 0.0, 2.0, np.inf, -np.inf], dtype=np.float32)
    t = mg.tensor(x, requires_grad=True)
    y = F.relu(t)
    np.testing.assert_array_equal(y.data, [np.nan, 0.0, 0.0, 2.0, np.inf, 0.0])
    assert y.dtype == np.float32
    y.backward(np.ones_like(x))
    np.testing.assert_array_equal(t.grad, [0.0, 0.0, 0.0, 1.0, 1.0, 0.0])   # x > 0 only


def test_relu_matches_torch_on_nan():
    torch = torch_or_skip()
    x = np.array([np.nan, -3.0, 0.5], dtype=np.float32)
    expected = torch.nn.functional.relu(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(F.relu(mg.tensor(x)).data, expected)


@given(arrays())
def test_tanh_and_sigmoid(x):
    np.testing.assert_allclose(F.tanh(mg.tensor(x)).data, np.tanh(x), rtol=1e-12)
    np.testing.assert_allclose(F.sigmoid(mg.tensor(x)).data, _sigmoid(x), rtol=1e-12)
    assert_gradients_match(F.tanh, x)
    assert_gradients_match(F.sigmoid, x)


def test_sigmoid_does_not_overflow():
    x = mg.tensor(np.array([-1000.0, -101.0, 0.0, 101.0, 1000.0], dtype=np.float32),
                  requires_grad=True)
    with np.errstate(over="raise"):
        y = F.sigmoid(x)
        y.sum().backward()
    np.testing.assert_allclose(y.data, [0, _sigmoid(-101.0), 0.5, 1, 1], atol=1e-30)
    assert np.all(np.isfinite(x.grad))


@st.composite
def array_and_axis(draw):
    x = draw(arrays(shapes(min_dims=1)))
    return x, draw(st.integers(-x.ndim, x.ndim - 1))


@given(array_and_axis())
def test_softmax_and_log_softmax(case):
    x, axis = case
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    expected = e / e.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(F.softmax(mg.tensor(x), axis).data, expected, rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(mg.tensor(x), axis).data, np.log(expected),
                               rtol=1e-10, atol=1e-12)
    assert_gradients_match(lambda t: F.softmax(t, axis), x)
    assert_gradients_match(lambda t: F.log_softmax(t, axis), x)


def test_softmax_is_stable_for_huge_logits():
    x = mg.tensor(np.array([[1e4, 0.0, -1e4]], dtype=np.float32), requires_grad=True)
    with np.errstate(over="raise", invalid="raise"):
        np.testing.assert_allclose(F.softmax(x).data, [[1, 0, 0]])
        np.testing.assert_allclose(F.log_softmax(x).data, [[0, -1e4, -2e4]])
        F.log_softmax(x)[0, 1].backward()
    np.testing.assert_allclose(x.grad, [[-1, 1, 0]])


def test_activations_against_torch():
    torch = torch_or_skip()
    x = np.random.default_rng(3).normal(size=(4, 5)) * 3
    t = torch.tensor(x, requires_grad=True)
    (torch.log_softmax(t, 0) * torch.softmax(t, 1) + torch.sigmoid(t) * torch.tanh(t)
     + torch.nn.functional.leaky_relu(t, 0.2)).sum().backward()
    m = leaf(x)
    (F.log_softmax(m, 0) * F.softmax(m, 1) + F.sigmoid(m) * F.tanh(m)
     + F.leaky_relu(m, 0.2)).sum().backward()
    np.testing.assert_allclose(m.grad, t.grad.numpy(), rtol=1e-10)


def test_tanh_and_sigmoid_of_integers_are_float32_as_in_torch():
    for function in (mg.tanh, mg.sigmoid):
        result = function(mg.tensor([0, 1, 2]))
        assert result.dtype == np.float32
        np.testing.assert_allclose(result.data, function(mg.tensor([0.0, 1.0, 2.0])).data)
