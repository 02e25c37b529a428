"""nn.PreActBlock: gradients, shapes, the untouched identity path, folding, and torch."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad.nn as nn
from minigrad import Tensor, gradcheck
from minigrad.nn.fuse import fuse


def randn(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def with_random_statistics(block, shape):
    """Give every BatchNorm running statistics and affine parameters that are not 0 and 1."""
    block(Tensor(randn(*shape, seed=1, dtype=np.float32) * 2 + 0.5))
    for index, module in enumerate(m for m in block.modules() if isinstance(m, nn.BatchNorm2d)):
        module.weight.data[...] = 1 + 0.3 * randn(module.num_features, seed=10 + index)
        module.bias.data[...] = 0.2 * randn(module.num_features, seed=20 + index)
    return block


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([(2, 2, 1), (2, 3, 1), (3, 2, 2)]), st.integers(0, 2 ** 16))
def test_preact_block_gradients(channels_and_stride, seed):
    in_channels, out_channels, stride = channels_and_stride
    nn.manual_seed(seed)
    block = nn.PreActBlock(in_channels, out_channels, stride).double()
    assert (block.downsample is None) == (stride == 1 and in_channels == out_channels)
    x = Tensor(randn(2, in_channels, 4, 4, seed=seed), requires_grad=True)
    assert block(x).shape == (2, out_channels, 4 // stride, 4 // stride)
    gradcheck(lambda inp, *params: block(inp), x, *block.parameters())


def test_the_identity_path_passes_the_gradient_unchanged_where_basic_block_masks_it():
    """With its residual branch silenced (last layer 0) a pre-activation block is the identity,
    value and gradient; a BasicBlock is then relu(x): its gradient is 0 wherever x < 0."""
    x = Tensor(randn(2, 3, 5, 5), requires_grad=True)
    upstream = randn(2, 3, 5, 5, seed=1)
    pre = nn.PreActBlock(3, 3).double()
    pre.conv2.weight.data[...] = 0
    y = pre(x)
    y.backward(upstream)
    np.testing.assert_array_equal(y.data, x.data)
    np.testing.assert_array_equal(x.grad.data, upstream)

    x.grad = None
    post = nn.BasicBlock(3, 3).double()
    post.bn2.weight.data[...] = 0
    post(x).backward(upstream)
    np.testing.assert_array_equal(x.grad.data, upstream * (x.data > 0))


def test_fuse_folds_bn2_into_conv1():
    block = with_random_statistics(nn.PreActBlock(2, 4, stride=2), (4, 2, 6, 6))
    fused = fuse(block)
    x = Tensor(randn(2, 2, 6, 6, seed=5, dtype=np.float32))
    np.testing.assert_allclose(fused(x).data, block.eval()(x).data, rtol=1e-5, atol=1e-5)
    assert isinstance(fused.bn2, nn.Identity) and isinstance(fused.bn1, nn.BatchNorm2d)


def test_preact_block_matches_a_torch_reference_in_training_and_eval_mode():
    torch = pytest.importorskip("torch")

    class TorchPreActBlock(torch.nn.Module):
        """He et al.'s full pre-activation block, written out in torch with the same names."""

        def __init__(self, cin, cout, stride):
            super().__init__()
            t = torch.nn
            self.bn1, self.bn2 = t.BatchNorm2d(cin), t.BatchNorm2d(cout)
            self.conv1 = t.Conv2d(cin, cout, 3, stride, padding=1, bias=False)
            self.conv2 = t.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.downsample = t.Conv2d(cin, cout, 1, stride, bias=False)

        def forward(self, x):
            activated = torch.relu(self.bn1(x))
            out = self.conv2(torch.relu(self.bn2(self.conv1(activated))))
            return out + self.downsample(activated)

    block = nn.PreActBlock(3, 4, stride=2).double()
    reference = TorchPreActBlock(3, 4, 2).double()
    reference.load_state_dict({name: torch.from_numpy(np.array(value))
                               for name, value in block.state_dict().items()}, strict=True)
    x_np, upstream = randn(2, 3, 6, 6), randn(2, 4, 3, 3, seed=1)
    for training in (True, False):
        block.train(training), reference.train(training)
        x, x_torch = Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        y, y_torch = block(x), reference(x_torch)
        y.backward(upstream)
        y_torch.backward(torch.from_numpy(upstream))
        np.testing.assert_allclose(y.data, y_torch.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(x.grad.data, x_torch.grad.numpy(), rtol=1e-10, atol=1e-12)
        for name, value in block.state_dict().items():       # the running statistics too
            np.testing.assert_allclose(value, reference.state_dict()[name].numpy(),
                                       rtol=1e-10, atol=1e-12, err_msg=name)
