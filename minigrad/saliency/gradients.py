"""Gradient methods: how much would S_c change if this pixel changed?

All of them are built on one backward pass from the class score S_c to the input x:

    vanilla gradient       M = max_c |dS_c/dx|                       Simonyan et al. 2014
    signed gradient        M = sum_c dS_c/dx     (the map before the |.|, for sanity checks)
    gradient x input       M = sum_c x * dS_c/dx                     Shrikumar et al. 2016
    SmoothGrad             M = vanilla map of mean_i dS_c/dx(x + e_i), e_i ~ N(0, sigma^2)
                                                                     Smilkov et al. 2017
    Integrated Gradients   M = sum_c (x - x') * integral_0^1 dS_c/dx(x' + a(x - x')) da
                                                                     Sundararajan et al. 2017
    guided backprop        vanilla map with a changed ReLU backward  Springenberg et al. 2015
    deconvnet              idem, another ReLU backward               Zeiler & Fergus 2014

Maps of colour images reduce the channel axis: max |.| for the gradient-only maps (as in
Simonyan et al.), a plain sum for the attributions (so that they still add up to the score).
"""
import contextlib

import numpy as np

from minigrad.function import Function
from minigrad.nn.layers import ReLU
from minigrad.saliency.core import (Explanation, broadcast_baselines, class_scores, in_batches,
                                    input_gradient, predict, resolve_target, saliency_method)
from minigrad.tensor import nodes_behind


def max_abs_over_channels(gradient):
    """(N, C, H, W) -> (N, H, W): the largest |gradient| over the colour channels."""
    return np.abs(gradient).max(axis=1)


def gradient_map(model, x, target, score, rule=None):
    """max_c |dS_c/dx| with `rule` at every ReLU (None: the true gradient)."""
    with relu_backward(model, rule) if rule is not None else contextlib.nullcontext():
        gradient, target = input_gradient(model, x, target, score)
    return Explanation(max_abs_over_channels(gradient), target)


@saliency_method
def vanilla_gradient(model, x, target=None, score="logit"):
    """M[i, j] = max_c |dS_c/dx[c, i, j]| (Simonyan, Vedaldi, Zisserman, "Deep Inside
    Convolutional Networks", ICLR workshop 2014). One forward, one backward."""
    return gradient_map(model, x, target, score)


@saliency_method
def signed_gradient(model, x, target=None, score="logit"):
    """M[i, j] = sum_c dS_c/dx[c, i, j]: the gradient itself (for a grey image exactly dS/dx).

    The absolute value of the vanilla map hides the sign, and with it much of what the top
    layers decide: Adebayo et al. (2018) run their sanity check on both. One forward, one
    backward."""
    gradient, target = input_gradient(model, x, target, score)
    return Explanation(gradient.sum(axis=1), target)


@saliency_method
def gradient_x_input(model, x, target=None, score="logit"):
    """M[i, j] = sum_c x[c, i, j] * dS_c/dx[c, i, j] (Shrikumar et al., "Not Just a Black Box",
    2016). For a linear model S = w.x + b, the map sums to S - b: each pixel's share of the
    score. Signed."""
    gradient, target = input_gradient(model, x, target, score)
    return Explanation((x * gradient).sum(axis=1), target)


def _gradients(model, xs, targets, score, batch_size):
    """dS_c/dx for many inputs, one backward per batch of `batch_size`."""
    return in_batches(lambda x, t: input_gradient(model, x, t, score)[0], xs, targets,
                      batch_size=batch_size)


@saliency_method
def smoothgrad(model, x, target=None, score="logit", samples=25, noise=0.15, seed=0,
               batch_size=64):
    """Average the gradient over noisy copies, then take the vanilla map:

        M = max_c |(1/n) sum_i dS_c/dx(x + e_i)|,   e_i ~ N(0, sigma^2),
        sigma = noise * (max(x) - min(x)) per image (Smilkov et al., "SmoothGrad: removing noise
        by adding noise", 2017; they found 10-20% best).

    The gradient of a ReLU network jumps from pixel to pixel; averaging over a small cloud of
    inputs keeps what is stable. 1 + samples/batch_size forward and backward passes per batch.
    """
    target = resolve_target(predict(model, x), target)
    rng = np.random.default_rng(seed)
    sigma = noise * (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3)))          # (N,)
    noisy = x[None] + rng.normal(size=(samples,) + x.shape).astype(x.dtype) \
        * sigma[None, :, None, None, None].astype(x.dtype)                   # (n, N, C, H, W)
    gradients = _gradients(model, noisy.reshape((-1,) + x.shape[1:]),
                           np.tile(target, samples), score, batch_size)
    mean_gradient = gradients.reshape(noisy.shape).mean(axis=0)
    return Explanation(max_abs_over_channels(mean_gradient), target)


def integration_rule(steps, rule="gauss-legendre"):
    """Nodes a_k in [0, 1] and weights w_k with sum_k w_k f(a_k) ~ integral_0^1 f(a) da.

    Gauss-Legendre places the nodes where a polynomial fit is most accurate; the trapezoid rule
    uses equally spaced nodes and half weights at both ends (what the IG paper describes as a
    Riemann sum).
    """
    if rule == "gauss-legendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)              # on [-1, 1]
        return (nodes + 1) / 2, weights / 2
    if rule == "trapezoid":
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0, 1, steps), weights
    raise ValueError(f"unknown integration rule {rule!r}; expected 'gauss-legendre' or "
                     f"'trapezoid'")


