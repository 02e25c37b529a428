"""What does a unit of a trained network respond to? Two answers, both from the model alone.

1. Make it fire: activation maximisation. Start from noise and climb the gradient of one
   unit's activation (or a channel's mean, or a class logit) with respect to the *input*, the
   model held fixed (Erhan et al. 2009; Simonyan et al. 2013). Unregularised, the climb finds
   high-frequency patterns no image has; the usual priors keep it image-like (Olah et al.,
   "Feature Visualization", Distill 2017): an L2 penalty on the pixels (Simonyan), a random
   jitter of the image at each step, and a blur every few steps (Yosinski et al. 2015).
2. Find what fires it: the test images that activate a channel most, and the patch of each
   that its strongest unit sees (Zeiler & Fergus 2014). That patch is the unit's receptive
   field, computed from the conv and pool geometry of the layers before it.

    receptive_field(model, layer)        -> ReceptiveField: size, jump, start (per axis)
    maximise_activation(model, targets, layer, shape, ...) -> (images, trace)
    target_activation(model, images, targets, layer)       -> (N,) the climbed quantity
    unit_activations(model, images, layer, reduce)          -> (N, K), one value per unit
    top_activating(model, images, layer, k)                 -> TopActivations
    crop_patches(images, field, top)                        -> the receptive fields cropped

Why here, in saliency: these methods ask the same clean question of a trained model as the
saliency maps (a forward hook on a layer, a gradient with respect to the input, the model left
exactly as it was) and share that machinery (core.untouched, core.captured); viz.py draws what
training produces (curves, filters), not what a unit means. Plots: saliency.plot.
"""
from typing import NamedTuple

import numpy as np

from minigrad.checks import check_range, is_whole
from minigrad.nn.bcos import AddInverse, BcosConv2d
from minigrad.nn.layers import (GELU, AvgPool2d, BatchNorm2d, Conv2d, Dropout, Identity,
                                LeakyReLU, MaxPool2d, ReLU, Sigmoid, Tanh)
from minigrad.saliency.core import (as_batch, captured, in_batches, layer_activation,
                                    resolve_layer, untouched)
from minigrad.saliency.postprocess import gaussian_blur
from minigrad.tensor import Tensor, enable_grad, no_grad

# layers that act on each pixel (or each channel) alone: the receptive field passes unchanged
POINTWISE = (ReLU, LeakyReLU, Tanh, Sigmoid, GELU, BatchNorm2d, Dropout, Identity, AddInverse)
REDUCTIONS = ("max", "mean")


# ------------------------------------------------------------------------------------------------
# receptive fields
# ------------------------------------------------------------------------------------------------
class ReceptiveField(NamedTuple):
    """Which input pixels unit (i, j) of a layer can see: rows start[0] + i * jump[0] up to
    size[0] of them, columns likewise. start may be negative: the field then reaches into
    the padding. All three are (height, width) pairs."""
    size: tuple
    jump: tuple
    start: tuple

    def box(self, i, j):
        """Unit (i, j)'s field as (top, left, bottom, right), bottom and right exclusive."""
        top = self.start[0] + i * self.jump[0]
        left = self.start[1] + j * self.jump[1]
        return top, left, top + self.size[0], left + self.size[1]


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _window(module):
    """A conv's or a pool's (kernel, stride, dilation, (top, left) padding) per axis, or None
    for a pointwise layer."""
    if isinstance(module, (Conv2d, BcosConv2d)):
        # a BcosConv2d has Conv2d's geometry attributes, which Conv2d's padding_sides reads
        top, _, left, _ = Conv2d.padding_sides.fget(module)
        return module.kernel_size, module.stride, module.dilation, (top, left)
    if isinstance(module, (MaxPool2d, AvgPool2d)):           # an int or a pair each (checked)
        return (_pair(module.kernel_size), _pair(module.stride), (1, 1), _pair(module.padding))
    if isinstance(module, POINTWISE):
        return None
    raise ValueError(f"receptive_field: cannot follow a {type(module).__name__} (only convs, "
                     f"max/avg pools and pointwise layers {[t.__name__ for t in POINTWISE]}); "
                     f"a unit after a Flatten, Linear or global pool sees the whole image")


