"""Every op with a second-order rule, as a case for the second-order tests: the op in minigrad,
the same op in torch, and a hypothesis strategy for its inputs (float64 arrays: the ones that
require grad first, each drawn away from the op's kinks and poles so that central differences
never straddle one).

    Case(name, ours, theirs, inputs)    ours(*tensors) / theirs(*torch tensors) -> one tensor
"""
from typing import Callable, NamedTuple

import numpy as np
from hypothesis import strategies as st

from minigrad import functional as F
from minigrad.ops.elementwise import Cast
from minigrad.ops.bcos import bcos_scale, unit_norm
from minigrad.ops.attention import scaled_dot_product_attention
from minigrad.testing import arrays, broadcastable_shapes, shapes


class Case(NamedTuple):
    name: str
    ours: Callable
    theirs: Callable            # takes torch and the torch tensors: theirs(torch, *tensors)
    inputs: st.SearchStrategy   # tuples of float64 arrays, one per argument of ours


def _pair(low=-2.0, high=2.0, second=None):
    """Two arrays of shapes that broadcast together."""
    return broadcastable_shapes(max_dims=3, max_side=3).flatmap(
        lambda s: st.tuples(arrays(s[0], low, high), second(s[1]) if second else
                            arrays(s[1], low, high)))


def _one(low=-2.0, high=2.0, min_dims=0, away_from=None, shape=None):
    return st.tuples(arrays(shape if shape is not None else shapes(min_dims, 3, max_side=3),
                            low, high, away_from=away_from, margin=0.05))


def _distinct(shape_strategy, offset=0.0):
    """An array whose values differ (no ties for max, min, max pooling): a shuffled grid of
    tenths (plus `offset`, so that two of them with different offsets never tie either)."""
    return shape_strategy.flatmap(lambda shape: st.randoms(use_true_random=False).map(
        lambda r: np.asarray(r.sample(range(-40, 40), int(np.prod(shape))),
                             dtype=np.float64).reshape(shape) / 10 + offset))


def _fixed(*shapes_, low=-2.0, high=2.0):
    return st.tuples(*(arrays(s, low, high) for s in shapes_))


def _images(channels=2, side=5):
    return st.tuples(st.integers(1, 2), st.integers(side - 1, side)).flatmap(
        lambda ns: arrays((ns[0], channels, ns[1], ns[1] + 1)))


def _spread(x):
    """A ramp added to the values: a channel (or row) of equal values has variance 0, where a
    norm's derivative is rounding noise times 1/sqrt(eps) (torch's 1e-11 against an exact 0)."""
    return x + 0.05 * np.arange(x.size).reshape(x.shape)


