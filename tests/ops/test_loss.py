import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import functional as F
from minigrad.testing import arrays, assert_gradients_match
from tests.helpers import leaf, torch_or_skip

REDUCTIONS = ["mean", "sum", "none"]


@st.composite
def logits_and_labels(draw):
    n, classes = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    logits = draw(arrays((n, classes), min_value=-5, max_value=5))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, classes - 1)))
    return logits, labels


def _reference_cross_entropy(x, y, smoothing):
    log_p = x - x.max(1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(1, keepdims=True))
    target = np.full(x.shape, smoothing / x.shape[1])
    target[np.arange(len(y)), y] += 1 - smoothing
    return -(target * log_p).sum(1)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=logits_and_labels(), smoothing=st.sampled_from([0.0, 0.1]))
def test_cross_entropy(reduction, case, smoothing):
    x, y = case
    losses = _reference_cross_entropy(x, y, smoothing)
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    got = F.cross_entropy(mg.tensor(x), y, reduction=reduction,
                          label_smoothing=smoothing)
    np.testing.assert_allclose(got.data, expected, rtol=1e-10)
    assert_gradients_match(lambda t: F.cross_entropy(t, y, reduction=reduction,
                                                               label_smoothing=smoothing), x)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=logits_and_labels())
def test_nll_loss(reduction, case):
    x, y = case
    losses = -x[np.arange(len(y)), y]
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(F.nll_loss(mg.tensor(x), y, reduction=reduction).data, expected)
    assert_gradients_match(lambda t: F.nll_loss(t, y, reduction=reduction), x)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data())
def test_binary_cross_entropy_with_logits(reduction, data):
    x = data.draw(arrays())
    y = data.draw(arrays(x.shape, min_value=0.0, max_value=1.0))
    s = 1 / (1 + np.exp(-x))
    losses = -(y * np.log(s) + (1 - y) * np.log(1 - s))
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    bce = F.binary_cross_entropy_with_logits(mg.tensor(x), y, reduction=reduction)
    np.testing.assert_allclose(bce.data, expected, rtol=1e-9)
    assert_gradients_match(
        lambda t, u: F.binary_cross_entropy_with_logits(t, u, reduction=reduction), x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data())
def test_mse_loss(reduction, data):
    x = data.draw(arrays())
    y = data.draw(arrays(x.shape))
    losses = (x - y) ** 2
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    mse = F.mse_loss(mg.tensor(x), mg.tensor(y), reduction=reduction)
    np.testing.assert_allclose(mse.data, expected)
    assert_gradients_match(lambda t, u: F.mse_loss(t, u, reduction=reduction), x, y)


def test_losses_are_stable_for_extreme_logits():
    x = mg.tensor(np.array([[1e4, -1e4], [-1e4, 1e4]], dtype=np.float32), requires_grad=True)
    with np.errstate(over="raise", invalid="raise"):
        ce = F.cross_entropy(x, np.array([1, 1]))
        bce = F.binary_cross_entropy_with_logits(x, np.ones((2, 2), dtype=np.float32))
        (ce + bce).backward()
    np.testing.assert_allclose(ce.item(), 1e4, rtol=1e-6)
    np.testing.assert_allclose(bce.item(), 1e4 / 2, rtol=1e-6)
    assert np.all(np.isfinite(x.grad))


def test_bad_labels_are_reported():
    x = mg.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        F.cross_entropy(x, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"labels of shape \(2,\)"):
        F.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="labels must be integers"):
        F.nll_loss(x, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(x, np.array([0, 1]), reduction="avg")


def test_losses_against_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(6, 4)) * 3, rng.integers(0, 4, 6)
    t = torch.tensor(x, requires_grad=True)
    tf = torch.nn.functional
    (tf.cross_entropy(t, torch.tensor(y), label_smoothing=0.2)
     + tf.nll_loss(torch.log_softmax(t, 1), torch.tensor(y), reduction="sum")
     + tf.binary_cross_entropy_with_logits(t, torch.sigmoid(t.detach()))).backward()
    m = leaf(x)
    (F.cross_entropy(m, y, label_smoothing=0.2)
     + F.nll_loss(F.log_softmax(m, 1), y, reduction="sum")
     + F.binary_cross_entropy_with_logits(m, F.sigmoid(m).data)).backward()
    np.testing.assert_allclose(m.grad, t.grad.numpy(), rtol=1e-10)


def test_binary_cross_entropy_refuses_non_float_logits():
    logits = mg.tensor(np.array([True, False]))
    with pytest.raises(TypeError, match="expected floating-point logits, got dtype bool"):
        F.binary_cross_entropy_with_logits(logits, mg.tensor(np.array([1.0, 0.0])))


def test_a_missing_target_is_a_clear_error():
    with pytest.raises(TypeError, match=r"mse_loss: expected a target of the input's shape \(3,\)"):
        F.mse_loss(mg.tensor(np.zeros(3)), None)
