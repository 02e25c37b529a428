"""Known answers for the CAM family and occlusion."""
import numpy as np
import pytest

from minigrad import nn
from minigrad.saliency import explain
from minigrad.saliency.cam import cam, gradcampp_weights_by_definition


def raw(model, x, method, **options):
    return explain(model, x, method=method, postprocess=(), **options)


@pytest.mark.parametrize("method", ["gradcam", "hirescam"])
def test_on_a_gap_linear_net_gradcam_and_hirescam_equal_cam_over_hw(gap_cnn, images, method):
    cam = raw(gap_cnn, images, "cam")
    h, w = cam.shape[1:]
    np.testing.assert_allclose(raw(gap_cnn, images, method, layer="1"), cam / (h * w))


def test_cam_mean_plus_bias_is_the_logit(gap_cnn, images):
    logits = gap_cnn(nn.Parameter(images)).data
    cam = raw(gap_cnn, images, "cam", target=1)
    np.testing.assert_allclose(cam.mean(axis=(1, 2)) + gap_cnn[4].bias.data[1], logits[:, 1])


def test_cam_refuses_a_layer_which_the_architecture_fixes(gap_cnn, images):
    """CAM's maps are what the global average pooling receives: a layer= was silently ignored."""
    with pytest.raises(ValueError, match=r"cam takes no layer: its maps are what the global "
                                         r"average pooling receives.*got layer='0'"):
        cam(gap_cnn, images, layer="0")


def test_hirescam_before_flatten_linear_sums_to_logit_minus_bias(small_cnn, images):
    logits = small_cnn(nn.Parameter(images)).data
    maps = raw(small_cnn, images, "hirescam", layer="4", target=0)
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), logits[:, 0] - small_cnn[6].bias.data[0])


def test_layer_defaults_to_the_relu_after_the_last_conv(small_cnn, images):
    np.testing.assert_allclose(raw(small_cnn, images, "gradcam"),
                               raw(small_cnn, images, "gradcam", layer="4"))
    np.testing.assert_allclose(raw(small_cnn, images, "gradcam"),
                               raw(small_cnn, images, "gradcam", layer=small_cnn[4]))


def test_without_a_relu_after_it_the_default_is_the_last_conv_itself(images):
    nn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(),
                          nn.Linear(144, 2)).double()
    np.testing.assert_allclose(raw(model, images, "gradcam"),
                               raw(model, images, "gradcam", layer="0"))


def test_gradcam_by_hand(small_cnn, images):
    # alpha_k = mean of dS/dA^k over the map; for the Flatten + Linear head that is the mean of
    # the class's weights over each channel's block, times the ReLU's mask.
    activations = small_cnn[:5](nn.Parameter(images)).data            # after the ReLU
    weights = small_cnn[6].weight.data[2].reshape(6, 4, 4)
    alpha = weights.mean(axis=(1, 2))
    expected = np.einsum("k,nkhw->nhw", alpha, activations)
    np.testing.assert_allclose(raw(small_cnn, images, "gradcam", layer="4", target=2), expected)


def test_layercam_and_xgradcam_by_hand(small_cnn, images):
    activations = small_cnn[:5](nn.Parameter(images)).data
    g = np.broadcast_to(small_cnn[6].weight.data[2].reshape(6, 4, 4), activations.shape)
    np.testing.assert_allclose(raw(small_cnn, images, "layercam", layer="4", target=2),
                               (np.maximum(g, 0) * activations).sum(axis=1))
    total = activations.sum(axis=(2, 3), keepdims=True)
    w = np.where(total > 0, (activations * g).sum(axis=(2, 3), keepdims=True)
                 / np.where(total > 0, total, 1), 0)
    np.testing.assert_allclose(raw(small_cnn, images, "xgradcam", layer="4", target=2),
                               (w * activations).sum(axis=1))


