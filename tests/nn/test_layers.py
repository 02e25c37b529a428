"""Layers: forward against NumPy, gradients through composite modules, modes and errors."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad.nn as nn
from minigrad import Tensor, gradcheck
from minigrad import functional as F
from minigrad.testing import assert_gradients_match


def randn(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def check_module_gradients(module, x):
    """gradcheck a float64 module w.r.t. its input and every parameter."""
    module.double()
    x = Tensor(x, requires_grad=True)
    gradcheck(lambda inp, *params: module(inp), x, *module.parameters())


def test_linear_forward_matches_numpy_and_defaults_to_pytorch_init():
    layer = nn.Linear(5, 3)
    x = randn(4, 5, dtype=np.float32)
    expected = x @ layer.weight.data.T + layer.bias.data
    np.testing.assert_allclose(layer(Tensor(x)).data, expected, rtol=1e-6)
    assert layer.weight.dtype == np.float32 and layer.weight.shape == (3, 5)
    bound = 1 / math.sqrt(5)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    assert nn.Linear(5, 3, bias=False).bias is None


def test_linear_gradients():
    check_module_gradients(nn.Linear(4, 3), randn(2, 4))


def test_conv_bn_relu_pool_gradients():
    block = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                          nn.MaxPool2d(2))
    check_module_gradients(block, randn(2, 2, 4, 4))


def test_basic_block_gradients_with_projection_shortcut():
    block = nn.BasicBlock(2, 3, stride=2)
    assert block.downsample is not None and nn.BasicBlock(3, 3).downsample is None
    check_module_gradients(block, randn(2, 2, 4, 4))
    assert block(Tensor(randn(2, 2, 4, 4))).shape == (2, 3, 2, 2)


def test_conv2d_shapes_defaults_and_errors():
    conv = nn.Conv2d(4, 6, (3, 5), stride=2, padding=(1, 2), groups=2)
    assert conv.weight.shape == (6, 2, 3, 5) and conv.bias.shape == (6,)
    assert np.abs(conv.weight.data).max() <= 1 / math.sqrt(2 * 3 * 5)
    assert conv(Tensor(randn(1, 4, 8, 8, dtype=np.float32))).shape == (1, 6, 4, 4)
    assert nn.Conv2d(1, 1, 3, padding="same")(Tensor(randn(1, 1, 5, 5, dtype=np.float32))).shape \
        == (1, 1, 5, 5)
    with pytest.raises(ValueError, match="groups=2 must divide in_channels=3"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2d\(4, 6.*expected 4 channels on axis 1 of the "
                                         r"input \(N, 4, H, W\), got shape \(1, 3, 8, 8\), "
                                         r"which has 3"):
        conv(Tensor(randn(1, 3, 8, 8, dtype=np.float32)))


def test_linear_error_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r"Linear\(in_features=4.*\(N, 4\), got \(2, 5\)"):
        nn.Linear(4, 2)(Tensor(randn(2, 5)))


def test_batchnorm_training_updates_running_stats_and_eval_uses_them():
    bn = nn.BatchNorm2d(3)
    x = randn(4, 3, 2, 2, dtype=np.float32)
    y = bn(Tensor(x)).data
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(y, (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean, 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(axis=(0, 2, 3), ddof=1),
                               rtol=1e-5)
    assert bn.num_batches_tracked == 1
    bn.eval()
    expected = (x - bn.running_mean[:, None, None]) / np.sqrt(bn.running_var[:, None, None] + 1e-5)
    np.testing.assert_allclose(bn(Tensor(x)).data, expected, rtol=1e-4, atol=1e-6)
    assert bn.num_batches_tracked == 1


def test_batchnorm_without_running_stats_always_uses_the_batch():
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False).eval()
    assert bn.state_dict() == {} and bn.num_parameters() == 0
    y = bn(Tensor(randn(8, 2))).data
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-7)


def test_batchnorm_input_checks():
    assert nn.BatchNorm1d(3)(Tensor(randn(4, 3, 5, dtype=np.float32))).shape == (4, 3, 5)
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3.*\(N, C, H, W\), got \(4, 3\)"):
        nn.BatchNorm2d(3)(Tensor(randn(4, 3)))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3.*expected 3 channels on axis 1 of the "
                                         r"input \(N, C\) or \(N, C, L\), got shape \(4, 2\), "
                                         r"which has 2"):
        nn.BatchNorm1d(3)(Tensor(randn(4, 2)))


def test_dropout_is_seedable_scales_in_training_and_is_identity_in_eval():
    x = Tensor(np.ones((50, 40), np.float32))
    first, second = nn.Dropout(0.25, seed=3)(x).data, nn.Dropout(0.25, seed=3)(x).data
    np.testing.assert_array_equal(first, second)
    assert set(np.unique(first)) <= {0.0, np.float32(1 / 0.75)}
    assert 0.2 < np.mean(first == 0) < 0.3
    assert nn.Dropout(0.25).eval()(x) is x
    nn.manual_seed(7)
    shared_first = nn.Dropout(0.5)(x).data
    nn.manual_seed(7)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).data, shared_first)
    with pytest.raises(ValueError, match="p must be a probability"):
        nn.Dropout(1.5)
    with pytest.raises(TypeError):     # PyTorch's second argument is inplace, not a seed
        nn.Dropout(0.5, True)


@pytest.mark.parametrize("layer, reference", [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.Tanh(), np.tanh),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)),
    (nn.LogSoftmax(), lambda x: x - np.log(np.exp(x).sum(axis=-1, keepdims=True))),
    (nn.Identity(), lambda x: x),
    (nn.Flatten(), lambda x: x.reshape(len(x), -1)),
    (nn.AvgPool2d(2), lambda x: x.reshape(2, 3, 2, 2, 2, 2).mean(axis=(3, 5))),
    (nn.MaxPool2d(2), lambda x: x.reshape(2, 3, 2, 2, 2, 2).max(axis=(3, 5))),
    (nn.GlobalAvgPool2d(), lambda x: x.mean(axis=(2, 3))),
    (nn.AdaptiveAvgPool2d(1), lambda x: x.mean(axis=(2, 3), keepdims=True)),
    (nn.AdaptiveAvgPool2d((2, 1)), lambda x: x.reshape(2, 3, 2, 2, 4).mean(axis=(3, 4))[..., None]),
    (nn.ReLU(inplace=True), lambda x: np.maximum(x, 0)),
])
def test_parameter_free_layers_match_numpy(layer, reference):
    x = randn(2, 3, 4, 4)
    np.testing.assert_allclose(layer(Tensor(x)).data, reference(x), rtol=1e-10)


@given(st.data())
def test_embedding_looks_up_rows_and_sums_the_gradient_of_repeated_indices(data):
    count, width = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 4))
    indices = np.array(data.draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=8)))
    indices = indices.reshape(data.draw(st.sampled_from([(-1,), (1, -1)])))
    weight = np.random.default_rng(0).standard_normal((count, width))
    np.testing.assert_array_equal(F.embedding(Tensor(indices), Tensor(weight)).data,
                                  weight[indices])
    assert_gradients_match(lambda w: F.embedding(indices, w), weight)
    padding = data.draw(st.integers(0, count - 1))
    w = Tensor(weight, requires_grad=True)
    F.embedding(indices, w, padding_idx=padding).sum().backward()
    expected = np.zeros_like(weight)
    np.add.at(expected, indices, 1.0)
    expected[padding] = 0                        # the padding row is never learned
    np.testing.assert_array_equal(w.grad, expected)


def test_embedding_layer_and_its_errors():
    nn.manual_seed(0)
    layer = nn.Embedding(10, 4, padding_idx=-1)
    assert layer.weight.shape == (10, 4) and not layer.weight.data[9].any()
    assert layer(Tensor(np.array([[1, 9], [3, 3]]))).shape == (2, 2, 4)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 10\).*\[0, 10\]"):
        layer(Tensor(np.array([0, 10])))
    with pytest.raises(TypeError, match="indices must be integers"):
        layer(Tensor(np.array([0.0, 1.0])))
    torch = pytest.importorskip("torch")
    twin = torch.nn.Embedding(10, 4, padding_idx=9)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    index = np.array([[1, 9, 2], [2, 2, 0]])
    out = twin(torch.from_numpy(index))
    np.testing.assert_allclose(layer(Tensor(index)).data, out.detach().numpy(), rtol=1e-6)


def test_vgg_block_and_inception_shapes_and_keys_match_torchvision_layouts():
    block = nn.vgg_block(3, 8, convs=2)
    assert block(Tensor(randn(2, 3, 8, 8, dtype=np.float32))).shape == (2, 8, 4, 4)
    assert [type(m).__name__ for m in block] == ["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"]
    module = nn.Inception(8, 4, 3, 6, 2, 5, 7)
    assert module(Tensor(randn(2, 8, 6, 6, dtype=np.float32))).shape == (2, 4 + 6 + 5 + 7, 6, 6)
    check_module_gradients(nn.Inception(2, 1, 1, 2, 1, 1, 1).double(), randn(1, 2, 4, 4))
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    class TorchInception(tnn.Module):          # torchvision's layout, without its BatchNorms
        def __init__(self, cin, c1, c3r, c3, c5r, c5, pool):
            super().__init__()
            def conv(a, b, k):
                return tnn.Sequential(tnn.Conv2d(a, b, k, padding=k // 2), tnn.ReLU())
            self.branch1 = conv(cin, c1, 1)
            self.branch2 = tnn.Sequential(conv(cin, c3r, 1), conv(c3r, c3, 3))
            self.branch3 = tnn.Sequential(conv(cin, c5r, 1), conv(c5r, c5, 5))
            self.branch4 = tnn.Sequential(tnn.MaxPool2d(3, 1, 1), conv(cin, pool, 1))

        def forward(self, x):
            return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x),
                              self.branch4(x)], 1)

    twin = TorchInception(8, 4, 3, 6, 2, 5, 7)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in module.state_dict().items()})
    x = randn(2, 8, 6, 6, dtype=np.float32)
    np.testing.assert_allclose(module(Tensor(x)).data, twin(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
