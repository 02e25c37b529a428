"""Known answers for the gradient methods."""
import numpy as np
import pytest

import minigrad.functional as F
from minigrad import nn
from minigrad.saliency import explain
from minigrad.saliency.core import input_gradient, untouched
from minigrad.saliency.gradients import integration_rule


def raw(model, x, method, **options):
    return explain(model, x, method=method, postprocess=(), **options)


@pytest.fixture
def linear_model():
    nn.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 5)).double()


def test_vanilla_gradient_of_a_linear_model_is_the_class_weight_row(linear_model, rng):
    x = rng.normal(size=(2, 3, 4, 4))
    weight = linear_model[1].weight.data
    with untouched(linear_model):
        gradient, _ = input_gradient(linear_model, x, target=[3, 1])
    np.testing.assert_allclose(gradient[0], weight[3].reshape(3, 4, 4))
    np.testing.assert_allclose(gradient[1], weight[1].reshape(3, 4, 4))
    np.testing.assert_allclose(raw(linear_model, x, "vanilla", target=3)[0],
                               np.abs(weight[3].reshape(3, 4, 4)).max(axis=0))


def test_gradient_x_input_of_a_linear_model_sums_to_logit_minus_bias(linear_model, rng):
    x = rng.normal(size=(2, 3, 4, 4))
    logits = linear_model(nn.Parameter(x)).data
    maps = raw(linear_model, x, "grad_x_input")
    predicted = logits.argmax(axis=1)
    expected = logits[np.arange(2), predicted] - linear_model[1].bias.data[predicted]
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), expected)


def test_gradient_x_input_of_a_bias_free_relu_maxpool_net_sums_to_the_logit(rng):
    # Such a network is positively homogeneous of degree 1: S(x) = x . dS/dx (Euler).
    nn.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(4 * 4 * 4, 3, bias=False)).double()
    x = rng.normal(size=(2, 3, 8, 8))
    logits = model(nn.Parameter(x)).data
    np.testing.assert_allclose(raw(model, x, "grad_x_input", target=2).sum(axis=(1, 2)),
                               logits[:, 2])


@pytest.mark.parametrize("rule", ["gauss-legendre", "trapezoid"])
def test_integrated_gradients_is_complete_to_one_percent(small_cnn, rng, rule):
    x = rng.normal(size=(2, 3, 8, 8))
    maps, explanation = explain(small_cnn, x, method="integrated_gradients", postprocess=(),
                                steps=200, rule=rule, return_explanation=True)
    change = explanation.info["score_change"]
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), change, rtol=0.01)
    np.testing.assert_allclose(explanation.info["completeness_gap"],
                               maps.sum(axis=(1, 2)) - change)


@pytest.mark.parametrize("score", ["logit", "prob", "log_prob"])
def test_smoothgrad_with_no_noise_is_the_vanilla_gradient(small_cnn, images, score):
    np.testing.assert_allclose(raw(small_cnn, images, "smoothgrad", noise=0.0, samples=3,
                                   score=score),
                               raw(small_cnn, images, "vanilla", score=score))


@pytest.mark.parametrize("rule, steps, exact_degree", [("gauss-legendre", 4, 7),
                                                        ("trapezoid", 5, 1)])
def test_integration_rules_are_exact_for_the_polynomials_they_promise(rule, steps, exact_degree):
    """int_0^1 a^k da = 1/(k+1): Gauss-Legendre with n nodes is exact up to degree 2n - 1, the
    trapezoid rule for straight lines (k <= 1), and both weights sum to 1."""
    nodes, weights = integration_rule(steps, rule)
    assert nodes.min() >= 0 and nodes.max() <= 1
    for k in range(exact_degree + 1):
        assert np.isclose(weights @ nodes ** k, 1 / (k + 1), rtol=1e-12), k
    assert not np.isclose(weights @ nodes ** (exact_degree + 1), 1 / (exact_degree + 2),
                          rtol=1e-6)


