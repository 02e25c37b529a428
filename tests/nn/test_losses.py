"""The loss modules: PyTorch's constructors, the same numbers as their functions and as torch's
modules, weights kept as buffers."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F
from minigrad import nn
from tests.helpers import leaf, torch_or_skip

REDUCTIONS = ["mean", "sum", "none"]
RNG = np.random.default_rng(11)
SCORES = RNG.normal(size=(6, 4)) * 2
LABELS = np.array([0, 3, -100, 1, 2, 3])          # one ignored by the default ignore_index
LABELS_1_IGNORED = np.array([0, 3, 1, 1, 2, 3])
CLASS_WEIGHT = RNG.uniform(0.5, 2.0, 4)
PROBABILITIES = RNG.uniform(0.02, 0.98, (6, 4))
TARGETS = RNG.uniform(0, 1, (6, 4))


def cases():
    """(module name, constructor arguments, input, target): each loss with and without its
    options, so that every option reaches its function."""
    return [
        ("MSELoss", {}, SCORES, TARGETS),
        ("L1Loss", {}, SCORES, TARGETS),
        ("CrossEntropyLoss", {}, SCORES, LABELS),
        ("CrossEntropyLoss", {"weight": CLASS_WEIGHT, "label_smoothing": 0.1,
                              "ignore_index": 1}, SCORES, LABELS_1_IGNORED),
        ("NLLLoss", {}, SCORES, LABELS),
        ("NLLLoss", {"weight": CLASS_WEIGHT, "ignore_index": 1}, SCORES, LABELS_1_IGNORED),
        ("BCELoss", {}, PROBABILITIES, TARGETS),
        ("BCELoss", {"weight": CLASS_WEIGHT}, PROBABILITIES, TARGETS),
        ("BCEWithLogitsLoss", {}, SCORES, TARGETS),
        ("BCEWithLogitsLoss", {"weight": CLASS_WEIGHT[:, None][:1], "pos_weight": CLASS_WEIGHT},
         SCORES, TARGETS),
    ]


def as_torch_arguments(torch, arguments):
    return {key: torch.tensor(value) if isinstance(value, np.ndarray) else value
            for key, value in arguments.items()}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, arguments, x, target", cases(),
                         ids=[f"{c[0]}-{len(c[1])}" for c in cases()])
def test_a_loss_module_gives_torchs_loss_and_gradient(name, arguments, x, target, reduction):
    torch = torch_or_skip()
    tx = torch.tensor(x, requires_grad=True)
    expected = getattr(torch.nn, name)(reduction=reduction,
                                       **as_torch_arguments(torch, arguments))(
        tx, torch.tensor(target))
    expected.sum().backward()
    mx = leaf(x)
    got = getattr(nn, name)(reduction=reduction, **arguments)(mx, target)
    got.sum().backward()
    np.testing.assert_allclose(got.data, expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(mx.grad), tx.grad.numpy(), rtol=1e-12, atol=1e-15)


FUNCTIONS = {"MSELoss": F.mse_loss, "L1Loss": F.l1_loss, "CrossEntropyLoss": F.cross_entropy,
             "NLLLoss": F.nll_loss, "BCELoss": F.binary_cross_entropy,
             "BCEWithLogitsLoss": F.binary_cross_entropy_with_logits}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, arguments, x, target", cases(),
                         ids=[f"{c[0]}-{len(c[1])}" for c in cases()])
def test_a_loss_module_is_its_function(name, arguments, x, target, reduction):
    x = mg.tensor(x)
    got = getattr(nn, name)(reduction=reduction, **arguments)(x, target)
    expected = FUNCTIONS[name](x, target, reduction=reduction, **arguments)
    np.testing.assert_array_equal(got.data, expected.data)


def test_weight_is_the_first_positional_argument_as_in_torch():
    x = mg.tensor(SCORES)
    np.testing.assert_array_equal(nn.CrossEntropyLoss(CLASS_WEIGHT)(x, LABELS).data,
                                  F.cross_entropy(x, LABELS, weight=CLASS_WEIGHT).data)
    np.testing.assert_array_equal(nn.NLLLoss(CLASS_WEIGHT)(x, LABELS).data,
                                  F.nll_loss(x, LABELS, weight=CLASS_WEIGHT).data)


@pytest.mark.parametrize("build", [
    lambda: nn.MSELoss(None), lambda: nn.L1Loss(False),
    lambda: nn.CrossEntropyLoss(None, None), lambda: nn.NLLLoss(None, None),
    lambda: nn.BCELoss(None, None), lambda: nn.BCEWithLogitsLoss(None, None)])
def test_torchs_deprecated_positional_arguments_are_refused(build):
    """torch's positional size_average / reduce would mean something else here: a TypeError."""
    with pytest.raises(TypeError, match="positional argument"):
        build()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_a_bad_reduction_is_refused_when_the_loss_is_built(name):
    with pytest.raises(ValueError, match=r"reduction must be one of \('mean', 'sum', 'none'\), "
                                         r"got 'average'"):
        getattr(nn, name)(reduction="average")


def test_weights_are_buffers_in_the_state_dict_and_follow_to_dtype():
    criterion = nn.BCEWithLogitsLoss(mg.tensor(np.ones((1, 4), np.float32)),
                                     pos_weight=np.full(4, 3.0, np.float32))
    assert list(criterion.state_dict()) == ["weight", "pos_weight"]
    criterion.to(np.float64)
    assert criterion.weight.dtype == np.float64 and criterion.pos_weight.dtype == np.float64
    assert list(nn.CrossEntropyLoss().state_dict()) == []


def test_the_state_dict_keys_are_torchs():
    torch = torch_or_skip()
    for name, arguments, _, _ in cases():
        ours = getattr(nn, name)(**arguments).state_dict()
        theirs = getattr(torch.nn, name)(**as_torch_arguments(torch, arguments)).state_dict()
        assert list(ours) == list(theirs), name
        for key in ours:
            np.testing.assert_array_equal(ours[key], theirs[key].numpy())


def test_a_weight_that_requires_grad_is_refused():
    weight = mg.tensor(np.ones(4), requires_grad=True)
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: weight requires grad.*detach"):
        nn.CrossEntropyLoss(weight)
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss: pos_weight requires grad"):
        nn.BCEWithLogitsLoss(pos_weight=weight)


def test_a_loss_module_trains_a_model():
    """The classic loop, criterion and all: the loss goes down."""
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4))
    criterion = nn.CrossEntropyLoss()
    optimizer = mg.optim.SGD(model.parameters(), lr=0.5)
    x, y = mg.tensor(SCORES.astype(np.float32)), np.array([0, 3, 2, 1, 2, 3])
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
