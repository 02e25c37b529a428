"""The dynamic-linear view: a network that is linear *for this input*, read as one matrix.

A ReLU is a diagonal matrix of 0s and 1s chosen by its input, a max-pool a 0/1 selection
matrix, a convolution, an average pool, a Linear and an eval-mode BatchNorm affine maps. Their
composition is piecewise linear: around any input x (off the kinks) the network *is*

    y = W(x) x + b(x),        W(x) = dy/dx  (K, D),   b(x) = y - W(x) x  (K,)

and the contribution of input element i to logit c is W(x)[c, i] * x[i]; the contributions sum
to y_c - b_c(x). `linearize` computes W, b and the contributions exactly, in float64.

A B-cos network (Boehle et al., CVPR 2022; minigrad.nn.BcosLinear / BcosConv2d) has no bias
and scales each unit by a factor |cos(x, w)|^(B-1) that depends on x. Read with those factors
held fixed (the paper's "dynamic linear" map, `nn.bcos_explanation_mode`), it is y = W(x) x
exactly, b = 0: `dynamic_linear_map` computes that W(x). The bcos and linearize saliency
methods (`explain(method='bcos')`, `'linearize'`) return the contribution map sum_ch W[c] * x
and the paper's RGB+alpha rendering (`rgba`).
"""
import contextlib
from typing import NamedTuple

import numpy as np

from minigrad.nn.bcos import AddInverse, bcos_explanation_mode, is_bcos
from minigrad.nn.layers import BatchNorm1d, BatchNorm2d, Dropout
from minigrad.saliency.core import Explanation, check_logit_only, resolve_target, saliency_method
from minigrad.tensor import Tensor, as_array, enable_grad, nodes_behind

# layers whose training mode makes the output depend on the rest of the batch or on chance
BATCH_DEPENDENT_IN_TRAINING = (BatchNorm1d, BatchNorm2d, Dropout)


class LinearView(NamedTuple):
    """y = W x + b for each sample of a batch x (N, *D), read at R rows of each sample (all K
    classes, or the one class explained):

    weights (N, R, *D) W(x); bias (N, R) b(x); logits (N, R) y; contributions (N, R, *D),
    W(x)[c] * x, which sum over D to logits - bias; classes (N, R), the class of each row."""
    weights: np.ndarray
    bias: np.ndarray
    logits: np.ndarray
    contributions: np.ndarray
    classes: np.ndarray


ALL = "all"


def linearize(model, x, target=ALL):
    """The exact local linear map of a piecewise-linear network at each input: -> LinearView.

    model: built of Linear, Conv2d, ReLU/LeakyReLU, max/avg pooling, BatchNorm and Dropout in
    eval mode, Flatten (and reshapes, concatenations); anything else (tanh, sigmoid, GELU,
    softmax, attention, LayerNorm ...) is a ValueError naming the layer. x: (N, C, H, W) or
    (N, F). target: 'all' for every class's row, else the class of each image (an int, one per
    image, or None for the predicted class) for that row only. Runs the model in float64
    (`in_float64`, undone exactly afterwards): one forward pass, then one backward pass per
    row, W[n, c] = dy_c/dx_n (samples do not mix in eval mode, so a whole batch takes one pass
    per class, or one pass for the target of every image), and b = y - W x.
    """
    _refuse_training_mode(model)
    x = _float64_array(x)
    with in_float64(model):
        weights, classes, logits, _ = _jacobian_rows(model, x, target,
                                                     check=_refuse_nonlinear_ops)
    return _view(weights, classes, logits, x)


def dynamic_linear_map(model, x, target=ALL):
    """A B-cos network's dynamic linear map: -> LinearView with y = W(x) x exactly (bias 0 up
    to rounding, returned so that it can be seen); target as for `linearize`.

    W(x) is the gradient of y with every B-cos factor |cos|^(B-1) held fixed
    (nn.bcos.bcos_explanation_mode): each layer is then a fixed linear map of its input, and so
    is the network. The map is taken with respect to the B-cos encoding [x, 1 - x] (the output
    of the model's AddInverse layer; the input itself if it has none), on which the network is
    linear: weights and contributions are (N, K, 2C, H, W).
    """
    if not is_bcos(model):
        raise ValueError(f"{type(model).__name__} has no B-cos layer (BcosConv2d, BcosLinear); "
                         f"for a ReLU network use linearize (method='linearize')")
    _refuse_training_mode(model)
    encoders = [m for m in model.modules() if isinstance(m, AddInverse)]
    with in_float64(model), bcos_explanation_mode(model):
        weights, classes, logits, encoded = _jacobian_rows(
            model, _float64_array(x), target, at=encoders[0] if encoders else None)
    return _view(weights, classes, logits, encoded)


