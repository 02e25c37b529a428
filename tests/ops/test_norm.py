"""batch_norm and dropout: gradients, running statistics, train/eval, and PyTorch cross-checks."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad.ops.norm import batch_norm, dropout
from minigrad.testing import assert_gradients_match
from tests.helpers import leaf, torch_or_skip


@st.composite
def bn_cases(draw):
    shape = draw(st.one_of(
        st.tuples(st.integers(2, 6), st.integers(1, 4)),
        st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if shape[0] * int(np.prod(shape[2:])) < 2:
        shape = (2,) + shape[1:]
    x = rng.standard_normal(shape) * 2 + 0.5
    C = shape[1]
    return x, rng.standard_normal(C), rng.standard_normal(C), rng.standard_normal(C), \
        rng.random(C) + 0.5


@given(bn_cases(), st.booleans(), st.booleans())
def test_batch_norm_gradients(case, training, affine):
    x, w, b, rm, rv = case
    if affine:
        fn = lambda t, wt, bt: batch_norm(t, rm.copy(), rv.copy(), wt, bt, training=training)
        assert_gradients_match(fn, x, w, b)
    else:
        fn = lambda t: batch_norm(t, rm.copy(), rv.copy(), training=training)
        assert_gradients_match(fn, x)


@given(bn_cases())
def test_batch_norm_training_normalises_and_updates_running_stats(case):
    x, w, b, rm, rv = case
    axes = (0,) + tuple(range(2, x.ndim))
    M = x.size // x.shape[1]
    rm0, rv0 = rm.copy(), rv.copy()
    y = batch_norm(x, rm, rv, training=True, momentum=0.1).data
    np.testing.assert_allclose(y.mean(axis=axes), 0, atol=1e-7)
    np.testing.assert_allclose(rm, 0.9 * rm0 + 0.1 * x.mean(axis=axes), rtol=1e-10)
    np.testing.assert_allclose(rv, 0.9 * rv0 + 0.1 * x.var(axis=axes) * M / (M - 1), rtol=1e-10)


def test_batch_norm_eval_uses_running_stats_and_leaves_them():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 2, 2))
    rm, rv = np.array([1.0, -1.0, 0.0]), np.array([4.0, 1.0, 0.25])
    w, b = np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, -1.0])
    y = batch_norm(x, rm, rv, mg.Tensor(w), mg.Tensor(b), training=False, eps=0.0 + 1e-12)
    expected = (x - rm[None, :, None, None]) / np.sqrt(rv[None, :, None, None]) \
        * w[None, :, None, None] + b[None, :, None, None]
    np.testing.assert_allclose(y.data, expected, rtol=1e-9)
    np.testing.assert_array_equal(rm, [1.0, -1.0, 0.0])


def test_batch_norm_float32():
    x = mg.Tensor(np.random.default_rng(1).standard_normal((8, 4, 3, 3)).astype(np.float32),
                  requires_grad=True)
    w = mg.Tensor(np.ones(4, np.float32), requires_grad=True)
    rm, rv = np.zeros(4, np.float32), np.ones(4, np.float32)
    y = batch_norm(x, rm, rv, w, training=True)
    assert y.dtype == np.float32 and rm.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 6, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_torch(shape, training):
    torch = torch_or_skip()
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape) * 3 + 1
    C = shape[1]
    w, b = rng.standard_normal(C), rng.standard_normal(C)
    rm, rv = rng.standard_normal(C), rng.random(C) + 0.5
    prm, prv = torch.tensor(rm.copy()), torch.tensor(rv.copy())
    tx, tw, tb = leaf(x), leaf(w), leaf(b)
    for _ in range(2):                                     # two steps: running stats compound
        for t in (tx, tw, tb):
            t.grad = None
        y = batch_norm(tx, rm, rv, tw, tb, training=training, momentum=0.2)
        g = rng.standard_normal(shape)
        y.backward(g)
        px, pw, pb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        py = torch.nn.functional.batch_norm(px, prm, prv, pw, pb, training=training, momentum=0.2)
        py.backward(torch.tensor(g))
        for ours, theirs in [(y.data, py), (tx.grad, px.grad), (tw.grad, pw.grad),
                             (tb.grad, pb.grad), (rm, prm), (rv, prv)]:
            np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-9, atol=1e-10)


def test_batch_norm_without_running_stats_uses_batch_stats():
    x = np.random.default_rng(3).standard_normal((5, 2))
    y = batch_norm(x, None, None, training=False).data
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)


@pytest.mark.parametrize("call,error,match", [
    (lambda: batch_norm(np.zeros(4), None, None), ValueError, r"\(N, C\)"),
    (lambda: batch_norm(np.zeros((4, 3)), np.zeros(2), np.ones(2)), ValueError, r"shape \(3,\)"),
    (lambda: batch_norm(np.zeros((4, 3)), [0, 0, 0], np.ones(3)), TypeError, "in place"),
    (lambda: batch_norm(np.zeros((1, 3)), np.zeros(3), np.ones(3), training=True), ValueError,
     "more than 1 value"),
    (lambda: batch_norm(np.zeros((4, 3)), np.zeros(3), np.ones(3), weight=np.ones(4)), ValueError,
     "weight"),
])
def test_batch_norm_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_batch_norm_error_leaves_running_stats_untouched():
    rm, rv = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError):
        batch_norm(np.ones((4, 3)), rm, rv, bias=np.zeros(2), training=True)
    np.testing.assert_array_equal(rm, 0)
    np.testing.assert_array_equal(rv, 1)


# ----- dropout -----
def test_dropout_is_inverted_and_reproducible():
    x = np.ones((200, 100))
    y1 = dropout(mg.Tensor(x), p=0.25, rng=42).data
    y2 = dropout(mg.Tensor(x), p=0.25, rng=42).data
    np.testing.assert_array_equal(y1, y2)
    assert set(np.unique(y1)) <= {0.0, 1 / 0.75}
    assert abs((y1 == 0).mean() - 0.25) < 0.02
    assert abs(y1.mean() - 1.0) < 0.03


def test_dropout_eval_and_p0_are_identity_p1_zeroes():
    x = mg.Tensor(np.arange(6.0), requires_grad=True)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x
    y = dropout(x, 1.0, rng=0)
    assert np.all(y.data == 0)
    y.sum().backward()
    assert np.all(x.grad == 0)


def test_dropout_gradient_uses_the_same_mask():
    x = np.random.default_rng(4).standard_normal((6, 7))
    assert_gradients_match(lambda t: dropout(t, 0.4, rng=7), x)
    t = leaf(x)
    y = dropout(t, 0.4, rng=np.random.default_rng(7))
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(t.grad != 0, y.data != 0)


def test_dropout_float32_and_bad_arguments():
    x = mg.Tensor(np.ones((3, 3), np.float32), requires_grad=True)
    assert dropout(x, 0.5, rng=0).dtype == np.float32
    with pytest.raises(ValueError, match="probability"):
        dropout(x, 1.5)
    with pytest.raises(TypeError, match="Generator"):
        dropout(x, 0.5, rng="seed")