def receptive_field(model, layer):
    """The receptive field of the units of `layer` (a name such as 'features.3', or a module),
    from the geometry of the layers before it, taken in registration order (the order in
    which a Sequential runs them). A module used twice in the forward pass gets its first
    use's field: top_activating and maximise_activation refuse such a layer.

    A window of k taps (dilation d: k_eff = d (k - 1) + 1), stride s and padding p on top of a
    field (r, j, start) gives r + (k_eff - 1) j, j s and start - p j (Araujo et al., "Computing
    receptive fields of convolutional neural networks", Distill 2019).
    """
    target = resolve_layer(model, layer)
    if any(target.children()):
        raise ValueError(f"receptive_field: {layer!r} is not a leaf layer of the model (a "
                         f"container); name one of its layers")
    size, jump, start = [1, 1], [1, 1], [0, 0]
    for module in model.modules():
        if any(module.children()):
            continue                                    # a container: its leaves follow
        window = _window(module)
        if window is not None:
            for axis, (kernel, stride, dilation, pad) in enumerate(zip(*window)):
                start[axis] -= pad * jump[axis]
                size[axis] += dilation * (kernel - 1) * jump[axis]
                jump[axis] *= stride
        if module is target:
            return ReceptiveField(tuple(size), tuple(jump), tuple(start))


def crop_patches(images, field, top, fill=0.0):
    """The receptive field of each top unit cropped from its image: (K, k, C, size_h, size_w).

    images (N, C, H, W); top: a TopActivations of these images; where the field reaches past
    the image (into the padding) the patch holds `fill`."""
    images = as_batch(images)
    _check_ranked(images, field, top)
    channels, k = top.indices.shape
    patches = np.full((channels, k, images.shape[1]) + field.size, fill, dtype=images.dtype)
    height, width = images.shape[2:]
    for c in range(channels):
        for rank in range(k):
            i, j = top.positions[c, rank]
            first, left, bottom, right = field.box(i, j)
            rows = slice(max(first, 0), min(bottom, height))
            cols = slice(max(left, 0), min(right, width))
            patches[c, rank, :, rows.start - first:rows.stop - first,
                    cols.start - left:cols.stop - left] = images[top.indices[c, rank], :, rows, cols]
    return patches


def _check_ranked(images, field, top):
    """Refuse images that cannot be those `top` ranked: too few of them, or too small for the
    fields of its units."""
    height, width = images.shape[2:]
    rows, cols = (field.start[axis] + top.positions[..., axis].max() * field.jump[axis]
                  for axis in (0, 1))
    if top.indices.max() >= len(images) or rows >= height or cols >= width:
        raise ValueError(f"crop_patches: top ranks image {top.indices.max()} and has fields "
                         f"starting at row {rows}, column {cols}, but the images are "
                         f"{images.shape}: pass the images top_activating ranked")


# ------------------------------------------------------------------------------------------------
# activation maximisation
# ------------------------------------------------------------------------------------------------
def _selection(shape, targets):
    """Weights (N, *shape) that pick each sample's target out of a layer output of `shape` per
    sample: a class or unit k of a (K,) output; a channel's mean (an int c) or one unit (a
    triple (c, i, j)) of a (K, h, w) output."""
    weights = np.zeros((len(targets),) + shape)
    for n, target in enumerate(targets):
        if is_whole(target) and 0 <= target < shape[0]:
            weights[n, target] = 1.0 / np.prod(shape[1:], dtype=np.int64)
        elif (len(shape) == 3 and isinstance(target, tuple) and len(target) == 3
              and all(is_whole(t) and 0 <= t < size for t, size in zip(target, shape))):
            weights[(n,) + target] = 1.0
        else:
            form = "a channel c or a unit (c, i, j)" if len(shape) == 3 else "a unit k"
            raise ValueError(f"target {target!r} does not fit an output of shape {shape} per "
                             f"sample: expected {form} within it")
    return weights


