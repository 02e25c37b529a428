"""The machinery every saliency method shares: inputs, targets, scores, layers, hooks, and a
promise to leave the model exactly as it was found.

A saliency method asks one question of a trained model -- "how does the score S_c of class c
depend on this input (or on this layer's activations)?" -- and answers it with forward passes,
backward passes, or both. Everything here is about asking that question cleanly:

    as_batch(x)              any image or batch -> float (N, C, H, W) ndarray
    untouched(model)         eval mode and frozen parameters inside, all restored afterwards
    saliency_method          decorator: as_batch + untouched around a method
    class_score(out, t, s)   the scalar S_c whose gradient we want: logit, prob or log_prob
    class_scores, predict    forward-only scores / logits of many inputs, in batches
    resolve_target           None -> the predicted class; checked against the number of classes
    resolve_layer            None -> the last conv's rectified output; a name or a module
    captured(model, layer)   forward hook that keeps the layer's output (and its gradient);
                             a layer run twice in one forward is refused
    input_gradient, layer_gradient, layer_activation: the three questions methods ask
    hooked_forward           one forward pass with the hooks a method needs
    Explanation              what every method returns: raw maps, targets, extras
"""
import contextlib
import functools

import numpy as np

from minigrad.checks import broadcasts_to, check_finite, check_floating, is_whole
from minigrad.nn.layers import BatchNorm1d, BatchNorm2d, Conv2d, ReLU
from minigrad.functional import log_softmax, softmax
from minigrad.tensor import Tensor, as_array, enable_grad, no_grad

SCORES = ("logit", "prob", "log_prob")


def as_batch(x):
    """An image (C, H, W) or a batch (N, C, H, W), ndarray or Tensor -> float (N, C, H, W)."""
    array = as_array(x)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4:
        raise ValueError(f"expected an image (C, H, W) or a batch (N, C, H, W), "
                         f"got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"expected a floating-point image (normalise uint8 images first), "
                        f"got dtype {array.dtype}")
    # a NaN pixel would give a map of NaN, which normalising turns into an all-zero map
    check_finite(array, "saliency", "image batch")
    return array


@contextlib.contextmanager
def untouched(model):
    """Run a saliency method on `model` and leave it exactly as it was.

    Inside: eval mode (BatchNorm uses running statistics, dropout is off, so every sample of a
    batch is explained on its own) and parameters frozen (requires_grad=False), so that backward
    computes only the gradients we ask for and never writes .grad on a parameter. Afterwards
    every module's train/eval flag and every parameter's requires_grad are restored. (Hooks are
    removed by whoever registers them, in a `finally`, see `captured`.)
    """
    modes = [(module, module.training) for module in model.modules()]
    frozen = [(param, param.requires_grad) for param in model.parameters()]
    model.eval()
    for param, _ in frozen:
        param.requires_grad = False
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training
        for param, requires_grad in frozen:
            param.requires_grad = requires_grad


def resolve_target(logits, target):
    """The class to explain for each sample: (N,) ints. None -> the predicted class (arg-max)."""
    n, classes = logits.shape
    if target is None:
        return logits.argmax(axis=1)
    given = np.asarray(target)
    # as PyTorch indexes: ints only (a float class is not rounded down), one or one per image
    if not np.issubdtype(given.dtype, np.integer) or given.shape not in ((), (n,)):
        raise ValueError(f"target must be a class (an int) or one per image, {n} ints; got "
                         f"{given.tolist()!r}")
    target = np.broadcast_to(given, (n,)).astype(np.int64)
    bad = (target < 0) | (target >= classes)
    if bad.any():
        raise ValueError(f"target {target[bad][0]} is out of range: the model has {classes} "
                         f"classes, so a target must be in 0..{classes - 1}")
    return target


def float_baselines(baselines, x, method):
    """Baselines x' (Captum's name) as an array of x's dtype; an integer array (uint8 images not
    yet scaled, as as_batch refuses them in x) or a non-finite value is refused."""
    array = as_array(baselines)
    if array.ndim:
        check_floating(array, method, "baselines")
    check_finite(array, method, "baselines")
    return array.astype(x.dtype)


