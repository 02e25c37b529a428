"""DeepLIFT and GradientSHAP: completeness against the baseline, exact or in expectation.

The formulas against a torch computation (Captum's rules rebuilt): test_torch_formulas.py."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minigrad import nn
from minigrad.saliency import explain
from minigrad.saliency.core import class_scores

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh,
               "sigmoid": nn.Sigmoid}


def random_net(seed, activation, pooling, batch_norm):
    """conv-act-pool[-BatchNorm]-conv-act-flatten-linear for (N, 2, 6, 6) inputs, float64,
    with random running statistics for the BatchNorm (an affine map in eval mode)."""
    nn.manual_seed(seed)
    act = ACTIVATIONS[activation]
    pool = nn.MaxPool2d(2) if pooling == "max" else nn.AvgPool2d(2)
    norm = [nn.BatchNorm2d(3)] if batch_norm else []
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), act(), pool, *norm,
                          nn.Conv2d(3, 4, 3, padding=1), act(), nn.Flatten(), nn.Dropout(0.3),
                          nn.Linear(36, 4)).double()
    if batch_norm:
        rng = np.random.default_rng(seed)
        model[3].running_mean = rng.normal(size=3)
        model[3].running_var = rng.uniform(0.5, 2.0, size=3)
    return model.eval()


nets = st.builds(random_net, seed=st.integers(0, 2 ** 16),
                 activation=st.sampled_from(sorted(ACTIVATIONS)),
                 pooling=st.sampled_from(["max", "avg"]), batch_norm=st.booleans())


@settings(max_examples=30, deadline=None)
@given(model=nets, seed=st.integers(0, 2 ** 16), baseline=st.sampled_from(["zeros", "random"]))
def test_deeplift_attributions_sum_to_the_score_change_exactly(model, seed, baseline):
    """sum A = S_c(x) - S_c(x') to rounding: each layer keeps sum m * delta (module docstring),
    for ReLU-like and saturating activations alike, max or average pooling, BatchNorm."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3, 2, 6, 6))
    x_ref = np.zeros_like(x) if baseline == "zeros" else rng.normal(size=x.shape)
    maps, explanation = explain(model, x, method="deeplift", baselines=x_ref, postprocess=(),
                                return_explanation=True)
    target = explanation.target
    change = class_scores(model, x, target) - class_scores(model, x_ref, target)
    np.testing.assert_allclose(explanation.info["score_change"], change, rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), change, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(explanation.info["completeness_gap"],
                               maps.sum(axis=(1, 2)) - change, rtol=0, atol=1e-14)


def test_deeplift_of_a_linear_model_is_gradient_x_difference(rng):
    """Nothing to rescale: A = (x - x') * w_c, for any baseline."""
    nn.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 3)).double()
    x, x_ref = rng.normal(size=(2, 2, 4, 4)), rng.normal(size=(2, 4, 4))
    weight = model[1].weight.data[2].reshape(2, 4, 4)
    np.testing.assert_allclose(explain(model, x, method="deeplift", target=2, baselines=x_ref,
                                       postprocess=()),
                               ((x - x_ref) * weight).sum(axis=1), rtol=1e-12)


def test_deeplift_with_the_input_as_baseline_is_the_gradient_fallback(small_cnn, rng):
    """x' = x: every unit moves by 0 < 1e-10, so each multiplier is the plain derivative and
    m = dS/dx; the attributions (x - x') m are all 0, and so is S(x) - S(x')."""
    x = rng.normal(size=(2, 3, 8, 8))
    maps, explanation = explain(small_cnn, x, method="deeplift", baselines=x, postprocess=(),
                                return_explanation=True)
    np.testing.assert_array_equal(maps, 0)
    np.testing.assert_array_equal(explanation.info["score_change"], 0)


def path_derivative(model, x, baseline, alpha, target, step=1e-6):
    """d/da S_c(a x + (1 - a) b) at alpha, by float64 central differences."""
    def score(a):
        return class_scores(model, (a * x + (1 - a) * baseline)[None], target)[0]
    return (score(alpha + step) - score(alpha - step)) / (2 * step)


def test_each_gradient_shap_sample_is_the_derivative_along_its_path(small_cnn, rng):
    """One draw (n_samples=1): sum_i (x - b)_i dS/dx_i(a x + (1 - a) b) = g'(a) for
    g(a) = S_c(a x + (1 - a) b), the identity whose expectation over a ~ U(0, 1) is
    g(1) - g(0) = S_c(x) - S_c(b). a and b come from the documented draws."""
    x = rng.normal(size=(2, 3, 8, 8))
    baselines = rng.normal(size=(4, 3, 8, 8))
    seed = 5
    maps, explanation = explain(small_cnn, x, method="gradient_shap", baselines=baselines,
                                n_samples=1, seed=seed, postprocess=(), return_explanation=True)
    draws = np.random.default_rng(seed)
    draws.normal(size=(1,) + x.shape)                            # the noise (stdevs = 0)
    chosen = baselines[draws.integers(4, size=(1, 2))[0]]
    alphas = draws.uniform(size=(1, 2, 1, 1, 1))[0, :, 0, 0, 0]
    for n in range(2):
        np.testing.assert_allclose(maps[n].sum(), path_derivative(
            small_cnn, x[n], chosen[n], alphas[n], explanation.target[n]), rtol=1e-6)


