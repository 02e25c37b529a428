"""B-cos ops: forward against the formula, backward against central differences and torch, the
known answers (B = 1 is linear, x = 0 is 0 with gradient 0), explanation mode, bad input."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import minigrad as mg
from minigrad.gradcheck import gradgradcheck
from minigrad.ops.bcos import (bcos_conv2d, bcos_conv2d_simple, bcos_linear, bcos_linear_simple,
                               bcos_scale, unit_norm, unit_norm_simple)
from minigrad.ops.shape import concatenate
from minigrad.testing import arrays, assert_gradients_match
from tests.helpers import leaf, torch_or_skip

bees = st.floats(1.0, 3.0)


@given(data=st.data(), b=bees, detach=st.booleans())
def test_bcos_scale_is_sign_l_abs_l_to_the_b_over_n_to_the_b_minus_1(data, b, detach):
    l = data.draw(arrays((2, 3), away_from=0.0, margin=0.05))
    n = data.draw(arrays((2, 1), min_value=0.2, max_value=3.0))
    out = bcos_scale(mg.tensor(l), mg.tensor(n), b, detach).data
    np.testing.assert_allclose(out, np.sign(l) * np.abs(l) ** b * n ** (1 - b), rtol=1e-12)
    if not detach:
        assert_gradients_match(lambda l_, n_: bcos_scale(l_, n_, b), l, n)


def test_detached_scale_passes_the_gradient_through_the_fixed_factor_only():
    l, n = leaf([[0.5, -2.0]]), leaf([[4.0]])
    bcos_scale(l, n, 3.0, detach=True).sum().backward()
    np.testing.assert_allclose(l.grad, [[0.125 ** 2, 0.5 ** 2]])          # |l / n|^(B-1)
    assert n.grad is None or np.all(n.grad == 0)


# a Linear's weight (K, D) or a Conv2d's (K, C, KH, KW)
weight_shapes = st.one_of(st.tuples(st.integers(1, 4), st.integers(1, 6)),
                          st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
                                    st.integers(1, 3)))


@settings(deadline=None)
@given(data=st.data(), shape=weight_shapes)
def test_unit_norm_divides_each_row_by_its_norm_and_has_the_gradients_of_central_differences(
        data, shape):
    w = data.draw(arrays(shape, away_from=0.0, margin=0.1))           # no row near norm 0
    norms = np.linalg.norm(w.reshape(len(w), -1), axis=1)
    np.testing.assert_allclose(unit_norm(mg.tensor(w)).data,
                               w / norms.reshape((-1,) + (1,) * (w.ndim - 1)), rtol=1e-14)
    assert_gradients_match(unit_norm, w)
    assert_outputs_and_gradients_agree((unit_norm, unit_norm_simple), (w,), 1e-12)


@pytest.mark.parametrize("shape", [(5, 7), (4, 3, 2, 3)])
def test_unit_norm_equals_torch(shape):
    torch = torch_or_skip()
    rng = np.random.default_rng(4)
    w, weights = rng.normal(size=shape), rng.normal(size=shape)
    tw = torch.tensor(w, requires_grad=True)
    expected = tw / tw.flatten(1).norm(dim=1).reshape((-1,) + (1,) * (w.ndim - 1))
    (expected * torch.tensor(weights)).sum().backward()
    mw = leaf(w)
    got = unit_norm(mw)
    (got * mg.tensor(weights)).sum().backward()
    np.testing.assert_allclose(got.data, expected.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(mw.grad, tw.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_unit_norm_keeps_float32_and_makes_a_zero_row_nan_as_the_primitives_do():
    w = mg.tensor(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32), requires_grad=True)
    with np.errstate(invalid="ignore"):
        out = unit_norm(w)
        out.sum().backward()
        simple = unit_norm_simple(mg.tensor(w.data)).data
    assert out.dtype == w.grad.dtype == np.float32
    np.testing.assert_allclose(out.data[0], [0.6, 0.8], rtol=1e-6)
    assert np.isnan(out.data[1]).all() and np.isnan(simple[1]).all()
    assert np.isnan(w.grad.data[1]).all()


def direct_linear(x, w, b, units, eps=1e-6):
    """The formula, in NumPy: per output, the max over its units of |cos|^(B-1) w^T x."""
    w_hat = w / np.linalg.norm(w, axis=1, keepdims=True)
    l = (x @ w_hat.T).reshape(len(x), -1, units).max(axis=2)
    norm = np.sqrt((x ** 2).sum(axis=1, keepdims=True) + eps)
    return np.abs(l / norm) ** (b - 1) * l


linear_cases = st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 3),
                         st.integers(1, 2))


@settings(deadline=None)
@given(data=st.data(), shape=linear_cases, b=bees)
def test_bcos_linear_forward_and_gradients(data, shape, b):
    n, features, outputs, units = shape
    x = data.draw(arrays((n, features)))
    w = data.draw(arrays((outputs * units, features), away_from=0.0, margin=0.1))
    np.testing.assert_allclose(bcos_linear(mg.tensor(x), mg.tensor(w), b, units).data,
                               direct_linear(x, w, b, units), rtol=1e-10, atol=1e-12)
    # the gradient checks need a margin from the kinks: l = 0 (for B < 2) and MaxOut ties
    l = x @ (w / np.linalg.norm(w, axis=1, keepdims=True)).T
    pairs = l.reshape(n, outputs, units)
    if np.abs(l).min() > 1e-2 and (units == 1 or np.abs(pairs[..., 0] - pairs[..., 1]).min()
                                   > 1e-2):
        assert_gradients_match(lambda x_, w_: bcos_linear(x_, w_, b, units), x, w)


conv_cases = st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(3, 5),
                       st.integers(1, 2), st.sampled_from([1, 3]), st.integers(0, 1),
                       st.integers(1, 2))


@settings(deadline=None, max_examples=40)
@given(data=st.data(), shape=conv_cases, b=bees)
def test_bcos_conv2d_gradients(data, shape, b):
    n, channels, size, outputs, kernel, padding, stride = shape
    x = data.draw(arrays((n, channels, size, size), away_from=0.0, margin=0.05))
    w = data.draw(arrays((outputs * 2, channels, kernel, kernel), away_from=0.0, margin=0.1))
    response = mg.functional.conv2d(x, w / np.sqrt((w ** 2).sum(axis=(1, 2, 3),
                                                                 keepdims=True)),
                                    stride=stride, padding=padding).data
    pairs = response.reshape(n, outputs, 2, *response.shape[2:])
    if np.abs(response).min() > 1e-2 and np.abs(pairs[:, :, 0] - pairs[:, :, 1]).min() > 1e-2:
        assert_gradients_match(
            lambda x_, w_: bcos_conv2d(x_, w_, b, 2, stride=stride, padding=padding), x, w)


def torch_bcos_conv2d(torch, x, w, b, units, stride, padding, eps=1e-6):
    """The paper's layer written directly in torch (BcosConv2d of github.com/moboehle/B-cos,
    without its output scale)."""
    w_hat = w / w.flatten(1).norm(dim=1)[:, None, None, None]
    l = torch.nn.functional.conv2d(x, w_hat, stride=stride, padding=padding)
    l = l.unflatten(1, (-1, units)).max(dim=2).values
    ones = torch.ones((1,) + tuple(w.shape[1:]), dtype=x.dtype)
    norm = (torch.nn.functional.conv2d(x ** 2, ones, stride=stride, padding=padding)
            + eps).sqrt()
    return l * (l / norm).abs() ** (b - 1)


@pytest.mark.parametrize("b, units, stride, padding", [(2.0, 2, 1, 1), (1.5, 1, 2, 0),
                                                       (3.0, 2, 1, 2), (1.0, 2, 1, 1)])
def test_bcos_conv2d_forward_and_backward_equal_torch(b, units, stride, padding):
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(2, 3, 6, 6)), rng.normal(size=(4 * units, 3, 3, 3))
    assert_equals_torch(lambda torch, tx, tw: torch_bcos_conv2d(torch, tx, tw, b, units, stride,
                                                                padding),
                        lambda mx, mw: bcos_conv2d(mx, mw, b, units, stride=stride,
                                                   padding=padding), x, w, rng)


def assert_equals_torch(torch_layer, layer, x, w, rng, rtol=1e-10):
    """layer(x, w) and torch_layer(torch, x, w): the outputs, and both gradients of the sum of
    the outputs times random weights, in float64."""
    torch = torch_or_skip()
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    expected = torch_layer(torch, tx, tw)
    weights = rng.normal(size=tuple(expected.shape))
    (expected * torch.tensor(weights)).sum().backward()
    mx, mw = leaf(x), leaf(w)
    got = layer(mx, mw)
    (got * mg.tensor(weights)).sum().backward()
    np.testing.assert_allclose(got.data, expected.detach().numpy(), rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(mx.grad, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mw.grad, tw.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("b, units, detach", [(2.5, 2, False), (2.0, 1, False), (2.0, 1, True),
                                               (1.5, 3, True)])
def test_bcos_linear_forward_and_backward_equal_torch(b, units, detach):
    """The paper's layer in torch; detach: the scale |l| / n held fixed, as the v2 authors'
    BcosLinear in explanation mode."""
    def torch_bcos_linear(torch, tx, tw):
        w_hat = tw / tw.norm(dim=1, keepdim=True)
        l = (tx @ w_hat.T).unflatten(1, (-1, units)).max(dim=2).values
        norm = ((tx ** 2).sum(dim=1, keepdim=True) + 1e-6).sqrt()
        scale = (l / norm).abs() ** (b - 1)
        return l * (scale.detach() if detach else scale)

    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(3, 5)), rng.normal(size=(4 * units, 5))
    assert_equals_torch(torch_bcos_linear,
                        lambda mx, mw: bcos_linear(mx, mw, b, units, detach=detach), x, w, rng,
                        rtol=1e-12)


linear_fused_cases = st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 3),
                               st.integers(1, 3))


@settings(deadline=None, max_examples=60)
@given(data=st.data(), case=linear_fused_cases, b=bees, detach=st.booleans())
def test_the_fused_linear_op_equals_the_unit_built_from_primitives(data, case, b, detach):
    """BcosDense against bcos_linear_simple (the layer as it was built before, from linear,
    sum, sqrt, amax and bcos_scale): forward and both gradients, in and out of explanation
    mode, to 1e-12. Away from MaxOut ties (there BcosDense gives the gradient to the first
    unit, as torch.max; amax shares it)."""
    n, features, outputs, units = case
    x = data.draw(arrays((n, features)))
    w = data.draw(arrays((outputs * units, features), away_from=0.0, margin=0.1))
    w = w + 0.01 * np.arange(w.size).reshape(w.shape)        # no two units alike
    pairs = (x @ (w / np.linalg.norm(w, axis=1, keepdims=True)).T).reshape(n, outputs, units)
    assume(units == 1 or np.abs(np.diff(np.sort(pairs, axis=2), axis=2)).min() > 1e-9)
    assert_ops_agree((bcos_linear, bcos_linear_simple), x, w, b, units, 1e-12, detach=detach)


def assert_ops_agree(ops, x, w, b, units, rtol, **options):
    """The layers' outputs and both gradients agree to rtol."""
    assert_outputs_and_gradients_agree(ops, (x, w), rtol, b, units, **options)


