"""B-cos layers and networks: the dynamic linear map y = W(x) x, known answers, bad input."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.models import bcos_alexnet_lite, bcos_lenet
from minigrad.models.bcos import BcosNet
from minigrad.nn.bcos import (AddInverse, BatchNormUncentered1d, BatchNormUncentered2d,
                              BcosConv2d, BcosLinear, bcos_explanation_mode)
from minigrad.ops.shape import concatenate
from minigrad.saliency.dynamic import dynamic_linear_map
from minigrad.testing import arrays, assert_gradients_match
from tests.helpers import torch_or_skip


def test_add_inverse_stacks_x_and_one_minus_x():
    x = np.array([[[[0.0, 0.25]]], [[[1.0, 0.5]]]])                   # (2, 1, 1, 2)
    out = AddInverse()(mg.tensor(x)).data
    np.testing.assert_array_equal(out, np.concatenate([x, 1 - x], axis=1))


@pytest.mark.parametrize("design, training", [("v1", True), ("v2", True), ("v2", False)])
def test_the_first_convolution_works_on_x_not_on_its_encoding_with_the_same_numbers(
        design, training, monkeypatch):
    """After AddInverse, on an image that takes no gradient (training's batches), BcosConv2d
    convolves x with add_inverse (its kernels never unfold [x, 1 - x]): the logits and every
    parameter's gradient equal, to 1e-12 in float64, those of the network on the concatenation
    written out."""
    import minigrad.nn.bcos as layers
    fused_op, calls = layers.bcos_conv2d, []

    def spy(*args, **kwargs):
        calls.append(kwargs["add_inverse"])
        return fused_op(*args, **kwargs)
    monkeypatch.setattr(layers, "bcos_conv2d", spy)
    nn.manual_seed(0)
    model = bcos_lenet(design=design).double().train(training)

    def written_out(x):          # a plain concatenation: no note of x for the first layer
        encoded = concatenate([x, 1.0 - x], axis=1)
        return model.classifier(model.flatten(model.features(encoded))) / model.temperature

    x = np.random.default_rng(0).random((3, 1, 28, 28))
    fused, reference = (outputs_and_gradients(forward, model, x, input_grad=False)
                        for forward in (model, written_out))
    assert calls == [True, False, False, False]    # each run's two convolutions, in order
    for a, b in zip(fused, reference):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("change", ["input_grad", "encoding_in_place", "image_in_place"])
def test_the_encoding_is_convolved_itself_when_x_takes_a_gradient_or_either_changed(
        change, monkeypatch):
    """The shortcut holds only for an untouched encoding of an image without gradient: an
    in-place change after encoding (x or [x, 1 - x]) or dL/dx wanted -> the honest convolution."""
    import minigrad.nn.bcos as layers
    fused_op, calls = layers.bcos_conv2d, []
    monkeypatch.setattr(layers, "bcos_conv2d",
                        lambda *a, **k: calls.append(k["add_inverse"]) or fused_op(*a, **k))
    nn.manual_seed(0)
    model = bcos_lenet(design="v2").double().eval()
    x = mg.tensor(np.random.default_rng(2).random((2, 1, 28, 28)),
                  requires_grad=change == "input_grad")
    encoded = model.encode(x)
    with mg.no_grad():
        if change == "encoding_in_place":
            encoded[:, 1] = 0.0
        elif change == "image_in_place":
            x -= 0.5
    got = model.features(encoded).data
    expected = model.features(mg.tensor(encoded.data)).data        # no note: the plain path
    assert calls[0] is False
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ask", ["retain_grad", "register_hook"])
def test_an_encoding_whose_gradient_is_asked_for_is_convolved_itself(ask):
    """Whoever asks for [x, 1 - x]'s gradient (retain_grad, a hook) gets it, as in PyTorch:
    the first layer then convolves the encoding, not x."""
    nn.manual_seed(0)
    model = bcos_lenet(design="v2").double()
    x = mg.tensor(np.random.default_rng(1).random((2, 1, 28, 28)), requires_grad=True)
    encoded, seen = model.encode(x), []
    if ask == "retain_grad":
        encoded.retain_grad()
    else:
        encoded.register_hook(lambda grad: seen.append(grad))
    model.classifier(model.flatten(model.features(encoded))).sum().backward()
    reference = mg.tensor(encoded.data, requires_grad=True)
    model.classifier(model.flatten(model.features(reference))).sum().backward()
    got = encoded.grad if ask == "retain_grad" else seen[0]
    np.testing.assert_allclose(got.data, reference.grad.data, rtol=1e-12, atol=1e-12)


def outputs_and_gradients(forward, model, x, input_grad=True):
    """[y, dL/dx (if input_grad), dL/dp for every parameter p] for L = sum(y * cos(position))."""
    model.zero_grad()
    inputs = mg.tensor(x, requires_grad=input_grad)
    out = forward(inputs)
    (out * mg.tensor(np.cos(np.arange(out.data.size)).reshape(out.shape))).sum().backward()
    return ([out.data] + ([inputs.grad.data] if input_grad else [])
            + [p.grad.data for p in model.parameters()])


def test_layers_divide_by_the_papers_fixed_scale():
    nn.manual_seed(0)
    layer = BcosConv2d(2, 3, 3, padding=1).double()
    x = np.random.default_rng(0).random((1, 2, 4, 4))
    from minigrad.ops.bcos import bcos_conv2d
    np.testing.assert_allclose(layer(mg.tensor(x)).data * np.sqrt(18) / 100,
                               bcos_conv2d(x, layer.weight, 2.0, 2, padding=1).data, rtol=1e-12)
    assert layer.weight.shape == (6, 2, 3, 3) and BcosLinear(4, 5).weight.shape == (10, 4)


def test_explanation_mode_keeps_the_forward_and_is_restored():
    nn.manual_seed(0)
    model = bcos_lenet().double()
    x = mg.tensor(np.random.default_rng(0).random((2, 1, 28, 28)))
    before = model(x).data
    with pytest.raises(RuntimeError), bcos_explanation_mode(model) as layers:
        assert len(layers) == 5 and all(layer.explanation for layer in layers)
        # the same to rounding: in explanation mode the first layer convolves [x, 1 - x], out
        # of it x with add_inverse (the same math in another order)
        np.testing.assert_allclose(model(x).data, before, rtol=1e-12, atol=1e-15)
        raise RuntimeError
    assert not any(getattr(m, "explanation", False) for m in model.modules())


def hand_built_map(model, x):
    """W(x) of BcosNet(AddInverse, Identity, Flatten, [BcosLinear ...]) written out in NumPy:
    each layer is diag(|cos|^(B-1) of its chosen units) times their unit-norm weights, / scale;
    the network is their product, / temperature."""
    z = np.concatenate([x, 1 - x], axis=1).reshape(len(x), -1)
    maps = []
    for n in range(len(x)):
        total, h = np.eye(z.shape[1]), z[n]
        for layer in model.classifier:
            w_hat = layer.weight.data / np.linalg.norm(layer.weight.data, axis=1, keepdims=True)
            l = (w_hat @ h).reshape(-1, layer.max_out)
            chosen = l.argmax(axis=1) + layer.max_out * np.arange(len(l))
            cos = l.max(axis=1) / np.sqrt(h @ h + layer.eps)
            matrix = (np.abs(cos) ** (layer.b - 1))[:, None] * w_hat[chosen] / layer.scale
            total, h = matrix @ total, matrix @ h
        maps.append(total / model.temperature)
    return np.stack(maps), z


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 16), b=st.floats(1.0, 3.0), width=st.integers(1, 5))
def test_the_dynamic_map_is_the_product_of_the_layers_fixed_maps(seed, b, width):
    nn.manual_seed(seed)
    model = BcosNet(nn.Identity(), nn.Sequential(BcosLinear(8, width, b), BcosLinear(width, 3, b)),
                    temperature=7.0).double()
    x = np.random.default_rng(seed).random((2, 1, 2, 2))
    expected, encoded = hand_built_map(model, x)
    view = dynamic_linear_map(model, x)
    np.testing.assert_allclose(view.weights.reshape(2, 3, -1), expected, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(np.einsum("nkd,nd->nk", expected, encoded), view.logits,
                               rtol=1e-9, atol=1e-13)


def random_bcos_net(seed, b, units, pool):
    """A small B-cos CNN on (N, 1, 6, 6) images: encode, conv, optional max pool, conv, Linear."""
    nn.manual_seed(seed)
    features = nn.Sequential(BcosConv2d(2, 3, 3, padding=1, b=b, max_out=units),
                             nn.MaxPool2d(2) if pool else nn.Identity(),
                             BcosConv2d(3, 2, 3, b=b, max_out=units))
    size = 1 if pool else 4
    classifier = nn.Sequential(BcosLinear(2 * size * size, 4, b=b, max_out=units))
    return BcosNet(features, classifier, temperature=3.0).double()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2 ** 16), b=st.floats(1.0, 3.0), units=st.integers(1, 2),
       pool=st.booleans())
def test_a_bcos_network_is_its_dynamic_linear_map_without_bias(seed, b, units, pool):
    """y = W(x) [x, 1 - x] to 1e-10: no bias term; the contributions add up to the logits
    (temperature included), and the model's own output is the one explained."""
    model = random_bcos_net(seed, b, units, pool)
    x = np.random.default_rng(seed).random((3, 1, 6, 6))
    view = dynamic_linear_map(model, x)
    assert view.weights.shape == (3, 4, 2, 6, 6)
    encoded = np.concatenate([x, 1 - x], axis=1)
    linear = np.einsum("nkd,nd->nk", view.weights.reshape(3, 4, -1), encoded.reshape(3, -1))
    np.testing.assert_allclose(model(mg.tensor(x)).data, linear, rtol=0, atol=1e-10)
    np.testing.assert_allclose(view.contributions.sum(axis=(2, 3, 4)), view.logits, atol=1e-10)
    np.testing.assert_allclose(view.bias, 0.0, atol=1e-10)


def test_the_plain_gradient_is_not_the_dynamic_map():
    """Without explanation mode the gradient also differentiates |cos|^(B-1): for B = 2 the
    gradient dy/dx differs from W(x)'s, which is W_x - W_(1-x) by the chain rule through
    [x, 1 - x]. With B = 1 (no factor to detach) the two agree."""
    for b, agree in ((2.0, False), (1.0, True)):
        model = random_bcos_net(0, b, 2, False)
        x = np.random.default_rng(0).random((1, 1, 6, 6))
        inputs = mg.Tensor(x, requires_grad=True)
        model(inputs)[:, 0].sum().backward()
        weights = dynamic_linear_map(model, x).weights[0, 0]              # (2, 6, 6)
        assert np.allclose(inputs.grad[0, 0], weights[0] - weights[1], rtol=1e-9) == agree


def test_with_b_equal_to_one_and_no_maxout_the_network_is_linear():
    """B = 1, one unit per output and no pooling: every layer is a fixed linear map, so W(x)
    is the same matrix at every input."""
    nn.manual_seed(0)
    model = BcosNet(nn.Sequential(BcosConv2d(2, 3, 3, b=1.0, max_out=1)),
                    nn.Sequential(BcosLinear(3 * 16, 4, b=1.0, max_out=1)), 2.0).double()
    x = np.random.default_rng(0).random((2, 1, 6, 6))
    weights = dynamic_linear_map(model, x).weights
    np.testing.assert_allclose(weights[0], weights[1], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("factory, shape", [(bcos_lenet, (2, 1, 28, 28)),
                                            (bcos_alexnet_lite, (1, 3, 32, 32))])
def test_the_models_are_dynamic_linear(factory, shape):
    nn.manual_seed(0)
    model = factory(temperature=10.0)
    x = np.random.default_rng(0).random(shape)
    view = dynamic_linear_map(model, x)
    np.testing.assert_allclose(view.contributions.reshape(*view.logits.shape, -1).sum(axis=2),
                               view.logits, rtol=1e-9, atol=1e-12)
    assert view.logits.shape == (shape[0], 10)
    assert model.encode is not None and model.features[0].weight.dtype == np.float32


@pytest.mark.parametrize("make, error, message", [
    (lambda: BcosLinear(4, 2, b=0.5), ValueError, r"BcosLinear: B must be >= 1"),
    (lambda: BcosConv2d(2, 2, 3, b=-1), ValueError, r"BcosConv2d: B must be >= 1"),
    (lambda: BcosConv2d(2, 2, 3, max_out=0), ValueError, r"max_out must be >= 1"),
    (lambda: BcosLinear(4, 2, scale_fact=0), ValueError, r"scale_fact must be > 0 or None"),
    (lambda: bcos_lenet(temperature=0), ValueError, r"temperature must be > 0"),
])
def test_bad_settings_are_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_wrong_input_channels_name_the_layer():
    with pytest.raises(ValueError, match=r"BcosConv2d\(2, 4, .*expected 2 channels"):
        BcosConv2d(2, 4, 3)(mg.tensor(np.zeros((1, 3, 5, 5), dtype=np.float32)))


def test_a_relu_network_has_no_dynamic_map():
    with pytest.raises(ValueError, match="has no B-cos layer .* use linearize"):
        dynamic_linear_map(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), np.ones((1, 1, 2, 2)))


# ----- the v2 design: uncentred, bias-free BatchNorm; no MaxOut, no fixed scale ------------------
def uncentred(x, weight, var, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return x * weight.reshape(shape) / np.sqrt(var.reshape(shape) + eps)


@pytest.mark.parametrize("layer, shape", [(BatchNormUncentered2d, (4, 3, 5, 6)),
                                          (BatchNormUncentered1d, (7, 3))])
def test_uncentred_batch_norm_divides_by_the_batch_std_in_training_and_the_running_in_eval(
        layer, shape):
    rng = np.random.default_rng(0)
    norm = layer(3, momentum=0.25).double()
    norm.weight.data[:] = [0.5, -2.0, 3.0]
    x = rng.normal(1.0, 2.0, size=shape)
    axes = (0,) + tuple(range(2, len(shape)))
    var = x.var(axis=axes)                                   # the population variance
    np.testing.assert_allclose(norm(mg.tensor(x)).data, uncentred(x, norm.weight.data, var),
                               rtol=1e-12)
    np.testing.assert_allclose(norm.running_var, 0.75 + 0.25 * var, rtol=1e-12)
    norm.eval()
    np.testing.assert_allclose(norm(mg.tensor(x)).data,
                               uncentred(x, norm.weight.data, 0.75 + 0.25 * var), rtol=1e-12)


@settings(deadline=None, max_examples=20)
@given(data=st.data(), n=st.integers(2, 4), channels=st.integers(1, 3), side=st.integers(1, 3),
       training=st.booleans())
def test_uncentred_batch_norm_gradients_match_central_differences(data, n, channels, side,
                                                                  training):
    x = data.draw(arrays((n, channels, side, side + 1)))
    assume(x.var(axis=(0, 2, 3)).min() > 1e-2)              # a spread in every channel
    weight = data.draw(arrays((channels,)))
    norm = BatchNormUncentered2d(channels).double().train(training)
    norm.running_var[:] = np.linspace(0.5, 2.0, channels)
    assert_gradients_match(lambda x_, w_: _through(norm, x_, w_), x, weight)


def _through(norm, x, weight):
    """norm's forward with `weight` (a Tensor that gradcheck varies) in place of its own."""
    norm.weight = weight
    return norm(x)


def test_in_explanation_mode_the_uncentred_norm_is_its_fixed_map_in_training_too():
    rng = np.random.default_rng(1)
    x, dy = rng.normal(1.0, 2.0, size=(3, 2, 4, 4)), rng.normal(size=(3, 2, 4, 4))
    norm = BatchNormUncentered2d(2).double()
    inputs = mg.Tensor(x, requires_grad=True)
    with bcos_explanation_mode(nn.Sequential(norm)):
        (norm(inputs) * mg.tensor(dy)).sum().backward()
    np.testing.assert_allclose(inputs.grad, uncentred(dy, norm.weight.data,
                                                      x.var(axis=(0, 2, 3))), rtol=1e-12)
    assert not norm.explanation


@pytest.mark.parametrize("detach", [False, True])
def test_uncentred_batch_norm_equals_the_authors_formula_in_torch(detach):
    """Their batch_norm_uncentered_2d (B-cos v2, bcos/modules/norms), written directly in
    torch: var of the (maybe detached) input over (0, 2, 3), unbiased=False; input / std *
    weight; no bias (their 'NoBias' wrapper)."""
    torch = torch_or_skip()
    rng = np.random.default_rng(2)
    x, w, dy = rng.normal(0.5, 1.5, (4, 3, 5, 5)), rng.normal(size=3), rng.normal(size=(4, 3, 5, 5))
    tx = torch.tensor(x, requires_grad=True)
    var = (tx.detach() if detach else tx).var(dim=(0, 2, 3), unbiased=False)
    expected = tx / (var + 1e-5).sqrt()[None, :, None, None] * torch.tensor(w)[None, :, None, None]
    (expected * torch.tensor(dy)).sum().backward()
    norm = BatchNormUncentered2d(3).double()
    norm.weight.data = w.copy()
    mx = mg.Tensor(x, requires_grad=True)
    norm.explanation = detach
    got = norm(mx)
    (got * mg.tensor(dy)).sum().backward()
    np.testing.assert_allclose(got.data, expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(mx.grad, tx.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("factory, shape", [(bcos_lenet, (2, 1, 28, 28)),
                                            (bcos_alexnet_lite, (1, 3, 32, 32))])
def test_the_v2_models_are_dynamic_linear_with_no_bias(factory, shape):
    """y = W(x) [x, 1 - x] to 1e-10 in float64, eval mode, uncentred norms with trained-like
    running variances and weights of both signs."""
    nn.manual_seed(0)
    model = factory(temperature=1.0, design="v2")
    rng = np.random.default_rng(3)
    norms = [m for m in model.modules() if isinstance(m, (BatchNormUncentered1d,
                                                           BatchNormUncentered2d))]
    assert norms and not any(getattr(m, "max_out", 1) > 1 for m in model.modules())
    for norm in norms:
        norm.running_var[:] = rng.uniform(0.1, 3.0, norm.num_features)
        norm.weight.data[:] = rng.normal(size=norm.num_features)
    x = rng.random(shape)
    view = dynamic_linear_map(model.eval(), x)
    encoded = np.concatenate([x, 1 - x], axis=1).reshape(shape[0], -1)
    linear = np.einsum("nkd,nd->nk", view.weights.reshape(shape[0], 10, -1), encoded)
    np.testing.assert_allclose(linear, view.logits, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.double()(mg.tensor(x)).data, view.logits, rtol=1e-12)


def test_a_v2_model_in_training_and_explanation_mode_is_linear_per_image():
    """With the batch variances held fixed, each logit is the gradient row times the encoded
    input of its own image: the dynamic linear identity during training, too."""
    nn.manual_seed(1)
    model = bcos_lenet(temperature=1.0, design="v2").double()
    x = np.random.default_rng(4).random((3, 1, 28, 28))
    inputs = mg.Tensor(np.concatenate([x, 1 - x], axis=1), requires_grad=True)
    body = nn.Sequential(model.features, model.flatten, model.classifier)
    with bcos_explanation_mode(model):
        logits = body(inputs)
        logits[:, 4].sum().backward()
    np.testing.assert_allclose((inputs.grad * inputs.data).sum(axis=(1, 2, 3)),
                               logits.data[:, 4], rtol=0, atol=1e-10)


@pytest.mark.parametrize("make, error, message", [
    (lambda: BatchNormUncentered2d(0), ValueError, r"num_features"),
    (lambda: BatchNormUncentered2d(3, eps=0), ValueError, r"eps"),
    (lambda: bcos_lenet(design="v3"), ValueError, r"design must be one of \('v1', 'v2'\)"),
    (lambda: BcosConv2d(2, 2, 3, scale_fact=-1), ValueError, r"scale_fact must be > 0 or None"),
])
def test_bad_v2_settings_are_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_uncentred_norm_names_its_expected_input():
    with pytest.raises(ValueError, match=r"BatchNormUncentered2d\(3.*expected 3 channels"):
        BatchNormUncentered2d(3)(mg.tensor(np.zeros((2, 2, 4, 4), dtype=np.float32)))


def test_a_bcos_convolution_takes_a_plain_array_as_before():
    nn.manual_seed(0)
    layer = BcosConv2d(2, 3, 3)
    x = np.random.default_rng(3).random((1, 2, 5, 5)).astype(np.float32)
    np.testing.assert_array_equal(layer(x).data, layer(mg.tensor(x)).data)
