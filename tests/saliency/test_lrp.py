"""LRP: what each rule conserves, LRP-0 = gradient x input, composites, and what it refuses.

The rules against a torch computation of their formulas: tests/saliency/test_torch_formulas.py.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minigrad import nn
from minigrad.saliency import explain
from minigrad.saliency.core import input_gradient, untouched
from minigrad.saliency.lrp import (COMPOSITES, RULES, affine, alpha_beta_rule, epsilon_rule,
                                   flat_rule, lrp_relevance, rule_names, stabilise, z_box_rule,
                                   zero_rule, z_plus_rule)


def relu_net(seed, bias, channels=3, width=4, pooling="max"):
    """conv-relu-pool-conv-relu-flatten-linear-relu-linear for (N, channels, 8, 8) inputs."""
    nn.manual_seed(seed)
    pool = nn.MaxPool2d(2) if pooling == "max" else nn.AvgPool2d(2)
    return nn.Sequential(nn.Conv2d(channels, width, 3, padding=1, bias=bias), nn.ReLU(), pool,
                         nn.Conv2d(width, width, 3, stride=2, padding=1, bias=bias), nn.ReLU(),
                         nn.Flatten(), nn.Linear(width * 4, 6, bias=bias), nn.ReLU(),
                         nn.Linear(6, 5, bias=bias)).double()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2 ** 16), channels=st.integers(1, 3), width=st.integers(1, 5),
       batch=st.integers(1, 3))
def test_lrp_0_on_a_bias_free_relu_network_is_gradient_x_input(seed, channels, width, batch):
    """Without biases every unit's z_j is exactly sum_i x_i w_ij, so LRP-0's R_i =
    x_i sum_j w_ij R_j / z_j telescopes to x_i dy_c/dx_i (Montavon et al. 2019, section 10.2),
    and the relevance sums to the logit (y_c = x . dy_c/dx for a bias-free ReLU network)."""
    model = relu_net(seed, bias=False, channels=channels, width=width)
    x = np.random.default_rng(seed).normal(size=(batch, channels, 8, 8))
    relevance, logits, target = lrp_relevance(model, x, composite="zero")
    with untouched(model):
        gradient, _ = input_gradient(model, x, target)
    np.testing.assert_allclose(relevance, x * gradient, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(relevance.sum(axis=(1, 2, 3)),
                               logits[np.arange(batch), target], rtol=1e-10, atol=1e-14)


def layer_case(seed, conv, bias):
    """A Linear or Conv2d layer with its input and an output relevance, float64."""
    nn.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if conv:
        layer = nn.Conv2d(2, 3, 3, padding=1, stride=2, bias=bias).double()
        x = rng.normal(size=(2, 2, 5, 5))
    else:
        layer = nn.Linear(6, 4, bias=bias).double()
        x = rng.normal(size=(2, 6))
    z = layer(nn.Parameter(x)).data
    return layer, x, rng.normal(size=z.shape), z


cases = st.builds(layer_case, seed=st.integers(0, 2 ** 16), conv=st.booleans(),
                  bias=st.booleans())


def total(array):
    return array.reshape(len(array), -1).sum(axis=1)


@settings(max_examples=30, deadline=None)
@given(case=cases)
def test_the_z_rules_keep_what_the_bias_and_epsilon_do_not_take(case):
    """One layer of LRP-0 or LRP-epsilon: sum_i R_i = sum_j R_j (z_j - b_j) / (z_j + eps
    sign z_j). The bias's share b_j / z_j and the stabiliser's are the terms not conserved;
    with no bias and eps = 0 it is exact."""
    layer, x, r, z = case
    bias = 0 if layer.bias is None else layer.bias.data.reshape((-1,) + (1,) * (z.ndim - 2))
    np.testing.assert_allclose(total(zero_rule(layer, x, r)), total(r * (z - bias) / z),
                               rtol=1e-9, atol=1e-12)
    for epsilon in (1e-6, 0.1):
        np.testing.assert_allclose(total(epsilon_rule(layer, x, r, epsilon=epsilon)),
                                   total(r * (z - bias) / stabilise(z, epsilon)),
                                   rtol=1e-9, atol=1e-12)


def positive_and_negative_totals(layer, x):
    """z_j^+ = sum_i (x_i w_ij)^+ + b_j^+ and z_j^- likewise, from the layer run on each input
    element alone (a one-hot input, its contribution x_i w_ij) -- not from the rule's split."""
    bias = np.zeros(layer.weight.shape[0]) if layer.bias is None else layer.bias.data
    up = down = 0
    for index in np.ndindex(*x.shape[1:]):
        alone = np.zeros_like(x)
        alone[(slice(None),) + index] = x[(slice(None),) + index]
        contribution = affine(layer, alone, layer.weight.data).data
        up, down = up + np.maximum(contribution, 0), down + np.minimum(contribution, 0)
    shape = (-1,) + (1,) * (x.ndim - 2)
    return (up + np.maximum(bias, 0).reshape(shape), down + np.minimum(bias, 0).reshape(shape),
            np.maximum(bias, 0).reshape(shape), np.minimum(bias, 0).reshape(shape))


