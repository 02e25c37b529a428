"""Feature visualisation: receptive fields (against the closed form and against the support of
the gradient), activation maximisation (it climbs; on a linear model it finds the weight
direction, and with L2 decay the closed-form fixed point), the top-activating images and their
patches, and bad input refused before anything changes."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.models import AlexNetLite, LeNet5, bcos_lenet
from minigrad.saliency import features as fv
from minigrad.saliency.postprocess import gaussian_blur


# ------------------------------------------------------------------------------------------------
# receptive fields
# ------------------------------------------------------------------------------------------------
def test_receptive_fields_of_lenet5_by_hand():
    # conv 5x5 pad 2 -> 5; pool 2 -> 5 + 1 = 6, jump 2; conv 5x5 -> 6 + 4*2 = 14; pool -> 16, 4
    model = LeNet5()
    expected = {"features.0": (5, 1), "features.1": (5, 1), "features.2": (6, 2),
                "features.3": (14, 2), "features.4": (14, 2), "features.5": (16, 4)}
    for layer, (size, jump) in expected.items():
        assert fv.receptive_field(model, layer) == ((size, size), (jump, jump), (-2, -2)), layer


def test_bcos_lenet_has_lenet5s_fields_through_its_input_encoding():
    plain, bcos = LeNet5(), bcos_lenet()
    assert fv.receptive_field(bcos, "features.2") == fv.receptive_field(plain, "features.3")
    assert fv.receptive_field(bcos, "features.3") == fv.receptive_field(plain, "features.5")


def test_alexnet_lite_64_fields_grow_with_depth():
    model = AlexNetLite(image_size=64)
    convs = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    sizes = [fv.receptive_field(model, name).size[0] for name in convs]
    # 5x5/2 pad 2: 5; pool 3/2: 5+2*2 = 9, jump 4; 5x5: 9+4*4 = 25; pool: 33, jump 8;
    # three 3x3: 49, 65, 81
    assert sizes == [5, 25, 49, 65, 81]


LAYER = st.tuples(st.sampled_from(["conv", "avg", "max"]), st.integers(1, 4), st.integers(1, 3),
                  st.integers(0, 2), st.integers(1, 2))


def build(spec, seed=0):
    """Layers from (kind, kernel, stride, padding, dilation) tuples; float64, weights > 0 (so
    that no two paths to a pixel can cancel)."""
    layers = []
    for kind, kernel, stride, padding, dilation in spec:
        padding = min(padding, kernel // 2)                 # pools allow at most half a kernel
        if kind == "conv":
            layers.append(nn.Conv2d(1, 1, kernel, stride, padding, dilation, bias=False))
        else:
            pool = nn.AvgPool2d if kind == "avg" else nn.MaxPool2d
            layers.append(pool(kernel, stride, padding))
    model = nn.Sequential(*layers).double()
    rng = np.random.default_rng(seed)
    for param in model.parameters():
        param.data[...] = rng.uniform(0.5, 1.5, param.shape)
    return model


def closed_form(spec):
    """Araujo et al. (Distill 2019), eqs. 2 and 7: r = 1 + sum_l (k_l - 1) prod_{m<l} s_m,
    start = -sum_l p_l prod_{m<l} s_m, jump = prod s (k_l the dilated kernel)."""
    size, start, jumps = 1, 0, [1]
    for kind, kernel, stride, padding, dilation in spec:
        padding = min(padding, kernel // 2)
        effective = dilation * (kernel - 1) + 1 if kind == "conv" else kernel
        size += (effective - 1) * jumps[-1]
        start -= padding * jumps[-1]
        jumps.append(jumps[-1] * stride)
    return size, jumps[-1], start


@settings(max_examples=60, deadline=None)
@given(st.lists(LAYER, min_size=1, max_size=4))
def test_receptive_field_against_the_closed_form(spec):
    model = build(spec)
    size, jump, start = closed_form(spec)
    assert fv.receptive_field(model, str(len(spec) - 1)) == ((size, size), (jump, jump),
                                                             (start, start))


def gradient_support(model, image_size, i, j, channel=0):
    """The input pixels that unit (channel, i, j) of the model's output depends on: the nonzero
    support of d unit / d input, as a boolean (H, W) array."""
    x = mg.tensor(np.random.default_rng(1).uniform(0.5, 1.5, (1, model[0].in_channels
                                                              if isinstance(model[0], nn.Conv2d)
                                                              else 1, image_size, image_size)),
                  requires_grad=True)
    model(x)[0, channel, i, j].backward()
    return np.abs(x.grad.data[0]).sum(axis=0) != 0


def box_mask(box, image_size):
    mask = np.zeros((image_size, image_size), dtype=bool)
    top, left, bottom, right = box
    mask[max(top, 0):bottom, max(left, 0):right] = True
    return mask


@settings(max_examples=60, deadline=None)
@given(st.lists(LAYER.filter(lambda layer: layer[0] != "max"), min_size=1, max_size=4))
def test_receptive_field_is_the_bounding_box_of_the_gradients_support(spec):
    """Convs and average pools with positive weights: every pixel of the field reaches the
    unit, so the support's bounding box is the field (dilation may leave holes inside it)."""
    model, image_size = build(spec), 48
    try:
        out = model(mg.tensor(np.zeros((1, 1, image_size, image_size)))).shape
    except ValueError:                  # a window larger than what reaches it: no such network
        assume(False)
    i, j = out[2] // 2, out[3] // 2
    field = fv.receptive_field(model, str(len(spec) - 1))
    top, left, bottom, right = field.box(i, j)
    assume(top >= 0 and left >= 0 and bottom <= image_size and right <= image_size)
    rows, cols = np.nonzero(gradient_support(model, image_size, i, j))
    assert (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1) == (top, left, bottom, right)


