"""Attention blocks: shapes, the published formulas, and gradients in float64."""
import numpy as np

from minigrad import Tensor, gradcheck
from minigrad.nn.attention import CBAM, SpatialAttention, SqueezeExcitation


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def check_gradients(module, x):
    module.double()
    gradcheck(lambda inp, *params: module(inp), Tensor(x, requires_grad=True),
              *module.parameters())


def mlp_of(se):
    def mlp(d):
        first, second = se.mlp[0], se.mlp[2]
        hidden = np.maximum(d @ first.weight.data.T + first.bias.data, 0)
        return hidden @ second.weight.data.T + second.bias.data
    return mlp


def test_squeeze_excitation_is_hu_et_al_by_default_and_cbam_with_use_max():
    x = randn(2, 4, 3, 3)
    se = SqueezeExcitation(4, reduction=2).double()                   # Hu et al.: average only
    weights = sigmoid(mlp_of(se)(x.mean(axis=(2, 3))))
    np.testing.assert_allclose(se(Tensor(x)).data, x * weights[:, :, None, None], rtol=1e-12)
    check_gradients(se, x)
    cbam_channel = SqueezeExcitation(4, reduction=2, use_max=True).double()
    mlp = mlp_of(cbam_channel)
    weights = sigmoid(mlp(x.mean(axis=(2, 3))) + mlp(x.max(axis=(2, 3))))
    np.testing.assert_allclose(cbam_channel(Tensor(x)).data, x * weights[:, :, None, None],
                               rtol=1e-12)
    check_gradients(cbam_channel, x)
    assert CBAM(4, reduction=2).channel.use_max                       # CBAM keeps its max
    assert list(se.state_dict()) == list(cbam_channel.state_dict())   # the same keys


def test_spatial_attention_and_cbam_gradients():
    x = randn(2, 3, 4, 4)
    spatial = SpatialAttention(kernel_size=3).double()
    assert spatial(Tensor(x)).shape == x.shape
    check_gradients(spatial, x)
    cbam = CBAM(3, reduction=1, kernel_size=3)
    check_gradients(cbam, x)
    assert [name for name, _ in cbam.named_parameters()] == [
        "channel.mlp.0.weight", "channel.mlp.0.bias", "channel.mlp.2.weight",
        "channel.mlp.2.bias", "spatial.conv.weight"]
