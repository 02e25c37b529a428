"""Issue #28's library cases: empty batches (N = 0) as torch answers them, NaN inputs refused
where they would become a plausible number, and states of another kind refused by name."""
import zipfile

import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F
from minigrad import nn, optim
from minigrad.models import LeNet5, get_model
from minigrad.saliency import explain
from minigrad.saliency import metrics
from minigrad.train import evaluate, train_step
from tests.helpers import torch_or_skip


def empty(*shape):
    return mg.tensor(np.zeros(shape, np.float32), requires_grad=True)


@pytest.mark.parametrize("name, shape", [("lenet5", (0, 1, 28, 28)),
                                         ("alexnet_lite", (0, 3, 32, 32)),
                                         ("tiny_vit", (0, 1, 28, 28)),
                                         ("bcos_lenet", (0, 1, 28, 28))])
def test_an_empty_batch_goes_through_a_model_forward_and_backward(name, shape):
    model = get_model(name)
    x = empty(*shape)
    y = model(x)
    assert y.shape == (0, 10)
    F.cross_entropy(y, np.zeros(0, np.int64), reduction="sum").backward()
    assert x.grad.shape == shape
    assert all(p.grad is None or np.all(p.grad.numpy() == 0) for p in model.parameters())


def test_empty_batches_through_each_layer_give_torch_s_shapes_and_values():
    torch = torch_or_skip()
    TF = torch.nn.functional
    x = np.zeros((0, 3, 8, 8), np.float32)
    t = torch.from_numpy(x)
    pairs = [(nn.Conv2d(3, 4, 3, padding=1), torch.nn.Conv2d(3, 4, 3, padding=1)),
             (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)), (nn.AvgPool2d(2), torch.nn.AvgPool2d(2)),
             (nn.Flatten(), torch.nn.Flatten()), (nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)),
             (nn.AdaptiveAvgPool2d(1), torch.nn.AdaptiveAvgPool2d(1))]
    for ours, theirs in pairs:
        assert ours(mg.tensor(x)).shape == tuple(theirs(t).shape), ours
    logits, labels = np.zeros((0, 3), np.float32), np.zeros(0, np.int64)
    for reduction in ("sum", "mean", "none"):
        ours = F.cross_entropy(mg.tensor(logits), labels, reduction=reduction).numpy()
        theirs = TF.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels),
                                  reduction=reduction).numpy()
        np.testing.assert_array_equal(ours, theirs)          # sum 0, mean NaN, none empty
        ours = F.mse_loss(mg.tensor(logits), mg.tensor(logits), reduction=reduction).numpy()
        theirs = TF.mse_loss(torch.from_numpy(logits), torch.from_numpy(logits),
                             reduction=reduction).numpy()
        np.testing.assert_array_equal(ours, theirs)


def test_empty_batches_through_linear_norms_and_attention():
    linear = nn.Linear(4, 2)
    assert linear(mg.tensor(np.zeros((0, 4), np.float32))).shape == (0, 2)
    layer_norm = nn.LayerNorm(4)
    assert layer_norm(mg.tensor(np.zeros((0, 4), np.float32))).shape == (0, 4)
    batch_norm = nn.BatchNorm2d(3)
    batch_norm(mg.tensor(np.zeros((0, 3, 8, 8), np.float32)))   # training on nothing: nothing
    np.testing.assert_array_equal(batch_norm.running_mean, np.zeros(3, np.float32))  # tracked
    attention = nn.MultiheadAttention(4, 2)
    assert attention(*[mg.tensor(np.zeros((0, 2, 4), np.float32))] * 3)[0].shape == (0, 2, 4)


def test_the_mean_of_nothing_is_nan_without_a_warning_and_its_max_is_refused(recwarn):
    assert np.isnan(mg.tensor(np.zeros(0, np.float32)).mean().item())
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    with pytest.raises(ValueError, match=r"max: the maximum of nothing is undefined: axes "
                                         r"\(0,\) of the shape \(0,\)"):
        mg.tensor(np.zeros(0, np.float32)).max()


