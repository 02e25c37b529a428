"""The one entry point: every method, the model left as it was, the score passed on, and clear
errors (what each score means for each method: test_scores.py)."""
import numpy as np
import pytest

from minigrad import nn
from minigrad.models import bcos_lenet, tiny_vit
from minigrad.saliency import BCOS_METHODS, METHODS, TRANSFORMER_METHODS, explain


def busy_model():
    """A model with everything a method could disturb: BatchNorm, Dropout, a GAP head."""
    nn.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Dropout(0.5), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                         nn.GlobalAvgPool2d(), nn.Linear(4, 3))


def busy_vit():
    """A small ViT with attention dropout, MLP dropout and head dropout, for the methods that
    read a transformer's attention (TRANSFORMER_METHODS)."""
    nn.manual_seed(0)
    return tiny_vit(image_size=8, patch_size=4, in_channels=3, num_classes=3, embed_dim=8,
                    depth=2, num_heads=2, mlp_dim=8, dropout=0.5, head_drop=0.5)


def snapshot(model):
    return {"training": [m.training for m in model.modules()],
            "requires_grad": [p.requires_grad for p in model.parameters()],
            "grads": [None if p.grad is None else p.grad.data.copy() for p in model.parameters()],
            "hooks": [len(m._forward_hooks) + len(m._backward_hooks) for m in model.modules()],
            "state": model.state_dict()}


def busy_bcos():
    """A B-cos LeNet for 3-channel 28x28 images, for the methods that need a B-cos network."""
    nn.manual_seed(0)
    return bcos_lenet(num_classes=3, in_channels=3, temperature=10.0)


def model_for(method):
    """(model, its last layer, image size) for `method`."""
    if method in TRANSFORMER_METHODS:
        model = busy_vit()
        return model, model.head, 8
    if method in BCOS_METHODS:
        model = busy_bcos()
        return model, model.classifier[2], 28
    model = busy_model()
    return model, model[7], 8


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_leaves_the_model_exactly_as_it_was(method, rng):
    model, head, size = model_for(method)
    model.train()
    head.weight.grad = np.ones_like(head.weight.data)               # a gradient left by training
    x = rng.normal(size=(2, 3, size, size)).astype(np.float32)
    with_eval = model.eval()(nn.Parameter(x)).data
    model.train()
    before = snapshot(model)
    maps = explain(model, x, method=method)
    after = snapshot(model)
    assert maps.shape == (2, size, size) and maps.dtype.kind == "f" and not np.isnan(maps).any()
    assert before["training"] == after["training"]
    assert before["requires_grad"] == after["requires_grad"]
    assert before["hooks"] == after["hooks"]
    for a, b in zip(before["grads"], after["grads"]):
        assert (a is None and b is None) or np.array_equal(a, b)
    for name in before["state"]:
        np.testing.assert_array_equal(before["state"][name], after["state"][name])
    np.testing.assert_array_equal(model.eval()(nn.Parameter(x)).data, with_eval)


def test_target_defaults_to_the_predicted_class(small_cnn, images):
    predicted = small_cnn(nn.Parameter(images)).data.argmax(axis=1)
    _, explanation = explain(small_cnn, images, method="gradcam", return_explanation=True)
    np.testing.assert_array_equal(explanation.target, predicted)


def test_a_single_image_is_a_batch_of_one(small_cnn, images):
    np.testing.assert_allclose(explain(small_cnn, images[0], method="vanilla"),
                               explain(small_cnn, images[:1], method="vanilla"))


def test_postprocess_steps_are_explicit(small_cnn, images):
    raw = explain(small_cnn, images, method="gradcam", postprocess=())
    assert raw.shape == (3, 4, 4) and (raw < 0).any()                  # signed, layer-sized
    shown = explain(small_cnn, images, method="gradcam")
    assert shown.shape == (3, 8, 8) and shown.min() >= 0 and np.isclose(shown.max(), 1)


