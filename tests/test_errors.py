"""Bad input to the library gets a clear error before any state changes: tensors of non-numbers,
layer constructors, losses on integer scores, optimizers with an infinite step, state dicts of
another architecture."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F
from minigrad import nn, optim
from minigrad.models import AlexNetLite, LeNet5


@pytest.mark.parametrize("data, dtype", [(["a", "b"], "<U1"), (np.array([{}], dtype=object), "object"),
                                         ([1 + 2j], "complex128"),
                                         (np.array(["2020-01-01"], dtype="datetime64[D]"),
                                          "datetime64")])
def test_tensor_of_non_numbers_is_a_type_error_naming_the_dtype(data, dtype):
    with pytest.raises(TypeError, match=rf"tensor: expected numbers \(bool, integer or floating "
                                        rf"point\), got dtype {dtype}"):
        mg.tensor(data)


def test_tensor_of_ragged_lists_or_an_unknown_dtype_names_the_input():
    with pytest.raises(ValueError, match=r"tensor: cannot make an array of numbers from list "
                                         r"\[\[1\], \[1, 2\]\]"):
        mg.tensor([[1], [1, 2]])
    with pytest.raises(TypeError, match="tensor: 'foo' is not a dtype; expected one such as "
                                        "minigrad.float32"):
        mg.tensor([1], dtype="foo")


def test_tensor_keeps_bool_integer_and_floating_dtypes():
    assert mg.tensor(True).dtype == np.bool_ and mg.tensor([1, 2]).dtype == np.int64
    assert mg.tensor([1.0]).dtype == np.float32 and mg.tensor(np.float64([1])).dtype == np.float64
    assert mg.tensor(np.uint8([3])).dtype == np.uint8


@pytest.mark.parametrize("build, message", [
    (lambda: nn.Linear(0, 3), "Linear: in_features must be >= 1, got 0"),
    (lambda: nn.Linear(3, 0), "Linear: out_features must be >= 1, got 0"),
    (lambda: nn.Linear(2.5, 3), "Linear: in_features must be an int, got 2.5"),
    (lambda: nn.Conv2d(3, 6, 0), "Conv2d: kernel_size must be >= 1, got 0"),
    (lambda: nn.Conv2d(3, 6, 3, groups=0), "Conv2d: groups must be >= 1, got 0"),
    (lambda: nn.Conv2d(3, 0, 3), "Conv2d: out_channels must be >= 1, got 0"),
    (lambda: nn.Conv2d(0, 6, 3), "Conv2d: in_channels must be >= 1, got 0"),
    (lambda: nn.Conv2d(3, 6, 3, stride=0), "Conv2d: stride must be >= 1, got 0"),
    (lambda: nn.Conv2d(3, 6, 3, dilation=(1, 0)), r"Conv2d: dilation must be >= 1, got \(1, 0\)"),
    (lambda: nn.Conv2d(3, 6, 3, padding=-1), "Conv2d: padding must be >= 0, got -1"),
    (lambda: nn.Conv2d(3, 6, 3, padding="bad"), "Conv2d: padding must be an int, a pair"),
    (lambda: nn.Conv2d(3, 6, 3, stride=2, padding="same"), "padding='same' needs stride 1"),
    (lambda: nn.MaxPool2d(0), "MaxPool2d: kernel_size must be >= 1, got 0"),
    (lambda: nn.MaxPool2d(2, stride=0), "MaxPool2d: stride must be >= 1, got 0"),
    (lambda: nn.AvgPool2d(2, padding=3), "AvgPool2d: padding should be at most half the kernel"),
    (lambda: nn.BatchNorm2d(0), "BatchNorm2d: num_features must be >= 1, got 0"),
    (lambda: nn.BatchNorm1d(3, eps=0), r"BatchNorm1d: eps must be a number in \(0, 1\], got 0"),
    (lambda: nn.BatchNorm2d(3, momentum=2), r"momentum must be a number in \[0, 1\], got 2"),
])
def test_layer_constructors_check_their_arguments(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()


def test_batchnorm_channel_mismatch_says_how_many_channels_it_expected_and_got():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3, .*\): expected 3 channels on axis 1 of "
                                         r"the input \(N, C, H, W\), got shape \(2, 4, 5, 5\), "
                                         r"which has 4"):
        nn.BatchNorm2d(3)(mg.tensor(np.zeros((2, 4, 5, 5), np.float32)))


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_classification_losses_refuse_integer_scores(loss):
    with pytest.raises(TypeError, match=rf"{loss.__name__}: expected floating-point scores, got "
                                        rf"dtype int64 \(convert them with .astype"):
        loss(mg.tensor([[1, 2], [3, 4]]), np.array([0, 1]))


@pytest.mark.parametrize("build", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop])
@pytest.mark.parametrize("lr", [math.inf, math.nan, -1.0])
def test_optimizers_refuse_an_lr_that_is_not_finite_and_non_negative(build, lr):
    with pytest.raises(ValueError, match=rf"{build.__name__}: lr must be a finite number >= 0, "
                                         rf"got {lr}"):
        build(nn.Linear(2, 2).parameters(), lr=lr)


def test_a_state_dict_of_another_architecture_names_the_first_keys_that_differ():
    model = LeNet5()
    before = model.state_dict()
    with pytest.raises(ValueError) as error:
        model.load_state_dict(AlexNetLite().state_dict())
    lines = str(error.value).splitlines()
    assert lines[0] == "load_state_dict into LeNet5 failed, the model is unchanged:"
    assert lines[1].startswith("  shape mismatch for 'features.0.weight': the model has "
                               "(6, 1, 5, 5), the state dict has (64, 3, 5, 5)")
    assert "  missing key 'classifier.1.weight'" in lines
    assert "  unexpected key 'features.6.weight'" in lines
    assert any(line.startswith("  ... and ") and line.endswith(" more unexpected keys")
               for line in lines)
    assert len(lines) < 20                         # the first few, not every one of them
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


def test_a_checkpoint_given_to_load_state_dict_gets_a_hint_to_select_the_model():
    model = LeNet5()
    checkpoint = {f"model.{name}": array for name, array in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"holds this model's keys under 'model\.': load "
                                         r"nn\.select\(state_dict, 'model'\)"):
        model.load_state_dict(checkpoint)
