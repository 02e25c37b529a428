"""Layer-wise relevance propagation (LRP): the logit shared out, layer by layer, down to the pixels.

LRP (Bach et al., "On Pixel-Wise Explanations for Non-Linear Classifier Decisions by Layer-Wise
Relevance Propagation", PLoS ONE 2015) gives the explained logit to the output as its relevance,
R = y_c, and walks the layers backwards. Each layer z = W x + b hands the relevance R_j of its
output j to its inputs i in proportion to what they contributed to z_j:

    R_i = sum_j  contribution(i -> j) / (total of unit j, stabilised) * R_j

so that, layer after layer, sum_i R_i = sum_j R_j up to what the bias and the stabiliser keep.
The rules differ in what counts as a contribution (Montavon et al., "Layer-Wise Relevance
Propagation: An Overview", 2019). Names, formulas and defaults are Zennit's (Anders et al.,
zennit.rules; stabilise(z) = z + 1e-6 sign(z), sign(0) = +1):

    zero        LRP-0          x_i w_ij                          (= gradient x input, ReLU nets)
    epsilon     LRP-epsilon    x_i w_ij,  z_j + eps sign(z_j)    (eps soaks up weak, noisy R)
    gamma       LRP-gamma      x_i (w_ij + gamma w_ij^+)         (favours positive evidence)
    alpha_beta  LRP-alpha-beta alpha (x_i w_ij)^+ - beta (x_i w_ij)^-,  alpha - beta = 1
    z_plus      alpha_beta with alpha=1, beta=0 (positive contributions only)
    flat        1: every input of the unit's window alike        (first layer)
    w_square    w_ij^2                                           (first layer, unbounded input)
    z_box       x_i w_ij - l_i w_ij^+ - h_i w_ij^-               (first layer, input in [l, h])

A composite says which rule runs at which layer; COMPOSITES holds Zennit's (EpsilonPlusFlat,
EpsilonGammaBox, EpsilonAlpha2Beta1 ...). Passing a rule's name instead runs that rule at every
Linear and Conv2d layer.

One trick makes each rule a few lines (Montavon et al. 2019, section 10.2.2): for a linear map
f(x) = W x, sum_j w_ij s_j is the gradient of sum_j f(x)_j s_j with respect to x_i, so

    R_i = x_i * [d/dx sum_j f_W(x)_j s_j]_i,      s_j = R_j / stabilise(z_j),

one vector-Jacobian product (`vjp`) through the layer run with the rule's weights, for Linear
and Conv2d alike.

The other layers, as in Zennit's composites: ReLU, Dropout (eval) and Identity pass the relevance
on unchanged (a unit the ReLU switched off has output 0, so the layer above gave it R = 0);
Flatten reshapes it; max pooling gives each window's relevance to its largest input (the
gradient: Zennit sets no rule there); average pooling shares it in proportion to the inputs
(Zennit's Norm rule: LRP-0 stabilised by 1e-6). BatchNorm is first folded into the Conv2d or
Linear before it (nn.fuse.fuse_conv_bn, as Zennit's canonizers do). Any other layer is refused
by name.

The walk follows the layers in the order the model runs them, and checks that each takes the
previous one's output: a chain (Sequential, LeNet5, AlexNetLite), not a residual network.
"""
import functools
import inspect

import numpy as np

from minigrad import functional as F
from minigrad.checks import broadcasts_to, check_number
from minigrad.nn.fuse import fuse_conv_bn
from minigrad.nn.layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d,
                                Dropout, Flatten, Identity, Linear, MaxPool2d, ReLU)
from minigrad.saliency.core import (Explanation, check_logit_only, resolve_target,
                                    saliency_method)
from minigrad.tensor import Tensor, enable_grad, grad, no_grad

EPSILON = 1e-6           # Zennit's default, for the epsilon rule and as every rule's stabiliser
AFFINE_LAYERS = (Linear, Conv2d)
PASS_LAYERS = (ReLU, Dropout, Identity)
AVERAGE_POOLS = (AvgPool2d, AdaptiveAvgPool2d)       # GlobalAvgPool2d is an AdaptiveAvgPool2d
LRP_LAYERS = AFFINE_LAYERS + PASS_LAYERS + AVERAGE_POOLS + (MaxPool2d, Flatten)


# ---- the walk along the model's layers ----------------------------------------------------

