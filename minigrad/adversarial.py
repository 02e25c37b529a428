"""Adversarial inputs: small changes to an image, chosen by the gradient, that change the answer.

A classifier's loss L(f(x), y) is differentiable in the input x as much as in the weights. Where
training steps the weights *against* the gradient, an attack steps the input *along* it, inside
a small L-inf ball ||x' - x||_inf <= eps (no pixel moves by more than eps) and the valid range:

    fgsm   Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples",
           ICLR 2015 (the fast gradient sign method): one step,
               x' = clip(x + eps * sign(dL/dx))
    pgd    Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks",
           ICLR 2018 (projected gradient descent): from a random point of the ball, `steps`
           steps of size alpha, each projected back onto the ball and the valid range,
               x_{t+1} = clip(project_eps(x_t + alpha * sign(dL/dx_t)))

Targeted (targeted=True, y the class to reach): step *down* the loss of y instead. The names
and arguments follow torchattacks (FGSM(model, eps), PGD(model, eps, alpha, steps,
random_start=True)) written as functions, as torch.nn.functional writes its layers.

This is a module of its own, not part of minigrad.saliency: an attack needs only a model, a
loss and autograd (adversarial training would call it from a training loop), and it changes the
input rather than explaining a decision. It borrows saliency's `untouched`: the model runs in
eval mode with frozen parameters, and every flag is restored afterwards.
"""
import numbers

import numpy as np

from minigrad.checks import check_finite, check_range, is_whole
from minigrad.ops.loss import cross_entropy
from minigrad.saliency.core import untouched
from minigrad.tensor import Tensor, as_array, enable_grad


def fgsm(model, x, y, eps, targeted=False, clamp=(0.0, 1.0)):
    """FGSM: x' = clip(x + eps * sign(dL/dx)), L = cross_entropy(model(x), y); targeted:
    x' = clip(x - eps * sign(dL/dx)) with y the class to reach. -> Tensor like x.

    x: a batch (N, ...) of floats in the valid range `clamp` (None: no range); y: N labels;
    eps >= 0: the largest change of a pixel, in the units of x (8/255 for 8 grey levels of
    images in [0, 1]); one larger than the range's width is refused. One forward and one
    backward pass.
    """
    x, y = _checked(model, x, y, eps, clamp)
    with untouched(model):
        return Tensor(_step(model, x, x, y, eps, eps, targeted, clamp))


def pgd(model, x, y, eps, alpha, steps, random_start=True, targeted=False, clamp=(0.0, 1.0),
        seed=0):
    """PGD (L-inf): from x (or, with random_start, x + uniform(-eps, eps) noise drawn with
    np.random.default_rng(seed)), `steps` times x_t <- clip(project_eps(x_t + alpha *
    sign(dL/dx_t))), project_eps clipping to [x - eps, x + eps]; targeted steps down the loss
    of y instead. -> Tensor like x. Arguments as `fgsm`'s; alpha > 0 the step size (at most the
    range's width), steps >= 1.
    One forward and one backward pass per step.
    """
    x, y = _checked(model, x, y, eps, clamp)
    _check_positive("alpha", alpha)
    if clamp is not None:
        _check_within_range("alpha", alpha, clamp)
    if not (is_whole(steps) and steps >= 1):
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    adversarial = x
    if random_start:
        noise = np.random.default_rng(seed).uniform(-eps, eps, size=x.shape).astype(x.dtype)
        adversarial = _clip(x + noise, clamp)
    with untouched(model):
        for _ in range(steps):
            adversarial = _step(model, x, adversarial, y, alpha, eps, targeted, clamp)
    return Tensor(adversarial)


def _step(model, x, current, y, size, eps, targeted, clamp):
    """One signed-gradient step from `current`, projected onto the eps-ball around x and into
    the valid range."""
    direction = -1.0 if targeted else 1.0
    moved = current + direction * size * np.sign(loss_gradient(model, current, y))
    return _clip(np.clip(moved, x - eps, x + eps), clamp)


def loss_gradient(model, x, y):
    """dL/dx of L = sum_n cross_entropy(model(x)_n, y_n) (each image's own loss: in eval mode
    an image's logits depend on it alone). Call inside `untouched(model)`."""
    inputs = Tensor(x, requires_grad=True)
    with enable_grad():
        cross_entropy(model(inputs), y, reduction="sum").backward()
    return inputs.grad.data


def _clip(x, clamp):
    return x if clamp is None else np.clip(x, *clamp).astype(x.dtype, copy=False)


def _checked(model, x, y, eps, clamp):
    """(x as a float array, y as int labels), or a ValueError/TypeError saying what was
    expected, before anything runs."""
    x = as_array(x)
    if not np.issubdtype(x.dtype, np.floating) or x.ndim < 2:
        raise TypeError(f"x: expected a float batch (N, ...), got dtype {x.dtype} and shape "
                        f"{x.shape}")
    check_finite(x, "adversarial", "x")
    y = np.asarray(as_array(y))
    if not np.issubdtype(y.dtype, np.integer) or y.shape != (len(x),) or (y < 0).any():
        raise ValueError(f"y: expected {len(x)} class labels (integers >= 0), one per image, "
                         f"got dtype {y.dtype}, shape {y.shape}")
    _check_positive("eps", eps, zero_allowed=True)
    if clamp is not None:
        low, high = check_range(clamp, "clamp", "adversarial", hint=", or None for no range")
        _check_within_range("eps", eps, clamp)
        if x.min() < low or x.max() > high:
            raise ValueError(f"x has values in [{x.min():.4g}, {x.max():.4g}], outside the valid "
                             f"range clamp={clamp}; pass the range of your inputs (for "
                             f"normalised images, (min, max) after normalisation) or None")
    return x, y


def _check_within_range(name, value, clamp):
    """Refuse a step larger than the valid range: every pixel would be pushed to an end of it,
    as happens when eps is given in grey levels (8) instead of [0, 1] units (8 / 255)."""
    width = clamp[1] - clamp[0]
    if value > width:
        hint = f"; for {value} grey levels of 255 pass {name}={value}/255" \
            if float(value).is_integer() else ""
        raise ValueError(f"{name}={value} is larger than the width {width} of the valid range "
                         f"clamp={tuple(clamp)}: every pixel would be pushed to an end of the "
                         f"range{hint}")


def _check_positive(name, value, zero_allowed=False):
    if (not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value)
            or value < 0 or (value == 0 and not zero_allowed)):
        bound = ">= 0" if zero_allowed else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