def test_gradcampp_by_hand(small_cnn, images):
    # alpha_ij = g_ij^2 / (2 g_ij^2 + sum_ab A_ab g_ij^3), w = sum_ij alpha_ij relu(g_ij)
    activations = small_cnn[:5](nn.Parameter(images)).data
    g = np.broadcast_to(small_cnn[6].weight.data[2].reshape(6, 4, 4), activations.shape)
    denominator = 2 * g ** 2 + activations.sum(axis=(2, 3), keepdims=True) * g ** 3
    alpha = np.where(denominator != 0, g ** 2 / np.where(denominator != 0, denominator, 1), 0)
    w = (alpha * np.maximum(g, 0)).sum(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(raw(small_cnn, images, "gradcam++", layer="4", target=2),
                               (w * activations).sum(axis=1))


@pytest.mark.parametrize("layer", ["4", "3"])       # the last ReLU, and the conv before it
def test_gradcampp_is_its_definition_by_minigrads_own_higher_derivatives(small_cnn, images,
                                                                       layer):
    """Grad-CAM++ (eqs. 10 and 19) explains Y = exp(S_c): alpha from autograd's second and third
    derivatives of Y (create_graph=True), not from the closed form. The head above either layer
    is piecewise linear, so the map is the closed form's (which drops exp(S_c)) times exp(S_c)."""
    cut, target = int(layer) + 1, np.array([1, 3])
    activations = small_cnn[:cut](nn.Parameter(images[:2])).data
    weights = gradcampp_weights_by_definition(small_cnn[cut:], activations, target)
    scores = small_cnn(nn.Parameter(images[:2])).data[np.arange(2), target]
    np.testing.assert_allclose(raw(small_cnn, images[:2], "gradcam++", layer=layer,
                                   target=target) * np.exp(scores)[:, None, None],
                               (weights * activations).sum(axis=1), rtol=1e-10, atol=1e-14)


def test_after_conv_and_batch_norm_the_default_layer_is_the_relu(images):
    """conv -> BatchNorm -> ReLU (AlexNet-lite's blocks): the rectified maps are the ReLU's; a
    pooling layer between conv and ReLU ends the search (the conv itself is used)."""
    nn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.GlobalAvgPool2d(), nn.Linear(4, 2)).double()
    np.testing.assert_allclose(raw(model, images, "gradcam"),
                               raw(model, images, "gradcam", layer="2"))
    assert not np.allclose(raw(model, images, "gradcam", layer="1"),
                           raw(model, images, "gradcam", layer="2"))
    pooled = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(),
                           nn.Flatten(), nn.Linear(64, 2)).double()
    np.testing.assert_allclose(raw(pooled, images, "gradcam"),
                               raw(pooled, images, "gradcam", layer="0"))


def test_cam_family_gives_zeros_not_nan_for_dead_channels(images):
    nn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.GlobalAvgPool2d(),
                          nn.Linear(4, 3)).double()
    model[0].weight.data[...] = 0                    # every channel constant...
    model[0].bias.data[...] = -1                     # ... and dead after the ReLU
    for method in ["gradcam", "gradcam++", "xgradcam", "layercam", "scorecam", "hirescam"]:
        maps = explain(model, images, method=method, layer="1")
        assert not np.isnan(maps).any(), method
        np.testing.assert_array_equal(maps, 0)


def test_scorecam_weights_are_class_probabilities_of_masked_inputs(gap_cnn, images):
    maps = raw(gap_cnn, images[:1], "scorecam", layer="1", target=0)
    activations = gap_cnn[:2](nn.Parameter(images[:1])).data[0]      # (6, 8, 8), input size
    weights = []
    for channel in activations:
        span = channel.max() - channel.min()
        mask = (channel - channel.min()) / span if span > 0 else np.zeros_like(channel)
        logits = gap_cnn(nn.Parameter(images[:1] * mask)).data[0]
        weights.append(np.exp(logits[0]) / np.exp(logits).sum())
    np.testing.assert_allclose(maps[0], np.einsum("k,khw->hw", weights, activations))


def test_occlusion_of_single_pixels_on_a_linear_model_is_gradient_x_input(rng):
    nn.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).double()
    x = rng.normal(size=(2, 1, 4, 4))
    np.testing.assert_allclose(raw(model, x, "occlusion", window=1, stride=1, target=1),
                               raw(model, x, "grad_x_input", target=1))


def test_occlusion_averages_the_windows_covering_each_pixel(rng):
    nn.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(9, 2)).double()
    x = rng.normal(size=(1, 1, 3, 3))
    contribution = (model[1].weight.data[0] * x.reshape(9)).reshape(3, 3)
    maps = raw(model, x, "occlusion", window=2, stride=1, target=0)
    # windows at (0,0) (0,1) (1,0) (1,1); the corner pixel (0,0) is covered by the first only
    assert np.isclose(maps[0, 0, 0], contribution[:2, :2].sum())
    windows = [contribution[i:i + 2, j:j + 2].sum() for i in (0, 1) for j in (0, 1)]
    assert np.isclose(maps[0, 1, 1], np.mean(windows))