LABELS = np.array([0, 2, 1])
CASES = [
    # elementwise
    Case("add", lambda a, b: a + b, lambda t, a, b: a + b, _pair()),
    Case("sub", lambda a, b: a - b, lambda t, a, b: a - b, _pair()),
    Case("mul", lambda a, b: a * b, lambda t, a, b: a * b, _pair()),
    Case("div", lambda a, b: a / b, lambda t, a, b: a / b,
         _pair(second=lambda s: arrays(s, 0.5, 2.0))),
    Case("pow", lambda x, p: x ** p, lambda t, x, p: x ** p,     # torch's d/dp at p = 0 is 0
         _pair(0.5, 2.0, second=lambda s: arrays(s, -2.0, 3.0, away_from=0.0))),
    Case("pow by a constant", lambda x: x ** 3, lambda t, x: x ** 3, _one()),
    Case("neg", lambda x: -x, lambda t, x: -x, _one()),
    Case("exp", F.exp, lambda t, x: t.exp(x), _one()),
    Case("log", F.log, lambda t, x: t.log(x), _one(0.3, 3.0)),
    Case("sqrt", F.sqrt, lambda t, x: t.sqrt(x), _one(0.3, 3.0)),
    Case("abs", F.abs, lambda t, x: t.abs(x), _one(away_from=0.0)),
    Case("clamp", lambda x: F.clip(x, -1.0, 1.0), lambda t, x: t.clamp(x, -1.0, 1.0),
         _one(away_from=[-1.0, 1.0])),
    Case("maximum", F.maximum, lambda t, a, b: t.maximum(a, b),
         st.tuples(_distinct(st.just((2, 3))), _distinct(st.just((3,)), offset=0.05))),
    Case("cast", lambda x: Cast.apply(x, dtype=np.float64), lambda t, x: x.to(t.float64),
         _one()),
    Case("sin", F.sin, lambda t, x: t.sin(x), _one()),
    Case("cos", F.cos, lambda t, x: t.cos(x), _one()),
    Case("where", lambda a, b: F.where(a.data > 0, a * a, b),
         lambda t, a, b: t.where(a > 0, a * a, b),
         broadcastable_shapes(max_dims=3, max_side=3).flatmap(
             lambda s: st.tuples(arrays(s[0], away_from=0.0, margin=0.05), arrays(s[1])))),
    # activations
    Case("relu", F.relu, lambda t, x: t.relu(x), _one(away_from=0.0)),
    Case("leaky_relu", lambda x: F.leaky_relu(x, 0.1),
         lambda t, x: t.nn.functional.leaky_relu(x, 0.1), _one(away_from=0.0)),
    Case("tanh", F.tanh, lambda t, x: t.tanh(x), _one()),
    Case("sigmoid", F.sigmoid, lambda t, x: t.sigmoid(x), _one()),
    Case("gelu", F.gelu, lambda t, x: t.nn.functional.gelu(x), _one()),
    Case("gelu tanh", lambda x: F.gelu(x, approximate="tanh"),
         lambda t, x: t.nn.functional.gelu(x, approximate="tanh"), _one()),
    Case("softmax", lambda x: F.softmax(x, dim=1), lambda t, x: t.softmax(x, dim=1),
         _one(min_dims=2)),
    Case("log_softmax", lambda x: F.log_softmax(x, dim=-1),
         lambda t, x: t.log_softmax(x, dim=-1), _one(min_dims=1)),
    # reductions
    Case("sum", lambda x: x.sum(1, keepdim=True) ** 2,
         lambda t, x: x.sum(1, keepdim=True) ** 2, _one(min_dims=2)),
    Case("sum of all", lambda x: x.sum() ** 2, lambda t, x: x.sum() ** 2, _one()),
    Case("mean", lambda x: x.mean(-1) ** 2, lambda t, x: x.mean(-1) ** 2, _one(min_dims=1)),
    Case("amax", lambda x: F.amax(x, 1) ** 2, lambda t, x: t.amax(x, 1) ** 2,
         st.tuples(_distinct(shapes(2, 3, min_side=1, max_side=3)))),
    Case("amin", lambda x: F.amin(x, 0) ** 2, lambda t, x: t.amin(x, 0) ** 2,
         st.tuples(_distinct(shapes(1, 3, min_side=1, max_side=3)))),
    Case("var", lambda x: x.var(0) ** 2, lambda t, x: x.var(0) ** 2,
         _one(shape=shapes(1, 3, min_side=2, max_side=3))),
    Case("std", lambda x: x.std(), lambda t, x: x.std(),               # std 0 is a kink
         st.tuples(_distinct(shapes(1, 3, min_side=2, max_side=3)))),
    Case("norm", lambda x: x.norm(dim=1), lambda t, x: x.norm(dim=1),
         _one(0.2, 2.0, shape=shapes(2, 3, max_side=3))),
    # shape
    Case("reshape", lambda x: x.reshape(-1) ** 2, lambda t, x: x.reshape(-1) ** 2, _one()),
    Case("permute", lambda x: x.permute(1, 2, 0) ** 2, lambda t, x: x.permute(1, 2, 0) ** 2,
         _one(shape=shapes(3, 3, max_side=3))),
    Case("getitem", lambda x: x[1:, ::2] ** 2, lambda t, x: x[1:, ::2] ** 2,
         _one(shape=shapes(2, 3, min_side=2, max_side=4))),
    Case("getitem, an index twice", lambda x: x[[0, 1, 0]] ** 2,
         lambda t, x: x[[0, 1, 0]] ** 2, _one(shape=shapes(1, 3, min_side=2, max_side=3))),
    Case("gather", lambda x: x.gather(1, np.array([[0, 1, 1], [2, 0, 0]])) ** 2,
         lambda t, x: x.gather(1, t.tensor([[0, 1, 1], [2, 0, 0]])) ** 2, _fixed((2, 3))),
    Case("expand", lambda x: x.expand(2, 3, 4) ** 2, lambda t, x: x.expand(2, 3, 4) ** 2,
         _fixed((3, 1))),
    Case("repeat", lambda x: x.repeat(2, 1, 3) ** 2, lambda t, x: x.repeat(2, 1, 3) ** 2,
         _fixed((2, 2))),
    Case("pad", lambda x: F.pad(x, (1, 2)) ** 2 + x.sum() * F.pad(x, (1, 2)),
         lambda t, x: t.nn.functional.pad(x, (1, 2)) ** 2 + x.sum() * t.nn.functional.pad(
             x, (1, 2)), _one(shape=shapes(1, 2, max_side=3))),
    Case("cat", lambda a, b: F.cat([a, b * a], 1) ** 2, lambda t, a, b: t.cat([a, b * a], 1) ** 2,
         _fixed((2, 3), (2, 3))),
    Case("stack", lambda a, b: F.stack([a, a * b], -1) ** 2,
         lambda t, a, b: t.stack([a, a * b], -1) ** 2, _fixed((2, 3), (2, 3))),
    Case("clone", lambda x: x.clone() ** 2, lambda t, x: x.clone() ** 2, _one()),
    Case("embedding", lambda w: F.embedding(np.array([[0, 2], [2, 3]]), w, padding_idx=3) ** 2,
         lambda t, w: t.nn.functional.embedding(t.tensor([[0, 2], [2, 3]]), w,
                                                padding_idx=3) ** 2, _fixed((4, 3))),
    # linear algebra
    Case("matmul", lambda a, b: a @ b, lambda t, a, b: a @ b, _fixed((2, 3), (3, 4))),
    Case("matmul, batched", lambda a, b: a @ b, lambda t, a, b: a @ b,
         _fixed((2, 1, 2, 3), (3, 3, 2))),
    Case("matmul, vectors", lambda a, b, c: F.cat([(a @ b) * c, (b @ c) * a]),
         lambda t, a, b, c: t.cat([(a @ b) * c, (b @ c) * a]), _fixed((3,), (3, 2), (2,))),
    Case("linear", lambda x, w, b: F.tanh(F.linear(x, w, b)),
         lambda t, x, w, b: t.tanh(t.nn.functional.linear(x, w, b)),
         _fixed((2, 2, 3), (4, 3), (4,))),
    Case("attention", scaled_dot_product_attention,
         lambda t, q, k, v: t.nn.functional.scaled_dot_product_attention(q, k, v),
         _fixed((1, 2, 3), (1, 3, 3), (1, 3, 2))),
    # losses
    Case("cross_entropy", lambda x: F.cross_entropy(x, LABELS),
         lambda t, x: t.nn.functional.cross_entropy(x, t.tensor(LABELS)), _fixed((3, 4))),
    Case("cross_entropy, weights and smoothing",
         lambda x: F.cross_entropy(x, LABELS, np.array([1.0, 2.0, 0.5, 1.0]),
                                   label_smoothing=0.2, reduction="sum"),
         lambda t, x: t.nn.functional.cross_entropy(
             x, t.tensor(LABELS), t.tensor([1.0, 2.0, 0.5, 1.0], dtype=t.float64),
             label_smoothing=0.2, reduction="sum"), _fixed((3, 4))),
    Case("cross_entropy, per sample", lambda x: F.cross_entropy(x, LABELS, reduction="none"),
         lambda t, x: t.nn.functional.cross_entropy(x, t.tensor(LABELS), reduction="none"),
         _fixed((3, 4))),
    Case("nll_loss", lambda x: F.nll_loss(F.log_softmax(x, 1), LABELS),
         lambda t, x: t.nn.functional.nll_loss(t.log_softmax(x, 1), t.tensor(LABELS)),
         _fixed((3, 4))),
    Case("binary_cross_entropy_with_logits",
         lambda x, y: F.binary_cross_entropy_with_logits(x, y, pos_weight=np.array([2.0, 0.5])),
         lambda t, x, y: t.nn.functional.binary_cross_entropy_with_logits(
             x, y, pos_weight=t.tensor([2.0, 0.5], dtype=t.float64)),
         st.tuples(arrays((3, 2)), arrays((3, 2), 0.0, 1.0))),
    Case("binary_cross_entropy", lambda p, y: F.binary_cross_entropy(p, y, reduction="sum"),
         lambda t, p, y: t.nn.functional.binary_cross_entropy(p, y, reduction="sum"),
         st.tuples(arrays((3, 2), 0.1, 0.9), arrays((3, 2), 0.1, 0.9))),
    Case("mse_loss", lambda a, b: F.mse_loss(a, b), lambda t, a, b: t.nn.functional.mse_loss(a, b),
         _fixed((2, 3), (2, 3))),
    # the ops of a CNN
    Case("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=(1, 2), padding=1) ** 2,
         lambda t, x, w, b: t.nn.functional.conv2d(x, w, b, stride=(1, 2), padding=1) ** 2,
         st.tuples(_images(), arrays((3, 2, 2, 3)), arrays((3,)))),
    Case("conv2d, groups and dilation", lambda x, w: F.conv2d(x, w, dilation=2, groups=2) ** 2,
         lambda t, x, w: t.nn.functional.conv2d(x, w, dilation=2, groups=2) ** 2,
         st.tuples(_images(side=6), arrays((4, 1, 2, 2)))),
    Case("max_pool2d", lambda x: F.max_pool2d(x, 2, 1, padding=1) ** 2,
         lambda t, x: t.nn.functional.max_pool2d(x, 2, 1, padding=1) ** 2,
         st.tuples(_distinct(st.just((1, 2, 3, 4))))),
    Case("avg_pool2d", lambda x: F.avg_pool2d(x, 2, 1, padding=1, count_include_pad=False) ** 2,
         lambda t, x: t.nn.functional.avg_pool2d(x, 2, 1, padding=1,
                                                 count_include_pad=False) ** 2, st.tuples(_images())),
    Case("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, 1) ** 2,
         lambda t, x: t.nn.functional.adaptive_avg_pool2d(x, 1) ** 2, st.tuples(_images())),
    Case("batch_norm, training", lambda x, w, b: F.batch_norm(x, None, None, w, b, True) ** 2,
         lambda t, x, w, b: t.nn.functional.batch_norm(x, None, None, w, b, True) ** 2,
         st.tuples(_images().map(_spread), arrays((2,), 0.5, 2.0), arrays((2,)))),
    Case("batch_norm, eval",
         lambda x, w, b: F.batch_norm(x, np.array([0.1, -0.2]), np.array([0.5, 2.0]), w, b) ** 2,
         lambda t, x, w, b: t.nn.functional.batch_norm(
             x, t.tensor([0.1, -0.2], dtype=t.float64), t.tensor([0.5, 2.0], dtype=t.float64),
             w, b) ** 2, st.tuples(arrays((3, 2)), arrays((2,)), arrays((2,)))),
    Case("layer_norm", lambda x, w, b: F.layer_norm(x, (3,), w, b) ** 2,
         lambda t, x, w, b: t.nn.functional.layer_norm(x, (3,), w, b) ** 2,
         st.tuples(arrays((2, 3)).map(_spread), arrays((3,), 0.5, 2.0), arrays((3,)))),
    Case("dropout", lambda x: F.dropout(x, 0.5, rng=0) ** 2,
         lambda t, x: (x * t.from_numpy(_dropout_mask(x.shape))) ** 2, _fixed((3, 4))),
    Case("bcos_scale", lambda l, n: bcos_scale(l, n, 2.5), lambda t, l, n: _bcos(t, l, n, 2.5),
         st.tuples(arrays((2, 3), away_from=0.0, margin=0.1), arrays((2, 1), 0.5, 2.0))),
    Case("unit_norm", unit_norm,
         lambda t, w: w / w.flatten(1).norm(dim=1).reshape((-1,) + (1,) * (w.ndim - 1)),
         st.sampled_from([(3, 4), (2, 2, 2, 3)]).flatmap(
             lambda shape: st.tuples(arrays(shape, away_from=0.0, margin=0.1)))),
]


def _dropout_mask(shape):
    keep = np.random.default_rng(0).random(shape, dtype=np.float32) >= 0.5
    return keep * 2.0


def _bcos(torch, l, n, b):
    return l * (l / n).abs() ** (b - 1)


def by_name():
    return {case.name: case for case in CASES}