@pytest.mark.parametrize("layer", ["features.1", "features.3", "features.5"])
def test_lenet5s_gradients_stay_inside_the_field(layer):
    """With ReLU and max pooling the gradient reaches only part of the field (dead units, the
    pool's winners): the support is inside the box, for every unit of a 4x4 grid of them (and
    not empty for most: a dead unit has none)."""
    nn.manual_seed(0)
    model = LeNet5().double()
    prefix = nn.Sequential(*list(model.features)[:int(layer.split(".")[1]) + 1])
    field = fv.receptive_field(model, layer)
    size = prefix(mg.tensor(np.zeros((1, 1, 28, 28)))).shape[2]
    alive = 0
    for i in np.linspace(0, size - 1, 4).astype(int):
        for j in np.linspace(0, size - 1, 4).astype(int):
            support = gradient_support(prefix, 28, i, j, channel=1)
            assert not (support & ~box_mask(field.box(i, j), 28)).any()
            alive += support.any()
    assert alive >= 8


def test_receptive_field_of_a_same_padded_strided_conv_by_gradient():
    # 'same' with stride 1 on an even kernel pads 1 on top and 2 at the bottom (4x4: 3 extra)
    model = nn.Sequential(nn.Conv2d(1, 1, 4, padding="same", bias=False),
                          nn.Conv2d(1, 1, 3, stride=2, bias=False)).double()
    for param in model.parameters():
        param.data[...] = 1.0
    field = fv.receptive_field(model, "1")
    assert field == ((6, 6), (2, 2), (-1, -1))
    rows, cols = np.nonzero(gradient_support(model, 16, 3, 4))
    assert (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1) == field.box(3, 4)


def test_receptive_field_refuses_what_it_cannot_follow():
    model = LeNet5()
    with pytest.raises(ValueError, match="Flatten.*whole image"):
        fv.receptive_field(model, "classifier.1")
    with pytest.raises(ValueError, match="not a leaf layer"):
        fv.receptive_field(model, "features")
    with pytest.raises(ValueError, match="not in the model"):
        fv.receptive_field(model, "features.9")