def test_guided_gradcam_is_guided_backprop_times_upsampled_gradcam(small_cnn, images):
    from minigrad.saliency.postprocess import bilinear_resize
    expected = raw(small_cnn, images, "guided_backprop") * bilinear_resize(
        np.maximum(raw(small_cnn, images, "gradcam"), 0), (8, 8))
    np.testing.assert_allclose(raw(small_cnn, images, "guided_gradcam"), expected)


def test_ablationcam_on_a_gap_linear_net(gap_cnn, images):
    """S_c = sum_k W[c, k] mean(A^k) + b_c, so zeroing channel k lowers S_c by
    W[c, k] mean(A^k): w^k = W[c, k] mean(A^k) / S_c."""
    activations = gap_cnn[:2](nn.Parameter(images)).data                # (3, 6, 8, 8)
    logits = gap_cnn(nn.Parameter(images)).data
    weights = gap_cnn[4].weight.data[1] * activations.mean(axis=(2, 3)) / logits[:, 1:2]
    np.testing.assert_allclose(raw(gap_cnn, images, "ablationcam", target=1, batch_size=4),
                               np.einsum("nk,nkhw->nhw", weights, activations), rtol=1e-10)


def test_eigencam_of_rank_one_activations_is_their_pattern(gap_cnn):
    """Channels that are one pattern P scaled by a_k (plus a constant) have the centred
    matrix (P - mean P) a^T, of rank 1: the map is (P - mean P) |a|, turned positive where
    the channels' sum is large. A 1x1 conv makes such channels from a one-channel image."""
    nn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 1), nn.Flatten(), nn.Linear(4 * 36, 2)).double()
    pattern = np.random.default_rng(0).normal(size=(1, 1, 6, 6))
    a = model[0].weight.data[:, 0, 0, 0]
    expected = (pattern[0, 0] - pattern.mean()) * np.linalg.norm(a) * np.sign(a.sum())
    np.testing.assert_allclose(raw(model, pattern, "eigencam", layer="0")[0], expected,
                               rtol=1e-10, atol=1e-12)


def test_eigencam_and_ablationcam_read_the_chosen_layer(small_cnn, images):
    for method in ("eigencam", "ablationcam"):
        np.testing.assert_allclose(raw(small_cnn, images, method),
                                   raw(small_cnn, images, method, layer="4"))
        assert raw(small_cnn, images, method, layer="1").shape == (3, 8, 8)


@pytest.mark.parametrize("method", ["gradcam", "scorecam", "eigencam", "ablationcam"])
def test_a_layer_run_twice_per_forward_is_refused(twice_pooled, images, method):
    """Its hooked output would be the last use's, whatever was meant (and AblationCAM's zeroing
    would hit both uses)."""
    with pytest.raises(ValueError, match=r"layer 'pool' ran 2 times in one forward pass.*give "
                                         r"each use its own module"):
        explain(twice_pooled, images, method=method, layer="pool")
    assert explain(twice_pooled, images, method=method, layer="relu2").shape == (3, 8, 8)


@pytest.mark.parametrize("method", ["scorecam", "ablationcam"])
@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_a_batch_size_that_is_not_a_whole_number_ge_1_is_refused(gap_cnn, images, method,
                                                                  batch_size):
    """Was 'range() arg 3 must not be zero' (or a silently empty map for -1)."""
    with pytest.raises(ValueError, match=f"batch_size must be an int >= 1 \\(images per forward "
                                         f"pass\\), got {batch_size}"):
        explain(gap_cnn, images, method=method, batch_size=batch_size)


def test_occlusion_takes_an_image_per_baseline_and_refuses_what_does_not_fit(small_cnn, images):
    """baselines (Captum's name) may be one image per input: covering an image with itself
    changes no score, so the map is 0; a number fills the window as before."""
    np.testing.assert_allclose(raw(small_cnn, images, "occlusion", window=4, stride=4,
                                   baselines=images), 0, atol=1e-12)
    constant = np.full_like(images[0], 0.5)
    np.testing.assert_allclose(raw(small_cnn, images, "occlusion", window=4, baselines=constant),
                               raw(small_cnn, images, "occlusion", window=4, baselines=0.5))
    with pytest.raises(ValueError, match=r"broadcastable to the batch"):
        raw(small_cnn, images, "occlusion", baselines=np.zeros((2,) + images.shape))
    with pytest.raises(TypeError, match=r"floating-point baselines, got dtype uint8"):
        raw(small_cnn, images, "occlusion", baselines=np.zeros(images.shape[1:], np.uint8))
