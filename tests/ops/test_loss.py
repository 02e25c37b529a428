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
    assert np.all(np.isfinite(np.asarray(x.grad)))


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
    np.testing.assert_allclose(np.asarray(m.grad), t.grad.numpy(), rtol=1e-10)


def test_binary_cross_entropy_refuses_non_float_logits():
    logits = mg.tensor(np.array([True, False]))
    with pytest.raises(TypeError, match="expected floating-point logits, got dtype bool"):
        F.binary_cross_entropy_with_logits(logits, mg.tensor(np.array([1.0, 0.0])))


def test_a_missing_target_is_a_clear_error():
    with pytest.raises(TypeError, match=r"mse_loss: expected a target of the input's shape \(3,\)"):
        F.mse_loss(mg.tensor(np.zeros(3)), None)


# ----- class weights and ignore_index (PyTorch's rules) ------------------------------------------
IGNORE = -100


@st.composite
def weighted_case(draw):
    """(N, C) logits, labels some of which are IGNORE, and (C,) positive class weights or None."""
    x, y = draw(logits_and_labels())
    ignored = draw(hnp.arrays(np.bool_, y.shape))
    y = np.where(ignored, IGNORE, y)
    weight = draw(st.one_of(st.none(), arrays((x.shape[1],), min_value=0.1, max_value=2.0)))
    return x, y, weight


def _reference_weighted_losses(log_p, y, weight, smoothing):
    """Per-sample losses and the mean's denominator, sample by sample (PyTorch's documented
    formula: loss_i = (1 - e) w[y_i] (-log p[i, y_i]) + e / C sum_c w_c (-log p[i, c]))."""
    classes = log_p.shape[1]
    w = np.ones(classes) if weight is None else weight
    losses, total = np.zeros(len(y)), 0.0
    for i, label in enumerate(y):
        if label == IGNORE:
            continue
        losses[i] = (-(1 - smoothing) * w[label] * log_p[i, label]
                     - smoothing / classes * (w * log_p[i]).sum())
        total += w[label]
    return losses, total


def _log_softmax(x):
    shifted = x - x.max(1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(1, keepdims=True))


def _reduced(losses, total, reduction):
    with np.errstate(invalid="ignore"):
        return {"mean": losses.sum() / total if total else np.nan, "sum": losses.sum(),
                "none": losses}[reduction]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=weighted_case(), smoothing=st.sampled_from([0.0, 0.2]))
def test_cross_entropy_with_weight_and_ignore_index(reduction, case, smoothing):
    x, y, weight = case
    losses, total = _reference_weighted_losses(_log_softmax(x), y, weight, smoothing)
    got = F.cross_entropy(mg.tensor(x), y, weight, reduction=reduction,
                          label_smoothing=smoothing)
    np.testing.assert_allclose(got.data, _reduced(losses, total, reduction), rtol=1e-10)
    if reduction == "mean" and total == 0:       # NaN everywhere: nothing to differentiate
        return
    assert_gradients_match(lambda t: F.cross_entropy(t, y, weight, reduction=reduction,
                                                     label_smoothing=smoothing), x)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(case=weighted_case())
def test_nll_loss_with_weight_and_ignore_index(reduction, case):
    x, y, weight = case
    losses, total = _reference_weighted_losses(x, y, weight, 0.0)
    got = F.nll_loss(mg.tensor(x), y, weight, reduction=reduction)
    np.testing.assert_allclose(got.data, _reduced(losses, total, reduction), rtol=1e-10)
    if reduction == "mean" and total == 0:
        return
    assert_gradients_match(lambda t: F.nll_loss(t, y, weight, reduction=reduction), x)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("ignore_index", [IGNORE, 2])
