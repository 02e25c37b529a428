"""Attributions against a baseline: DeepLIFT (Rescale rule) and GradientSHAP, as Captum has them.

Both share out the difference S_c(x) - S_c(x') between the input x and a baseline x' (a
reference input, all zeros by default) among the input's elements:

    DeepLIFT      A = (x - x') * m, where m is the gradient with each nonlinearity's derivative
                  replaced by its average slope between x' and x, (y - y') / (a - a')
                  (Shrikumar, Greenside, Kundaje, "Learning Important Features Through
                  Propagating Activation Differences", ICML 2017, the Rescale rule; as a
                  modified gradient after Ancona et al. 2018, which is Captum's DeepLift)
    GradientSHAP  A = mean_k (x~_k - b_k) * dS_c/dx(b_k + a_k (x~_k - b_k)), with b_k drawn
                  from the baselines, a_k ~ U(0, 1) and x~_k = x + N(0, stdevs^2) (Lundberg &
                  Lee 2017; Captum's GradientShap: expected gradients)

Completeness. DeepLIFT's A sums to S_c(x) - S_c(x') exactly: every layer keeps
sum_i m_i (a_i - a'_i) = sum_j m_j (y_j - y'_j) (a linear layer by linearity, a rescaled unit
by its slope's definition, a max pool by Captum's split of each window's difference), so the sum
telescopes from the logit down to the input -- up to rounding, and up to units whose input
moves by less than 1e-10, where the plain derivative stands in for the slope. GradientSHAP's
sum, for one draw, is g'(a_k) with g(a) = S_c(b_k + a (x~_k - b_k)); its expectation over
a ~ U(0, 1) is g(1) - g(0) = S_c(x~_k) - S_c(b_k): complete on average, not per draw.
"""
import numpy as np

from minigrad.checks import check_number, is_whole
from minigrad.nn.layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d,
                                Dropout, Flatten, Identity, LeakyReLU, Linear, MaxPool2d, ReLU,
                                Sigmoid, Tanh)
from minigrad.saliency.core import (Explanation, broadcast_baselines, check_logit_only,
                                    float_baselines, predict, resolve_target, saliency_method)
from minigrad.saliency.gradients import _gradients
from minigrad.saliency.lrp import layer_chain, refuse_unknown_layers, vjp

# layers that are affine in eval mode: DeepLIFT's multipliers pass them as the gradient does
AFFINE_IN_EVAL = (Linear, Conv2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Identity, Dropout,
                  BatchNorm1d, BatchNorm2d)
# element-wise nonlinearities: the Rescale rule (Captum's `nonlinear`)
RESCALED = (ReLU, LeakyReLU, Tanh, Sigmoid)
DEEPLIFT_LAYERS = AFFINE_IN_EVAL + RESCALED + (MaxPool2d,)
SAME_INPUT = 1e-10       # Captum's eps: below this |a - a'| the derivative replaces the slope


def slope(change, step, derivative):
    """change / step where |step| >= SAME_INPUT, else the derivative there."""
    moved = np.abs(step) >= SAME_INPUT
    return np.where(moved, np.divide(change, step, out=np.zeros_like(change), where=moved),
                    derivative)


def rescale_multiplier(layer, a, a_ref, y, y_ref, m):
    """Rescale rule of an element-wise y = act(a): m_a = m_y * (y - y') / (a - a')."""
    return m * slope(y - y_ref, a - a_ref, vjp(layer, a, np.ones_like(y)))


def max_pool_multiplier(layer, a, a_ref, y, y_ref, m):
    """Captum's max-pool rule: each window's y - y' is split into max(y, y') - y', given to x's
    largest input, and y - max(y, y'), given to x''s largest input; a unit's multiplier is what
    it got, times m, over a - a' (the pool's gradient where a = a')."""
    top = np.maximum(y, y_ref)
    split = vjp(layer, a, m * (top - y_ref)) + vjp(layer, a_ref, m * (y - top))
    return slope(split, a - a_ref, vjp(layer, a, m))


def multiplier(layer, a, a_ref, y, y_ref, m):
    """The multipliers of the layer's input, given those of its output (dS/dy in the Rescale
    sense): the gradient for an affine layer, the average slope for a nonlinearity."""
    if isinstance(layer, RESCALED):
        return rescale_multiplier(layer, a, a_ref, y, y_ref, m)
    if isinstance(layer, MaxPool2d):
        return max_pool_multiplier(layer, a, a_ref, y, y_ref, m)
    return vjp(layer, a, m)


