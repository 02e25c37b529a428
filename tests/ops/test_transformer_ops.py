"""The transformer's ops: gelu (exact and tanh), layer_norm and scaled_dot_product_attention --
forward against formulas, backward against numerical gradients, both against torch."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad.testing import arrays, assert_gradients_match, shapes
from tests.helpers import torch_or_skip

_erf = np.vectorize(math.erf)


@given(arrays(), st.sampled_from(["none", "tanh"]))
def test_gelu_forward_and_gradients(x, approximate):
    if approximate == "none":
        expected = x * 0.5 * (1 + _erf(x / math.sqrt(2)))
    else:
        expected = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(F.gelu(mg.tensor(x), approximate).data, expected, rtol=1e-12,
                               atol=1e-15)
    assert_gradients_match(lambda t: F.gelu(t, approximate), x)


def test_gelu_keeps_float32_and_refuses_bad_input():
    assert F.gelu(mg.tensor(np.ones(3, dtype=np.float32))).dtype == np.float32
    with pytest.raises(ValueError, match="approximate must be one of"):
        F.gelu(mg.tensor(np.ones(3)), approximate="fast")
    with pytest.raises(TypeError, match="floating-point input, got dtype int64"):
        F.gelu(mg.tensor(np.ones(3, dtype=np.int64)))


@st.composite
def layer_norm_cases(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    k = draw(st.integers(1, len(shape)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    normalized = shape[len(shape) - k:]
    x = rng.standard_normal(shape) * 2 + 0.5     # one value per group is allowed: xhat = 0
    return x, normalized, rng.standard_normal(normalized), rng.standard_normal(normalized)


@given(layer_norm_cases(), st.booleans())
def test_layer_norm_forward_and_gradients(case, affine):
    x, normalized, w, b = case
    axes = tuple(range(x.ndim - len(normalized), x.ndim))
    xhat = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True)
                                                            + 1e-5)
    if affine:
        np.testing.assert_allclose(F.layer_norm(mg.tensor(x), normalized, mg.tensor(w),
                                                mg.tensor(b)).data, xhat * w + b, atol=1e-12)
        assert_gradients_match(lambda t, wt, bt: F.layer_norm(t, normalized, wt, bt), x, w, b)
    else:
        np.testing.assert_allclose(F.layer_norm(mg.tensor(x), normalized).data, xhat, atol=1e-12)
        assert_gradients_match(lambda t: F.layer_norm(t, normalized), x)


def test_layer_norm_refuses_shapes_that_disagree():
    x = mg.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"input of shape \(\.\.\., 4\).*got \(2, 3\)"):
        F.layer_norm(x, 4)
    with pytest.raises(ValueError, match=r"weight must have the normalized shape \(3,\)"):
        F.layer_norm(x, 3, mg.tensor(np.ones(2)))
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(x, (1, 2, 3))


@st.composite
def attention_cases(draw):
    batch = draw(st.sampled_from([(), (2,), (2, 3)]))
    L, S, E, Ev = (draw(st.integers(1, 4)) for _ in range(4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    q, k, v = (rng.standard_normal(batch + shape) for shape in ((L, E), (S, E), (S, Ev)))
    return q, k, v


def _attention_numpy(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)) @ v


@settings(deadline=None)
@given(attention_cases(), st.booleans())
def test_scaled_dot_product_attention_forward_and_gradients(case, causal):
    q, k, v = case
    L, S = q.shape[-2], k.shape[-2]
    mask = np.tril(np.ones((L, S), dtype=bool)) if causal else None
    if causal and L > S:
        mask[S:] = True           # a query row with no key at all would be NaN
    out = F.scaled_dot_product_attention(mg.tensor(q), mg.tensor(k), mg.tensor(v), mask)
    np.testing.assert_allclose(out.data, _attention_numpy(q, k, v, mask), atol=1e-12)
    assert_gradients_match(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, mask), q, k, v)


def test_scaled_dot_product_attention_masked_keys_get_zero_weight_and_scale_is_used():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(shape) for shape in ((3, 4), (4, 4), (4, 2)))
    mask = np.array([True, False, True, False])
    out = F.scaled_dot_product_attention(mg.tensor(q), mg.tensor(k), mg.tensor(v), mask)
    np.testing.assert_allclose(out.data, _attention_numpy(q, k[mask], v[mask]), atol=1e-12)
    scaled = F.scaled_dot_product_attention(mg.tensor(q), mg.tensor(k), mg.tensor(v), scale=1.0)
    np.testing.assert_allclose(scaled.data, _attention_numpy(q * 2.0, k, v), atol=1e-12)  # E=4


def test_scaled_dot_product_attention_refuses_shapes_that_disagree():
    t = lambda *shape: mg.tensor(np.ones(shape))
    with pytest.raises(ValueError, match=r"same number of features.*\(2, 3\).*\(2, 4\)"):
        F.scaled_dot_product_attention(t(2, 3), t(2, 4), t(2, 4))
    with pytest.raises(ValueError, match=r"same length.*key \(5, 3\) and value \(4, 3\)"):
        F.scaled_dot_product_attention(t(2, 3), t(5, 3), t(4, 3))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 3\).*\(\.\.\., 2, 5\)"):
        F.scaled_dot_product_attention(t(2, 3), t(5, 3), t(5, 3), np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(t(2, 3), t(2, 3), t(2, 3), np.ones((2, 2), bool), 0.0,
                                       True)


def test_the_ops_match_torch_forward_and_backward():
    torch = torch_or_skip()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5, 8)).astype(np.float32)
    w, b = rng.standard_normal(8).astype(np.float32), rng.standard_normal(8).astype(np.float32)
    mask = rng.random((5, 5)) > 0.3
    mask[:, 0] = True
    ours = [mg.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]

    def run(lib, F_, xt, wt, bt):
        h = F_.layer_norm(xt, (8,), wt, bt)
        out = F_.gelu(h) + F_.gelu(h, approximate="tanh")
        attn = F_.scaled_dot_product_attention(out, h, out, lib(mask))
        return (attn * attn).sum()

    run(np.asarray, F, *ours).backward()
    run(torch.from_numpy, torch.nn.functional, *theirs).backward()
    assert run(np.asarray, F, *ours).data == pytest.approx(
        run(torch.from_numpy, torch.nn.functional, *theirs).item(), rel=1e-5)
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad, reference.grad.numpy(), rtol=1e-4, atol=1e-4)