@pytest.mark.parametrize("method", ["vanilla", "gradcam", "scorecam", "occlusion"])
def test_score_reaches_the_method_and_none_is_its_own_default(small_cnn, images, method):
    maps = {score: explain(small_cnn, images, method=method, score=score, postprocess=())
            for score in (None, "logit", "prob", "log_prob")}
    np.testing.assert_array_equal(maps[None], maps[METHODS[method][2]])
    for a, b in [("logit", "prob"), ("logit", "log_prob"), ("prob", "log_prob")]:
        assert not np.allclose(maps[a], maps[b]), (method, a, b)


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "gradcamm"}, r"unknown method 'gradcamm'; the methods are \[.*'gradcam'"),
    ({"method": "gradcam", "layer": "conv9"}, r"layer 'conv9' is not in the model; .*'3'"),
    ({"method": "gradcam", "target": 5}, r"target 5 is out of range: .* 5 classes, .*0\.\.4"),
    ({"method": "vanilla", "target": -1}, r"target -1 is out of range"),
    ({"method": "vanilla", "layer": "3"}, r"takes no layer; layer= applies to"),
    ({"method": "vanilla", "score": "logits"}, r"unknown score 'logits'; expected one of"),
    ({"method": "fixations", "score": "logits"}, r"unknown score 'logits'; expected one of"),
    ({"method": "gradcam", "postprocess": ("blur",)}, r"unknown post-processing step"),
    ({"method": "cam"}, r"CAM needs global average pooling \(AdaptiveAvgPool2d\(1\) or "
                         r"GlobalAvgPool2d\) followed by a Linear"),
])
def test_bad_input_is_a_clear_error(small_cnn, images, kwargs, message):
    with pytest.raises(ValueError, match=message):
        explain(small_cnn, images, **kwargs)


def test_a_module_from_another_model_is_not_a_layer(small_cnn, images):
    with pytest.raises(ValueError, match="is not in the model"):
        explain(small_cnn, images, method="gradcam", layer=nn.Conv2d(4, 6, 3))


def test_integer_images_are_refused(small_cnn):
    with pytest.raises(TypeError, match="normalise uint8 images first"):
        explain(small_cnn, np.zeros((1, 3, 8, 8), dtype=np.uint8))


@pytest.mark.parametrize("target, message", [
    (1.7, r"target must be a class \(an int\) or one per image, 3 ints; got 1.7"),
    ([1, 2], r"target must be a class \(an int\) or one per image, 3 ints; got \[1, 2\]"),
    ([[1, 2, 3]], r"one per image, 3 ints"),
    (np.array([0.0, 1.0, 2.0]), r"got \[0.0, 1.0, 2.0\]"),
])
def test_a_target_that_is_not_a_class_per_image_is_refused(small_cnn, images, target,
                                                           message):
    # PyTorch indexes with ints only: a float class is not silently rounded down
    for method in ("vanilla", "gradcam", "lrp"):
        with pytest.raises(ValueError, match=message):
            explain(small_cnn, images, target, method=method)


def test_integer_targets_of_any_kind_are_classes(small_cnn, images):
    expected = explain(small_cnn, images, [1, 2, 3], method="vanilla")
    for target in (np.array([1, 2, 3], dtype=np.uint8), (1, 2, 3), np.array([1, 2, 3])):
        np.testing.assert_array_equal(explain(small_cnn, images, target, method="vanilla"),
                                      expected)


@pytest.mark.parametrize("method", ["gradcam", "scorecam", "eigencam", "ablationcam",
                                    "guided_gradcam"])
def test_a_cam_layer_without_feature_maps_is_refused(small_cnn, images, method):
    # the Linear's output is (N, 5): no (K, h, w) maps to weight
    with pytest.raises(ValueError, match=r"layer '6' \(Linear\) gives an output of shape "
                                         r"\(3, 5\).* \(N, K, h, w\).*conv layers: \['0', '3'\]"):
        explain(small_cnn, images, method=method, layer="6")
