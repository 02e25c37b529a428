"""BatchNorm folding: same eval outputs, fewer layers, original model untouched."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad.nn as nn
from minigrad import Tensor
from minigrad.nn.fuse import fuse, fuse_conv_bn


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def with_random_statistics(model, input_shape):
    """Train-mode passes give the BatchNorms non-trivial running statistics; random affine too."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
            module.weight.data[:] = randn(module.num_features, seed=1) + 1
            module.bias.data[:] = randn(module.num_features, seed=2)
    for seed in range(3):
        model(Tensor(randn(*input_shape, seed=seed) * 2 + 1))
    return model.eval()


def test_fuse_conv_bn_relu_stack_keeps_outputs_with_fewer_layers():
    model = with_random_statistics(nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 5, 3, bias=False), nn.BatchNorm2d(5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(5 * 2 * 2, 6), nn.BatchNorm1d(6)), (8, 3, 6, 6))
    fused = fuse(model)
    x = Tensor(randn(4, 3, 6, 6, seed=9))
    np.testing.assert_allclose(fused(x).data, model(x).data, rtol=1e-5, atol=1e-5)
    assert len(fused) == len(model) - 3
    assert not any(isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d) for m in fused.modules())
    assert fused[0].weight.dtype == np.float32 and fused[2].bias is not None
    assert isinstance(model[1], nn.BatchNorm2d)


@settings(max_examples=15, deadline=None)
@given(kernel=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1),
       groups=st.sampled_from([1, 2]), bias=st.booleans(), seed=st.integers(0, 100))
def test_fused_conv_equals_conv_then_bn_for_any_geometry(kernel, stride, padding, groups, bias,
                                                         seed):
    conv = nn.Conv2d(2, 4, kernel, stride, padding, groups=groups, bias=bias)
    model = with_random_statistics(nn.Sequential(conv, nn.BatchNorm2d(4)), (3, 2, 5, 5))
    x = Tensor(randn(2, 2, 5, 5, seed=seed))
    np.testing.assert_allclose(fuse_conv_bn(model[0], model[1])(x).data, model(x).data,
                               rtol=1e-5, atol=1e-5)


def test_fuse_basic_block_through_its_fusable_pairs():
    block = with_random_statistics(nn.BasicBlock(2, 4, stride=2), (4, 2, 6, 6))
    fused = fuse(block)
    x = Tensor(randn(2, 2, 6, 6, seed=5))
    np.testing.assert_allclose(fused(x).data, block(x).data, rtol=1e-5, atol=1e-5)
    assert isinstance(fused.bn1, nn.Identity) and len(fused.downsample) == 1


def test_fuse_conv_bn_errors():
    with pytest.raises(ValueError, match="has 3 features but .* has 4 output channels"):
        fuse_conv_bn(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(3))
    with pytest.raises(TypeError, match=r"expected \(Conv2d or Linear, BatchNorm\), got "
                                        r"\(ReLU, BatchNorm2d\)"):
        fuse_conv_bn(nn.ReLU(), nn.BatchNorm2d(3))
    with pytest.raises(ValueError, match="tracks no running statistics"):
        fuse_conv_bn(nn.Linear(2, 3), nn.BatchNorm1d(3, track_running_stats=False))