@settings(max_examples=20, deadline=None)
@given(case=cases)
def test_alpha_beta_keeps_alpha_of_the_positive_share_minus_beta_of_the_negative(case):
    """sum_i R_i = sum_j R_j (alpha (z_j^+ - b_j^+) / z_j^+ - beta (z_j^- - b_j^-) / z_j^-):
    with no bias alpha - beta = 1 of R_j where unit j has contributions of both signs, but alpha
    where it has only positive ones (and -beta where only negative): alpha-beta conserves per
    unit only when both parts are there. z+ (alpha=1, beta=0) keeps z_j^+ - b_j^+ of z_j^+."""
    layer, x, r, z = case
    up, down, up_bias, down_bias = positive_and_negative_totals(layer, x)
    np.testing.assert_allclose(total(alpha_beta_rule(layer, x, r, alpha=2, beta=1)),
                               total(r * (2 * (up - up_bias) / stabilise(up)
                                          - (down - down_bias) / stabilise(down))),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(total(z_plus_rule(layer, x, r)),
                               total(r * (up - up_bias) / stabilise(up)), rtol=1e-9, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(case=cases)
def test_flat_and_z_box_conserve_up_to_the_stabiliser(case):
    """Flat: unit j keeps n_j / (n_j + 1e-6) of R_j (n_j its number of inputs); z^B has no bias
    term at all: z_j / (z_j + 1e-6 sign z_j)."""
    layer, x, r, _ = case
    inputs = affine(layer, np.ones_like(x), np.ones_like(layer.weight.data)).data
    np.testing.assert_allclose(total(flat_rule(layer, x, r)), total(r * inputs / (inputs + 1e-6)),
                               rtol=1e-9, atol=1e-12)
    low, high = x.min() - 0.5, x.max() + 0.5
    weight = layer.weight.data
    z = affine(layer, x, weight).data - affine(layer, np.full_like(x, low),
                                               np.maximum(weight, 0)).data \
        - affine(layer, np.full_like(x, high), np.minimum(weight, 0)).data
    np.testing.assert_allclose(total(z_box_rule(layer, x, r, low, high)),
                               total(r * z / stabilise(z)), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("composite", sorted(COMPOSITES) + sorted(set(RULES) - {"alpha_beta"}))
def test_every_composite_and_rule_nearly_conserves_on_a_bias_free_network(composite):
    """With no biases, what a rule loses is the stabiliser's share, 1e-6 / |z_j| of each unit's
    relevance (exactly, layer by layer: the tests above), so the whole walk stays within 1e-3
    of the logit (measured: at most 1.1e-4, LRP-0 exact). Not alpha-beta alone: a unit whose
    contributions all have one sign passes on alpha (or -beta) times its relevance."""
    model = relu_net(3, bias=False, channels=3, width=4)
    x = np.random.default_rng(3).normal(size=(2, 3, 8, 8))
    relevance, logits, target = lrp_relevance(model, x, composite=composite, low=-4.0,
                                              high=4.0)
    assert np.isfinite(relevance).all()
    np.testing.assert_allclose(relevance.sum(axis=(1, 2, 3)), logits[np.arange(2), target],
                               rtol=1e-3)


def test_the_composites_put_zennits_rules_on_the_right_layers():
    steps = [(str(i), layer, None, None) for i, layer in enumerate(relu_net(0, bias=True))]
    assert rule_names(steps, "EpsilonPlusFlat") == ["flat", None, None, "z_plus", None, None,
                                                    "epsilon", None, "epsilon"]
    assert rule_names(steps, "EpsilonGammaBox") == ["z_box", None, None, "gamma", None, None,
                                                    "epsilon", None, "epsilon"]
    assert rule_names(steps, "EpsilonAlpha2Beta1") == ["alpha_beta", None, None, "alpha_beta",
                                                       None, None, "epsilon", None, "epsilon"]
    mlp = [(str(i), layer, None, None) for i, layer in
           enumerate([nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)])]
    # Zennit's first-layer rule of EpsilonPlusFlat applies to any linear layer, that of
    # EpsilonGammaBox to convolutions only
    assert rule_names(mlp, "EpsilonPlusFlat") == [None, "flat", None, "epsilon"]
    assert rule_names(mlp, "EpsilonGammaBox") == [None, "epsilon", None, "epsilon"]


def test_batch_norm_is_folded_first_and_the_model_is_left_as_it_was(rng):
    """A Conv2d + BatchNorm pair is explained as the one layer nn.fuse makes of it: LRP-0 on a
    bias-free fold (zero running mean, no BatchNorm shift) is still gradient x input."""
    nn.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, bias=False), nn.BatchNorm2d(3, affine=False),
                          nn.ReLU(), nn.Flatten(), nn.Linear(3 * 16, 4, bias=False)).double()
    model[1].running_var = rng.uniform(0.5, 2.0, size=3)
    model.train()
    before = {name: array.copy() for name, array in model.state_dict().items()}
    x = rng.normal(size=(2, 2, 6, 6))
    relevance, _, target = lrp_relevance(model.eval(), x, composite="zero")
    model.train()
    maps = explain(model, x, method="lrp", composite="zero", target=target, postprocess=())
    with untouched(model):
        gradient, _ = input_gradient(model, x, target)
    np.testing.assert_allclose(relevance, x * gradient, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(maps, (x * gradient).sum(axis=1), rtol=1e-10, atol=1e-14)
    assert model.training and all(m.training for m in model.modules())
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


def test_explain_lrp_reports_the_logit_and_what_the_relevance_sums_to(small_cnn, rng):
    x = rng.normal(size=(2, 3, 8, 8))
    maps, explanation = explain(small_cnn, x, method="lrp", postprocess=(),
                                return_explanation=True)
    logits = small_cnn(nn.Parameter(x)).data
    np.testing.assert_allclose(explanation.info["logit"], logits.max(axis=1))
    np.testing.assert_allclose(explanation.info["relevance_sum"], maps.sum(axis=(1, 2)))
    normalised = explain(small_cnn, x, method="lrp")
    np.testing.assert_allclose(np.abs(normalised).max(axis=(1, 2)), 1.0)
    with pytest.raises(ValueError, match="logit only"):
        explain(small_cnn, x, method="lrp", score="prob")


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        return self.head((self.conv(x) + x).flatten(1))


@pytest.mark.parametrize("method", ["lrp", "deeplift"])
def test_layers_without_a_rule_and_branching_models_are_refused_by_name(rng, method):
    x = rng.normal(size=(1, 1, 4, 4))
    tanh_net = nn.Sequential(nn.Flatten(), nn.Linear(16, 3), nn.GELU(), nn.Linear(3, 2)).double()
    with pytest.raises(ValueError, match=r"layer '2' \(GELU\) has no rule"):
        explain(tanh_net, x, method=method)
    with pytest.raises(ValueError, match=r"layer 'head' does not take the output of layer "
                                         r"'conv'"):
        explain(Residual().double(), x, method=method)


def test_bad_composites_and_parameters_are_refused(small_cnn, rng):
    x = rng.normal(size=(1, 3, 8, 8))
    unfoldable = nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU(), nn.BatchNorm2d(2), nn.Flatten(),
                               nn.Linear(72, 2)).double()
    with pytest.raises(ValueError, match=r"layer '2' \(BatchNorm2d\) has no rule.*BatchNorm "
                                         r"only right after a Conv2d or Linear"):
        explain(unfoldable, x, method="lrp")
    with pytest.raises(ValueError, match="unknown LRP composite 'EpsilonPlusFlatt'"):
        explain(small_cnn, x, method="lrp", composite="EpsilonPlusFlatt")
    with pytest.raises(ValueError, match="alpha - beta = 1"):
        explain(small_cnn, x, method="lrp", composite="alpha_beta", alpha=2.0, beta=2.0)