def test_torch_gives_nan_for_the_mean_of_nothing_and_refuses_its_max():
    torch = torch_or_skip()
    assert np.isnan(torch.zeros(0).mean().item())
    with pytest.raises(RuntimeError):
        torch.zeros(0).max()


def test_softmax_of_an_axis_out_of_range_and_flatten_s_dims_say_what_torch_says():
    x = mg.tensor(np.ones((2, 3), np.float32))
    with pytest.raises(IndexError, match=r"softmax: dimension out of range \(expected to be in "
                                         r"range of \[-2, 1\], but got 5\)"):
        F.softmax(x, axis=5)
    with pytest.raises(IndexError, match=r"flatten: dimension out of range"):
        F.flatten(x, 5)
    assert F.softmax(mg.tensor(2.0), -1).item() == 1.0


def test_torch_says_the_same_of_softmax_s_axis():
    torch = torch_or_skip()
    with pytest.raises(IndexError, match=r"expected to be in range of \[-2, 1\], but got 5"):
        torch.softmax(torch.ones(2, 3), 5)
    assert torch.softmax(torch.tensor(2.0), -1).item() == 1.0


def test_a_layer_given_a_list_or_an_integer_tensor_refuses_it_as_torch_does():
    with pytest.raises(TypeError, match=r"Conv2d\(1, 6, .*\): expected a Tensor input, got list"):
        LeNet5()([[0.0] * 28] * 28)
    ints = mg.tensor(np.arange(6).reshape(2, 3))
    with pytest.raises(TypeError, match="dropout: expected a floating-point input in training, "
                                        "got dtype int64"):
        nn.Dropout(0.5)(ints)
    assert nn.Dropout(0.5).eval()(ints) is ints                  # eval: the identity, as torch
    for layer in (nn.Linear(3, 2), nn.LayerNorm(3), nn.BatchNorm1d(3)):
        for dtype in (np.int64, np.bool_):
            with pytest.raises(TypeError, match="expected a floating-point input"):
                layer(mg.tensor(np.ones((2, 3), dtype)))
    with pytest.raises(TypeError, match="expected a floating-point input"):
        nn.MultiheadAttention(4, 2)(*[mg.tensor(np.ones((1, 2, 4), np.int64))] * 3)


def test_torch_refuses_dropout_on_integers_too():
    torch = torch_or_skip()
    with pytest.raises(RuntimeError):
        torch.nn.Dropout(0.5)(torch.arange(6).reshape(2, 3))


def test_batch_norm_refuses_a_training_step_on_a_batch_with_a_nan_and_keeps_its_statistics():
    layer = nn.BatchNorm2d(2)
    layer(mg.tensor(np.random.default_rng(0).standard_normal((4, 2, 3, 3)).astype(np.float32)))
    before = {name: np.array(value) for name, value in layer.state_dict().items()}
    x = np.ones((4, 2, 3, 3), np.float32)
    x[2, 1, 0, 2] = np.nan
    with pytest.raises(ValueError, match=r"batch_norm: the batch holds 1 NaN or infinite value "
                                         r"among 72 \(the first, nan, at index \(2, 1, 0, 2\)\)"):
        layer(mg.tensor(x))
    for name, value in layer.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    layer.eval()
    assert np.isnan(layer(mg.tensor(x)).numpy()[2, 1, 0, 2])   # eval passes it on, as torch