def _output(model, x, layer):
    """The model's output (layer None) or `layer`'s output, as a Tensor in x's graph."""
    if layer is None:
        return model(x)
    with captured(model, layer) as store:
        model(x)
    return store["activation"]


def target_activation(model, images, targets, layer=None):
    """What maximise_activation climbs, forward only: (N,) for images (N, C, H, W) and one
    target each (see maximise_activation). The model is left as it was."""
    images = as_batch(images)
    targets = _target_list(targets)
    if len(targets) != len(images):
        raise ValueError(f"expected one target per image, got {len(targets)} targets for "
                         f"{len(images)} images")
    with untouched(model), no_grad():
        module = None if layer is None else resolve_layer(model, layer)
        output = _output(model, Tensor(images), module).data
    weights = _selection(output.shape[1:], targets)
    return (output * weights).reshape(len(images), -1).sum(axis=1)


def _target_list(targets):
    """targets as a list, one per image, or a sentence saying what was expected."""
    if not isinstance(targets, (list, tuple, np.ndarray)) or len(targets) == 0:
        raise ValueError(f"targets must be a non-empty list with one target per image (e.g. "
                         f"[2] for one image climbing target 2), got {targets!r}")
    return list(targets)


def _check_settings(steps, lr, l2, jitter, blur_every, blur_sigma, value_range):
    for name, value, least in (("steps", steps, 1), ("jitter", jitter, 0),
                               ("blur_every", blur_every, 0)):
        if not (is_whole(value) and value >= least):       # jitter: a shift by whole pixels
            raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
    for name, value in (("lr", lr), ("blur_sigma", blur_sigma)):
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value!r}")
    if not l2 >= 0:
        raise ValueError(f"l2 must be >= 0, got {l2!r}")
    if value_range is not None:
        check_range(value_range, "value_range", "maximise_activation")


def maximise_activation(model, targets, layer=None, shape=None, start=None, steps=200, lr=0.05,
                        l2=0.0, jitter=0, blur_every=0, blur_sigma=0.5, value_range=None,
                        normalize=True, noise=0.01, seed=0):
    """Gradient ascent on the input: -> (images (N, C, H, W), trace (steps, N)).

    One image per target. With layer None a target is a class: its logit is climbed. With a
    layer (name or module) of output (K,) per sample, a unit k; of output (K, h, w), a channel
    c (its mean over positions, Olah et al.'s channel objective) or one unit (c, i, j).
    Each step: x_s = x rolled by a random shift of up to `jitter` pixels, then

        x <- x + lr * g / rms(g),   g = d/dx [a(x_s) - l2 * ||x||^2]      (normalize=False: lr * g)

    then x clipped to value_range (if given) and, every blur_every steps, blurred by a Gaussian
    of std blur_sigma pixels. Start: `start` (N, C, H, W), or noise of std `noise` around 0 (the
    range's middle with value_range) of `shape` (C, H, W). trace[t, n]: image n's a(x_s) at
    step t. The model is left as it was: its modes, its requires_grad, no parameter's .grad.
    """
    _check_settings(steps, lr, l2, jitter, blur_every, blur_sigma, value_range)
    targets = _target_list(targets)
    dtype = next(iter(model.parameters())).data.dtype
    if start is None:
        if shape is None or len(shape) != 3:
            raise ValueError(f"give the input's shape (C, H, W) or start images; got shape "
                             f"{shape!r}")
        centre = 0.0 if value_range is None else sum(value_range) / 2
        rng = np.random.default_rng(seed)
        start = centre + noise * rng.standard_normal((len(targets),) + tuple(shape))
    x = as_batch(start).astype(dtype, copy=True)
    if len(x) != len(targets):
        raise ValueError(f"expected one start image per target, got {len(x)} images for "
                         f"{len(targets)} targets")
    rng = np.random.default_rng(seed + 1)
    trace = []
    with untouched(model):
        module = None if layer is None else resolve_layer(model, layer)
        for step in range(1, steps + 1):
            shift = tuple(rng.integers(-jitter, jitter + 1, size=2))
            value, gradient = _activation_gradient(model, np.roll(x, shift, axis=(2, 3)),
                                                   targets, module)
            trace.append(value)
            # a(roll(x)) has the gradient of a, rolled back
            gradient = np.roll(gradient, (-shift[0], -shift[1]), axis=(2, 3)) - 2 * l2 * x
            if normalize:
                rms = np.sqrt((gradient ** 2).mean(axis=(1, 2, 3), keepdims=True))
                gradient = gradient / np.maximum(rms, np.finfo(dtype).tiny)
            x += lr * gradient
            if value_range is not None:
                np.clip(x, *value_range, out=x)
            if blur_every and step % blur_every == 0:
                x = gaussian_blur(x, blur_sigma).astype(dtype)
    return x, np.array(trace)