def assert_outputs_and_gradients_agree(ops, inputs, rtol, *args, **options):
    """op(*inputs, *args, **options) for each op: the outputs and the gradients (of
    sum(out * cos(position))) with respect to every input agree to rtol."""
    results = []
    for op in ops:
        leaves = [leaf(a) for a in inputs]
        out = op(*leaves, *args, **options)
        (out * mg.tensor(np.cos(np.arange(out.data.size)).reshape(out.shape))).sum().backward()
        results.append((out.data, *(t.grad.data for t in leaves)))
    for fused, simple in zip(*results):
        np.testing.assert_allclose(fused, simple, rtol=rtol, atol=1e-12)


def test_second_derivatives_of_the_fused_linear_op_match_central_differences():
    rng = np.random.default_rng(8)
    x, w = rng.normal(size=(3, 5)), rng.normal(size=(6, 5))
    gradgradcheck(lambda x_, w_: bcos_linear(x_, w_, 2.5, 2), leaf(x), leaf(w))


def test_b_equal_to_one_is_the_linear_unit_of_the_normalised_weight(rng=np.random.default_rng(2)):
    x, y, w = rng.normal(size=(4, 6)), rng.normal(size=(4, 6)), rng.normal(size=(3, 6))
    unit = lambda v: bcos_linear(mg.tensor(v), mg.tensor(w), 1.0, 1).data    # noqa: E731
    np.testing.assert_allclose(unit(x), x @ (w / np.linalg.norm(w, axis=1)[:, None]).T,
                               rtol=1e-12)
    np.testing.assert_allclose(unit(2.0 * x - 3.0 * y), 2.0 * unit(x) - 3.0 * unit(y),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("b", [1.0, 1.5, 2.0, 3.0])
def test_at_x_zero_the_output_is_zero_and_the_gradient_finite(b):
    """n = sqrt(eps) > 0 and l = 0: out = 0, d out/dx = B 0^(B-1) w^ = 0 for B > 1 and the
    linear unit's w^ for B = 1; never NaN."""
    w = np.array([[3.0, 4.0], [1.0, 0.0]])
    x = leaf(np.zeros((1, 2)))
    out = bcos_linear(x, mg.tensor(w), b, 1)
    out.sum().backward()
    np.testing.assert_array_equal(out.data, 0.0)
    expected = [0.0, 0.0] if b > 1 else [0.6 + 1.0, 0.8]
    np.testing.assert_allclose(x.grad[0], expected)
    image = leaf(np.zeros((1, 2, 3, 3)))
    bcos_conv2d(image, mg.tensor(np.ones((2, 2, 3, 3))), b, 2, padding=1).sum().backward()
    assert np.isfinite(image.grad).all()


def test_a_bcos_unit_is_positively_homogeneous(rng=np.random.default_rng(3)):
    x, w = rng.normal(size=(2, 2, 5, 5)), rng.normal(size=(4, 2, 3, 3))
    once = bcos_conv2d(mg.tensor(x), mg.tensor(w), 2.0, 2, eps=0.0).data
    np.testing.assert_allclose(bcos_conv2d(mg.tensor(3.5 * x), mg.tensor(w), 2.0, 2,
                                           eps=0.0).data, 3.5 * once, rtol=1e-12)


@pytest.mark.parametrize("call, error, message", [
    (lambda: bcos_scale(mg.tensor([1.0]), mg.tensor([1.0]), 0.5), ValueError,
     r"bcos_scale: B must be >= 1 .* got B = 0.5"),
    (lambda: bcos_linear(np.ones((1, 2)), np.ones((2, 2)), 0.99), ValueError,
     r"bcos_linear: B must be >= 1"),
    (lambda: bcos_conv2d(np.ones((1, 1, 3, 3)), np.ones((2, 1, 3, 3)), "2"), TypeError,
     r"bcos_conv2d: B must be a number >= 1, got '2'"),
    (lambda: bcos_linear(np.ones((1, 2)), np.ones((3, 2)), 2.0, 2), ValueError,
     r"3 output units do not split into groups of max_out=2"),
    (lambda: bcos_linear(np.ones((1, 2)), np.ones((2, 2)), 2.0, 0), ValueError,
     r"max_out must be an int >= 1, got 0"),
    (lambda: bcos_linear(np.ones((1, 3)), np.ones((2, 2)), 2.0, 1), ValueError,
     r"bcos_linear: expected an input of shape \(N, 2\) for a weight of shape \(2, 2\), "
     r"got \(1, 3\)"),
    (lambda: bcos_linear(np.ones((1, 2, 2)), np.ones((2, 2)), 2.0, 1), ValueError,
     r"expected an input of shape \(N, 2\)"),
    (lambda: bcos_linear(np.ones((1, 2)), np.ones((2, 2, 1)), 2.0, 1), ValueError,
     r"expected a weight of shape \(out_features \* units, in_features\), got \(2, 2, 1\)"),
    (lambda: bcos_linear(np.ones((1, 2), np.float32), np.ones((2, 2)), 2.0, 1), TypeError,
     r"bcos_linear: input dtype float32 and weight dtype float64 differ"),
    (lambda: bcos_linear(np.ones((1, 2), np.int64), np.ones((2, 2)), 2.0, 1), TypeError,
     r"bcos_linear: expected a floating-point input, got dtype int64"),
    (lambda: unit_norm(np.ones(3)), ValueError,
     r"unit_norm: expected a weight with one row per output unit \(2-D or more\), got shape "
     r"\(3,\)"),
    (lambda: unit_norm(np.ones((2, 3), np.int64)), TypeError,
     r"unit_norm: expected a floating-point weight, got dtype int64"),
])
def test_bad_arguments_are_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


fused_cases = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(4, 7), st.integers(1, 2),
                        st.sampled_from([1, 2, 3]), st.integers(0, 2), st.integers(1, 2),
                        st.integers(1, 2), st.integers(1, 2))