def layer_chain(model, x):
    """Run `model` on the batch x once: -> (steps, logits), steps a list of (name, layer, input,
    output) arrays, one per call of a layer without children, in the order they ran.

    Raises ValueError unless the layers form a chain: the first takes x, each next one takes the
    previous one's output, and the last one's output is the model's (nothing computed in
    between, no branches)."""
    steps, handles = [], []
    for name, module in model.named_modules():
        if not any(module.children()):
            record = functools.partial(_record, steps, name or type(model).__name__)
            handles.append(module.register_forward_hook(record))
    inputs = Tensor(x)
    try:
        with no_grad():
            logits = model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    _check_chain(model, inputs, steps, logits)
    return [(name, layer, given.data, output.data) for name, layer, given, output in steps], \
        logits.data


def _record(steps, name, module, inputs, output):
    steps.append((name, module, inputs[0], output))


CHAIN_FIX = ("use modules (nn.ReLU, nn.Flatten ...) instead of functions (F.relu, x.reshape) "
             "in forward, so that every step is a layer")


def _check_chain(model, inputs, steps, logits):
    expected, after = inputs, "the input"
    for name, _, given, output in steps:
        if given is not expected:
            raise ValueError(f"{type(model).__name__}: layer {name!r} does not take the output "
                             f"of {after}; LRP and DeepLIFT walk a chain of layers (Sequential, "
                             f"LeNet5 ...), not a forward that branches or computes between "
                             f"layers: {CHAIN_FIX}")
        expected, after = output, f"layer {name!r}"
    if logits is not expected:
        raise ValueError(f"{type(model).__name__}: the model's output is not the output of its "
                         f"last layer {after}; LRP and DeepLIFT walk a chain of layers: "
                         f"{CHAIN_FIX}")


def folded(steps):
    """The chain with each BatchNorm right after a Conv2d or Linear folded into it (nn.fuse's
    fuse_conv_bn; eval mode): the pair becomes one step, from the layer's input to the
    BatchNorm's output, named 'conv+bn'."""
    kept = []
    for name, layer, given, output in steps:
        if isinstance(layer, (BatchNorm1d, BatchNorm2d)) and kept and \
                isinstance(kept[-1][1], AFFINE_LAYERS):
            before, affine_layer, affine_input, _ = kept.pop()
            kept.append((f"{before}+{name}", fuse_conv_bn(affine_layer, layer), affine_input,
                         output))
        else:
            kept.append((name, layer, given, output))
    return kept


def refuse_unknown_layers(steps, known, method, hint=""):
    """ValueError naming the first layer of the chain that is not an instance of `known`."""
    for name, layer, _, _ in steps:
        if not isinstance(layer, known):
            raise ValueError(f"{method}: layer {name!r} ({type(layer).__name__}) has no rule; "
                             f"{method} takes {sorted({k.__name__ for k in known})}{hint}")


def vjp(function, x, upstream):
    """The vector-Jacobian product sum_j upstream_j * d function(x)_j / dx at x: the gradient of
    <upstream, function(x)> with respect to x, as an array shaped like x."""
    inputs = Tensor(x, requires_grad=True)
    with enable_grad():
        output = function(inputs)
    return grad(output, inputs, upstream)[0].data


def stabilise(z, epsilon=EPSILON):
    """z + epsilon * sign(z), with sign(0) = +1 (Zennit's stabilize): pushed away from 0."""
    return z + epsilon * np.where(z >= 0, 1.0, -1.0).astype(z.dtype)


# ---- the rules for Linear and Conv2d --------------------------------------------------------

def affine(layer, x, weight, bias=None):
    """The layer's map (Linear, or Conv2d with its stride, padding ...) with another weight and
    bias: -> Tensor."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    weight, bias = Tensor(weight), None if bias is None else Tensor(bias)
    if isinstance(layer, Linear):
        return F.linear(x, weight, bias)
    return F.conv2d(x, weight, bias, layer.stride, layer.padding, layer.dilation, layer.groups)


def parameters(layer):
    """(weight, bias) arrays of a Linear or Conv2d; a missing bias is zeros."""
    weight = layer.weight.data
    bias = np.zeros(weight.shape[0], weight.dtype) if layer.bias is None else layer.bias.data
    return weight, bias


def contributions(layer, x, weight, s):
    """x_i * sum_j w_ij s_j for the layer with `weight`: each input's share of the scaled R."""
    return x * vjp(lambda a: affine(layer, a, weight), x, s)


def positive(array):
    return np.maximum(array, 0)


def negative(array):
    return np.minimum(array, 0)