# ------------------------------------------------------------------------------------------------
# top-activating images and their patches
# ------------------------------------------------------------------------------------------------
def plus_minus():
    """A 1x1 conv whose two channels are the image and its negative: the top images by hand."""
    model = nn.Sequential(nn.Conv2d(1, 2, 1, bias=False)).double()
    model[0].weight.data[...] = np.array([1.0, -1.0]).reshape(2, 1, 1, 1)
    return model


def test_top_activating_by_hand():
    images = np.zeros((4, 1, 5, 5))
    images[0, 0, 1, 2] = 3.0            # channel 0's peaks: image 0 (3 at (1, 2)), 2, 3, 1
    images[1, 0, 4, 4] = -2.0           # channel 1's (the negative): image 1 (2 at (4, 4))
    images[2, 0, 0, 0] = 1.0
    images[3, 0, 3, 1] = 0.5
    top = fv.top_activating(plus_minus(), images, "0", k=2)
    assert top.indices.tolist() == [[0, 2], [1, 0]]
    assert top.values.tolist() == [[3.0, 1.0], [2.0, 0.0]]   # image 0 and 3 tie at 0: 0 first
    assert top.positions.tolist() == [[[1, 2], [0, 0]], [[4, 4], [0, 0]]]


def test_top_activating_agrees_with_the_unit_activations(small_cnn, rng):
    images = rng.normal(size=(20, 3, 8, 8))
    top = fv.top_activating(small_cnn, images, "1", k=5)
    peaks = fv.unit_activations(small_cnn, images, "1", reduce="max")       # (20, 4)
    assert np.array_equal(top.values, -np.sort(-peaks.T, axis=1)[:, :5])
    maps = fv._layer_outputs(small_cnn, images, "1", 64)
    for c in range(4):
        for rank in range(5):
            i, j = top.positions[c, rank]
            assert maps[top.indices[c, rank], c, i, j] == top.values[c, rank]


def test_unit_activations_reduce_a_map_by_max_or_mean(small_cnn, rng):
    images = rng.normal(size=(3, 3, 8, 8))
    maps = fv._layer_outputs(small_cnn, images, "4", 64)                    # (3, 6, 4, 4)
    assert np.allclose(fv.unit_activations(small_cnn, images, "4", "mean"),
                       maps.mean(axis=(2, 3)), rtol=0, atol=1e-15)
    assert np.array_equal(fv.unit_activations(small_cnn, images, "4", "max"),
                          maps.max(axis=(2, 3)))
    logits = fv.unit_activations(small_cnn, images, "6")
    assert logits.shape == (3, 5)
    with pytest.raises(ValueError, match="reduce must be one of"):
        fv.unit_activations(small_cnn, images, "4", "median")
    with pytest.raises(ValueError, match="k must be an int in 1..3"):
        fv.top_activating(small_cnn, images, "4", k=4)


def test_crop_patches_cuts_the_field_and_fills_the_padding():
    images = np.arange(2 * 1 * 6 * 6, dtype=np.float64).reshape(2, 1, 6, 6)
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2)).double()
    field = fv.receptive_field(model, "1")                  # 4x4, jump 2, start -1
    top = fv.TopActivations(indices=np.array([[1, 0]]), values=np.zeros((1, 2)),
                            positions=np.array([[[1, 1], [0, 0]]]))
    patches = fv.crop_patches(images, field, top, fill=-1.0)
    assert patches.shape == (1, 2, 1, 4, 4)
    assert np.array_equal(patches[0, 0, 0], images[1, 0, 1:5, 1:5])       # inside the image
    corner = np.full((4, 4), -1.0)
    corner[1:, 1:] = images[0, 0, :3, :3]                                 # row/column -1: fill
    assert np.array_equal(patches[0, 1, 0], corner)