def _activation_gradient(model, x, targets, module):
    """-> (each sample's target activation (N,), d activation / dx (N, C, H, W)). Summing the
    samples' activations is safe: in eval mode each depends on its own input only."""
    inputs = Tensor(x, requires_grad=True)
    with enable_grad():
        output = _output(model, inputs, module)
        weights = _selection(output.shape[1:], targets).astype(x.dtype)
        (output * weights).sum().backward()
    return (output.data * weights).reshape(len(x), -1).sum(axis=1), inputs.grad.data


# ------------------------------------------------------------------------------------------------
# the images that activate a unit most
# ------------------------------------------------------------------------------------------------
class TopActivations(NamedTuple):
    """For each of K channels (units), its k strongest images, strongest first:
    indices (K, k) into the images, values (K, k) the channel's largest activation in each,
    positions (K, k, 2) where (i, j) in the feature map (0, 0 for a (K,) output)."""
    indices: np.ndarray
    values: np.ndarray
    positions: np.ndarray


def _layer_outputs(model, images, layer, batch_size):
    """`layer`'s output for every image, forward only, in batches: (N, K) or (N, K, h, w)."""
    images = as_batch(images)
    with untouched(model):
        module = resolve_layer(model, layer)
        return in_batches(lambda chunk: layer_activation(model, chunk, module)[0], images,
                          batch_size=batch_size)


def unit_activations(model, images, layer, reduce="max", batch_size=128):
    """One number per image and unit of `layer`: (N, K). A conv channel's (K, h, w) map is
    reduced over its positions by 'max' (its strongest unit, what the top patches show) or
    'mean' (as Morcos et al. 2018 average a feature map for class selectivity)."""
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}")
    outputs = _layer_outputs(model, images, layer, batch_size)
    if outputs.ndim == 2:
        return outputs
    return getattr(outputs.reshape(outputs.shape[:2] + (-1,)), reduce)(axis=2)


def top_activating(model, images, layer, k=9, batch_size=128):
    """The k images (of N) on which each channel of `layer` peaks highest, and where: see
    TopActivations. Ties go to the earlier image."""
    images = as_batch(images)
    if not (is_whole(k) and 1 <= k <= len(images)):
        raise ValueError(f"k must be an int in 1..{len(images)} (the number of images), "
                         f"got {k!r}")
    outputs = _layer_outputs(model, images, layer, batch_size)
    if outputs.ndim == 2:
        outputs = outputs[:, :, None, None]
    n, channels, height, width = outputs.shape
    flat = outputs.reshape(n, channels, -1)
    peak, where = flat.max(axis=2), flat.argmax(axis=2)          # (N, K) each
    indices = np.argsort(-peak, axis=0, kind="stable")[:k].T     # (K, k)
    values = np.take_along_axis(peak.T, indices, axis=1)
    flat_positions = np.take_along_axis(where.T, indices, axis=1)
    positions = np.stack(np.unravel_index(flat_positions, (height, width)), axis=-1)
    return TopActivations(indices, values, positions)