def zero_rule(layer, x, relevance):
    """LRP-0: R_i = sum_j x_i w_ij / z_j * R_j with z_j = sum_i x_i w_ij + b_j (0 where
    z_j = 0, where Zennit's Epsilon(epsilon=0) would divide by zero)."""
    weight, bias = parameters(layer)
    z = affine(layer, x, weight, bias).data
    s = np.divide(relevance, z, out=np.zeros_like(z), where=z != 0)
    return contributions(layer, x, weight, s)


def epsilon_rule(layer, x, relevance, epsilon=EPSILON):
    """LRP-epsilon: R_i = sum_j x_i w_ij / (z_j + epsilon sign(z_j)) * R_j,
    z_j = sum_i x_i w_ij + b_j."""
    weight, bias = parameters(layer)
    z = affine(layer, x, weight, bias).data
    return contributions(layer, x, weight, relevance / stabilise(z, epsilon))


def signed_share(layer, x, relevance, weight_of_positive, bias, weight_of_negative):
    """Share R by z = f(x^+; A, b) + f(x^-; B): R_i = x^+_i [A^T s]_i + x^-_i [B^T s]_i with
    s = R / stabilise(z), A = weight_of_positive, B = weight_of_negative."""
    up, down = positive(x), negative(x)
    z = affine(layer, up, weight_of_positive, bias).data + affine(layer, down,
                                                                  weight_of_negative).data
    s = relevance / stabilise(z)
    return contributions(layer, up, weight_of_positive, s) + \
        contributions(layer, down, weight_of_negative, s)


def alpha_beta_rule(layer, x, relevance, alpha=2.0, beta=1.0):
    """LRP-alpha-beta: R_i = sum_j (alpha (x_i w_ij)^+ / z_j^+ - beta (x_i w_ij)^- / z_j^-) R_j,
    z_j^+ = sum_i (x_i w_ij)^+ + b_j^+, z_j^- = sum_i (x_i w_ij)^- + b_j^-; alpha - beta = 1.
    (x w)^+ = x^+ w^+ + x^- w^-. Zennit's defaults, alpha=2, beta=1."""
    if alpha < 0 or beta < 0 or not np.isclose(alpha - beta, 1.0):
        raise ValueError(f"alpha_beta: expected alpha >= 0, beta >= 0 and alpha - beta = 1 "
                         f"(so that relevance is conserved), got alpha={alpha}, beta={beta}")
    weight, bias = parameters(layer)
    positive_part = signed_share(layer, x, relevance, positive(weight), positive(bias),
                                 negative(weight))
    if beta == 0:
        return alpha * positive_part
    negative_part = signed_share(layer, x, relevance, negative(weight), negative(bias),
                                 positive(weight))
    return alpha * positive_part - beta * negative_part


def z_plus_rule(layer, x, relevance):
    """LRP-z+: R_i = sum_j (x_i w_ij)^+ / (sum_i' (x_i' w_i'j)^+ + b_j^+) * R_j: positive
    contributions only (alpha_beta with alpha=1, beta=0, as Zennit's ZPlus)."""
    return alpha_beta_rule(layer, x, relevance, alpha=1.0, beta=0.0)


def gamma_rule(layer, x, relevance, gamma=0.25):
    """LRP-gamma: R_i = sum_j x_i (w_ij + gamma w_ij^+) / sum_i' x_i' (w_i'j + gamma w_i'j^+)
    * R_j for inputs x >= 0 (Montavon et al. 2019). For inputs of any sign, Zennit's
    generalisation: where z_j > 0 the positive contributions are boosted (x^+ through
    w + gamma w^+ with b + gamma b^+, x^- through w + gamma w^-), where z_j < 0 the negative
    ones (the same with the roles of w^+ and w^- swapped)."""
    weight, bias = parameters(layer)
    z = affine(layer, x, weight, bias).data
    up_weight, up_bias = weight + gamma * positive(weight), bias + gamma * positive(bias)
    down_weight, down_bias = weight + gamma * negative(weight), bias + gamma * negative(bias)
    return signed_share(layer, x, relevance * (z > 0), up_weight, up_bias, down_weight) + \
        signed_share(layer, x, relevance * (z < 0), down_weight, down_bias, up_weight)


def flat_rule(layer, x, relevance):
    """LRP-flat: R_i = sum_j 1 / (number of inputs of unit j) * R_j: the relevance spread
    evenly over each unit's window, whatever x and w are (Lapuschkin et al. 2019)."""
    ones, ones_weight = np.ones_like(x), np.ones_like(layer.weight.data)
    z = affine(layer, ones, ones_weight).data
    return vjp(lambda a: affine(layer, a, ones_weight), ones, relevance / stabilise(z))


