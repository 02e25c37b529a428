"""`.grad` is a Tensor that does not require grad, as in PyTorch and DeZero; NumPy functions see
a Tensor's values, and refuse to silently cut a graph."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from tests.helpers import torch_or_skip


def test_grad_is_a_tensor_outside_the_graph():
    w = mg.tensor([1.0, -2.0], requires_grad=True)
    (w * w).sum().backward()
    assert isinstance(w.grad, mg.Tensor)
    assert not w.grad.requires_grad and w.grad.is_leaf and w.grad.dtype == np.float32
    np.testing.assert_array_equal(w.grad.data, [2.0, -4.0])
    assert w.grad.sum().item() == -2.0


def test_backward_accumulates_into_the_same_grad_tensor():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    (3 * w).sum().backward()
    grad = w.grad
    (5 * w).sum().backward()
    assert w.grad is grad
    np.testing.assert_array_equal(grad.data, [8.0, 8.0])


def test_grad_zero_in_place_and_zero_grad_set_to_none_false():
    model = nn.Linear(3, 2)
    model(mg.tensor(np.ones((4, 3), np.float32))).sum().backward()
    grad = model.weight.grad
    grad.zero_()
    assert model.weight.grad is grad and not grad.data.any()
    model(mg.tensor(np.ones((4, 3), np.float32))).sum().backward()
    model.zero_grad(set_to_none=False)
    assert model.weight.grad is grad and not grad.data.any()
    optimizer = mg.optim.SGD(model.parameters(), lr=0.1)
    optimizer.zero_grad()
    assert model.weight.grad is None and model.bias.grad is None


def test_assigning_a_grad_of_another_shape_or_dtype_is_refused():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\)"):
        w.grad = mg.tensor([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="float64.*float32"):
        w.grad = np.zeros(2)
    with pytest.raises(TypeError, match="expected to be a Tensor.*got float"):
        w.grad = 0.0                             # as torch: a number is no gradient
    assert w.grad is None
    w.grad = np.ones(2, np.float32)              # an array of the right kind is wrapped
    assert isinstance(w.grad, mg.Tensor)


def test_torch_refuses_the_same_assignments():
    torch = torch_or_skip()
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="same size"):
        w.grad = torch.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="must match"):
        w.grad = torch.zeros(2, dtype=torch.float64)


def test_tensor_hooks_receive_a_tensor():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g) or g * 2)
    (x * 3).sum().backward()
    assert isinstance(seen[0], mg.Tensor)
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])


def test_numpy_functions_see_the_values_of_a_tensor_outside_the_graph():
    w = mg.tensor([1.0, -2.0], requires_grad=True)
    (w * w).sum().backward()
    assert np.any(w.grad) and np.abs(w.grad).max() == 4.0
    assert isinstance(np.abs(w.grad), np.ndarray)


def test_numpy_arithmetic_with_a_tensor_stays_in_the_graph():
    w = mg.tensor([1.0, -2.0], requires_grad=True)
    y = np.array([2.0, 3.0], np.float32) * w - np.array([1.0, 1.0], np.float32)
    assert isinstance(y, mg.Tensor) and y.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 3.0])


def test_a_numpy_function_on_a_tensor_that_requires_grad_is_refused():
    w = mg.tensor([1.0, -2.0], requires_grad=True)
    with pytest.raises(TypeError, match="np.exp on a tensor that requires grad.*lose"):
        np.exp(w)
    with mg.no_grad():
        np.testing.assert_allclose(np.exp(w), np.exp([1.0, -2.0]), rtol=1e-6)
    with pytest.raises(TypeError, match="cannot write into a tensor"):
        np.add(np.ones(2), np.ones(2), out=mg.tensor([0.0, 0.0]))


def test_grad_fn_and_next_functions_walk_the_graph_as_torch_prints_it():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    x = mg.tensor([3.0, 4.0])
    loss = ((w * x).relu()).sum()
    assert loss.grad_fn.name() == "Sum"
    (relu, _), = loss.grad_fn.next_functions
    (mul, _), = relu.next_functions
    (leaf, _), (constant, _) = mul.next_functions
    assert mul.name() == "Mul" and leaf.name() == "AccumulateGrad"
    assert leaf.variable is w and constant is None and leaf.next_functions == ()
    assert w.grad_fn is None and x.grad_fn is None


def test_backward_with_inputs_accumulates_into_those_only():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0], requires_grad=True)
    (a * b).sum().backward(inputs=[b])
    assert a.grad is None
    np.testing.assert_array_equal(b.grad.data, [1.0, 2.0])
    with pytest.raises(ValueError, match="input 0 is not a tensor"):
        (a * b).sum().backward(inputs=[mg.tensor([1.0, 1.0], requires_grad=True)])


def test_create_graph_makes_grad_a_tensor_with_a_graph():
    """(#30; tests/test_second_order.py has the rest.)"""
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    (a * a).sum().backward(create_graph=True)
    assert isinstance(a.grad, mg.Tensor) and a.grad.requires_grad
    np.testing.assert_array_equal(a.grad.data, [2.0, 4.0])
