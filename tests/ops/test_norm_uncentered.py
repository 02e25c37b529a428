"""batch_norm_uncentered (the B-cos v2 norm, one op): gradients against central differences,
forward, backward and running_var equal to the composition it replaced
(batch_norm_uncentered_simple), second derivatives, and the authors' formula in torch."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from minigrad import kernels
from minigrad.ops.norm import batch_norm_uncentered, batch_norm_uncentered_simple
from minigrad.tensor import grad as gradients
from minigrad.testing import assert_gradients_match, assert_second_gradients_match
from tests.ops.test_norm import bn_cases
from tests.helpers import leaf, torch_or_skip

MODES = st.sampled_from([(True, False), (True, True), (False, False)])   # (training, detach)


def _spread_in_every_channel(case):
    x = case[0]
    return x.var(axis=(0,) + tuple(range(2, x.ndim))).min() > 1e-2


def cases():
    """batch_norm's cases as x (N, C) or (N, C, H, W), weight (C,), running_var (C,), with a
    spread in every channel (1 / sqrt(var + eps) is steep near 0)."""
    return bn_cases().map(lambda case: (case[0], case[1], case[4])).filter(
        _spread_in_every_channel)


@settings(deadline=None)
@given(cases(), st.booleans())
def test_gradients_match_central_differences(case, training):
    x, w, running_var = case
    assert_gradients_match(lambda x_, w_: _uncentred(x_, w_, running_var.copy(), training),
                           x, w)


@settings(deadline=None)
@given(cases())
def test_detached_gradients_are_those_of_the_fixed_map(case):
    """detach (explanation mode): s = 1 / sqrt(var + eps) is a constant in backward, so
    dx = dy * gamma * s and dgamma = sum(dy * x * s), s from this batch's variance."""
    x, w, running_var = case
    axes = (0,) + tuple(range(2, x.ndim))
    view = (1, -1) + (1,) * (x.ndim - 2)
    s = 1 / np.sqrt(x.var(axis=axes) + 1e-5)
    dy = np.random.default_rng(1).standard_normal(x.shape)
    mx, mw = leaf(x), leaf(w)
    (_uncentred(mx, mw, running_var, True, detach=True) * mg.tensor(dy)).sum().backward()
    np.testing.assert_allclose(mx.grad, dy * (w * s).reshape(view), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(mw.grad, (dy * x).sum(axis=axes) * s, rtol=1e-10, atol=1e-12)


def _uncentred(x, w, running_var, training, detach=False):
    return batch_norm_uncentered(x, running_var, w, training, momentum=0.1, detach=detach)


@settings(deadline=None)
@given(cases(), MODES, st.floats(0, 1))
def test_the_op_equals_the_composition_it_replaced(case, mode, momentum):
    x, w, running_var = case
    training, detach = mode
    dy = np.random.default_rng(0).standard_normal(x.shape)
    results = []
    for op in (batch_norm_uncentered, batch_norm_uncentered_simple):
        mx, mw, rv = leaf(x), leaf(w), running_var.copy()
        y = op(mx, rv, mw, training, momentum, detach=detach)
        (y * mg.tensor(dy)).sum().backward()
        results.append((y.data, mx.grad, mw.grad, rv))
    for got, expected in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", kernels.BACKENDS)
@pytest.mark.parametrize("training", [True, False])
def test_float32_forward_and_running_var_are_the_compositions(training, backend):
    """The NumPy twin does the composition's arithmetic, bit for bit; the Numba twin sums in
    float64 in another order, so it agrees to float32's rounding."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((8, 4, 6, 6)) * 3 + 1).astype(np.float32)
    w = rng.standard_normal(4).astype(np.float32)
    rv, rv_ref = np.full(4, 0.7, np.float32), np.full(4, 0.7, np.float32)
    with kernels.use_backend(backend):
        y = batch_norm_uncentered(mg.tensor(x), rv, mg.tensor(w), training)
    y_ref = batch_norm_uncentered_simple(mg.tensor(x), rv_ref, mg.tensor(w), training)
    assert y.dtype == np.float32 and rv.dtype == np.float32
    tolerance = {"rtol": 0, "atol": 0} if backend == "numpy" else {"rtol": 1e-6, "atol": 1e-7}
    np.testing.assert_allclose(y.data, y_ref.data, **tolerance)
    np.testing.assert_allclose(rv, rv_ref, **tolerance)


@pytest.mark.parametrize("training", [True, False])
def test_second_derivatives_match_central_differences(training):
    rng = np.random.default_rng(4)
    x, w, rv = rng.normal(0.5, 1.5, (3, 2, 2, 3)), rng.normal(size=2), rng.random(2) + 0.5
    assert_second_gradients_match(
        lambda x_, w_: batch_norm_uncentered(x_, rv.copy(), w_, training), x, w)


def test_detached_second_derivatives_are_the_compositions():
    """With s held fixed, the first derivative's own s is fixed too (central differences would
    move it): d(dx)/dx = 0 and d(dx)/dgamma = dy * s, as the detached composition's."""
    rng = np.random.default_rng(6)
    x, w, dy = rng.normal(0.5, 1.5, (3, 2, 2, 3)), rng.normal(size=2), rng.normal(size=(3, 2, 2, 3))
    results = []
    for op in (batch_norm_uncentered, batch_norm_uncentered_simple):
        mx, mw = leaf(x), leaf(w)
        dx, dw = gradients(op(mx, np.ones(2), mw, True, detach=True), [mx, mw], mg.tensor(dy),
                         create_graph=True)
        second = gradients((dx * dx).sum() + (dw * dw).sum(), [mx, mw], allow_unused=True)
        results.append([np.zeros(t.shape) if g is None else g.data for g, t in zip(second,
                                                                                  (mx, mw))])
    for got, expected in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert np.abs(results[0][1]).max() > 0               # dw's own derivative is not all zero