def w_square_rule(layer, x, relevance):
    """LRP-w^2: R_i = sum_j w_ij^2 / (sum_i' w_i'j^2 + b_j^2) * R_j (Montavon et al. 2017; the
    b_j^2 is Zennit's WSquare, which squares every parameter). x plays no part."""
    weight, bias = parameters(layer)
    ones = np.ones_like(x)
    z = affine(layer, ones, weight ** 2, bias ** 2).data
    return vjp(lambda a: affine(layer, a, weight ** 2), ones, relevance / stabilise(z))


def z_box_rule(layer, x, relevance, low, high):
    """LRP-z^B for inputs bounded by low <= x <= high (Montavon et al. 2017):
    R_i = sum_j (x_i w_ij - l_i w_ij^+ - h_i w_ij^-) / sum_i' (x_i' w_i'j - l_i' w_i'j^+
    - h_i' w_i'j^-) * R_j. (Zennit adds b, b^+ and b^- to the three terms, which cancel.)"""
    weight, _ = parameters(layer)
    low, high = (np.broadcast_to(np.asarray(bound, x.dtype), x.shape) for bound in (low, high))
    terms = ((x, weight), (low, positive(weight)), (high, negative(weight)))
    z = sum(sign * affine(layer, a, w).data for sign, (a, w) in zip((1, -1, -1), terms))
    s = relevance / stabilise(z)
    return sum(sign * contributions(layer, a, w, s) for sign, (a, w) in zip((1, -1, -1), terms))


RULES = {"zero": zero_rule, "epsilon": epsilon_rule, "gamma": gamma_rule,
         "alpha_beta": alpha_beta_rule, "z_plus": z_plus_rule, "flat": flat_rule,
         "w_square": w_square_rule, "z_box": z_box_rule}


# ---- the other layers -----------------------------------------------------------------------

def norm_rule(layer, x, relevance):
    """Average pooling z = pool(x): R_i = x_i * sum_j dz_j/dx_i * R_j / stabilise(z_j), each
    input's share of the window's mean (Zennit's Norm rule)."""
    z = layer(Tensor(x)).data
    return x * vjp(layer, x, relevance / stabilise(z))


def propagate(layer, x, relevance, rule):
    """The relevance of the layer's input x, given that of its output."""
    if isinstance(layer, AFFINE_LAYERS):
        return rule(layer, x, relevance)
    if isinstance(layer, PASS_LAYERS):
        return relevance
    if isinstance(layer, MaxPool2d):
        return vjp(layer, x, relevance)              # each window's R to its largest input
    if isinstance(layer, AVERAGE_POOLS):
        return norm_rule(layer, x, relevance)
    return relevance.reshape(x.shape)                # Flatten


# ---- composites: which rule at which layer --------------------------------------------------

# Zennit's composites (zennit.composites): the rule of the Conv2d layers, of the Linear layers,
# and of the first layer, where 'first' is the first layer of the listed kinds
COMPOSITES = {
    "EpsilonPlus": dict(conv="z_plus", linear="epsilon"),
    "EpsilonPlusFlat": dict(conv="z_plus", linear="epsilon", first="flat",
                            first_of=AFFINE_LAYERS),
    "EpsilonAlpha2Beta1": dict(conv="alpha_beta", linear="epsilon"),
    "EpsilonAlpha2Beta1Flat": dict(conv="alpha_beta", linear="epsilon", first="flat",
                                   first_of=AFFINE_LAYERS),
    "EpsilonGammaBox": dict(conv="gamma", linear="epsilon", first="z_box", first_of=(Conv2d,)),
}


def rule_names(steps, composite):
    """The rule name for each Linear/Conv2d step of the chain, by `composite`: a name in
    COMPOSITES, or a name in RULES for that rule at every such layer."""
    if composite in RULES:
        return [composite if isinstance(layer, AFFINE_LAYERS) else None
                for _, layer, _, _ in steps]
    if composite not in COMPOSITES:
        raise ValueError(f"unknown LRP composite {composite!r}; expected one of "
                         f"{sorted(COMPOSITES)} or a rule name {sorted(RULES)}")
    plan = COMPOSITES[composite]
    first = next((index for index, (_, layer, _, _) in enumerate(steps)
                  if isinstance(layer, plan.get("first_of", ()))), None)
    return [plan["first"] if index == first else plan["conv"] if isinstance(layer, Conv2d)
            else plan["linear"] if isinstance(layer, Linear) else None
            for index, (_, layer, _, _) in enumerate(steps)]


