"""linearize: a piecewise-linear network is y = W(x) x + b(x), exactly, around each input."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minigrad import nn
from minigrad.saliency import dynamic_linear_map, explain, linearize
from minigrad.saliency.dynamic import rgba


def random_relu_net(seed, conv, depth, width, bias, pooling):
    """A random piecewise-linear network for (N, 2, 6, 6) inputs: `depth` conv layers with
    ReLU (or an MLP 72 -> width -> 72 reshaped back), an eval-mode BatchNorm with random
    statistics, max or avg pooling, Flatten, Dropout, Linear."""
    nn.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if conv:
        layers = [nn.Sequential(nn.Conv2d(width if i else 2, width, 3, padding=1, bias=bias),
                                nn.ReLU()) for i in range(depth)]
        channels = width
    else:
        layers = [nn.Flatten(), nn.Linear(72, width, bias=bias), nn.ReLU(),
                  nn.Linear(width, 72, bias=bias), nn.ReLU(), _Unflatten()]
        channels = 2
    batch_norm = nn.BatchNorm2d(channels, affine=bias)
    pool = nn.MaxPool2d(2) if pooling == "max" else nn.AvgPool2d(2)
    model = nn.Sequential(*layers, batch_norm, pool, nn.Flatten(), nn.Dropout(0.5),
                          nn.Linear(channels * 9, 4, bias=bias)).double()
    # without biases the BatchNorm may scale but not shift: a zero running mean
    batch_norm.running_mean = rng.normal(size=channels) if bias else np.zeros(channels)
    batch_norm.running_var = rng.uniform(0.5, 2, size=channels)
    return model.eval()


class _Unflatten(nn.Module):
    """(N, 72) -> (N, 2, 6, 6), so that the MLP variant ends in conv-shaped features."""

    def forward(self, x):
        return x.reshape(x.shape[0], 2, 6, 6)


nets = st.builds(random_relu_net, seed=st.integers(0, 2 ** 16), conv=st.booleans(),
                 depth=st.integers(1, 3), width=st.integers(1, 4), bias=st.booleans(),
                 pooling=st.sampled_from(["max", "avg"]))


@settings(max_examples=25, deadline=None)
@given(model=nets, seed=st.integers(0, 2 ** 16))
def test_the_network_is_its_linear_map_at_x_and_near_x(model, seed):
    """y(x) = W x + b to 1e-10, and y(x + d) = W (x + d) + b for a small step d: W and b are
    the network's own local linear map, not just a split of y (inside one linear region, which
    a step of 1e-7 leaves only if some ReLU input or pooled value is that close to a tie)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3, 2, 6, 6))
    view = linearize(model, x)
    assert view.weights.shape == (3, 4, 2, 6, 6) and view.bias.shape == (3, 4)

    def affine(inputs):
        return np.einsum("nkd,nd->nk", view.weights.reshape(3, 4, -1), inputs.reshape(3, -1)) \
            + view.bias

    np.testing.assert_allclose(model(nn.Parameter(x)).data, affine(x), rtol=0, atol=1e-10)
    step = 1e-7 * rng.normal(size=x.shape)
    np.testing.assert_allclose(model(nn.Parameter(x + step)).data, affine(x + step),
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose(view.contributions.sum(axis=(2, 3, 4)), view.logits - view.bias,
                               rtol=0, atol=1e-10)


@settings(max_examples=10, deadline=None)
@given(model=nets.filter(lambda m: m[-1].bias is None), seed=st.integers(0, 2 ** 16))
def test_a_relu_network_without_biases_has_no_bias_term(model, seed):
    """Without biases (and a BatchNorm that only scales) the network is positively homogeneous,
    y(x) = W(x) x: b(x) = 0 and the contributions add up to the logits."""
    x = np.random.default_rng(seed).normal(size=(2, 2, 6, 6))
    view = linearize(model, x)
    np.testing.assert_allclose(view.bias, 0.0, atol=1e-12)
    np.testing.assert_allclose(view.contributions.sum(axis=(2, 3, 4)), view.logits, atol=1e-12)


def test_a_linear_layer_is_its_own_weights_and_bias(rng):
    nn.manual_seed(0)
    layer = nn.Linear(5, 3)
    x = rng.normal(size=(4, 5))
    view = linearize(layer, x)
    np.testing.assert_allclose(view.weights, np.broadcast_to(layer.weight.data, (4, 3, 5)),
                               rtol=1e-7)
    np.testing.assert_allclose(view.bias, np.broadcast_to(layer.bias.data, (4, 3)), rtol=1e-6)
    assert layer.weight.dtype == np.float32 and layer.weight.grad is None    # left as it was


def test_the_weights_are_torchs_jacobian(small_cnn, torch_small_cnn, images):
    torch, reference = torch_small_cnn
    jacobian = torch.autograd.functional.jacobian(reference, torch.tensor(images)).numpy()
    per_sample = np.stack([jacobian[n, :, n] for n in range(len(images))])   # (N, 5, 3, 8, 8)
    np.testing.assert_allclose(linearize(small_cnn, images).weights, per_sample, rtol=1e-10,
                               atol=1e-14)


def test_the_linearize_method_maps_sum_to_logit_minus_bias(small_cnn, images):
    maps, explanation = explain(small_cnn, images, target=[0, 1, 2], method="linearize",
                                postprocess=(), return_explanation=True)
    logits = small_cnn(nn.Parameter(images)).data
    np.testing.assert_allclose(maps.sum(axis=(1, 2)) + explanation.info["bias"],
                               logits[np.arange(3), [0, 1, 2]], rtol=1e-10)
    picture = explanation.info["rgba"]
    assert picture.shape == (3, 8, 8, 4) and picture.min() >= 0 and picture.max() <= 1


class _Squash(nn.Module):
    """A custom forward with a tanh that no layer of its own announces."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x).tanh()


@pytest.mark.parametrize("model, message", [
    (nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)), r"layer '1' \(Tanh\)"),
    (nn.Sequential(nn.Linear(4, 3), nn.Sigmoid()), r"layer '1' \(Sigmoid\)"),
    (nn.Sequential(nn.Linear(4, 3), nn.GELU()), r"layer '1' \(GELU\)"),
    (nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3)), r"layer '1' \(LayerNorm\)"),
    (_Squash(), r"an op in _Squash.forward .*\(Tanh of 1"),
    (nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)), r"'1' \(BatchNorm1d\) is in training"),
    (nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 2)), r"'0' \(Dropout\) is in training mode"),
])
def test_a_layer_that_is_not_piecewise_linear_is_named(model, message):
    with pytest.raises(ValueError, match=message):
        linearize(model, np.ones((2, 4)))


def test_attention_is_not_piecewise_linear():
    nn.manual_seed(0)
    attention = nn.MultiheadAttention(4, 2, batch_first=True)

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = attention

        def forward(self, x):
            return self.attn(x, x, x)[0].sum(axis=1)

    with pytest.raises(ValueError, match=r"is not piecewise linear .* depend on x"):
        linearize(SelfAttention().eval(), np.ones((2, 3, 4)))


def test_rgba_colours_by_the_sign_of_the_weight_and_hides_negative_evidence():
    weights = np.zeros((1, 1, 3, 3))
    weights[0, 0, 0, 0], weights[0, 0, 2, 2] = 2.0, -1.0
    contributions = weights[:, 0] * 1.0
    picture = rgba(weights, contributions, paired=False, smooth=1, percentile=100)
    np.testing.assert_allclose(picture[0, 0, 0], [1, 1, 1, 1], atol=1e-9)  # white, opaque
    np.testing.assert_allclose(picture[0, 2, 2], [0, 0, 0, 0], atol=1e-9)  # hidden
    paired = np.stack([np.full((2, 2), 3.0), np.full((2, 2), 1.0)])[None]  # w_x = 3, w_1-x = 1
    picture = rgba(paired, np.ones((1, 2, 2)), paired=True, smooth=1, percentile=100)
    np.testing.assert_allclose(picture[0, ..., 0], 0.75)                    # 3 / (3 + 1)


def test_the_bcos_method_maps_sum_to_the_logit_exactly():
    from minigrad.models import bcos_lenet
    nn.manual_seed(0)
    model = bcos_lenet(temperature=5.0)
    x = np.random.default_rng(0).random((2, 1, 28, 28)).astype(np.float32)
    maps, explanation = explain(model, x, target=[3, 7], method="bcos", postprocess=(),
                                return_explanation=True)
    logits = model.double()(nn.Parameter(x.astype(np.float64))).data
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), logits[[0, 1], [3, 7]], rtol=1e-9)
    np.testing.assert_allclose(explanation.info["bias"], 0.0, atol=1e-12)
    assert explanation.info["rgba"].shape == (2, 28, 28, 4)


def test_the_bcos_method_needs_a_bcos_network(small_cnn, images):
    with pytest.raises(ValueError, match=r"Sequential has no B-cos layer .*method='linearize'"):
        explain(small_cnn, images, method="bcos")


def test_linearity_is_what_each_op_declares():
    """The ops say whether linearize may read through them (Function.piecewise_linear): a new
    op is refused until it declares itself, and a product is linear while one factor is fixed."""
    import minigrad as mg
    from minigrad.ops import conv, elementwise, linalg

    assert mg.Function.piecewise_linear is False
    for op in (elementwise.Mul(), linalg.MatMul(), conv.Conv2d()):
        assert op.piecewise_linear([True, False]) and op.piecewise_linear([False, True])
        assert not op.piecewise_linear([True, True])
    assert elementwise.Div().piecewise_linear([True, False])
    assert not elementwise.Div().piecewise_linear([False, True])

    class Scale(mg.Function):
        """y = 2x;  dL/dx = 2 dL/dy (linear, but it does not say so)."""

        def forward(self, x):
            return 2 * x

        def backward(self, grad):
            return 2 * grad

    class Doubled(nn.Module):
        def forward(self, x):
            return Scale.apply(x)

    with pytest.raises(ValueError, match=r"an op in Doubled.forward .*\(Scale of 1"):
        linearize(Doubled(), np.ones((2, 4)))
    Scale.piecewise_linear = True
    view = linearize(Doubled(), np.ones((2, 4)))
    np.testing.assert_allclose(view.weights, 2 * np.broadcast_to(np.eye(4), (2, 4, 4)))


def small_bcos_net():
    from minigrad.models import bcos_lenet
    nn.manual_seed(0)
    return bcos_lenet(temperature=5.0), np.random.default_rng(0).random((3, 1, 28, 28))


def backward_passes(model, run):
    """The rows of dL/d(logits) that reached the model's output in each backward pass of
    run(): one entry per pass."""
    passes = []
    handle = model.register_full_backward_hook(lambda module, grad: passes.append(len(grad)))
    try:
        result = run()
    finally:
        handle.remove()
    return result, passes


@pytest.mark.parametrize("method", ["linearize", "bcos"])
def test_a_method_reads_the_targets_rows_in_one_backward_pass(small_cnn, images, method):
    """The map of each image's target is its row of the all-classes view (K passes, as before),
    from a single backward pass of the sum of the targets' logits."""
    model, x = (small_cnn, images) if method == "linearize" else small_bcos_net()
    whole_map = linearize if method == "linearize" else dynamic_linear_map
    full, full_passes = backward_passes(model, lambda: whole_map(model, x))
    classes = full.weights.shape[1]
    assert full_passes == [len(x)] * classes
    np.testing.assert_array_equal(full.classes, np.tile(np.arange(classes), (len(x), 1)))
    target = np.array([classes - 1, 0, 2])
    (maps, explanation), passes = backward_passes(model, lambda: explain(
        model, x, target=target, method=method, postprocess=(), return_explanation=True))
    assert passes == [len(x)]
    rows = np.arange(len(x)), target
    np.testing.assert_allclose(maps, full.contributions[rows].sum(axis=1), rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_allclose(explanation.info["bias"], full.bias[rows], rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_array_equal(explanation.info["logit"], full.logits[rows])
    np.testing.assert_array_equal(explanation.target, target)


def test_a_view_of_the_targets_holds_their_rows(small_cnn, images):
    full = linearize(small_cnn, images)
    predicted = full.logits.argmax(axis=1)
    for target, expected in [(None, predicted), (3, np.full(3, 3)), ([4, 1, 0], [4, 1, 0])]:
        view = linearize(small_cnn, images, target=target)
        rows = np.arange(3), np.asarray(expected)
        np.testing.assert_array_equal(view.classes[:, 0], expected)
        assert view.weights.shape == (3, 1, 3, 8, 8)
        for field in ("weights", "bias", "logits", "contributions"):
            np.testing.assert_allclose(getattr(view, field)[:, 0], getattr(full, field)[rows],
                                       rtol=1e-12, atol=1e-15)


def test_a_bad_target_is_refused(small_cnn, images):
    with pytest.raises(ValueError, match="target must be 'all', None .* got 'every'"):
        linearize(small_cnn, images, target="every")
    with pytest.raises(ValueError, match="target 5 is out of range"):
        linearize(small_cnn, images, target=5)