@pytest.mark.parametrize("composite", ["EpsilonGammaBox", "z_box"])
def test_z_box_needs_the_input_domains_bounds_and_then_explains_each_image_alone(small_cnn,
                                                                                 rng, composite):
    """As Zennit: no bounds taken from the batch (its min and max), which made image 0's map
    change with its batch-mates; with the domain's bounds image 0's map is its own."""
    x = rng.uniform(size=(2, 3, 8, 8))
    before = [(m, m.training) for m in small_cnn.modules()]
    with pytest.raises(ValueError, match=r"runs z\^B, which needs the bounds of the input "
                                         r"domain: pass low= and high= \(e.g. low=0, high=1"):
        explain(small_cnn, x, method="lrp", composite=composite, high=1.0)
    with pytest.raises(ValueError, match=r"expected low as a number or an array broadcastable "
                                         r"to one image \(3, 8, 8\)"):
        explain(small_cnn, x, method="lrp", composite=composite, low=np.zeros(5), high=1.0)
    assert [(m, m.training) for m in small_cnn.modules()] == before
    bounds = dict(low=-2.0, high=2.0, target=1, postprocess=(), composite=composite)
    moved = x.copy()
    moved[1] = moved[1] * 4 - 2
    np.testing.assert_array_equal(explain(small_cnn, x, method="lrp", **bounds)[0],
                                  explain(small_cnn, moved, method="lrp", **bounds)[0])


