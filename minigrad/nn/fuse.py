"""Folding BatchNorm into the layer before it, for inference.

In eval mode a BatchNorm is a fixed per-channel affine map,
    bn(z) = (z - mean) * gamma / sqrt(var + eps) + beta = z * s + (beta - mean * s),
with s = gamma / sqrt(var + eps). When z = W x + b comes from a Conv2d or Linear, bn(z) is
again such a layer: kernel W' = W * s (per output channel), bias b' = (b - mean) * s + beta.
One layer then does the work of two.
"""
import copy

import numpy as np

from minigrad.nn.layers import Conv2d, Identity, Linear, _BatchNorm
from minigrad.nn.module import Parameter, Sequential


def fuse_conv_bn(layer, bn):
    """A new Conv2d/Linear whose output equals bn(layer(x)) with bn in eval mode.

    For Linear this holds for 2-D inputs (N, F), where the features are BatchNorm's axis 1.
    """
    if not isinstance(layer, (Conv2d, Linear)) or not isinstance(bn, _BatchNorm):
        raise TypeError(f"fuse_conv_bn: expected (Conv2d or Linear, BatchNorm), got "
                        f"({type(layer).__name__}, {type(bn).__name__})")
    channels = layer.weight.shape[0]
    if bn.num_features != channels:
        raise ValueError(f"fuse_conv_bn: {bn!r} has {bn.num_features} features but {layer!r} "
                         f"has {channels} output channels")
    if bn.running_mean is None:
        raise ValueError(f"fuse_conv_bn: {bn!r} tracks no running statistics; in eval mode it "
                         f"still normalises with batch statistics, which cannot be folded")
    scale, shift = _bn_as_affine(bn)
    weight = layer.weight.data.astype(np.float64)
    bias = np.zeros(channels) if layer.bias is None else layer.bias.data.astype(np.float64)
    fused = copy.deepcopy(layer)
    dtype = layer.weight.dtype
    per_channel = (-1,) + (1,) * (weight.ndim - 1)
    fused.weight = Parameter((weight * scale.reshape(per_channel)).astype(dtype))
    fused.bias = Parameter((bias * scale + shift).astype(dtype))
    return fused


def _bn_as_affine(bn):
    """(s, t) with bn(z) = z * s + t in eval mode, in float64."""
    gamma = np.ones(bn.num_features) if bn.weight is None else bn.weight.data.astype(np.float64)
    beta = np.zeros(bn.num_features) if bn.bias is None else bn.bias.data.astype(np.float64)
    scale = gamma / np.sqrt(bn.running_var.astype(np.float64) + bn.eps)
    return scale, beta - bn.running_mean * scale


def fuse(model):
    """A copy of `model` in eval mode with every BatchNorm folded into the Conv2d/Linear before
    it: inside a Sequential the pair becomes one layer (children renumbered); in a module that
    lists `fusable_pairs` (like BasicBlock) the BatchNorm becomes an Identity. The original model
    is not changed."""
    fused = copy.deepcopy(model).eval()
    for module in list(fused.modules()):
        if isinstance(module, Sequential):
            _fuse_sequential(module)
        for layer_name, bn_name in getattr(module, "fusable_pairs", ()):
            setattr(module, layer_name,
                    fuse_conv_bn(getattr(module, layer_name), getattr(module, bn_name)))
            setattr(module, bn_name, Identity())
    return fused


def _fuse_sequential(sequential):
    layers = list(sequential)
    for name, _ in list(sequential.named_children()):
        delattr(sequential, name)
    kept = []
    for layer in layers:
        if isinstance(layer, _BatchNorm) and kept and isinstance(kept[-1], (Conv2d, Linear)):
            kept[-1] = fuse_conv_bn(kept[-1], layer)
        else:
            kept.append(layer)
    for index, layer in enumerate(kept):
        setattr(sequential, str(index), layer)
