"""Each saliency method against its paper's formula, computed independently in torch autograd
on the same network with the same weights (float64).

Nothing here calls minigrad's saliency code except to get the map under test: the scores, the
gradients (also those through a changed ReLU backward), the integration nodes, the noise, the
upsampling and the occluding windows are all rebuilt in torch or written out from the formula.
Every comparison is on the raw map (postprocess=()). (Grad-CAM++'s higher derivatives are
minigrad's own since #30: tests/saliency/test_cam.py.)"""
import functools

import numpy as np
import pytest

from minigrad import saliency

torch = pytest.importorskip("torch")
F = torch.nn.functional

TIGHT = dict(rtol=1e-10, atol=1e-14)
DEFAULT_LAYER = "4"            # the ReLU after the last Conv2d: minigrad's layer=None
PRE_RELU_LAYER = "3"           # the last Conv2d itself: signed A, g = 0 where the ReLU is off


def torch_twin(model):
    """The small_cnn fixture rebuilt in torch, with minigrad's weights copied in."""
    twin = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, 3, padding=1),
                               torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(6 * 4 * 4, 5)).double()
    ours = dict(model.named_parameters())
    with torch.no_grad():
        for name, param in twin.named_parameters():
            param.copy_(torch.from_numpy(np.asarray(ours[name].data)))
    return twin


def raw(model, x, method, target, **options):
    return saliency.explain(model, x, target=target, method=method, postprocess=(), **options)


def class_score(output, target, score="logit"):
    """S_c of each sample: its target's logit or softmax probability, (N,)."""
    scores = F.softmax(output, dim=1) if score == "prob" else output
    return scores[torch.arange(len(target)), torch.as_tensor(target)]


def scores_of(net, x, target, score="logit"):
    with torch.no_grad():
        return class_score(net(torch.from_numpy(x)), target, score).numpy()


def input_grad(net, x, target):
    inputs = torch.from_numpy(x).requires_grad_()
    class_score(net(inputs), target).sum().backward()
    return inputs.grad.numpy()


def split(twin, layer):
    """The twin cut right after minigrad's module `layer` (an index of the Sequential)."""
    cut = int(layer) + 1
    return twin[:cut], twin[cut:]


def layer_grad(twin, x, target, layer=DEFAULT_LAYER):
    """A (the output of `layer`) and dS_c/dA."""
    body, head = split(twin, layer)
    features = body(torch.from_numpy(x))
    features.retain_grad()
    class_score(head(features), target).sum().backward()
    return features.detach().numpy(), features.grad.numpy()


def upsample(maps, size):
    """(N, h, w) or (N, K, h, w) -> bilinear at `size`, torch's align_corners=False."""
    maps = torch.as_tensor(maps)
    batched = maps[:, None] if maps.dim() == 3 else maps
    out = F.interpolate(batched, size=size, mode="bilinear", align_corners=False)
    return (out[:, 0] if maps.dim() == 3 else out).numpy()


@pytest.fixture
def case(small_cnn, rng):
    x = rng.normal(size=(2, 3, 8, 8))
    return small_cnn, torch_twin(small_cnn), x, np.array([1, 3])


def test_vanilla_and_grad_x_input(case):
    model, twin, x, target = case
    gradient = input_grad(twin, x, target)
    np.testing.assert_allclose(raw(model, x, "vanilla", target), np.abs(gradient).max(axis=1),
                               **TIGHT)
    np.testing.assert_allclose(raw(model, x, "grad_x_input", target), (x * gradient).sum(axis=1),
                               **TIGHT)


# ---- Integrated Gradients ---------------------------------------------------------------

def gauss_legendre(n):
    """Nodes and weights of n-point Gauss-Legendre on [0, 1], by Golub-Welsch: the nodes are the
    eigenvalues of the Jacobi matrix of the Legendre recurrence (off-diagonal k / sqrt(4k^2 - 1)),
    the weights 2 v_0^2 from its unit eigenvectors; then mapped from [-1, 1] to [0, 1]."""
    k = np.arange(1, n)
    off_diagonal = k / np.sqrt(4 * k ** 2 - 1)
    nodes, vectors = np.linalg.eigh(np.diag(off_diagonal, 1) + np.diag(off_diagonal, -1))
    return (nodes + 1) / 2, vectors[0] ** 2