class FunctionalReLU(nn.Module):
    """PyTorch's tutorial style: a relu and a reshape called as functions in forward."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.head = nn.Linear(32, 2)

    def forward(self, x):
        return self.head(self.conv(x).relu().reshape(len(x), -1))


@pytest.mark.parametrize("method", ["lrp", "deeplift"])
def test_a_forward_computing_between_layers_is_refused_with_the_fix(rng, method):
    with pytest.raises(ValueError, match=r"layer 'head' does not take the output of layer "
                                         r"'conv'.*use modules \(nn.ReLU, nn.Flatten ...\) "
                                         r"instead of functions \(F.relu, x.reshape\)"):
        explain(FunctionalReLU().double(), rng.normal(size=(1, 1, 4, 4)), method=method)


@pytest.mark.parametrize("option, message", [
    (dict(epsilon=-0.1), r"LRP: epsilon must be a number in \(0, inf\], got -0.1"),
    (dict(epsilon=0.0), r"LRP: epsilon must be a number in \(0, inf\], got 0.0"),
    (dict(gamma=-0.25), r"LRP: gamma must be a number in \[0, inf\], got -0.25"),
    (dict(gamma=float("nan")), r"LRP: gamma must be a number in \[0, inf\], got nan")])
def test_negative_epsilon_and_gamma_are_refused(small_cnn, rng, option, message):
    """A negative epsilon pulled z towards 0 (or flipped its sign), a negative gamma boosted
    the negative contributions: both were run silently."""
    with pytest.raises(ValueError, match=message):
        explain(small_cnn, rng.normal(size=(1, 3, 8, 8)), method="lrp",
                composite="EpsilonGammaBox", low=-3.0, high=3.0, **option)