def test_weighted_classification_losses_against_torch(reduction, smoothing, ignore_index):
    torch = torch_or_skip()
    tf = torch.nn.functional
    rng = np.random.default_rng(5)
    x, weight = rng.normal(size=(7, 4)) * 2, rng.uniform(0.2, 3.0, 4)
    y = rng.integers(0, 4, 7)
    y[[1, 4]] = ignore_index
    t = torch.tensor(x, requires_grad=True)
    options = dict(weight=torch.tensor(weight), ignore_index=ignore_index, reduction=reduction)
    expected = (tf.cross_entropy(t, torch.tensor(y), label_smoothing=smoothing, **options)
                + tf.nll_loss(torch.log_softmax(t, 1), torch.tensor(y), **options))
    expected.sum().backward()
    m = leaf(x)
    got = (F.cross_entropy(m, y, weight, ignore_index=ignore_index, reduction=reduction,
                           label_smoothing=smoothing)
           + F.nll_loss(F.log_softmax(m, 1), y, weight, ignore_index=ignore_index,
                        reduction=reduction))
    got.sum().backward()
    np.testing.assert_allclose(got.data, expected.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(m.grad), t.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_every_target_ignored_gives_torchs_nan_mean_zero_sum_and_zero_gradient(loss):
    torch = torch_or_skip()
    x = np.random.default_rng(6).normal(size=(3, 4))
    y = np.full(3, IGNORE)
    for reduction in REDUCTIONS:
        t, m = torch.tensor(x, requires_grad=True), leaf(x)
        expected = getattr(torch.nn.functional, loss.__name__)(t, torch.tensor(y),
                                                               reduction=reduction)
        expected.sum().backward()
        got = loss(m, y, reduction=reduction)
        got.sum().backward()
        np.testing.assert_array_equal(got.data, expected.detach().numpy())
        np.testing.assert_array_equal(np.asarray(m.grad), t.grad.numpy())


def test_a_masked_class_with_a_minus_inf_logit_keeps_the_loss_finite():
    torch = torch_or_skip()
    x = np.array([[-np.inf, 0.0, 1.0], [0.5, -np.inf, 2.0]])
    y = np.array([1, 2])
    expected = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y)).item()
    m = leaf(x)
    loss = F.cross_entropy(m, y)
    loss.backward()
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-12)
    assert np.isfinite(expected) and np.all(np.isfinite(np.asarray(m.grad)))
    nll = F.nll_loss(F.log_softmax(mg.tensor(x), 1), y)
    np.testing.assert_allclose(nll.item(), expected, rtol=1e-12)


def test_classification_loss_arguments_are_checked():
    x = mg.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"cross_entropy: expected weight of shape \(3,\), "
                                         r"got shape \(2,\)"):
        F.cross_entropy(x, np.array([0, 1]), np.ones(2))
    with pytest.raises(ValueError, match=r"nll_loss: weight requires grad.*\.detach\(\)"):
        F.nll_loss(x, np.array([0, 1]), mg.tensor(np.ones(3), requires_grad=True))
    with pytest.raises(TypeError, match="ignore_index must be an int, got 1.5"):
        F.cross_entropy(x, np.array([0, 1]), ignore_index=1.5)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\) \(or equal "
                                         r"ignore_index=-1\), got values in \[-100, 1\]"):
        F.cross_entropy(x, np.array([-100, 1]), ignore_index=-1)
    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0.0, 1.0\]"):
        F.cross_entropy(x, np.array([0, 1]), label_smoothing=1.5)


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss, F.binary_cross_entropy,
                                  F.binary_cross_entropy_with_logits, F.mse_loss, F.l1_loss])
def test_a_longer_positional_torch_call_is_refused(loss):
    """torch's arguments after weight are the deprecated size_average and reduce: a call that
    passes them by position must fail here, not mean something else."""
    x = mg.tensor(np.full((2, 2), 0.5))
    target = np.array([0, 1]) if loss in (F.cross_entropy, F.nll_loss) else np.full((2, 2), 0.5)
    extra = (None, None) if loss in (F.mse_loss, F.l1_loss) else (None, None, None)
    with pytest.raises(TypeError, match="positional argument"):
        loss(x, target, *extra)


# ----- binary cross-entropy on probabilities -----------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data())
def test_binary_cross_entropy(reduction, data):
    p = data.draw(arrays(min_value=0.05, max_value=0.95))
    # targets inside (0, 1): the numerical gradient nudges them, and 1 + eps would be refused
    y = data.draw(arrays(p.shape, min_value=0.01, max_value=0.99))
    weight = data.draw(st.one_of(st.none(), arrays(p.shape[p.ndim // 2:], 0.1, 2.0)))
    w = 1.0 if weight is None else weight
    losses = -w * (y * np.log(p) + (1 - y) * np.log(1 - p))
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    got = F.binary_cross_entropy(mg.tensor(p), y, weight, reduction=reduction)
    np.testing.assert_allclose(got.data, expected, rtol=1e-10)
    assert_gradients_match(
        lambda t, u: F.binary_cross_entropy(t, u, weight, reduction=reduction), p, y)


def test_binary_cross_entropy_clamps_its_logs_at_minus_100_as_torch():
    torch = torch_or_skip()
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-50, 0.3])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.6])
    for reduction in REDUCTIONS:
        t, m = torch.tensor(p, requires_grad=True), leaf(p)
        expected = torch.nn.functional.binary_cross_entropy(t, torch.tensor(y),
                                                            reduction=reduction)
        expected.sum().backward()
        got = F.binary_cross_entropy(m, y, reduction=reduction)
        got.sum().backward()
        np.testing.assert_allclose(got.data, expected.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(m.grad), t.grad.numpy(), rtol=1e-12)
    assert F.binary_cross_entropy(mg.tensor(p[:1]), y[:1]).item() == 100.0


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_and_its_weight_against_torch(reduction):
    torch = torch_or_skip()
    rng = np.random.default_rng(8)
    p, y, w = rng.uniform(0.01, 0.99, (4, 3)), rng.uniform(0, 1, (4, 3)), rng.uniform(0, 2, 3)
    tp, ty = torch.tensor(p, requires_grad=True), torch.tensor(y, requires_grad=True)
    expected = torch.nn.functional.binary_cross_entropy(tp, ty, torch.tensor(w),
                                                        reduction=reduction)
    expected.sum().backward()
    mp, my = leaf(p), leaf(y)
    got = F.binary_cross_entropy(mp, my, w, reduction=reduction)
    got.sum().backward()
    np.testing.assert_allclose(got.data, expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(mp.grad), tp.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(my.grad), ty.grad.numpy(), rtol=1e-12)