def trapezoid(n):
    """a_k = k / (n - 1), weight 1 / (n - 1), halved at both ends."""
    weights = np.array([0.5] + [1.0] * (n - 2) + [0.5]) / (n - 1)
    return np.arange(n) / (n - 1), weights


@pytest.mark.parametrize("rule, nodes_and_weights, steps", [("gauss-legendre", gauss_legendre, 5),
                                                            ("trapezoid", trapezoid, 6)])
@pytest.mark.parametrize("baseline", ["zeros", "image"])
def test_integrated_gradients(case, rng, rule, nodes_and_weights, steps, baseline):
    """IG = (x - x') * sum_k w_k dS_c/dx(x' + a_k (x - x')), summed over channels; the
    completeness gap is sum IG - (S(x) - S(x'))."""
    model, twin, x, target = case
    x_ref = np.zeros_like(x) if baseline == "zeros" else 0.3 * rng.normal(size=x.shape)
    alphas, weights = nodes_and_weights(steps)
    integral = sum(w * input_grad(twin, x_ref + a * (x - x_ref), target)
                   for a, w in zip(alphas, weights))
    attribution = (x - x_ref) * integral
    maps, explanation = saliency.explain(model, x, target=target, method="integrated_gradients",
                                         postprocess=(), return_explanation=True, steps=steps,
                                         rule=rule, baselines=x_ref, batch_size=3)
    np.testing.assert_allclose(maps, attribution.sum(axis=1), **TIGHT)
    change = scores_of(twin, x, target) - scores_of(twin, x_ref, target)
    np.testing.assert_allclose(explanation.info["score_change"], change, **TIGHT)
    np.testing.assert_allclose(explanation.info["completeness_gap"],
                               attribution.sum(axis=(1, 2, 3)) - change, **TIGHT)


# ---- SmoothGrad -------------------------------------------------------------------------

def test_smoothgrad_with_the_same_noise_draws(case):
    """minigrad's draws: default_rng(seed).normal(size=(samples, N, C, H, W)) for the whole
    batch at once, times sigma = noise * (max(x) - min(x)) of each image; the map is
    max_c |mean_i dS_c/dx(x + e_i)| (the gradient averaged, then the vanilla map)."""
    model, twin, x, target = case
    samples, noise, seed = 4, 0.2, 7
    draws = np.random.default_rng(seed).normal(size=(samples,) + x.shape)
    sigma = noise * (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3)))
    mean_gradient = np.mean([input_grad(twin, x + sigma[:, None, None, None] * e, target)
                             for e in draws], axis=0)
    np.testing.assert_allclose(raw(model, x, "smoothgrad", target, samples=samples, noise=noise,
                                   seed=seed, batch_size=3),
                               np.abs(mean_gradient).max(axis=1), **TIGHT)


# ---- guided backprop and deconvnet: the ReLU's backward replaced --------------------------

