"""B-cos layers and networks: the dynamic linear map y = W(x) x, known answers, bad input."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.models import bcos_alexnet_lite, bcos_lenet
from minigrad.models.bcos import BcosNet
from minigrad.nn.bcos import AddInverse, BcosConv2d, BcosLinear, bcos_explanation_mode
from minigrad.saliency.dynamic import dynamic_linear_map


def test_add_inverse_stacks_x_and_one_minus_x():
    x = np.array([[[[0.0, 0.25]]], [[[1.0, 0.5]]]])                   # (2, 1, 1, 2)
    out = AddInverse()(mg.tensor(x)).data
    np.testing.assert_array_equal(out, np.concatenate([x, 1 - x], axis=1))


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
        np.testing.assert_array_equal(model(x).data, before)
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
    (lambda: BcosLinear(4, 2, scale_fact=0), ValueError, r"scale_fact must be > 0"),
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