def _float64_array(x):
    return np.asarray(as_array(x), dtype=np.float64)


@contextlib.contextmanager
def in_float64(model):
    """Inside: the model's parameters and buffers in float64, parameters frozen. Afterwards
    every parameter gets its own array, gradient and flag back, and every buffer its array:
    the model is exactly as it was (in place rather than a copy, so that hooks on the model,
    such as the benchmark's pass counter, see the passes)."""
    params = [(p, p.data, p.grad, p.requires_grad) for p in model.parameters()]
    buffers = [(m, name, array) for m in model.modules() for name, array in m._own_buffers()]
    model.double()
    for param, *_ in params:
        param.requires_grad = False
    try:
        yield model
    finally:
        for param, data, grad, requires_grad in params:
            param.data, param.grad, param.requires_grad = data, grad, requires_grad
        for module, name, array in buffers:
            setattr(module, name, array)


def _view(weights, classes, logits, x):
    logits = np.take_along_axis(logits, classes, axis=1)                  # (N, R)
    contributions = weights * x[:, None]                                  # (N, R, *D)
    bias = logits - contributions.reshape(*logits.shape, -1).sum(axis=2)  # b = y - W x
    return LinearView(weights, bias, logits, contributions, classes)


def _jacobian_rows(model, x, target, check=None, at=None):
    """(dy_c/dz (N, R, *D), the classes c (N, R), y (N, K), z) for z the input x, or the
    output of the module `at`. One forward, then one backward per column r of the classes, of
    sum_n y[n, c[n, r]] (each sample's y depends on its own x only): K passes for target='all',
    one for a target per image. check(model, y, layer names) may inspect the graph first."""
    inputs = Tensor(x, requires_grad=True)
    names, kept = {}, {"z": inputs}
    hooks = [module.register_forward_hook(_remember_layer(names, name))
             for name, module in model.named_modules() if name]
    if at is not None:
        hooks.append(at.register_forward_hook(lambda module, i, output: kept.update(z=output)))
    try:
        with enable_grad():
            logits = model(inputs)
    finally:
        for handle in hooks:
            handle.remove()
    if check is not None:
        check(model, logits, names)
    n, k = logits.shape
    classes = np.tile(np.arange(k), (n, 1)) if _is_all(target) else \
        resolve_target(logits.data, target)[:, None]
    z = kept["z"]
    z.retain_grad()
    rows = []
    for column in classes.T:
        z.grad = None
        one_hot = np.zeros_like(logits.data)
        one_hot[np.arange(n), column] = 1.0
        logits.backward(one_hot, retain_graph=True)
        rows.append(z.grad.data)
    return np.stack(rows, axis=1), classes, logits.data, z.data


def _is_all(target):
    """target == 'all'; another string is refused (an int, ints, or None pick one row)."""
    if isinstance(target, str) and target != ALL:
        raise ValueError(f"target must be 'all', None (the predicted class), a class or one "
                         f"class per image; got {target!r}")
    return isinstance(target, str)


def _remember_layer(names, name):
    """A forward hook that files the op which made the layer's output under the layer's name."""
    def remember(module, inputs, output):
        if isinstance(output, Tensor) and output.grad_fn is not None:
            names[id(output.grad_fn)] = f"{name!r} ({type(module).__name__})"
    return remember


def _refuse_training_mode(model):
    for name, module in model.named_modules():
        if isinstance(module, BATCH_DEPENDENT_IN_TRAINING) and module.training:
            raise ValueError(f"linearize: layer {name!r} ({type(module).__name__}) is in "
                             f"training mode, where its output depends on the batch (or on "
                             f"chance); call model.eval() first")


def _refuse_nonlinear_ops(model, logits, names):
    """ValueError naming the layer (or the op, if no layer returned it) of the first op on the
    path from x to y that is not piecewise linear in x."""
    for tensor in nodes_behind(logits):
        op = tensor.grad_fn
        if op is None:
            continue
        depends_on_x = [t is not None and t.requires_grad for t in op.inputs]
        linear = op.piecewise_linear         # what the op declares (minigrad/function.py)
        if linear(depends_on_x) if callable(linear) else linear:
            continue
        where = names.get(id(op), f"an op in {type(model).__name__}.forward")
        raise ValueError(f"linearize: layer {where} is not piecewise linear in the input "
                         f"({type(op).__name__} of {sum(depends_on_x)} input(s) that depend on "
                         f"x); linearize takes Linear, Conv2d, ReLU, pooling, Flatten and "
                         f"BatchNorm/Dropout in eval mode")