@settings(deadline=None, max_examples=40)
@given(data=st.data(), case=fused_cases, b=bees, detach=st.booleans())
def test_the_fused_op_equals_the_unit_built_from_primitives(data, case, b, detach):
    """BcosConv (patch norms from the im2col columns) against bcos_conv2d_simple (patch norms
    by conv2d(x*x, ones)): forward and both gradients, in and out of explanation mode. Away
    from MaxOut ties, where the two differ by design (BcosConv gives the gradient to the first
    unit, as torch.max; amax in bcos_conv2d_simple shares it)."""
    n, channels, size, outputs, kernel, padding, stride, dilation, units = case
    assume(dilation * (kernel - 1) + 1 <= size + 2 * padding)
    x = data.draw(arrays((n, channels, size, size), away_from=0.0, margin=0.05))
    w = data.draw(arrays((outputs * units, channels, kernel, kernel), away_from=0.0,
                         margin=0.1))
    w = w + 0.01 * np.arange(w.size).reshape(w.shape)        # no two units alike
    options = dict(stride=stride, padding=padding, dilation=dilation, detach=detach)
    responses = mg.functional.conv2d(x, w, stride=stride, padding=padding,
                                     dilation=dilation).data
    pairs = responses.reshape(n, outputs, units, -1) / np.sqrt((w ** 2).sum(axis=(1, 2, 3))
                                                               ).reshape(outputs, units, 1)
    assume(units == 1 or np.abs(pairs[:, :, 0] - pairs[:, :, 1]).min() > 1e-9)
    assert_ops_agree((bcos_conv2d, bcos_conv2d_simple), x, w, b, units, 1e-10, **options)