# ------------------------------------------------------------------------------------------------
# activation maximisation
# ------------------------------------------------------------------------------------------------
def linear_model(inputs=12, outputs=3):
    nn.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(inputs, outputs)).double()


@pytest.mark.parametrize("normalize", [True, False])
def test_on_a_linear_model_the_climb_goes_along_the_weights(normalize):
    """a(x) = w_k . x + b: its gradient is w_k everywhere, so without regularisers every step
    adds lr * w_k (normalised: lr * w_k / rms(w_k)) and the maximiser is the weight direction."""
    model, steps, lr = linear_model(), 25, 0.1
    start = np.random.default_rng(0).normal(size=(3, 1, 3, 4))
    images, trace = fv.maximise_activation(model, [0, 1, 2], start=start, steps=steps, lr=lr,
                                           normalize=normalize)
    weights = model[1].weight.data.reshape(3, 1, 3, 4)
    step = weights / np.sqrt((weights ** 2).mean(axis=(1, 2, 3), keepdims=True)) \
        if normalize else weights
    assert np.allclose(images - start, steps * lr * step, rtol=0, atol=1e-12)
    assert trace.shape == (steps, 3) and (np.diff(trace, axis=0) > 0).all()


def test_with_l2_decay_the_climb_reaches_the_closed_form_maximiser():
    """a(x) - l2 ||x||^2 for a linear a is maximal at x* = w / (2 l2), and plain gradient ascent
    gets there geometrically: x_T - x* = (1 - 2 l2 lr)^T (x_0 - x*)."""
    model, steps, lr, l2 = linear_model(), 40, 0.2, 0.5
    start = np.random.default_rng(0).normal(size=(3, 1, 3, 4))
    images, _ = fv.maximise_activation(model, [0, 1, 2], start=start, steps=steps, lr=lr, l2=l2,
                                       normalize=False)
    best = model[1].weight.data.reshape(3, 1, 3, 4) / (2 * l2)
    assert np.allclose(images - best, (1 - 2 * l2 * lr) ** steps * (start - best), rtol=0,
                       atol=1e-12)


def test_a_blurred_step_is_the_step_then_the_blur():
    model = linear_model()
    start = np.random.default_rng(0).normal(size=(1, 1, 3, 4))
    images, _ = fv.maximise_activation(model, [1], start=start, steps=1, lr=0.3,
                                       normalize=False, blur_every=1, blur_sigma=0.7)
    weights = model[1].weight.data[1].reshape(1, 1, 3, 4)
    assert np.allclose(images, gaussian_blur(start + 0.3 * weights, 0.7), rtol=0, atol=1e-14)


def test_jitter_climbs_the_rolled_objective():
    """A jittered step differentiates a(roll(x)): for a linear a that is w rolled back, so each
    step adds a rolled copy of w, by as much as the trace says the objective rose."""
    model = linear_model(inputs=16, outputs=1)
    start = np.zeros((1, 1, 4, 4))
    images, trace = fv.maximise_activation(model, [0], start=start, steps=1, lr=1.0,
                                           normalize=False, jitter=2, seed=3)
    weights = model[1].weight.data.reshape(4, 4)
    shifts = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
    assert any(np.allclose(images[0, 0], np.roll(weights, (-dy, -dx), axis=(0, 1)), rtol=0,
                           atol=1e-15) for dy, dx in shifts)
    assert trace[0, 0] == pytest.approx(model[1].bias.data[0])      # a(0) = b


@pytest.mark.parametrize("layer, targets", [("features.0", [0, 5]),           # channel means
                                            ("features.3", [(2, 4, 4), (9, 0, 9)]),  # units
                                            ("classifier.3", [0, 83]),
                                            (None, [3, 7])])                  # class logits