@saliency_method
def integrated_gradients(model, x, target=None, score="logit", baselines=0.0, steps=64,
                         rule="gauss-legendre", batch_size=64):
    """Integrated Gradients (Sundararajan, Taly, Yan, "Axiomatic Attribution for Deep
    Networks", ICML 2017):

        IG[c, i, j] = (x - x')[c, i, j] * integral_0^1 dS_c/dx(x' + a (x - x'))[c, i, j] da

    with baseline x' (`baselines`, Captum's name: a number, one image or one per image; default
    all zeros), the integral taken by `rule` on `steps` nodes.
    Completeness: sum IG = S(x) - S(x'), which no other gradient method guarantees; the
    remaining gap, sum IG - (S(x) - S(x')), measures the integration error and is returned in
    info['completeness_gap'] (N,). The map sums IG over channels. steps/batch_size forward and
    backward passes per image, plus one forward for x and one for x'.
    """
    target = resolve_target(predict(model, x), target)
    baseline = broadcast_baselines(baselines, x, "integrated_gradients")
    alphas, weights = integration_rule(steps, rule)
    path = baseline[None] + alphas[:, None, None, None, None].astype(x.dtype) * (x - baseline)[None]
    gradients = _gradients(model, path.reshape((-1,) + x.shape[1:]), np.tile(target, steps),
                           score, batch_size).reshape(path.shape)
    average_gradient = np.tensordot(weights, gradients, axes=1)              # (N, C, H, W)
    attributions = (x - baseline) * average_gradient
    score_change = class_scores(model, x, target, score) - class_scores(model, baseline, target,
                                                                        score)
    gap = attributions.sum(axis=(1, 2, 3)) - score_change
    return Explanation(attributions.sum(axis=1), target, completeness_gap=gap,
                       score_change=score_change)


class RuleReLU(Function):
    """y = max(x, 0), as ReLU, but backpropagating by a saliency rule: dL/dx = rule([x > 0], g)."""

    def forward(self, x, rule):
        self.positive, self.rule = x > 0, rule
        return np.maximum(x, x.dtype.type(0))

    def backward(self, grad):
        return self.rule(self.positive, grad)


@contextlib.contextmanager
def relu_backward(model, rule):
    """Inside the block every nn.ReLU module of `model` backpropagates by `rule`.

    rule(positive, grad) -> the gradient for the ReLU's input, where positive = (x > 0). A forward
    hook on each ReLU module swaps its output for RuleReLU's (the same values, the rule's
    gradient); the hooks come off when the block ends, also on an error. The ops are never
    changed. A ReLU called as a function (F.relu inside some forward) is no module and cannot be
    reached this way: a hook on the whole model finds it in the graph and raises, rather than
    give a map that silently mixes two rules.
    """
    relus = [module for module in model.modules() if isinstance(module, ReLU)]
    if not relus:
        raise ValueError(f"{type(model).__name__} has no nn.ReLU module, so there is no ReLU "
                         f"whose backward rule could change; build the model with nn.ReLU layers")
    swap = lambda module, inputs, output: RuleReLU.apply(inputs[0], rule=rule)  # noqa: E731
    handles = [module.register_forward_hook(swap) for module in relus]
    handles.append(model.register_forward_hook(_refuse_functional_relu))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _refuse_functional_relu(model, inputs, output):
    """Raise if the graph behind `output` holds a ReLU that no nn.ReLU module made."""
    for tensor in nodes_behind(output):
        if tensor.grad_fn is not None and tensor.grad_fn.name() == "ReLU":
            raise ValueError(f"{type(model).__name__} calls relu as a function (F.relu or "
                             f"x.relu()) in its forward; guided backprop and deconvnet change "
                             f"the rule of nn.ReLU modules only: use an nn.ReLU layer there")


def guided_rule(positive, grad):
    """Guided backprop: pass a gradient only where the input was positive AND the gradient is
    positive: dx = g * [x > 0] * [g > 0]."""
    return np.where(positive & (grad > 0), grad, 0).astype(grad.dtype, copy=False)


def deconvnet_rule(positive, grad):
    """Deconvnet: the ReLU applied to the backward signal, ignoring the forward input:
    dx = max(g, 0)."""
    return np.maximum(grad, 0)


@saliency_method
def guided_backprop(model, x, target=None, score="logit"):
    """Vanilla map of the gradient with the guided rule at every ReLU (Springenberg et al.,
    "Striving for Simplicity: The All Convolutional Net", ICLR workshop 2015). Sharp, but it
    hardly depends on the class or the top layers' weights (Adebayo et al. 2018)."""
    return gradient_map(model, x, target, score, guided_rule)


@saliency_method
def deconvnet(model, x, target=None, score="logit"):
    """Vanilla map of the gradient with the deconvnet rule at every ReLU (Zeiler & Fergus,
    "Visualizing and Understanding Convolutional Networks", ECCV 2014)."""
    return gradient_map(model, x, target, score, deconvnet_rule)