def test_second_derivatives_of_the_fused_op_match_central_differences():
    rng = np.random.default_rng(6)
    x, w = rng.normal(size=(2, 2, 5, 5)), rng.normal(size=(4, 2, 3, 3))
    gradgradcheck(lambda x_, w_: bcos_conv2d(x_, w_, 2.5, 2, padding=1), leaf(x), leaf(w))


def torch_bcos_conv2d_v2(torch, x, w, padding, detach, eps=1e-6):
    """The v2 paper's layer (Boehle et al., TPAMI 2024; their bcos package's BcosConv2d with
    B = 2, max_out = 1) written directly in torch: the patch norms by average pooling of the
    channel-summed squares times the patch size, the scale |l| / n detached in explanation
    mode."""
    F = torch.nn.functional
    w_hat = w / w.flatten(1).norm(dim=1)[:, None, None, None]
    l = F.conv2d(x, w_hat, padding=padding)
    k = w.shape[2]
    norm = (F.avg_pool2d((x ** 2).sum(1, keepdim=True), k, stride=1, padding=padding) * k * k
            + eps).sqrt()
    scale = l.detach().abs() / norm.detach() if detach else l.abs() / norm
    return scale * l


@pytest.mark.parametrize("detach", [False, True])
def test_bcos_conv2d_equals_the_v2_papers_formulas_in_torch(detach):
    rng = np.random.default_rng(7)
    x, w = rng.normal(size=(2, 3, 6, 6)), rng.normal(size=(5, 3, 3, 3))
    assert_equals_torch(lambda torch, tx, tw: torch_bcos_conv2d_v2(torch, tx, tw, 1, detach),
                        lambda mx, mw: bcos_conv2d(mx, mw, 2.0, 1, padding=1, detach=detach),
                        x, w, rng)