def test_smoothgrad_noise_is_a_fraction_of_the_input_range(rng):
    """S = relu(x_0): dS/dx_0 = [x_0 + e > 0], so the averaged gradient is P(e > -x_0) =
    Phi(x_0 / sigma) with sigma = noise * (max(x) - min(x)) = 0.15 * 2 here: Phi(1) = 0.841."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 1, bias=False), nn.ReLU()).double()
    model[1].weight.data[...] = [[1.0, 0.0, 0.0, 0.0]]
    x = np.array([0.3, -1.0, 1.0, 0.0]).reshape(1, 1, 2, 2)
    maps = raw(model, x, "smoothgrad", target=0, samples=4000, noise=0.15)
    assert abs(maps[0, 0, 0] - 0.8413) < 0.02                    # binomial s.d. 0.006
    np.testing.assert_array_equal(maps[0].ravel()[1:], 0.0)


class ReluNet(nn.Module):
    """x -> W1 x -> relu -> W2 . : guided backprop by hand. `functional` calls F.relu instead of
    the nn.ReLU module."""

    def __init__(self, functional=False):
        super().__init__()
        self.hidden = nn.Linear(4, 6, bias=False)
        self.relu = nn.ReLU()
        self.out = nn.Linear(6, 3, bias=False)
        self.functional = functional

    def forward(self, x):
        h = self.hidden(x.reshape(len(x), 4))
        return self.out(F.relu(h) if self.functional else self.relu(h))


def score_gradient(z, c, score):
    """dS_c/dz for the logits z: e_c, p_c (e_c - p), or e_c - p (d log softmax_c / dz)."""
    one_hot, p = np.eye(len(z))[c], np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    return {"logit": one_hot, "prob": p[c] * (one_hot - p), "log_prob": one_hot - p}[score]


@pytest.mark.parametrize("score", ["logit", "prob", "log_prob"])
@pytest.mark.parametrize("method", ["guided_backprop", "deconvnet"])
def test_modified_relu_rules_match_the_hand_computation(rng, method, score):
    nn.manual_seed(3)
    model = ReluNet().double()
    x = rng.normal(size=(1, 1, 2, 2))
    w1, w2 = model.hidden.weight.data, model.out.weight.data
    h = w1 @ x.reshape(4)
    g = w2.T @ score_gradient(w2 @ np.maximum(h, 0), 0, score)   # dS_0/d(relu output)
    passed = g * (h > 0) * (g > 0) if method == "guided_backprop" else np.maximum(g, 0)
    expected = np.abs(w1.T @ passed).reshape(2, 2)
    np.testing.assert_allclose(raw(model, x, method, target=0, score=score)[0], expected)
    true_gradient = np.abs(w1.T @ (g * (h > 0))).reshape(2, 2)     # the rule is gone afterwards
    np.testing.assert_allclose(raw(model, x, "vanilla", target=0, score=score)[0], true_gradient)


@pytest.mark.parametrize("method", ["guided_backprop", "deconvnet"])
def test_modified_relu_rules_refuse_a_functional_relu(rng, method):
    nn.manual_seed(3)
    model = ReluNet(functional=True).double()
    with pytest.raises(ValueError, match="relu as a function"):
        raw(model, rng.normal(size=(1, 1, 2, 2)), method, target=0)
    assert all(not m._forward_hooks for m in model.modules())      # removed despite the error


def test_modified_relu_rules_need_a_relu_module(rng):
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3)).double()
    with pytest.raises(ValueError, match="no nn.ReLU module"):
        raw(model, rng.normal(size=(1, 1, 2, 2)), "guided_backprop", target=0)


def test_vanilla_gradient_matches_torch(small_cnn, images):
    torch = pytest.importorskip("torch")
    layers = [torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
              torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
              torch.nn.Linear(96, 5)]
    reference = torch.nn.Sequential(*layers).double()
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in small_cnn.state_dict().items()})
    x = torch.tensor(images, requires_grad=True)
    reference(x)[:, 2].sum().backward()
    np.testing.assert_allclose(raw(small_cnn, images, "vanilla", target=2),
                               x.grad.abs().amax(dim=1).numpy(), rtol=1e-10)


def test_integrated_gradients_takes_captums_baselines_and_refuses_what_does_not_fit(small_cnn,
                                                                                    images):
    """From x' = x the path is one point: every attribution and the score change are 0."""
    maps, explanation = explain(small_cnn, images, method="integrated_gradients",
                                postprocess=(), baselines=images, return_explanation=True)
    np.testing.assert_array_equal(maps, 0)
    np.testing.assert_array_equal(explanation.info["score_change"], 0)
    with pytest.raises(ValueError, match=r"integrated_gradients: expected baselines as a number "
                                         r"or an array broadcastable"):
        raw(small_cnn, images, "integrated_gradients", baselines=np.zeros((5, 5)))
    with pytest.raises(TypeError, match=r"floating-point baselines, got dtype uint8"):
        raw(small_cnn, images, "integrated_gradients",
            baselines=np.zeros(images.shape[1:], np.uint8))
