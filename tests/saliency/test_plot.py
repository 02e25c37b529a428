"""minigrad.saliency.plot: what the B-cos figures draw, not only that they draw."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.models.bcos import BcosNet, bcos_classifier, bcos_conv
from minigrad.saliency import explain, plot
from minigrad.saliency.core import predict

NAMES = ("circle", "square", "triangle", "heart", "star")


@pytest.fixture
def colour_bcos():
    """A v2 B-cos network for 3x8x8 images, 4 classes, with its norms' statistics trained a
    little (a fresh network's BatchNormUncentered divides by 1)."""
    nn.manual_seed(0)
    model = BcosNet(nn.Sequential(*bcos_conv(6, 4, 3, 2.0, "v2", padding=1), nn.MaxPool2d(2),
                                  nn.Flatten()),
                    bcos_classifier((4 * 4 * 4, 4), 2.0, "v2"), temperature=1.0)
    model(mg.tensor(np.random.default_rng(1).random((16, 3, 8, 8)).astype(np.float32)))
    return model.eval()


@pytest.fixture
def colour_images():
    return np.random.default_rng(0).random((3, 3, 8, 8)).astype(np.float32)


def test_plot_bcos_grid_draws_the_rendering_itself_over_black(colour_images):
    rgba = np.random.default_rng(2).random((3, 8, 8, 4))
    gradcam = np.random.default_rng(3).random((3, 8, 8))
    fig = plot.plot_bcos_grid(colour_images, rgba, {"Grad-CAM": gradcam}, ["a", "b", "c"],
                              map_titles={"Grad-CAM": ["x", "y", "z"]})
    axes = np.asarray(fig.axes).reshape(3, 3)
    for i in range(3):
        np.testing.assert_array_equal(axes[i, 1].images[0].get_array(), rgba[i])
        assert axes[i, 1].get_facecolor()[:3] == (0.0, 0.0, 0.0)
        overlay = axes[i, 2].images[1].get_array()
        np.testing.assert_allclose(overlay, gradcam[i] / gradcam[i].max())
    assert [ax.get_title() for ax in axes[:, 0]] == ["a", "b", "c"]
    assert [ax.get_title() for ax in axes[:, 2]] == ["x", "y", "z"]
    assert [ax.get_title() for ax in axes[:, 1]] == ["B-cos W(x)", "", ""]


def test_plot_bcos_against_gradcam_explains_the_true_class(colour_bcos, small_cnn,
                                                           colour_images):
    plain = small_cnn.float().eval()                    # 3x8x8 -> 5 classes
    plain_input = lambda x: 2 * x - 1                   # noqa: E731  (a normalisation)
    bcos_predicted = predict(colour_bcos, colour_images).argmax(axis=1)
    labels = (bcos_predicted + 1) % 4                   # every row a B-cos mistake
    plain_predicted = predict(plain, plain_input(colour_images)).argmax(axis=1)
    fig = plot.plot_bcos_against_gradcam(colour_images, labels, NAMES, colour_bcos, plain,
                                         plain_input=plain_input, plain_name="tiny CNN")
    axes = np.asarray(fig.axes).reshape(3, 3)
    _, truth = explain(colour_bcos, colour_images, labels, "bcos", return_explanation=True)
    _, guess = explain(colour_bcos, colour_images, bcos_predicted, "bcos",
                       return_explanation=True)
    gradcam = explain(plain, plain_input(colour_images), labels, "gradcam")
    for i in range(3):
        drawn = axes[i, 1].images[0].get_array()
        np.testing.assert_array_equal(drawn, truth.info["rgba"][i])       # the true class's,
        assert not np.array_equal(drawn, guess.info["rgba"][i])          # not the predicted's
        np.testing.assert_allclose(axes[i, 2].images[1].get_array(),
                                   gradcam[i] / gradcam[i].max())
        assert axes[i, 0].get_title() == (f"truth: {NAMES[labels[i]]}\n"
                                          f"predicted: {NAMES[bcos_predicted[i]]}")
        assert axes[i, 2].get_title().endswith(f"predicted: {NAMES[plain_predicted[i]]}")
    assert axes[0, 1].get_title() == "B-cos W(x), the truth"
    assert axes[0, 2].get_title().startswith("Grad-CAM (tiny CNN)\n")
