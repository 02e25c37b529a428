"""PyTorch's beginner tutorials run on minigrad with the import changed, and give torch's numbers.

The ports are in tests/torch_tutorials/ (one module per tutorial file, each naming its source
and listing its edits). Each one runs twice here:

- on minigrad alone, in a small setting (a few hundred steps, a few hundred images), with a
  check that it did what the tutorial shows (the loss fell, the gradients are the ones the
  tutorial states, the weights moved);
- where torch is installed, on torch first and then on minigrad from torch's initial weights
  and random inputs (`Same`), and every number `run` returns is compared at float32 tolerance.

A port that minigrad cannot run yet is an xfail(strict=True) whose reason names the first name
minigrad lacks and the tutorial line that reaches for it: it turns into a failure (XPASS) as
soon as it runs, so that the mark is removed then.
"""
import math

import numpy as np
import pytest

from tests.torch_tutorials import (Same, blitz_autograd_tutorial, blitz_cifar10_tutorial,
                                   blitz_neural_networks_tutorial, blitz_tensor_tutorial,
                                   dynamic_net, polynomial_autograd, polynomial_custom_function,
                                   polynomial_module, polynomial_nn, polynomial_optim,
                                   polynomial_tensor)

# float32 results of up to a few thousand float32 operations, which the two libraries may sum
# in another order: 1e-4 relative is ~800 units in the last place.
RTOL, ATOL = 1e-4, 1e-5

STEPS = 300          # of the polynomial examples (2,000 and 30,000 in the tutorials)

PORTS = {
    "polynomial_tensor": (polynomial_tensor, {"steps": STEPS}),
    "polynomial_autograd": (polynomial_autograd, {"steps": STEPS}),
    "polynomial_custom_function": (polynomial_custom_function, {"steps": STEPS}),
    "polynomial_nn": (polynomial_nn, {"steps": STEPS}),
    "polynomial_optim": (polynomial_optim, {"steps": STEPS}),
    "polynomial_module": (polynomial_module, {"steps": STEPS}),
    "dynamic_net": (dynamic_net, {"steps": STEPS}),
    "blitz_tensor_tutorial": (blitz_tensor_tutorial, {}),
    "blitz_autograd_tutorial": (blitz_autograd_tutorial, {}),
    "blitz_neural_networks_tutorial": (blitz_neural_networks_tutorial, {}),
    "blitz_cifar10_tutorial": (blitz_cifar10_tutorial, {"n_train": 200, "n_test": 40}),
}

# What minigrad still lacks, per port: the first failure of a minigrad run (the tutorial line,
# the error, the missing name). Shortened as the names land.
MISSING = {}


def ports():
    """The port names, each with its xfail mark while minigrad cannot run it."""
    return [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=MISSING[name]))
            if name in MISSING else name for name in PORTS]


def run(name, lib, tmp_path, same=None, **extra):
    module, settings = PORTS[name]
    settings = dict(settings, **extra)
    if module is blitz_cifar10_tutorial:
        settings["path"] = str(tmp_path / f"cifar_net_{lib}.pth")
    return module.run(lib, same=same, **settings)


# ----- minigrad alone: did it do what the tutorial shows? ------------------------------------

def check_loss_fell(result, same):
    losses = np.array(result["losses"])
    assert len(losses) == STEPS and np.isfinite(losses).all()
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])
    assert np.isfinite(result["coefficients"]).all()