def test_train_step_on_an_empty_batch_is_refused_before_anything_changes():
    model = LeNet5()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"train_step: the batch is empty \(x has shape "
                                         r"\(0, 1, 28, 28\)\)"):
        train_step(model, np.zeros((0, 1, 28, 28), np.float32), np.zeros(0, np.int64), optimizer)
    assert all(np.array_equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("method", ["vanilla", "gradcam", "occlusion", "integrated_gradients",
                                    "scorecam", "fixations"])
def test_explain_of_an_empty_batch_is_an_empty_map(method):
    maps = explain(LeNet5(), np.zeros((0, 1, 28, 28), np.float32), method=method)
    assert maps.shape == (0, 28, 28)


def nan_images():
    images = np.zeros((3, 1, 28, 28), np.float32)
    images[1, 0, 4, 7] = np.nan
    images[2, 0, 0, 0] = np.inf
    return images


def test_evaluate_explain_and_the_metrics_refuse_non_finite_input_saying_how_many_and_where():
    from minigrad.data import DataLoader, TensorDataset
    model = LeNet5()
    model.train()
    loader = DataLoader(TensorDataset(nan_images(), np.zeros(3, np.int64)), 2)
    with pytest.raises(ValueError, match=r"evaluate: the image batch 1 \(shape \(2, 1, 28, 28\)\)"
                                         r" holds 1 NaN or infinite value among 1568 \(the "
                                         r"first, nan, at index \(1, 0, 4, 7\)\)"):
        evaluate(model, loader)
    assert model.training                                  # put back as it was
    with pytest.raises(ValueError, match=r"saliency: the image batch \(shape \(3, 1, 28, 28\)\) "
                                         r"holds 2 NaN or infinite values among 2352"):
        explain(model, nan_images(), method="vanilla")
    maps, masks = nan_images()[:, 0], np.ones((3, 28, 28), bool)
    for metric in (metrics.pointing_game, metrics.energy_in_mask, metrics.box_iou):
        with pytest.raises(ValueError, match=rf"{metric.__name__}: the maps .* holds 2 NaN"):
            metric(maps, masks)
    with pytest.raises(ValueError, match="deletion_insertion: the maps"):
        metrics.deletion_insertion(model, np.zeros((3, 1, 28, 28), np.float32), maps)
    with pytest.raises(ValueError, match="spearman: the maps"):
        metrics.spearman(maps[1], maps[0])


def test_an_optimizer_or_a_scheduler_refuses_another_kind_s_state_naming_what_differs():
    sgd = optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1, momentum=0.9)
    adam = optim.Adam(nn.Linear(2, 2).parameters(), lr=0.01)
    before = sgd.state_dict()
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: param group 0 of the state lacks "
                                         r"\['dampening', 'momentum', 'nesterov'\] and has "
                                         r"\['betas', 'eps'\], which SGD's has not"):
        sgd.load_state_dict(adam.state_dict())
    with pytest.raises(ValueError, match=r"the state lacks \['param_groups'\]"):
        sgd.load_state_dict({"state": {}})
    with pytest.raises(TypeError, match="expected a dict"):
        sgd.load_state_dict([])
    assert sgd.state_dict() == before
    step = optim.lr_scheduler.StepLR(sgd, 3)
    cycle = optim.lr_scheduler.OneCycleLR(adam, max_lr=0.1, total_steps=10)
    with pytest.raises(ValueError, match="StepLR.load_state_dict: the state is a OneCycleLR's"):
        step.load_state_dict(cycle.state_dict())
    plateau = optim.lr_scheduler.ReduceLROnPlateau(sgd)
    with pytest.raises(ValueError, match=r"lacks \['base_lrs'\] and has \['best', "):
        step.load_state_dict(plateau.state_dict())
    assert step.last_epoch == 0
    older = {k: v for k, v in optim.lr_scheduler.StepLR(sgd, 3).state_dict().items()
             if k != "type"}                       # a file saved before the type was recorded
    step.load_state_dict(older)


def test_load_refuses_an_npz_member_that_is_not_an_npy_array(tmp_path):
    path = tmp_path / "odd.npz"
    mg.save(nn.Linear(2, 2), path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("notes.txt", b"not an array")
    with pytest.raises(mg.CheckpointError, match=rf"cannot load {path}: its member 'notes.txt' "
                                                 rf"is not an .npy array"):
        mg.load(path)