def on_the_encoding(x, w, b, units, **options):
    """The first layer of a B-cos network as the network builds it: [x, 1 - x], then the
    convolution."""
    return bcos_conv2d(concatenate([x, 1.0 - x], axis=1), w, b, units, **options)


def add_inverse_conv(x, w, b, units, **options):
    return bcos_conv2d(x, w, b, units, add_inverse=True, **options)


def add_inverse_simple(x, w, b, units, **options):
    return bcos_conv2d_simple(x, w, b, units, add_inverse=True, **options)


@settings(deadline=None, max_examples=40)
@given(data=st.data(), case=fused_cases, b=bees, detach=st.booleans())
def test_the_convolution_of_the_encoding_equals_it_on_x_and_1_minus_x(data, case, b, detach):
    """add_inverse (the kernels never build [x, 1 - x]) against the convolution of the
    concatenation and against the primitives: forward and both gradients, dL/dx through the
    encoding, in and out of explanation mode."""
    n, channels, size, outputs, kernel, padding, stride, dilation, units = case
    assume(dilation * (kernel - 1) + 1 <= size + 2 * padding)
    x = data.draw(arrays((n, channels, size, size), min_value=0.0, max_value=1.0))
    w = data.draw(arrays((outputs * units, 2 * channels, kernel, kernel), away_from=0.0,
                         margin=0.1))
    w = w + 0.01 * np.arange(w.size).reshape(w.shape)        # no two units alike
    options = dict(stride=stride, padding=padding, dilation=dilation, detach=detach)
    u = np.concatenate([x, 1 - x], axis=1)
    responses = mg.functional.conv2d(u, w, stride=stride, padding=padding,
                                     dilation=dilation).data
    pairs = responses.reshape(n, outputs, units, -1) / np.sqrt((w ** 2).sum(axis=(1, 2, 3))
                                                               ).reshape(outputs, units, 1)
    assume(units == 1 or np.abs(np.diff(np.sort(pairs, axis=2), axis=2)).min() > 1e-9)
    assert_ops_agree((add_inverse_conv, on_the_encoding), x, w, b, units, 1e-12, **options)
    assert_ops_agree((add_inverse_conv, add_inverse_simple), x, w, b, units, 1e-10, **options)


