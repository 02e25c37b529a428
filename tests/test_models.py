"""minigrad.models: shapes, variants, the registry, and agreement with the same nets in PyTorch."""
import numpy as np
import pytest

from minigrad import nn
from minigrad.models import AlexNetLite, LeNet5, bcos_lenet, get_model
from minigrad.nn.bcos import BcosConv2d, BcosLinear
from minigrad.tensor import Tensor, no_grad
from tests.helpers import torch_or_skip


def forward(model, shape, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    with no_grad():
        return x, model(Tensor(x)).data


def test_lenet5_shapes_and_parameter_count():
    model = LeNet5()
    _, logits = forward(model, (2, 1, 28, 28))
    assert logits.shape == (2, 10)
    # conv 6*(25+1) + conv 16*(150+1) + fc 120*401 + fc 84*121 + fc 10*85
    assert model.num_parameters() == 156 + 2416 + 48120 + 10164 + 850


@pytest.mark.parametrize("activation, layer", [("relu", nn.ReLU), ("tanh", nn.Tanh),
                                               ("sigmoid", nn.Sigmoid)])
@pytest.mark.parametrize("pooling, pool_layer", [("max", nn.MaxPool2d), ("avg", nn.AvgPool2d)])
def test_lenet5_variants_use_the_chosen_layers(activation, layer, pooling, pool_layer):
    model = LeNet5(activation=activation, pooling=pooling)
    kinds = [type(module) for module in model.features]
    assert kinds.count(layer) == 2 and kinds.count(pool_layer) == 2
    assert forward(model, (1, 1, 28, 28))[1].shape == (1, 10)


@pytest.mark.parametrize("build", [LeNet5, bcos_lenet])
def test_lenet_for_64x64_colour_images_strides_its_first_conv_only(build):
    """image_size=64 (shapes v3): conv1 strides 2 to a 32x32 map, so the last pooled map is
    6x6 and the first fully connected layer takes 16 * 6 * 6 = 576 inputs; plain and B-cos
    keep the same shape."""
    model = build(in_channels=3, image_size=64).eval()
    strides = [m.stride for m in model.modules() if isinstance(m, (nn.Conv2d, BcosConv2d))]
    assert strides == [(2, 2), (1, 1)]
    first_linear = next(m for m in model.modules() if isinstance(m, (nn.Linear, BcosLinear)))
    assert first_linear.in_features == 576
    assert forward(model, (2, 3, 64, 64))[1].shape == (2, 10)


@pytest.mark.parametrize("build", [LeNet5, bcos_lenet])
def test_lenet_refuses_an_image_size_it_has_no_stride_for(build):
    with pytest.raises(ValueError, match=r"image_size must be one of \[28, 64\], got 32"):
        build(image_size=32)


def test_lenet5_rejects_unknown_variants():
    with pytest.raises(ValueError, match="activation 'gelu'"):
        LeNet5(activation="gelu")
    with pytest.raises(ValueError, match="pooling 'min'"):
        LeNet5(pooling="min")


@pytest.mark.parametrize("batch_norm", [False, True])
def test_alexnet_lite_shapes(batch_norm):
    model = AlexNetLite(batch_norm=batch_norm)
    model.eval()
    _, logits = forward(model, (2, 3, 32, 32))
    assert logits.shape == (2, 10)
    assert model.features[-1]._output_shape == (2, 128, 3, 3)
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert has_bn == batch_norm


@pytest.mark.parametrize("batch_norm", [False, True])
def test_alexnet_lite_for_64x64_strides_its_first_conv_and_keeps_every_weight(batch_norm):
    """image_size=64 (shapes v3): the first conv's output is 32x32, as for a 32x32 image, so
    the state dicts have the same names and shapes and load into each other."""
    small, large = (AlexNetLite(batch_norm=batch_norm, image_size=size) for size in (32, 64))
    assert (large.features[0].stride, small.features[0].stride) == ((2, 2), (1, 1))
    assert all(layer.stride == (1, 1) for layer in large.features[1:]
               if isinstance(layer, nn.Conv2d))
    assert {k: v.shape for k, v in small.state_dict().items()} == \
        {k: v.shape for k, v in large.state_dict().items()}
    large.load_state_dict(small.state_dict())
    large.eval()
    _, logits = forward(large, (2, 3, 64, 64))
    assert logits.shape == (2, 10)
    assert large.features[0]._output_shape == (2, 64, 32, 32)
    assert large.features[-1]._output_shape == (2, 128, 3, 3)


def test_alexnet_lite_refuses_an_image_size_it_has_no_stride_for():
    with pytest.raises(ValueError, match=r"image_size must be one of \[32, 64\], got 48"):
        AlexNetLite(image_size=48)


def test_get_model_passes_the_image_size_to_alexnet_lite_and_its_bcos_twin():
    assert get_model("alexnet_lite_bn", image_size=64).features[0].stride == (2, 2)
    bcos = get_model("bcos_alexnet_lite", image_size=64)
    with no_grad():
        assert bcos.eval()(Tensor(np.zeros((1, 3, 64, 64), np.float32))).shape == (1, 10)


def test_alexnet_lite_dropout_only_in_training():
    model = AlexNetLite()
    model.eval()
    x, first = forward(model, (2, 3, 32, 32))
    assert np.array_equal(first, forward(model, (2, 3, 32, 32))[1])
    model.train()
    assert not np.array_equal(first, forward(model, (2, 3, 32, 32))[1])


def test_get_model_builds_by_name_with_arguments():
    assert isinstance(get_model("lenet5"), LeNet5)
    assert isinstance(get_model("AlexNet-Lite", num_classes=5), AlexNetLite)
    assert get_model("lenet5", num_classes=3).classifier[-1].out_features == 3
    assert isinstance(get_model("alexnet_lite_bn").features[1], nn.BatchNorm2d)
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        get_model("resnet")


def test_lenet5_matches_pytorch_with_the_same_weights():
    torch = torch_or_skip()
    tnn = torch.nn

    class TorchLeNet5(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
                tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2))
            self.classifier = tnn.Sequential(
                tnn.Flatten(), tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                tnn.Linear(84, 10))

        def forward(self, x):
            return self.classifier(self.features(x))

    ours, theirs = LeNet5(), TorchLeNet5()
    # same keys, same order: the state dict loads straight into PyTorch
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x, logits = forward(ours, (4, 1, 28, 28))
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)


