"""score='logit' | 'prob' | 'log_prob': every method that has a score honours it.

With logits z, p = softmax(z) and c the explained class, d log p_c / dz_k = [k == c] - p_k, so

    d log p_c / dx = dz_c/dx - sum_k p_k dz_k/dx,        d p_c / dx = p_c * d log p_c / dx.

Hence (1) every map that is linear in the backward signal obeys the first relation, and (2)
every map that is positively homogeneous in it (the ReLU rules, max |.|, relu(g) weights) is p_c
times its log_prob map. The forward-only methods are checked against scores computed here.
CAM and CNN-Fixations are defined on the logit alone and refuse another score; EigenCAM, like
the attention methods, reads no score and refuses one.
"""
import numpy as np
import pytest

from minigrad import nn
from minigrad.models import bcos_lenet, tiny_vit
from minigrad.saliency import (BCOS_METHODS, CLASS_AGNOSTIC_METHODS, LOGIT_ONLY_METHODS, METHODS,
                               TRANSFORMER_METHODS, explain)
from minigrad.saliency.core import SCORES, layer_activation, untouched

TARGET = np.array([0, 3, 4])


def raw(model, x, method, **options):
    return explain(model, x, method=method, postprocess=(), **options)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def score_of(logits, target, score):
    """S_c computed here from the logits, independently of the saliency code."""
    picked = np.arange(len(logits)), target
    if score == "logit":
        return logits[picked]
    return softmax(logits)[picked] if score == "prob" else np.log(softmax(logits)[picked])


@pytest.fixture
def p_target(small_cnn, images):
    return softmax(small_cnn(nn.Parameter(images)).data)[np.arange(3), TARGET][:, None, None]


# maps linear in the backward signal (the CAM members' activations do not depend on the class)
LINEAR = ["gradient", "grad_x_input", "gradcam", "hirescam", "xgradcam"]
# maps positively homogeneous in it, of degree 1 (guided Grad-CAM multiplies two such maps)
HOMOGENEOUS = {"vanilla": 1, "gradient": 1, "grad_x_input": 1, "guided_backprop": 1,
               "deconvnet": 1, "gradcam": 1, "hirescam": 1, "xgradcam": 1, "layercam": 1,
               "guided_gradcam": 2}