@settings(deadline=None, max_examples=25)
@given(data=st.data(), b=bees, padding=st.integers(0, 2), stride=st.integers(1, 2))
def test_the_convolution_of_the_encoding_has_the_gradients_of_central_differences(
        data, b, padding, stride):
    x = data.draw(arrays((2, 2, 5, 5), min_value=0.0, max_value=1.0))
    w = data.draw(arrays((3, 4, 3, 3), away_from=0.0, margin=0.1))
    l = mg.functional.conv2d(np.concatenate([x, 1 - x], axis=1), w, stride=stride,
                             padding=padding).data
    assume(np.abs(l).min() > 1e-2)          # a margin from the kink at l = 0 (for B < 2)
    assert_gradients_match(lambda x_, w_: add_inverse_conv(x_, w_, b, 1, stride=stride,
                                                           padding=padding), x, w)


@pytest.mark.parametrize("detach", [False, True])
def test_the_convolution_of_the_encoding_equals_the_v2_papers_layer_in_torch(detach):
    """The authors' v2 layer on torch.cat([x, 1 - x]), their AddInverse."""
    rng = np.random.default_rng(9)
    x, w = rng.random((2, 3, 6, 6)), rng.normal(size=(5, 6, 3, 3))
    assert_equals_torch(lambda torch, tx, tw: torch_bcos_conv2d_v2(
                            torch, torch.cat([tx, 1 - tx], dim=1), tw, 1, detach),
                        lambda mx, mw: add_inverse_conv(mx, mw, 2.0, 1, padding=1, detach=detach),
                        x, w, rng)


def test_the_convolution_of_the_encoding_wants_twice_the_input_channels():
    with pytest.raises(ValueError, match=r"bcos_conv2d: with add_inverse the weight needs "
                                         r"2 \* C = 4 input channels \(for x and 1 - x\), got "
                                         r"a weight \(2, 3, 3, 3\) for an input \(1, 2, 5, 5\)"):
        add_inverse_conv(np.ones((1, 2, 5, 5)), np.ones((2, 3, 3, 3)), 2.0, 1)