def torch_alexnet_lite(torch, batch_norm):
    """AlexNet-lite written out in PyTorch, layer for layer as minigrad.models builds it."""
    tnn = torch.nn
    layers, in_channels = [], 3
    for out_channels, kernel, padding, pool in ((64, 5, 2, True), (192, 5, 2, True),
                                                (256, 3, 1, False), (256, 3, 1, False),
                                                (128, 3, 1, True)):
        layers.append(tnn.Conv2d(in_channels, out_channels, kernel, padding=padding,
                                 bias=not batch_norm))
        layers += [tnn.BatchNorm2d(out_channels)] if batch_norm else []
        layers.append(tnn.ReLU())
        layers += [tnn.MaxPool2d(3, stride=2)] if pool else []
        in_channels = out_channels

    class TorchAlexNetLite(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(*layers)
            self.classifier = tnn.Sequential(
                tnn.Flatten(), tnn.Dropout(0.5), tnn.Linear(1152, 512), tnn.ReLU(),
                tnn.Dropout(0.5), tnn.Linear(512, 256), tnn.ReLU(), tnn.Linear(256, 10))

        def forward(self, x):
            return self.classifier(self.features(x))

    return TorchAlexNetLite()


@pytest.mark.parametrize("batch_norm", [False, True])
def test_alexnet_lite_state_dict_round_trips_with_pytorch(batch_norm):
    """minigrad -> PyTorch and back, strict keys, the same logits in eval mode (running
    BatchNorm statistics included)."""
    torch = torch_or_skip()
    ours = AlexNetLite(batch_norm=batch_norm)
    forward(ours, (8, 3, 32, 32), seed=1)             # training mode: moves the running stats
    ours.eval()
    theirs = torch_alexnet_lite(torch, batch_norm).eval()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()},
                           strict=True)
    x, logits = forward(ours, (4, 3, 32, 32), seed=2)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)

    back = AlexNetLite(batch_norm=batch_norm).eval()
    back.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()}, strict=True)
    np.testing.assert_allclose(forward(back, (4, 3, 32, 32), seed=2)[1], expected, rtol=1e-4,
                               atol=1e-5)