@saliency_method
def deeplift(model, x, target=None, score="logit", baselines=0.0):
    """DeepLIFT with the Rescale rule (see the module docstring): A = (x - x') * m, the map sums
    A over channels. baselines x': a number or a float array broadcastable to x, one image or
    one per image (Captum's name and default: 0).

    The model must be a chain of Linear, Conv2d, pooling, Flatten, BatchNorm/Dropout (eval)
    and ReLU/LeakyReLU/Tanh/Sigmoid layers (nn modules: a relu called as a function would not
    be seen). info: 'score_change' S_c(x) - S_c(x') and 'completeness_gap' sum A minus it (0 up
    to rounding). Logit only. Two forward passes (x and x'), then one vector-Jacobian product
    per layer.
    """
    check_logit_only("deeplift", score)
    baseline = broadcast_baselines(baselines, x, "deeplift")
    steps, logits = layer_chain(model, x)
    reference_steps, reference_logits = layer_chain(model, baseline)
    refuse_unknown_layers(steps, DEEPLIFT_LAYERS, "DeepLIFT")
    target = resolve_target(logits, target)
    rows = np.arange(len(x))
    m = np.zeros_like(logits)
    m[rows, target] = 1.0
    for (_, layer, a, y), (_, _, a_ref, y_ref) in zip(reversed(steps), reversed(reference_steps)):
        m = multiplier(layer, a, a_ref, y, y_ref, m)
    attributions = (x - baseline) * m
    change = logits[rows, target] - reference_logits[rows, target]
    return Explanation(attributions.sum(axis=1), target, score_change=change,
                       completeness_gap=attributions.sum(axis=(1, 2, 3)) - change)


def baseline_batch(baselines, x):
    """The baselines to draw from, (B, C, H, W): None -> one all-zero image; an image or a
    batch of images shaped like x's."""
    if baselines is None:
        return np.zeros((1,) + x.shape[1:], x.dtype)
    baselines = float_baselines(baselines, x, "gradient_shap")
    baselines = baselines[None] if baselines.ndim == 3 else baselines
    if baselines.shape[1:] != x.shape[1:]:
        raise ValueError(f"gradient_shap: expected baselines shaped like the images, "
                         f"(B, {', '.join(map(str, x.shape[1:]))}), got {baselines.shape}")
    return baselines


@saliency_method
def gradient_shap(model, x, target=None, score="logit", baselines=None, n_samples=5,
                  stdevs=0.0, seed=0, batch_size=64):
    """GradientSHAP (see the module docstring), with Captum's defaults n_samples=5 and
    stdevs=0.0: the map sums over channels

        A = (1/n) sum_k (x~_k - b_k) * dS_c/dx(a_k x~_k + (1 - a_k) b_k).

    baselines: the distribution to draw b_k from, (B, C, H, W) (Captum requires one; here None
    is a single all-zero image). The draws, from numpy's default_rng(seed), in this order:
    noise normal(size=(n_samples, N, C, H, W)) * stdevs, the baseline of each (sample, image)
    integers(B, size=(n_samples, N)), a_k uniform(size=(n_samples, N)).
    n_samples/batch_size forward and backward passes per batch, plus one forward.
    """
    if not (is_whole(n_samples) and n_samples >= 1):
        raise ValueError(f"n_samples must be a whole number >= 1, got {n_samples!r}")
    check_number(stdevs, "stdevs", "gradient_shap", low=0)
    target = resolve_target(predict(model, x), target)
    baselines = baseline_batch(baselines, x)
    rng = np.random.default_rng(seed)
    noisy = x[None] + (stdevs * rng.normal(size=(n_samples,) + x.shape)).astype(x.dtype)
    chosen = baselines[rng.integers(len(baselines), size=(n_samples, len(x)))]
    alphas = rng.uniform(size=(n_samples, len(x), 1, 1, 1)).astype(x.dtype)
    points = alphas * noisy + (1 - alphas) * chosen                       # (n, N, C, H, W)
    gradients = _gradients(model, points.reshape((-1,) + x.shape[1:]),
                           np.tile(target, n_samples), score, batch_size).reshape(points.shape)
    attributions = ((noisy - chosen) * gradients).mean(axis=0)
    return Explanation(attributions.sum(axis=1), target)