def check_tensor_tutorial(result, same):
    np.testing.assert_array_equal(result["x_data"], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(result["x_np"], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(result["x_ones"], np.ones((2, 2)))
    assert result["x_ones"].dtype == np.int64 and result["x_rand.dtype"].endswith("float32")
    assert result["tensor.shape"] == (3, 4) and result["tensor.device"] == "cpu"
    expected = np.ones((4, 4), np.float32)
    expected[:, 1] = 0
    np.testing.assert_array_equal(result["tensor[:,1] = 0"], expected)
    np.testing.assert_array_equal(result["t1"], np.concatenate([expected] * 3, axis=1))
    np.testing.assert_array_equal(result["tensor.mul(tensor)"], expected)
    np.testing.assert_array_equal(result["tensor @ tensor.T"], np.full((4, 4), 3.0))
    np.testing.assert_array_equal(result["tensor.add_(5)"], expected + 5)
    # the bridge: t.numpy() and torch.from_numpy(n) share their memory
    for key in ("t after t.add_(1)", "n after t.add_(1)", "t after np.add", "n after np.add"):
        np.testing.assert_array_equal(result[key], np.full(5, 2.0), err_msg=key)


def check_autograd_tutorial(result, same):
    assert np.isfinite(result["loss"])
    assert result["9*a**2 == a.grad"].all() and result["-2*b == b.grad"].all()
    np.testing.assert_array_equal(result["a.grad"], [36.0, 81.0])
    np.testing.assert_array_equal(result["b.grad"], [-12.0, -8.0])
    assert result["requires_grad of a, b"] == (False, True)
    flags = result["requires_grad after freezing"]
    assert len(flags) == 62 and not any(flags[:-2]) and all(flags[-2:])
    moved = [name for name, before in same.values["model"].items()
             if name in result["parameters after step"]
             and not np.array_equal(before, result["parameters after step"][name])]
    assert len(moved) == 62, "SGD's step left some parameters unchanged"


def check_neural_networks_tutorial(result, same):
    assert result["len(params)"] == 10 and result["params[0].size()"] == (6, 1, 5, 5)
    assert result["out"].shape == (1, 10) and np.isfinite(result["loss"])
    assert result["conv1.bias.grad before backward"] is None     # zero_grad sets None
    grad = result["conv1.bias.grad after backward"]
    assert grad.shape == (6,) and np.abs(grad).max() > 0
    assert len(result["grad_fn chain"]) == 3


def check_cifar10_tutorial(result, same):
    losses = np.array(result["losses"])
    assert len(losses) == 2 * 200 // 4 and np.isfinite(losses).all()
    assert abs(losses[0] - math.log(10)) < 0.2         # an untrained net on ten classes
    before = same.values["net"]
    assert all(not np.array_equal(before[name], after) for name, after in
               result["state"].items()), "some weights did not move in training"
    assert result["total"] == 40 and sum(result["total_pred"].values()) == 40
    assert sum(result["correct_pred"].values()) == result["correct"]
    assert result["outputs"].shape == (4, 10) and result["device"] == "cpu"


CHECKS = {name: check_loss_fell for name in PORTS if name.startswith(("polynomial", "dynamic"))}
CHECKS.update(blitz_tensor_tutorial=check_tensor_tutorial,
              blitz_autograd_tutorial=check_autograd_tutorial,
              blitz_neural_networks_tutorial=check_neural_networks_tutorial,
              blitz_cifar10_tutorial=check_cifar10_tutorial)


@pytest.mark.parametrize("name", ports())
def test_tutorial_runs_on_minigrad(name, tmp_path):
    same = Same()
    result = run(name, "minigrad", tmp_path, same)
    CHECKS[name](result, same)


# ----- against torch: the same numbers from the same start --------------------------------------

@pytest.fixture
def torch_one_thread():
    """torch on one thread: its threads only fight the other jobs of this 2-core machine."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(before)


NOT_COMPARED = {"grad_fn chain"}        # the backward nodes' class names are each library's own


def assert_same(got, expected, where="result"):
    """Every number of `got` (minigrad's) equals `expected` (torch's) at float32 tolerance;
    arrays also in shape and dtype, strings (dtypes, devices) up to the library's prefix."""
    if isinstance(expected, dict):
        assert set(got) == set(expected), f"{where}: keys {sorted(got)} != {sorted(expected)}"
        for key in expected:
            if key not in NOT_COMPARED:
                assert_same(got[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, str):
        assert got.rpartition(".")[2] == expected.rpartition(".")[2], f"{where}: {got} != {expected}"
    elif expected is None or isinstance(expected, (bool, int)):
        assert got == expected, f"{where}: {got} != {expected}"
    elif isinstance(expected, float):
        np.testing.assert_allclose(got, expected, RTOL, ATOL, err_msg=where)
    elif isinstance(expected, np.ndarray):
        assert got.shape == expected.shape and got.dtype == expected.dtype, \
            f"{where}: {got.dtype}{got.shape} != {expected.dtype}{expected.shape}"
        np.testing.assert_allclose(got, expected, RTOL, ATOL, err_msg=where)
    elif all(isinstance(x, float) for x in expected):
        np.testing.assert_allclose(got, expected, RTOL, ATOL, err_msg=where)
    else:
        assert len(got) == len(expected), f"{where}: {len(got)} != {len(expected)} items"
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_same(g, e, f"{where}[{i}]")


# The autograd tutorial's gradients go back through a ResNet-18 in training mode with a batch of
# one: its last BatchNorms normalise 2x2 maps, and the float32 rounding of every op is amplified
# about a thousandfold on the way back. torch's own float32 gradients are then up to 2.4e-4 (of
# each gradient's largest value) away from the float64 ones, and no float32 engine can match
# them element by element at RTOL. For those two entries the test asks instead that minigrad be
# about as accurate as torch: its max-norm distance to the float64 gradient at most
# AS_ACCURATE times torch's float32 distance (plus 8 float32 epsilons). Layer by layer
# (BatchNorm2d and Conv2d forward and backward) both engines are within 2e-7 of float64, minigrad
# 1-2.5 times torch's distance; through the ResNet the ratio was 0.5-2.35 (measured 2026-12-07).
ILL_CONDITIONED = {"blitz_autograd_tutorial": ("grads", "parameters after step")}
AS_ACCURATE = 4.0


def autograd_tutorial_in_float64(torch, same):
    """The exact (float64) gradients and SGD step of the autograd tutorial's first part."""
    model = blitz_autograd_tutorial.resnet18(torch.nn, torch)
    model.load_state_dict({key: torch.tensor(value) for key, value in same.values["model"].items()})
    model = model.double()
    data, labels = (torch.tensor(same.values[key], dtype=torch.float64) for key in ("data", "labels"))
    (model(data) - labels).sum().backward()
    grads = {name: p.grad.numpy() for name, p in model.named_parameters()}
    return {"grads": grads,      # the first step of SGD with momentum is p - lr * grad
            "parameters after step": {name: p.detach().numpy() - 1e-2 * grads[name]
                                      for name, p in model.named_parameters()}}


def assert_as_accurate_as_torch(got, torch32, exact, where):
    for name in exact:
        scale = np.abs(exact[name]).max()
        torch_error = np.abs(torch32[name] - exact[name]).max() / scale
        minigrad_error = np.abs(got[name] - exact[name]).max() / scale
        assert got[name].dtype == torch32[name].dtype
        assert minigrad_error <= AS_ACCURATE * torch_error + 8 * np.finfo(np.float32).eps, \
            f"{where}[{name!r}]: {minigrad_error:.2e} from float64, torch {torch_error:.2e}"


@pytest.mark.parametrize("name", ports())
def test_tutorial_gives_torchs_numbers(name, tmp_path, torch_one_thread):
    same = Same()
    extra = {"shuffle": False} if name == "blitz_cifar10_tutorial" else {}
    expected = run(name, "torch", tmp_path, same, **extra)
    CHECKS[name](expected, same)              # the checks hold for torch too
    got = run(name, "minigrad", tmp_path, Same(same.values), **extra)
    if name in ILL_CONDITIONED:
        exact = autograd_tutorial_in_float64(torch_one_thread, same)
        for key in ILL_CONDITIONED[name]:
            assert_as_accurate_as_torch(got.pop(key), expected.pop(key), exact[key], key)
    assert_same(got, expected)