@pytest.mark.parametrize("value_range", [(0, 1), None])
def test_the_climb_raises_the_target_of_a_lenet(layer, targets, value_range):
    """With jitter and blur (which are not gradient steps) the activation itself rises."""
    nn.manual_seed(0)
    model = LeNet5()
    centre = 0.0 if value_range is None else 0.5
    before = fv.target_activation(model, np.full((2, 1, 28, 28), centre, np.float32), targets,
                                  layer)
    images, trace = fv.maximise_activation(model, targets, layer, shape=(1, 28, 28), steps=30,
                                           lr=0.1, jitter=1, blur_every=4,
                                           value_range=value_range)
    after = fv.target_activation(model, images, targets, layer)
    assert images.dtype == np.float32
    if value_range:
        assert images.min() >= 0 and images.max() <= 1
    assert (after - before > 0.01).all(), (before, after)
    assert (trace[-1] > trace[0]).all()


def test_with_l2_the_climb_raises_the_penalised_objective():
    """a(x) - l2 ||x||^2 is what the steps climb: it rises even where a itself may not."""
    nn.manual_seed(0)
    model, l2 = LeNet5(), 1e-3
    start = np.random.default_rng(0).uniform(0, 1, (2, 1, 28, 28)).astype(np.float32)

    def objective(images):
        return fv.target_activation(model, images, [0, 5], "features.0") - \
            l2 * (images.astype(np.float64) ** 2).sum(axis=(1, 2, 3))
    images, _ = fv.maximise_activation(model, [0, 5], "features.0", start=start, steps=20,
                                       lr=0.05, l2=l2)
    assert (objective(images) > objective(start) + 0.1).all()


def test_the_model_is_left_as_it_was():
    nn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Dropout(0.5),
                          nn.Flatten(), nn.Linear(3 * 6 * 6, 2)).train()
    model[0].weight.requires_grad = False                # a frozen layer stays frozen
    before = {name: np.array(p.data) for name, p in model.state_dict().items()}
    fv.maximise_activation(model, [1, 0], shape=(1, 8, 8), steps=3)
    fv.maximise_activation(model, [(2, 1, 1)], "1", shape=(1, 8, 8), steps=3)
    assert all(module.training for module in model.modules())
    assert [p.requires_grad for p in model.parameters()] == [False] + [True] * 5
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()                           # BatchNorm's running statistics too
    assert all(np.array_equal(before[name], after[name].data) for name in before)


def test_bad_input_is_refused_before_anything_changes():
    nn.manual_seed(0)
    model = LeNet5().train()
    shape = (1, 28, 28)
    cases = [(dict(targets=[10]), "target 10 does not fit an output of shape \\(10,\\)"),
             (dict(targets=[6], layer="features.0"), "expected a channel c or a unit"),
             (dict(targets=[(0, 28, 0)], layer="features.0"), "within it"),
             (dict(targets=[(0, 1, 1)], layer="classifier.1"), "expected a unit k"),
             (dict(targets=[0], steps=0), "steps must be an int >= 1"),
             (dict(targets=[0], lr=0), "lr must be > 0"),
             (dict(targets=[0], l2=-1), "l2 must be >= 0"),
             (dict(targets=[0], value_range=(1, 0)), "low < high"),
             (dict(targets=[0], layer="nowhere"), "not in the model"),
             (dict(targets=[0], shape=None), "give the input's shape"),
             (dict(targets=[0, 1], start=np.zeros((3,) + shape)), "one start image per target"),
             (dict(targets=[0], start=np.zeros(shape, dtype=np.uint8)), "floating-point")]
    for kwargs, message in cases:
        kwargs = {"shape": shape, **kwargs}
        with pytest.raises((ValueError, TypeError), match=message):
            fv.maximise_activation(model, **kwargs)
        assert model.training and all(p.requires_grad and p.grad is None
                                      for p in model.parameters())
    with pytest.raises(ValueError, match="one target per image"):
        fv.target_activation(model, np.zeros((2,) + shape), [0])