def broadcast_baselines(baselines, x, method):
    """float_baselines broadcast to the batch x: a number, one image, or one per image."""
    array = float_baselines(baselines, x, method)
    if not broadcasts_to(array.shape, x.shape):
        raise ValueError(f"{method}: expected baselines as a number or an array broadcastable to "
                         f"the batch {x.shape} (one image {x.shape[1:]}, or one per image), got "
                         f"shape {array.shape}")
    return np.broadcast_to(array, x.shape)


def check_score(score):
    """Refuse a score that is not one of SCORES, naming them."""
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; expected one of {SCORES}")


def check_logit_only(method, score):
    """Refuse a score other than the logit for a method defined on the logit alone (CAM,
    CNN-Fixations, LRP, DeepLIFT ...), which would otherwise explain the logit under its name."""
    check_score(score)
    if score != "logit":
        raise ValueError(f"method {method!r} explains the logit only; score={score!r} applies "
                         f"to the other methods")


def scored(output, score="logit"):
    """The model's output turned into the chosen score for every class: (N, classes) Tensor.

    score: 'logit' (the pre-softmax output, the usual choice: it does not depend on the other
    classes), 'prob' (softmax) or 'log_prob' (log-softmax).
    """
    check_score(score)
    if score == "prob":
        return softmax(output, axis=1)
    if score == "log_prob":
        return log_softmax(output, axis=1)
    return output


def class_score(output, target, score="logit"):
    """Sum over the batch of S_c for each sample's target c: a scalar Tensor to backward from.

    Summing over samples is safe: in eval mode sample n's score depends only on input n, so
    its gradient lands only there.
    """
    output = scored(output, score)
    one_hot = np.eye(output.shape[1], dtype=output.dtype)[target]
    return (output * one_hot).sum()


def class_scores(model, x, target, score="logit", batch_size=64):
    """S_c(x) for many inputs, forward only, in batches: -> (N,). target: an int or (N,) ints."""
    target = np.broadcast_to(np.asarray(target), (len(x),))

    def scores(x_chunk, target_chunk):
        with no_grad():
            out = scored(model(Tensor(x_chunk)), score)
        return out.data[np.arange(len(target_chunk)), target_chunk]

    return in_batches(scores, x, target, batch_size=batch_size)


def predict(model, x, batch_size=64):
    """Logits (N, classes), forward only, in batches."""
    def logits(x_chunk):
        with no_grad():
            return model(Tensor(x_chunk)).data
    return in_batches(logits, x, batch_size=batch_size)


def conv_layers(model):
    """Names of the model's Conv2d layers, in order (the candidates for `layer=`)."""
    return [name for name, module in model.named_modules() if isinstance(module, Conv2d)]


def rectified(model, conv_name):
    """The name of the ReLU that follows conv `conv_name` (after an optional BatchNorm), else
    `conv_name` itself. CAM methods read a conv layer's *rectified* maps, as in the CAM and
    Grad-CAM papers (whose Caffe blobs were rectified in place). Follows registration order,
    which is the order in which a Sequential runs its layers."""
    names = [name for name, module in model.named_modules() if not any(module.children())]
    modules = dict(model.named_modules())
    following = names[names.index(conv_name) + 1:] if conv_name in names else []
    for name in following:
        if isinstance(modules[name], ReLU):
            return name
        if not isinstance(modules[name], (BatchNorm1d, BatchNorm2d)):
            break
    return conv_name


def resolve_layer(model, layer):
    """None -> the last conv layer's rectified output (see `rectified`); a name ('features.6')
    or a module of the model -> that module."""
    named = dict(model.named_modules())
    if layer is None:
        convs = conv_layers(model)
        if not convs:
            raise ValueError(f"{type(model).__name__} has no Conv2d layer; pass layer= one of "
                             f"{[n for n in named if n]}")
        return named[rectified(model, convs[-1])]
    if isinstance(layer, str) and layer in named and layer:
        return named[layer]
    if not isinstance(layer, str) and any(layer is m for m in named.values()):
        return layer
    raise ValueError(f"layer {layer!r} is not in the model; its layers are "
                     f"{[n for n in named if n]} (conv layers: {conv_layers(model)})")


def layer_name(model, layer):
    """The name of module `layer` in `model` (as named_modules gives it)."""
    return next(name for name, module in model.named_modules() if module is layer)