def uses_z_box(composite):
    """Whether the composite (or rule name) runs z^B somewhere."""
    return composite == "z_box" or "z_box" in COMPOSITES.get(composite, {}).values()


def check_bounds(composite, x, low=None, high=None, **_):
    """Refuse a z^B composite without the input domain's bounds, or with bounds that do not
    broadcast to the batch: the batch's own minimum and maximum would make an image's map
    depend on the other images (Zennit requires them too)."""
    if not uses_z_box(composite):
        return
    if low is None or high is None:
        raise ValueError(f"LRP {composite!r} runs z^B, which needs the bounds of the input "
                         f"domain: pass low= and high= (e.g. low=0, high=1 for pixels in [0, 1], "
                         f"or the bounds after normalisation), as numbers or arrays "
                         f"broadcastable to one image {x.shape[1:]} or the batch {x.shape}; "
                         f"got low={low!r}, high={high!r}")
    for name, bound in (("low", low), ("high", high)):
        if not broadcasts_to(np.shape(bound), x.shape):
            raise ValueError(f"LRP z^B: expected {name} as a number or an array broadcastable "
                             f"to one image {x.shape[1:]} or the batch {x.shape}, got shape "
                             f"{np.shape(bound)}")


def check_rule_parameters(epsilon=EPSILON, gamma=0.25, **_):
    """Refuse an epsilon that is not > 0 (it would pull z towards 0, or divide by it: LRP-0 is
    composite='zero') or a negative gamma (it would boost the negative contributions)."""
    check_number(epsilon, "epsilon", "LRP", low=0, low_open=True)
    check_number(gamma, "gamma", "LRP", low=0)


def with_options(name, options):
    """RULES[name] with those of `options` that it takes (epsilon, gamma, alpha, beta, low,
    high); None for a layer without a rule."""
    if name is None:
        return None
    rule = RULES[name]
    takes = inspect.signature(rule).parameters
    return functools.partial(rule, **{key: value for key, value in options.items()
                                      if key in takes})


# ---- the method -----------------------------------------------------------------------------

def lrp_relevance(model, x, target=None, composite="EpsilonPlusFlat", **options):
    """LRP relevance of each input element for the target logits: -> (R (N, C, H, W), logits
    (N, classes), target (N,)). BatchNorm is folded into the layer before it first."""
    check_bounds(composite, x, **options)
    check_rule_parameters(**options)
    steps, logits = layer_chain(model, x)
    steps = folded(steps)
    refuse_unknown_layers(steps, LRP_LAYERS, "LRP",
                          hint=" (BatchNorm only right after a Conv2d or Linear, where nn.fuse "
                               "folds it)")
    target = resolve_target(logits, target)
    rows = np.arange(len(x))
    r = np.zeros_like(logits)
    r[rows, target] = logits[rows, target]           # the output's relevance: the logit
    rules = [with_options(name, options) for name in rule_names(steps, composite)]
    for (_, layer, layer_input, _), rule in zip(reversed(steps), reversed(rules)):
        r = propagate(layer, layer_input, r, rule)
    return r, logits, target


@saliency_method
def lrp(model, x, target=None, score="logit", composite="EpsilonPlusFlat", epsilon=EPSILON,
        gamma=0.25, alpha=2.0, beta=1.0, low=None, high=None):
    """LRP map: sum over channels of the relevance R (see the module docstring), which starts
    as the target's logit.

    composite: a name in COMPOSITES (Zennit's; default EpsilonPlusFlat, Kohlbrenner et al.
    2020's recommendation) or a rule name in RULES for that rule at every Linear and Conv2d.
    epsilon, gamma, alpha, beta: the rules' parameters (Zennit's defaults). low, high: the
    input domain's bounds, required by z_box (and EpsilonGammaBox), as in Zennit: e.g. 0 and 1
    for pixels in [0, 1], or the bounds after normalisation; numbers or arrays broadcastable to
    one image or the batch.
    info: 'logit' y_c and 'relevance_sum' sum R, equal for bias-free layers under LRP-0 and
    short of it by what the biases and stabilisers keep. Logit only. One forward, then one
    vector-Jacobian product per layer and rule term.
    """
    check_logit_only("lrp", score)
    options = dict(epsilon=epsilon, gamma=gamma, alpha=alpha, beta=beta, low=low, high=high)
    r, logits, target = lrp_relevance(model, x, target, composite, **options)
    rows = np.arange(len(x))
    return Explanation(r.sum(axis=1), target, logit=logits[rows, target],
                       relevance_sum=r.sum(axis=(1, 2, 3)))