def test_binary_cross_entropy_refuses_values_outside_0_1_as_torch():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: every element of the input must "
                                         r"lie in \[0, 1\], got values in \[-0.5, 0.5\]"):
        F.binary_cross_entropy(mg.tensor(np.array([-0.5, 0.5])), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="every element of the input"):
        F.binary_cross_entropy(mg.tensor(np.array([np.nan, 0.5])), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"every element of the target must lie in \[0, 1\]"):
        F.binary_cross_entropy(mg.tensor(np.array([0.5, 0.5])), np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match=r"expected weight of a shape that broadcasts to \(2,\)"):
        F.binary_cross_entropy(mg.tensor(np.array([0.5, 0.5])), np.array([0.0, 1.0]),
                               np.ones(3))


# ----- binary cross-entropy with logits: weight and pos_weight -----------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data())
def test_binary_cross_entropy_with_logits_weight_and_pos_weight(reduction, data):
    x = data.draw(arrays(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)))
    y = data.draw(arrays(x.shape, min_value=0.0, max_value=1.0))
    weight = data.draw(st.one_of(st.none(), arrays(x.shape, 0.1, 2.0)))
    pos_weight = data.draw(st.one_of(st.none(), arrays(x.shape[-1:], 0.1, 4.0)))
    w = 1.0 if weight is None else weight
    pw = 1.0 if pos_weight is None else pos_weight
    s = 1 / (1 + np.exp(-x))
    losses = -w * (pw * y * np.log(s) + (1 - y) * np.log(1 - s))
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    got = F.binary_cross_entropy_with_logits(mg.tensor(x), y, weight, reduction=reduction,
                                             pos_weight=pos_weight)
    np.testing.assert_allclose(got.data, expected, rtol=1e-9)
    assert_gradients_match(lambda t, u: F.binary_cross_entropy_with_logits(
        t, u, weight, reduction=reduction, pos_weight=pos_weight), x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits_weights_against_torch(reduction):
    torch = torch_or_skip()
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(5, 3)) * 4, rng.uniform(0, 1, (5, 3))
    w, pw = rng.uniform(0, 2, (5, 1)), rng.uniform(0.5, 5, 3)
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        tx, ty, torch.tensor(w), reduction=reduction, pos_weight=torch.tensor(pw))
    expected.sum().backward()
    mx, my = leaf(x), leaf(y)
    got = F.binary_cross_entropy_with_logits(mx, my, w, reduction=reduction, pos_weight=pw)
    got.sum().backward()
    np.testing.assert_allclose(got.data, expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(mx.grad), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(my.grad), ty.grad.numpy(), rtol=1e-12)


# ----- l1_loss -----------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data())
def test_l1_loss(reduction, data):
    x = data.draw(arrays())
    y = data.draw(arrays(x.shape))
    x = y + data.draw(arrays(x.shape, away_from=0.0))       # x - y never at the kink
    losses = np.abs(x - y)
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(F.l1_loss(mg.tensor(x), y, reduction=reduction).data, expected)
    assert_gradients_match(lambda t, u: F.l1_loss(t, u, reduction=reduction), x, y)


def test_l1_and_mse_loss_against_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(10)
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    y[0, 0] = x[0, 0]                                     # at the kink: gradient 0, as torch
    for reduction in REDUCTIONS:
        tx, mx = torch.tensor(x, requires_grad=True), leaf(x)
        expected = (torch.nn.functional.l1_loss(tx, torch.tensor(y), reduction=reduction)
                    + torch.nn.functional.mse_loss(tx, torch.tensor(y), reduction=reduction))
        expected.sum().backward()
        got = (F.l1_loss(mx, y, reduction=reduction) + F.mse_loss(mx, y, reduction=reduction))
        got.sum().backward()
        np.testing.assert_allclose(got.data, expected.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(mx.grad), tx.grad.numpy(), rtol=1e-12)