def test_gradient_shap_is_complete_in_expectation(small_cnn, rng):
    """Mean of the per-draw sums over 400 seeds (one draw each) against S_c(x) - S_c(0): within
    5 standard errors (std of the draws / sqrt(400)); the draws are independent, and their
    mean is unbiased by the identity above, so a correct implementation fails this about once
    in 1.7 million seeds. The 400-draw average itself (one call) is held to the same bound."""
    x = rng.normal(size=(1, 3, 8, 8))
    target = 2
    sums = np.array([explain(small_cnn, x, method="gradient_shap", target=target, n_samples=1,
                             seed=seed, postprocess=()).sum() for seed in range(400)])
    change = class_scores(small_cnn, x, target) - class_scores(small_cnn, np.zeros_like(x),
                                                                 target)
    bound = 5 * sums.std(ddof=1) / np.sqrt(len(sums))
    assert abs(sums.mean() - change[0]) < bound, (sums.mean(), change, bound)
    average = explain(small_cnn, x, method="gradient_shap", target=target, n_samples=400,
                      seed=1, batch_size=100, postprocess=()).sum()
    assert abs(average - change[0]) < bound, (average, change, bound)


def test_gradient_shap_with_noise_a_single_baseline_and_another_score(small_cnn, rng):
    """An image (C, H, W) is a distribution of one baseline; stdevs adds noise to x; any score
    is allowed (the expectation identity holds for any differentiable score)."""
    x = rng.normal(size=(2, 3, 8, 8))
    one = rng.normal(size=(3, 8, 8))
    np.testing.assert_array_equal(
        explain(small_cnn, x, method="gradient_shap", baselines=one, postprocess=()),
        explain(small_cnn, x, method="gradient_shap", baselines=one[None], postprocess=()))
    noisy = explain(small_cnn, x, method="gradient_shap", stdevs=0.5, postprocess=())
    assert not np.allclose(noisy, explain(small_cnn, x, method="gradient_shap", postprocess=()))
    assert np.isfinite(explain(small_cnn, x, method="gradient_shap", score="prob")).all()
    with pytest.raises(ValueError, match=r"baselines shaped like the images, \(B, 3, 8, 8\)"):
        explain(small_cnn, x, method="gradient_shap", baselines=np.zeros((2, 3, 4, 4)))


def test_deeplift_and_gradient_shap_leave_the_model_as_it_was(small_cnn, rng):
    x = rng.normal(size=(2, 3, 8, 8))
    small_cnn.train()
    before = {name: array.copy() for name, array in small_cnn.state_dict().items()}
    for method in ("deeplift", "gradient_shap"):
        explain(small_cnn, x, method=method)
    assert all(module.training for module in small_cnn.modules())
    assert all(param.requires_grad and param.grad is None for param in small_cnn.parameters())
    for name, array in small_cnn.state_dict().items():
        np.testing.assert_array_equal(array, before[name])
    with pytest.raises(ValueError, match="logit only"):
        explain(small_cnn, x, method="deeplift", score="log_prob")


@pytest.mark.parametrize("n_samples", [0, -1, 2.5, True])
def test_gradient_shap_needs_a_whole_number_of_samples(small_cnn, images, n_samples):
    with pytest.raises(ValueError, match=f"n_samples must be a whole number >= 1, got "
                                         f"{n_samples}"):
        explain(small_cnn, images, method="gradient_shap", n_samples=n_samples)


def test_deeplift_takes_captums_baselines_and_refuses_what_does_not_fit(small_cnn, rng):
    """Captum's name, `baselines`, as gradient_shap's; a baseline that does not broadcast to
    the batch, or of uint8 pixels not yet scaled (refused in x too), is refused by a sentence
    (a NumPy broadcast error before, or uint8 values taken as floats up to 255)."""
    x = rng.normal(size=(2, 3, 8, 8))
    one = rng.normal(size=(3, 8, 8))
    np.testing.assert_array_equal(
        explain(small_cnn, x, method="deeplift", baselines=one, postprocess=()),
        explain(small_cnn, x, method="deeplift", baselines=np.stack([one, one]), postprocess=()))
    with pytest.raises(ValueError, match=r"deeplift: expected baselines as a number or an array "
                                         r"broadcastable to the batch \(2, 3, 8, 8\).*got shape "
                                         r"\(3, 4, 4\)"):
        explain(small_cnn, x, method="deeplift", baselines=np.zeros((3, 4, 4)))
    pixels = np.zeros((3, 8, 8), np.uint8)
    for method in ("deeplift", "gradient_shap"):
        with pytest.raises(TypeError, match=f"{method}: expected a floating-point baselines, "
                                            f"got dtype uint8 \\(uint8 images: scale them"):
            explain(small_cnn, x, method=method, baselines=pixels)


@pytest.mark.parametrize("stdevs", [-0.1, float("nan")])
def test_gradient_shap_refuses_a_negative_noise_std(small_cnn, images, stdevs):
    with pytest.raises(ValueError, match=r"gradient_shap: stdevs must be a number in \[0, inf\]"):
        explain(small_cnn, images, method="gradient_shap", stdevs=stdevs)