def test_piecewise_linear_only_where_the_scale_is_a_constant():
    x = mg.Tensor(np.arange(8.0).reshape(4, 2), requires_grad=True)
    rv, w = np.ones(2), mg.tensor(np.ones(2))
    declared = {(training, detach): batch_norm_uncentered(x, rv, w, training, detach=detach)
                .grad_fn.piecewise_linear([True, False])
                for training, detach in ((True, False), (True, True), (False, False))}
    assert declared == {(True, False): False, (True, True): True, (False, False): True}


@pytest.mark.parametrize("detach", [False, True])
def test_matches_the_authors_formula_in_torch_with_the_running_var(detach):
    """Their batch_norm_uncentered_2d (B-cos v2, bcos/modules/norms) written in torch, with
    the running variance updated from the biased batch variance, and the weight's gradient."""
    torch = torch_or_skip()
    rng = np.random.default_rng(5)
    x, w, dy = rng.normal(0.5, 1.5, (4, 3, 5, 5)), rng.normal(size=3), rng.normal(size=(4, 3, 5, 5))
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    var = (tx.detach() if detach else tx).var(dim=(0, 2, 3), unbiased=False)
    expected = tx / (var + 1e-5).sqrt()[None, :, None, None] * tw[None, :, None, None]
    (expected * torch.tensor(dy)).sum().backward()
    mx, mw, rv = leaf(x), leaf(w), np.ones(3)
    got = batch_norm_uncentered(mx, rv, mw, training=True, momentum=0.25, detach=detach)
    (got * mg.tensor(dy)).sum().backward()
    np.testing.assert_allclose(got.data, expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(mx.grad, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mw.grad, tw.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(rv, 0.75 + 0.25 * var.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("x, running_var, weight, error, match", [
    (np.zeros(3), np.ones(3), np.ones(3), ValueError, r"\(N, C\).*got shape \(3,\)"),
    (np.zeros((2, 3), np.int64), np.ones(3), np.ones(3), TypeError, r"floating-point.*int64"),
    (np.zeros((2, 3)), np.ones(2), np.ones(3), ValueError, r"running_var.*\(3,\).*\(2,\)"),
    (np.zeros((2, 3)), [1.0, 1.0, 1.0], np.ones(3), ValueError, r"running_var.*ndarray"),
    (np.zeros((2, 3)), np.ones(3), np.ones(4), ValueError, r"weight.*\(3,\).*\(4,\)"),
])
def test_bad_input_is_refused_before_running_var_changes(x, running_var, weight, error, match):
    before = np.array(running_var, copy=True)
    with pytest.raises(error, match=match):
        batch_norm_uncentered(mg.tensor(x), running_var, mg.tensor(weight), training=True)
    np.testing.assert_array_equal(running_var, before)


def test_a_batch_with_nan_is_refused_before_running_var_changes():
    x, running_var = np.ones((4, 3)), np.ones(3)
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"batch_norm_uncentered: the batch holds 1 NaN.*"
                                         r"running variance NaN; nothing was updated"):
        batch_norm_uncentered(mg.tensor(x), running_var, mg.tensor(np.ones(3)), training=True)
    np.testing.assert_array_equal(running_var, np.ones(3))


def test_an_empty_batch_gives_an_empty_output_and_tracks_nothing():
    """As batch_norm: N = 0 has no statistics to take; the output and dx are empty, dweight 0."""
    x, weight, running_var = leaf(np.zeros((0, 3, 2, 2))), leaf(np.ones(3)), np.ones(3)
    y = batch_norm_uncentered(x, running_var, weight, training=True)
    y.sum().backward()
    assert y.shape == (0, 3, 2, 2) and x.grad.shape == (0, 3, 2, 2)
    np.testing.assert_array_equal(weight.grad, np.zeros(3))
    np.testing.assert_array_equal(running_var, np.ones(3))


@pytest.mark.parametrize("options, error, match", [
    ({"weight": np.ones(3, np.float64)}, TypeError, r"weight dtype float64 and input dtype "
                                                    r"float32 differ"),
    ({"momentum": None}, TypeError, r"momentum"),
    ({"eps": 0.0}, ValueError, r"eps"),
])
def test_options_are_checked_before_running_var_changes(options, error, match):
    running_var = np.ones(3, np.float32)
    arguments = {"weight": np.ones(3, np.float32), **options}
    with pytest.raises(error, match=match):
        batch_norm_uncentered(mg.tensor(np.ones((4, 3), np.float32)), running_var,
                              mg.tensor(arguments.pop("weight")), training=True, **arguments)
    np.testing.assert_array_equal(running_var, np.ones(3))