def rgba(weights, contributions, paired, smooth=3, percentile=99.5):
    """The B-cos paper's rendering of an explanation W(x)[c]: -> (N, H, W, 4) floats in [0, 1].

    weights (N, C, H, W), row c of W(x) for each image; contributions (N, H, W), its
    sum over channels of W(x)[c] * x. As in Boehle et al.'s code (`grad_to_img`):

      colour  each pixel's weight vector is divided by its largest |entry| and clipped at 0;
              channel k's colour is w_k / (w_k + w_k'), with k' its partner in the [x, 1 - x]
              encoding (paired=True: C = 2 * colours). Without the encoding (paired=False),
              the partner weight is 0: a channel is at full strength where its weight is
              positive, 0 where it is not. A grey image (1 colour) is shown grey.
      alpha   the L2 norm of the weight vector, 0 where the contribution is negative, smoothed
              by a smooth x smooth mean (stride 1, zero padding; 3 for 28-32 pixel images, the
              paper's 15 at 224), divided by its `percentile`-th percentile over the image
              (99.5, the paper's) and clipped to [0, 1].
    """
    colours = weights.shape[1] // 2 if paired else weights.shape[1]
    scaled = np.clip(weights / (np.abs(weights).max(axis=1, keepdims=True) + 1e-12), 0, None)
    partner = scaled[:, colours:2 * colours] if paired else 0.0
    colour = scaled[:, :colours] / (scaled[:, :colours] + partner + 1e-12)
    colour = np.repeat(colour, 3, axis=1) if colours == 1 else colour[:, :3]
    alpha = np.where(contributions < 0, 0.0, np.linalg.norm(weights, axis=1))
    alpha = _box_mean(alpha, smooth)
    peak = np.percentile(alpha.reshape(len(alpha), -1), percentile, axis=1)[:, None, None]
    alpha = np.clip(np.divide(alpha, peak, out=np.zeros_like(alpha), where=peak > 0), 0, 1)
    return np.concatenate([colour.transpose(0, 2, 3, 1), alpha[..., None]], axis=-1)


def _box_mean(maps, size):
    """The mean over a size x size window around each pixel of (N, H, W) maps, zero-padded
    (PyTorch's avg_pool2d(size, stride=1, padding=size // 2)); size 1 is the identity."""
    if size % 2 != 1:
        raise ValueError(f"smooth must be an odd window size, got {size}")
    r = size // 2
    padded = np.pad(maps, ((0, 0), (r, r), (r, r)))
    h, w = maps.shape[1:]
    return sum(padded[:, i:i + h, j:j + w] for i in range(size) for j in range(size)) / size ** 2


def explained(view, paired, smooth, percentile):
    """The Explanation of a LinearView read at one row (class) per image."""
    maps = view.contributions[:, 0].sum(axis=1)
    return Explanation(maps, view.classes[:, 0], bias=view.bias[:, 0], logit=view.logits[:, 0],
                       rgba=rgba(view.weights[:, 0], maps, paired, smooth, percentile))


@saliency_method
def linearize_method(model, x, target=None, score="logit", smooth=3, percentile=99.5):
    """map = sum_ch W(x)[c] * x, the contributions of the exact local linear map of a
    piecewise-linear network (`linearize`); they sum to y_c - b_c(x). info: 'bias' b_c(x),
    'logit' y_c and 'rgba', the rendering of `rgba` (paired=False). Logit only. One forward,
    one backward pass (of the sum of each image's target logit)."""
    check_logit_only("linearize", score)
    return explained(linearize(model, x, target), False, smooth, percentile)


@saliency_method
def bcos_method(model, x, target=None, score="logit", smooth=3, percentile=99.5):
    """map = sum_ch W(x)[c] * [x, 1 - x], the contributions of a B-cos network's dynamic linear
    map (`dynamic_linear_map`); they sum to the logit y_c exactly (the temperature is part of
    W). info: 'bias' (0 up to rounding), 'logit' and 'rgba', the paper's rendering (paired:
    colour from the weights on x against those on 1 - x). Logit only. One forward, one
    backward pass (of the sum of each image's target logit)."""
    check_logit_only("bcos", score)
    return explained(dynamic_linear_map(model, x, target), True, smooth, percentile)