@contextlib.contextmanager
def captured(model, layer, inputs=False):
    """Inside the block, each forward keeps `layer`'s output Tensor (its input, with
    inputs=True) in the yielded dict under 'activation', with retain_grad() so that backward
    leaves dS/dA on its .grad. A layer that ran more than once is refused at the end of the
    block (see `check_single_use`)."""
    store = {"calls": 0}

    def keep(module, layer_inputs, output):
        kept = layer_inputs[0] if inputs else output
        kept.retain_grad()
        store["activation"] = kept
        store["calls"] += 1

    handle = layer.register_forward_hook(keep)
    try:
        yield store
    finally:
        handle.remove()
    check_single_use(model, layer, store["calls"])


def check_single_use(model, layer, calls):
    """Refuse a layer that ran more than once in one forward pass (a module used twice, as
    PyTorch's CIFAR tutorial uses its self.pool): which run's output is meant is ambiguous (a
    hook keeps the last one, a receptive field follows the first)."""
    if calls > 1:
        raise ValueError(f"layer {layer_name(model, layer)!r} ran {calls} times in one forward "
                         f"pass, so its output is ambiguous: give each use its own module "
                         f"(e.g. self.pool1 and self.pool2 instead of one self.pool)")


def input_gradient(model, x, target=None, score="logit"):
    """dS_c/dx for a batch: -> (gradient (N, C, H, W), target (N,)).

    One forward and one backward pass. Call it inside `untouched(model)`.
    """
    inputs = Tensor(x, requires_grad=True)
    with enable_grad():
        logits = model(inputs)
        target = resolve_target(logits.data, target)
        class_score(logits, target, score).backward()
    return inputs.grad.data, target


def layer_gradient(model, x, layer, target=None, score="logit"):
    """Activations A of `layer` and gradients g = dS_c/dA: -> (A, g, target), A and g (N, K, h, w).

    One forward and one backward pass. The input is marked requires_grad only so that the graph
    reaches the layer (the parameters are frozen by `untouched`).
    """
    with captured(model, layer) as store, enable_grad():
        logits = model(Tensor(x, requires_grad=True))
        target = resolve_target(logits.data, target)
        class_score(logits, target, score).backward()
    activation = store["activation"]
    return activation.data, activation.grad.data, target


def hooked_forward(model, x, hooks):
    """Forward only, with each (module, hook) of `hooks` registered as a forward hook for this
    one pass (removed however it ends): -> logits (N, classes)."""
    handles = [module.register_forward_hook(hook) for module, hook in hooks]
    try:
        with no_grad():
            return model(Tensor(x)).data
    finally:
        for handle in handles:
            handle.remove()


def layer_activation(model, x, layer, inputs=False):
    """Forward only: -> (A, logits (N, classes)); A (N, K, h, w) is `layer`'s output (its input
    with inputs=True)."""
    with captured(model, layer, inputs) as store, no_grad():
        logits = model(Tensor(x))
    return store["activation"].data, logits.data


class Explanation:
    """What a method returns: raw maps (N, h, w), the explained classes (N,), and `info`, a dict
    of method-specific extras (Integrated Gradients' completeness gap, CNN-Fixations' points)."""

    def __init__(self, maps, target, **info):
        self.maps, self.target, self.info = maps, np.asarray(target), info

    def __repr__(self):
        return f"Explanation(maps {self.maps.shape}, target {self.target.tolist()}, " \
               f"info {sorted(self.info)})"


def saliency_method(method):
    """Decorator for a method(model, x, ...): x becomes a float batch, and the model is left
    untouched (see `untouched`) however the method ends."""
    @functools.wraps(method)
    def run(model, x, *args, **kwargs):
        with untouched(model):
            return method(model, as_batch(x), *args, **kwargs)
    return run


def in_batches(function, *arrays, batch_size=64):
    """function(*chunks) over consecutive chunks of the (equally long) arrays, concatenated."""
    if not (is_whole(batch_size) and batch_size >= 1):
        raise ValueError(f"batch_size must be an int >= 1 (images per forward pass), got "
                         f"{batch_size!r}")
    # an empty batch still makes one (empty) call, whose result has the shape to concatenate
    results = [function(*(a[start:start + batch_size] for a in arrays))
               for start in range(0, max(len(arrays[0]), 1), batch_size)]
    return np.concatenate(results)