@pytest.mark.parametrize("method", LINEAR)
def test_log_prob_map_is_the_logit_map_minus_its_softmax_average(small_cnn, images, method):
    logits = small_cnn(nn.Parameter(images)).data
    per_class = np.stack([raw(small_cnn, images, method, target=k) for k in range(5)], axis=1)
    average = np.einsum("nk,nkhw->nhw", softmax(logits), per_class)       # sum_k p_k M_k
    logit_map = per_class[np.arange(3), TARGET]
    log_prob_map = raw(small_cnn, images, method, target=TARGET, score="log_prob")
    np.testing.assert_allclose(log_prob_map, logit_map - average, rtol=1e-9, atol=1e-12)
    assert not np.allclose(log_prob_map, logit_map, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("method", sorted(HOMOGENEOUS))
def test_prob_map_is_p_c_times_the_log_prob_map(small_cnn, images, p_target, method):
    prob = raw(small_cnn, images, method, target=TARGET, score="prob")
    log_prob = raw(small_cnn, images, method, target=TARGET, score="log_prob")
    if method == "guided_gradcam":      # its coarse factor is at the layer's resolution
        assert log_prob.shape == prob.shape == (3, 8, 8)
    np.testing.assert_allclose(prob, p_target ** HOMOGENEOUS[method] * log_prob,
                               rtol=1e-9, atol=1e-14)
    assert not np.allclose(prob, log_prob, rtol=1e-3, atol=1e-9)       # p_c < 1 here


CNN_METHODS = set(METHODS) - set(TRANSFORMER_METHODS) - set(BCOS_METHODS)


@pytest.mark.parametrize("method", sorted(CNN_METHODS - set(LOGIT_ONLY_METHODS)
                                         - set(CLASS_AGNOSTIC_METHODS)) + ["token_gradcam"])
def test_every_method_with_a_score_gives_a_different_map_for_each(small_cnn, images, method):
    options = {"steps": 8} if method == "integrated_gradients" else \
        {"samples": 4} if method == "smoothgrad" else {}
    model = small_cnn
    if method in TRANSFORMER_METHODS:
        nn.manual_seed(0)
        model = tiny_vit(image_size=8, patch_size=4, in_channels=3, num_classes=5, embed_dim=8,
                         depth=2, num_heads=2, mlp_dim=8).double()
    maps = {score: raw(model, images, method, target=TARGET, score=score, **options)
            for score in SCORES}
    for a, b in [("logit", "prob"), ("logit", "log_prob"), ("prob", "log_prob")]:
        assert not np.allclose(maps[a], maps[b], rtol=1e-3, atol=1e-9), (a, b)


@pytest.mark.parametrize("method", LOGIT_ONLY_METHODS)
@pytest.mark.parametrize("score", ["prob", "log_prob"])
def test_logit_only_methods_refuse_another_score(gap_cnn, images, method, score):
    model = gap_cnn
    if method in BCOS_METHODS:
        nn.manual_seed(0)
        model = bcos_lenet(num_classes=4, in_channels=3)
        images = np.random.default_rng(0).random((3, 3, 28, 28))
    with pytest.raises(ValueError, match=f"{method!r} explains the logit only"):
        explain(model, images, method=method, score=score)
    # called directly, not through explain, the method refuses it the same way
    with pytest.raises(ValueError, match=f"{method!r} explains the logit only"):
        METHODS[method][0](model, images, score=score)
    np.testing.assert_array_equal(explain(model, images, method=method, score="logit"),
                                  explain(model, images, method=method))


@pytest.mark.parametrize("score", SCORES)
def test_integrated_gradients_add_up_to_the_change_of_the_chosen_score(images, score):
    """Completeness, sum IG = S(x) - S(0), for each score. A smooth (tanh) network, so that
    Gauss-Legendre integrates its path to rounding error with 16 nodes."""
    nn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Tanh(), nn.Flatten(),
                          nn.Linear(4 * 8 * 8, 5)).double()
    maps = raw(model, images, "integrated_gradients", target=TARGET, score=score, steps=16)
    change = score_of(model(nn.Parameter(images)).data, TARGET, score) - \
        score_of(model(nn.Parameter(np.zeros_like(images))).data, TARGET, score)
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), change, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("score", SCORES)
def test_occlusion_of_the_whole_image_is_the_drop_of_the_chosen_score(small_cnn, images, score):
    maps = raw(small_cnn, images, "occlusion", target=TARGET, score=score, window=8, baselines=0.5)
    drop = score_of(small_cnn(nn.Parameter(images)).data, TARGET, score) - \
        score_of(small_cnn(nn.Parameter(np.full_like(images, 0.5))).data, TARGET, score)
    np.testing.assert_allclose(maps, np.broadcast_to(drop[:, None, None], maps.shape),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("score", [None, *SCORES])
def test_scorecam_weights_are_the_chosen_score_of_the_masked_inputs(gap_cnn, images, score):
    """w_k = S_c(x * mask_k), mask_k = A^k min-max scaled (here the layer is input-sized);
    the default score is the paper's, the probability."""
    maps = raw(gap_cnn, images[:1], "scorecam", layer="1", target=2, score=score)
    with untouched(gap_cnn):
        activations = layer_activation(gap_cnn, images[:1], gap_cnn[1])[0][0]    # (6, 8, 8)
    low = activations.min(axis=(1, 2), keepdims=True)
    span = activations.max(axis=(1, 2), keepdims=True) - low
    masks = np.where(span > 0, (activations - low) / np.where(span > 0, span, 1), 0)
    logits = gap_cnn(nn.Parameter(images[:1] * masks[:, None])).data            # (6, 4)
    weights = score_of(logits, np.full(6, 2), score or "prob")
    np.testing.assert_allclose(maps[0], np.einsum("k,khw->hw", weights, activations),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("score", ["prob", "log_prob"])
def test_gradients_of_prob_and_log_prob_match_torch(small_cnn, torch_small_cnn, images,
                                                    score):
    torch, reference = torch_small_cnn
    x = torch.tensor(images, requires_grad=True)
    scores = torch.softmax(reference(x), 1) if score == "prob" else torch.log_softmax(reference(x), 1)
    scores[torch.arange(3), torch.from_numpy(TARGET)].sum().backward()
    np.testing.assert_allclose(raw(small_cnn, images, "gradient", target=TARGET, score=score),
                               x.grad.sum(dim=1).numpy(), rtol=1e-9, atol=1e-14)


def test_eigencam_refuses_a_score_and_gives_one_map_for_every_class(small_cnn, images):
    with pytest.raises(ValueError, match="'eigencam' reads the attention or the activations"):
        explain(small_cnn, images, method="eigencam", score="prob")
    maps = [raw(small_cnn, images, "eigencam", target=k) for k in range(5)]
    assert all(np.array_equal(maps[0], m) for m in maps[1:])