class GuidedReLU(torch.autograd.Function):
    """Springenberg et al. 2015: R_in = [x > 0] [R_out > 0] R_out."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, r):
        x, = ctx.saved_tensors
        return r * (x > 0) * (r > 0)


class DeconvReLU(torch.autograd.Function):
    """Zeiler & Fergus 2014: R_in = [R_out > 0] R_out, whatever the forward input was."""

    @staticmethod
    def forward(ctx, x):
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, r):
        return r.clamp(min=0)


class RuleReLU(torch.nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function.apply(x)


def with_relu_rule(twin, function):
    """A copy of the twin (same weights) whose every ReLU backpropagates by `function`."""
    return torch.nn.Sequential(*(RuleReLU(function) if isinstance(m, torch.nn.ReLU) else m
                                 for m in twin))


def guided_map(twin, x, target):
    return np.abs(input_grad(with_relu_rule(twin, GuidedReLU), x, target)).max(axis=1)


@pytest.mark.parametrize("method, function", [("guided_backprop", GuidedReLU),
                                              ("deconvnet", DeconvReLU)])
def test_modified_relu_backward(case, method, function):
    model, twin, x, target = case
    gradient = input_grad(with_relu_rule(twin, function), x, target)
    np.testing.assert_allclose(raw(model, x, method, target), np.abs(gradient).max(axis=1),
                               **TIGHT)


# ---- the CAM family ---------------------------------------------------------------------

def test_gradcam_and_hirescam(case):
    model, twin, x, target = case
    a, g = layer_grad(twin, x, target)
    np.testing.assert_allclose(raw(model, x, "gradcam", target),
                               (g.mean(axis=(2, 3), keepdims=True) * a).sum(axis=1), **TIGHT)
    np.testing.assert_allclose(raw(model, x, "hirescam", target), (g * a).sum(axis=1), **TIGHT)


@pytest.mark.parametrize("layer", [DEFAULT_LAYER, PRE_RELU_LAYER])
def test_xgradcam_and_layercam(case, layer):
    """XGrad-CAM (Fu et al. 2020): w^k = sum_ij A_ij g_ij / sum_ab A_ab (0 for a zero channel);
    LayerCAM (Jiang et al. 2021): map = sum_k relu(g^k) * A^k, element-wise."""
    model, twin, x, target = case
    a, g = layer_grad(twin, x, target, layer)
    total = a.sum(axis=(2, 3), keepdims=True)
    weights = np.divide((a * g).sum(axis=(2, 3), keepdims=True), total,
                        out=np.zeros_like(total), where=total != 0)
    np.testing.assert_allclose(raw(model, x, "xgradcam", target, layer=layer),
                               (weights * a).sum(axis=1), **TIGHT)
    np.testing.assert_allclose(raw(model, x, "layercam", target, layer=layer),
                               (np.maximum(g, 0) * a).sum(axis=1), **TIGHT)


@pytest.mark.parametrize("layer", [DEFAULT_LAYER, PRE_RELU_LAYER])
@pytest.mark.parametrize("score", ["prob", "logit"])
def test_scorecam_by_algorithm_1(case, layer, score):
    """Score-CAM (Wang et al. 2020, Algorithm 1): each channel A^k upsampled to the input
    (bilinear, align_corners=False) and min-max scaled to [0, 1] per channel (a constant channel
    -> all zeros) is a mask; w^k = S_c(x * mask_k), the class's softmax probability by default;
    map = sum_k w^k A^k. No softmax across the channels."""
    model, twin, x, target = case
    body, _ = split(twin, layer)
    with torch.no_grad():
        a = body(torch.from_numpy(x)).numpy()
    up = upsample(a, x.shape[2:])                                            # (N, K, H, W)
    low, high = up.min(axis=(2, 3), keepdims=True), up.max(axis=(2, 3), keepdims=True)
    masks = np.divide(up - low, high - low, out=np.zeros_like(up), where=high > low)
    n, k = a.shape[:2]
    masked = (x[:, None] * masks[:, :, None]).reshape((n * k,) + x.shape[1:])
    weights = scores_of(twin, masked, np.repeat(target, k), score).reshape(n, k, 1, 1)
    np.testing.assert_allclose(raw(model, x, "scorecam", target, layer=layer, score=score,
                                   batch_size=5),
                               (weights * a).sum(axis=1), **TIGHT)


@pytest.mark.parametrize("layer", [DEFAULT_LAYER, PRE_RELU_LAYER])
def test_guided_gradcam(case, layer):
    """Selvaraju et al. 2017: guided backprop times Grad-CAM, ReLU'd and upsampled bilinearly to
    the input (the channels reduced by max |.|, which commutes with the non-negative factor)."""
    model, twin, x, target = case
    a, g = layer_grad(twin, x, target, layer)
    coarse = np.maximum((g.mean(axis=(2, 3), keepdims=True) * a).sum(axis=1), 0)
    np.testing.assert_allclose(raw(model, x, "guided_gradcam", target, layer=layer),
                               guided_map(twin, x, target) * upsample(coarse, x.shape[2:]),
                               **TIGHT)


# ---- occlusion --------------------------------------------------------------------------

def occlusion_map(twin, x, target, window, stride, baseline):
    """Slide a window x window patch of `baseline` (every `stride` pixels, plus one flush with
    the far edge); each pixel gets the mean score drop S_c(x) - S_c(occluded) of the windows
    that cover it."""
    height, width = x.shape[2:]
    drops, cover = np.zeros((len(x), height, width)), np.zeros((height, width))
    clean = scores_of(twin, x, target)
    for top in sorted({*range(0, height - window + 1, stride), height - window}):
        for left in sorted({*range(0, width - window + 1, stride), width - window}):
            occluded = x.copy()
            occluded[:, :, top:top + window, left:left + window] = baseline
            drops[:, top:top + window, left:left + window] += (
                clean - scores_of(twin, occluded, target))[:, None, None]
            cover[top:top + window, left:left + window] += 1
    return drops / cover


@pytest.mark.parametrize("window, stride, baseline", [(4, 3, 0.0), (3, 2, 0.5)])
def test_occlusion(case, window, stride, baseline):
    model, twin, x, target = case
    np.testing.assert_allclose(raw(model, x, "occlusion", target, window=window, stride=stride,
                                   baselines=baseline, batch_size=4),
                               occlusion_map(twin, x, target, window, stride, baseline), **TIGHT)


# ---- EigenCAM and AblationCAM (pytorch-grad-cam's definitions) --------------------------

@pytest.mark.parametrize("layer", [DEFAULT_LAYER, PRE_RELU_LAYER])
def test_eigencam_is_the_projection_on_the_first_principal_component(case, layer):
    """pytorch-grad-cam's get_2d_projection: A as (h*w, K), each channel's mean over the pixels
    subtracted, times the first right singular vector from torch.linalg.svd. Its sign is
    arbitrary; minigrad turns the map to correlate positively with sum_k A^k."""
    model, twin, x, target = case
    body, _ = split(twin, layer)
    with torch.no_grad():
        a = body(torch.from_numpy(x))
    expected = []
    for image in a:
        pixels = image.reshape(image.shape[0], -1).T                      # (h*w, K)
        centred = pixels - pixels.mean(dim=0)
        vt = torch.linalg.svd(centred, full_matrices=True)[2]
        projection = centred @ vt[0]
        if projection @ pixels.sum(dim=1) < 0:
            projection = -projection
        expected.append(projection.reshape(image.shape[1:]).numpy())
    maps = raw(model, x, "eigencam", None, layer=layer)
    np.testing.assert_allclose(maps, np.stack(expected), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(maps, raw(model, x, "eigencam", target, layer=layer))


@pytest.mark.parametrize("layer", [DEFAULT_LAYER, PRE_RELU_LAYER])
@pytest.mark.parametrize("score", ["logit", "prob"])
def test_ablationcam_weights_are_the_relative_drop_with_a_channel_zeroed(case, layer, score):
    """Desai & Ramaswamy 2020: w^k = (S_c - S_c^k) / S_c, S_c^k the score with A^k set to 0;
    map = sum_k w^k A^k. The head of the twin runs on A with one channel zeroed at a time."""
    model, twin, x, target = case
    body, head = split(twin, layer)
    with torch.no_grad():
        a = body(torch.from_numpy(x))
        original = class_score(head(a), target, score)
        drops = []
        for k in range(a.shape[1]):
            ablated = a.clone()
            ablated[:, k] = 0
            drops.append((original - class_score(head(ablated), target, score)) / original)
    weights = torch.stack(drops, dim=1).numpy()[:, :, None, None]
    np.testing.assert_allclose(raw(model, x, "ablationcam", target, layer=layer, score=score,
                                   batch_size=5),
                               (weights * a.numpy()).sum(axis=1), **TIGHT)


# ---- LRP: Zennit's rules written out as tables of contributions --------------------------

def connections(layer, a):
    """What each output unit of a Linear or Conv2d sees of its input a: (pieces (N, I, L), the
    weight as (O, I), and `back`, which sums an (N, I, L) table into a's shape)."""
    if isinstance(layer, torch.nn.Linear):
        return a[:, :, None], layer.weight, lambda table: table[:, :, 0]
    size, padding, stride = layer.kernel_size, layer.padding, layer.stride
    return (F.unfold(a, size, padding=padding, stride=stride),
            layer.weight.reshape(len(layer.weight), -1),
            lambda table: F.fold(table, a.shape[2:], size, padding=padding, stride=stride))


def stab(z, epsilon=1e-6):
    """Zennit's stabilize: z + epsilon * sign(z), sign(0) = +1."""
    return z + epsilon * ((z == 0).to(z) + z.sign())


def lrp_share(terms, denominator, relevance, back):
    """R_i = sum_j terms_ij / denominator_j * R_j; terms (N, O, I, L), R and denominator
    (N, O, L)."""
    return back((terms * (relevance / denominator)[:, :, None]).sum(dim=1))


def torch_rule(name, layer, a, relevance, low=None, high=None, epsilon=1e-6, gamma=0.25,
               alpha=2.0, beta=1.0):
    """One layer of Zennit's rule `name`, with x_i w_ij as an explicit (N, O, I, L) table."""
    pieces, weight, back = connections(layer, a)
    r = relevance.reshape(len(a), len(weight), -1)
    bias = layer.bias[None, :, None]
    inputs = pieces[:, None]                                    # (N, 1, I, L)
    contribution = weight[None, :, :, None] * inputs            # x_i w_ij
    plus, minus = contribution.clamp(min=0), contribution.clamp(max=0)
    if name in ("zero", "epsilon"):
        z = contribution.sum(dim=2) + bias
        denominator = stab(z, epsilon) if name == "epsilon" else torch.where(z == 0, np.inf, z)
        return lrp_share(contribution, denominator, r, back)
    if name in ("alpha_beta", "z_plus"):
        alpha, beta = (1.0, 0.0) if name == "z_plus" else (alpha, beta)
        return alpha * lrp_share(plus, stab(plus.sum(dim=2) + bias.clamp(min=0)), r, back) - \
            beta * lrp_share(minus, stab(minus.sum(dim=2) + bias.clamp(max=0)), r, back)
    if name == "gamma":
        z = contribution.sum(dim=2) + bias
        up, down = contribution + gamma * plus, contribution + gamma * minus
        return lrp_share(up, stab(up.sum(dim=2) + bias + gamma * bias.clamp(min=0)),
                         r * (z > 0), back) + \
            lrp_share(down, stab(down.sum(dim=2) + bias + gamma * bias.clamp(max=0)),
                      r * (z < 0), back)
    ones = connections(layer, torch.ones_like(a))[0][:, None]   # 1 where a real input is seen
    if name == "flat":
        terms = ones.expand(-1, len(weight), -1, -1)
        return lrp_share(terms, stab(terms.sum(dim=2)), r, back)
    if name == "w_square":
        terms = weight[None, :, :, None] ** 2 * ones
        return lrp_share(terms, stab(terms.sum(dim=2) + bias ** 2), r, back)
    assert name == "z_box"
    bounds = [connections(layer, torch.full_like(a, bound))[0][:, None] for bound in (low, high)]
    terms = contribution - weight.clamp(min=0)[None, :, :, None] * bounds[0] \
        - weight.clamp(max=0)[None, :, :, None] * bounds[1]
    return lrp_share(terms, stab(terms.sum(dim=2)), r, back)


def torch_lrp(twin, x, target, rules, **options):
    """Walk the twin backwards from R = the target's logit: `rules` for its Conv, Conv, Linear;
    ReLU passes R on; max pooling gives it to each window's winner (torch's gradient)."""
    activations = [torch.from_numpy(x)]
    with torch.no_grad():
        for layer in twin:
            activations.append(layer(activations[-1]))
    logits = activations[-1]
    relevance = torch.zeros_like(logits)
    rows = torch.arange(len(x))
    relevance[rows, target] = logits[rows, target]
    affine = iter(reversed(rules))
    for layer, a in zip(reversed(twin), reversed(activations[:-1])):
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            relevance = torch_rule(next(affine), layer, a, relevance, **options)
        elif isinstance(layer, torch.nn.MaxPool2d):
            a = a.clone().requires_grad_()
            relevance = torch.autograd.grad(layer(a), a, relevance)[0]
        elif isinstance(layer, torch.nn.Flatten):
            relevance = relevance.reshape(a.shape)
    return relevance.detach().numpy()


# the rules of the twin's Conv, Conv, Linear under each of Zennit's composites
ZENNIT_PLANS = {"EpsilonPlus": ("z_plus", "z_plus", "epsilon"),
                "EpsilonPlusFlat": ("flat", "z_plus", "epsilon"),
                "EpsilonAlpha2Beta1": ("alpha_beta", "alpha_beta", "epsilon"),
                "EpsilonAlpha2Beta1Flat": ("flat", "alpha_beta", "epsilon"),
                "EpsilonGammaBox": ("z_box", "gamma", "epsilon")}
RULE_NAMES = ("zero", "epsilon", "gamma", "alpha_beta", "z_plus", "flat", "w_square", "z_box")


@pytest.mark.parametrize("composite", sorted(ZENNIT_PLANS) + list(RULE_NAMES))
def test_lrp_rules_and_composites(case, composite):
    """Every rule (at every layer) and Zennit's composites; z^B with bounds -3 and 3, the other
    rules' parameters off their defaults so that passing them is checked too."""
    model, twin, x, target = case
    rules = ZENNIT_PLANS.get(composite, (composite,) * 3)
    options = dict(low=-3.0, high=3.0, epsilon=0.01, gamma=0.5, alpha=3.0, beta=2.0)
    np.testing.assert_allclose(raw(model, x, "lrp", target, composite=composite, **options),
                               torch_lrp(twin, x, target, rules, **options).sum(axis=1),
                               **TIGHT)


# ---- DeepLIFT (Captum's Rescale and max-pool rules) and GradientSHAP ----------------------

class RescaleReLU(torch.autograd.Function):
    """Captum's `nonlinear`: dx = g * (y - y') / (x - x'), the gradient where |x - x'| < 1e-10."""

    @staticmethod
    def forward(ctx, x, x_ref):
        ctx.save_for_backward(x, x_ref)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        x, x_ref = ctx.saved_tensors
        delta = x - x_ref
        slope = (x.clamp(min=0) - x_ref.clamp(min=0)) / delta
        return torch.where(delta.abs() < 1e-10, g * (x > 0), g * slope), None


class RescaleMaxPool(torch.autograd.Function):
    """Captum's `maxpool`: unpool g * (max(y, y') - y') at x's winners plus g * (y - max(y, y'))
    at x''s winners, over x - x' (the gradient, unpooled g, where |x - x'| < 1e-10)."""

    @staticmethod
    def forward(ctx, x, x_ref):
        y, where = F.max_pool2d(x, 2, return_indices=True)
        y_ref, where_ref = F.max_pool2d(x_ref, 2, return_indices=True)
        ctx.save_for_backward(x, x_ref, y, y_ref, where, where_ref)
        return y

    @staticmethod
    def backward(ctx, g):
        x, x_ref, y, y_ref, where, where_ref = ctx.saved_tensors
        top = torch.max(y, y_ref)
        unpool = functools.partial(F.max_unpool2d, kernel_size=2, output_size=x.shape[2:])
        split = unpool(g * (top - y_ref), where) + unpool(g * (y - top), where_ref)
        delta = x - x_ref
        return torch.where(delta.abs() < 1e-10, unpool(g, where), split / delta), None


def captum_deeplift(twin, x, x_ref, target):
    """(x - x') * the gradient of the target logits with Captum's rules at the ReLUs and the
    max pool, each fed the reference's input to that layer."""
    references = [torch.from_numpy(x_ref)]
    with torch.no_grad():
        for layer in twin:
            references.append(layer(references[-1]))
    inputs = torch.from_numpy(x).requires_grad_()
    a = inputs
    for layer, a_ref in zip(twin, references):
        rule = {torch.nn.ReLU: RescaleReLU, torch.nn.MaxPool2d: RescaleMaxPool}.get(type(layer))
        a = rule.apply(a, a_ref) if rule else layer(a)
    class_score(a, target).sum().backward()
    return ((x - x_ref) * inputs.grad.numpy()).sum(axis=1)


@pytest.mark.parametrize("baseline", ["zeros", "image"])
def test_deeplift_with_captums_rules(case, rng, baseline):
    model, twin, x, target = case
    x_ref = np.zeros_like(x) if baseline == "zeros" else 0.5 * rng.normal(size=x.shape)
    np.testing.assert_allclose(raw(model, x, "deeplift", target, baselines=x_ref),
                               captum_deeplift(twin, x, x_ref, target), **TIGHT)


def test_gradient_shap_with_the_same_draws(case, rng):
    """Captum's GradientShap: b_k drawn from the baselines, x~_k = x + N(0, stdevs^2), a_k ~
    U(0, 1); mean_k (x~_k - b_k) * dS_c/dx(a_k x~_k + (1 - a_k) b_k), with minigrad's documented
    draws from default_rng(seed)."""
    model, twin, x, target = case
    baselines = rng.normal(size=(3,) + x.shape[1:])
    samples, stdevs, seed = 4, 0.3, 11
    draws = np.random.default_rng(seed)
    noisy = x[None] + stdevs * draws.normal(size=(samples,) + x.shape)
    chosen = baselines[draws.integers(3, size=(samples, len(x)))]
    alphas = draws.uniform(size=(samples, len(x), 1, 1, 1))
    expected = np.mean([(noisy[k] - chosen[k]) * input_grad(
        twin, alphas[k] * noisy[k] + (1 - alphas[k]) * chosen[k], target)
        for k in range(samples)], axis=0)
    np.testing.assert_allclose(raw(model, x, "gradient_shap", target, baselines=baselines,
                                   n_samples=samples, stdevs=stdevs, seed=seed, batch_size=3),
                               expected.sum(axis=1), **TIGHT)
