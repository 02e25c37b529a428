"""CNN-Fixations on hand-built networks whose evidence path is known."""
import numpy as np
import pytest

from minigrad import nn
from minigrad.saliency import explain


def set_weights(layer, weight):
    layer.weight.data[...] = weight


def pooling_net():
    """1x1 conv (+1 and -1 copies of the image) -> ReLU -> 2x2 max pool -> Flatten -> Linear.
    Class 0 reads only pooled unit (channel 0, row 0, col 1); class 1 only (0, 1, 0)."""
    model = nn.Sequential(nn.Conv2d(1, 2, 1, bias=False), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(8, 2, bias=False)).double()
    set_weights(model[0], np.array([1.0, -1.0]).reshape(2, 1, 1, 1))
    weight = np.zeros((2, 8))
    weight[0, 1] = weight[1, 2] = 1.0                # flat index of (c, y, x) = c*4 + y*2 + x
    set_weights(model[4], weight)
    return model


def one_pixel_image():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 2] = 1.0        # the evidence for class 0, inside pooling window (0, 1)
    x[0, 0, 3, 0] = 0.5        # the evidence for class 1, inside window (1, 0)
    return x


@pytest.mark.parametrize("target, pixel", [(0, (0, 1, 2)), (1, (0, 3, 0))])
def test_fixations_follow_linear_pool_relu_conv_down_to_the_pixel(target, pixel):
    model = pooling_net()
    maps, explanation = explain(model, one_pixel_image(), target=target, method="fixations",
                                postprocess=(), return_explanation=True)
    layers = dict(explanation.info["points"][0])
    np.testing.assert_array_equal(layers["input"], [pixel])
    assert list(layers) == ["4", "3", "2", "1", "0", "input"]
    counts = np.zeros((4, 4))
    counts[pixel[1:]] = 1
    np.testing.assert_array_equal(explanation.info["counts"][0], counts)
    assert maps[0].argmax() == np.ravel_multi_index(pixel[1:], (4, 4))


def test_conv_rule_picks_the_channel_with_the_largest_contribution_then_a_position():
    # out(2,2) = 1 * x0(2,2) [centre tap of channel 0] + 2 * x1(1,1) [top-left tap of channel 1]:
    # channel 1 wins; in it the default keeps the window's centre (the authors' code), and
    # conv_location='argmax' the position of the largest term
    model = nn.Sequential(nn.Conv2d(2, 1, 3, padding=1, bias=False), nn.GlobalAvgPool2d(),
                          nn.Linear(1, 2, bias=False)).double()
    kernel = np.zeros((1, 2, 3, 3))
    kernel[0, 0, 1, 1], kernel[0, 1, 0, 0] = 1.0, 2.0
    set_weights(model[0], kernel)
    set_weights(model[2], np.array([[1.0], [-1.0]]))
    x = np.zeros((1, 2, 5, 5))
    x[0, 0, 2, 2] = x[0, 1, 1, 1] = 1.0
    _, explanation = explain(model, x, target=0, method="fixations", conv_location="argmax",
                             return_explanation=True)
    layers = dict(explanation.info["points"][0])
    np.testing.assert_array_equal(layers["0"], [(0, 2, 2)])          # GAP: the arg-max
    np.testing.assert_array_equal(layers["input"], [(1, 1, 1)])      # channel 1, top-left tap
    _, centre = explain(model, x, target=0, method="fixations", return_explanation=True)
    np.testing.assert_array_equal(dict(centre.info["points"][0])["input"], [(1, 2, 2)])


@pytest.mark.parametrize("tap, pixel", [((0, 0), (4, 4)), ((2, 2), (0, 0))])
def test_a_window_centre_in_the_padding_moves_to_the_nearest_input_pixel(tap, pixel):
    # padding 2 around a 5x5 input, one tap: out(i, j) = x(i + tap - 2, j + tap - 2); the
    # evidence sits in a corner, so the fixated unit's window centre lies in the padding
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=2, bias=False), nn.GlobalAvgPool2d(),
                          nn.Linear(1, 2, bias=False)).double()
    kernel = np.zeros((1, 1, 3, 3))
    kernel[(0, 0) + tap] = 1.0
    set_weights(model[0], kernel)
    set_weights(model[2], np.array([[1.0], [-1.0]]))
    x = np.zeros((1, 1, 5, 5))
    x[(0, 0) + pixel] = 1.0
    for location in ("centre", "argmax"):
        _, explanation = explain(model, x, target=0, method="fixations", conv_location=location,
                                 return_explanation=True)
        np.testing.assert_array_equal(dict(explanation.info["points"][0])["input"],
                                      [(0,) + pixel])


def test_first_linear_keeps_only_the_largest_contribution_or_every_positive_one():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 1, bias=False)).double()
    set_weights(model[1], np.array([[1.0, -1.0, 3.0, 0.5]]))
    x = np.array([1.0, 1.0, 1.0, -1.0]).reshape(1, 1, 2, 2)   # contributions 1, -1, 3, -0.5
    _, largest = explain(model, x, method="fixations", return_explanation=True)
    np.testing.assert_array_equal(dict(largest.info["points"][0])["input"], [(0, 1, 0)])
    _, all_positive = explain(model, x, method="fixations", first_linear="positive",
                              return_explanation=True)
    np.testing.assert_array_equal(dict(all_positive.info["points"][0])["input"],
                                  [(0, 0, 0), (0, 1, 0)])


def test_linear_layers_after_the_first_keep_every_positive_contribution():
    # the second Linear's class unit has positive contributions from hidden units 0 and 2;
    # the default's arg-max applies to the first Linear only
    model = nn.Sequential(nn.Flatten(), nn.Linear(3, 3, bias=False),
                          nn.Linear(3, 1, bias=False)).double()
    set_weights(model[1], np.eye(3))
    set_weights(model[2], np.array([[2.0, -1.0, 1.0]]))
    x = np.array([1.0, 1.0, 1.0]).reshape(1, 1, 1, 3)
    _, explanation = explain(model, x, method="fixations", return_explanation=True)
    np.testing.assert_array_equal(dict(explanation.info["points"][0])["input"],
                                  [(0, 0, 0), (0, 0, 2)])


def test_fixations_run_through_a_residual_block(rng):
    nn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BasicBlock(4, 8, stride=2),
                          nn.BasicBlock(8, 8), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 3))
    x = rng.normal(size=(2, 3, 8, 8)).astype(np.float32)
    maps, explanation = explain(model, x, method="fixations", return_explanation=True)
    assert maps.shape == (2, 8, 8) and not np.isnan(maps).any()
    pixels = dict(explanation.info["points"][0])["input"]
    assert len(pixels) >= 1 and (pixels >= 0).all() and (pixels[:, 1:] < 8).all()


def test_unknown_option_is_a_clear_error():
    with pytest.raises(ValueError, match="conv_location must be one of"):
        explain(pooling_net(), one_pixel_image(), method="fixations", conv_location="middle")
    with pytest.raises(ValueError, match=r"first_linear must be one of \('argmax', 'positive'\), "
                                         r"got 'all'"):
        explain(pooling_net(), one_pixel_image(), method="fixations", first_linear="all")


@pytest.mark.parametrize("sigma", [0, -1.0, float("nan")])
def test_a_blur_that_is_not_a_positive_width_is_refused(sigma):
    # sigma 0 gave a map of NaN (0 / 0 in the kernel), a negative one a silently cut kernel
    with pytest.raises(ValueError, match=f"sigma must be a number > 0 \\(pixels\\) or None, "
                                         f"got {sigma}"):
        explain(pooling_net(), one_pixel_image(), method="fixations", sigma=sigma)