def test_numpy_integers_are_whole_numbers_and_k_counts_the_batch():
    nn.manual_seed(0)
    model = LeNet5()
    images = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    top = fv.top_activating(model, images, "features.1", k=np.int64(2))
    assert top.indices.shape == (6, 2)
    x, trace = fv.maximise_activation(model, [3], shape=(1, 28, 28), steps=np.int64(2))
    assert trace.shape == (2, 1)
    # one image (C, H, W) is a batch of one: k=1 at most, not k <= C
    single = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    model3 = LeNet5(in_channels=3)
    with pytest.raises(ValueError, match=r"k must be an int in 1\.\.1 \(the number of images\)"):
        fv.top_activating(model3, single, "features.1", k=2)


REUSED = r"layer 'pool' ran 2 times in one forward pass, so its output is ambiguous: give " \
         r"each use its own module \(e.g. self.pool1 and self.pool2 instead of one self.pool\)"


def test_a_layer_run_twice_per_forward_is_refused(twice_pooled, images):
    """receptive_field follows the first use of a module, a hook keeps the last: crop_patches
    cut the wrong patches silently. Refused, and the model left as it was."""
    model = twice_pooled.train()
    calls = [lambda: fv.top_activating(model, images, "pool", k=2),
             lambda: fv.unit_activations(model, images, "pool"),
             lambda: fv.target_activation(model, images, [0, 1, 2], "pool"),
             lambda: fv.maximise_activation(model, [0], "pool", shape=(3, 8, 8), steps=2)]
    for call in calls:
        with pytest.raises(ValueError, match=REUSED):
            call()
    assert all(module.training for module in model.modules())
    assert all(p.requires_grad and p.grad is None for p in model.parameters())
    assert fv.top_activating(model, images, "relu2", k=2).indices.shape == (6, 2)


def test_more_bad_input_is_a_sentence_not_a_python_error():
    """Each was an error of Python or NumPy ('int' object is not iterable, a reshape error, an
    IndexError, a broadcast error), or accepted silently (True as unit 1, a jitter of 1.5
    pixels drawn as whole shifts up to 1)."""
    nn.manual_seed(0)
    model = LeNet5().double()
    shape = (1, 28, 28)
    cases = [(dict(targets=2), r"targets must be a non-empty list with one target per image "
                               r"\(e.g. \[2\] for one image climbing target 2\), got 2"),
             (dict(targets=[]), r"targets must be a non-empty list.*got \[\]"),
             (dict(targets=[True]), r"target True does not fit an output of shape \(10,\)"),
             (dict(targets=[(True, 0, 0)], layer="features.0"), r"target \(True, 0, 0\)"),
             (dict(targets=[0], value_range=(0,)), r"maximise_activation: value_range must be a "
                                                   r"range \(low, high\).*got \(0,\)"),
             (dict(targets=[0], jitter=1.5), r"jitter must be an int >= 0, got 1.5"),
             (dict(targets=[0], blur_every=0.5), r"blur_every must be an int >= 0, got 0.5")]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            fv.maximise_activation(model, shape=shape, **kwargs)
    with pytest.raises(ValueError, match=r"targets must be a non-empty list"):
        fv.target_activation(model, np.zeros((1,) + shape), 0)
    images = np.random.default_rng(0).random((4,) + shape)
    top = fv.top_activating(model, images, "features.3", k=2)
    field = fv.receptive_field(model, "features.3")
    for other in (images[:1], images[:, :, :8, :8]):
        with pytest.raises(ValueError, match=r"crop_patches: top ranks image \d and has fields "
                                             r"starting at row \d+, column \d+, but the images "
                                             r"are \(\d, 1, \d+, \d+\): pass the images "
                                             r"top_activating ranked"):
            fv.crop_patches(other, field, top)
    assert fv.crop_patches(images, field, top).shape == (16, 2, 1, 14, 14)
