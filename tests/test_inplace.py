"""In-place changes follow PyTorch's rule: allowed where no gradient needs the old values, refused
with a sentence everywhere else, and never a silent no-op (once, `p -= lr * p.grad` rebound the
loop variable and trained nothing)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad.testing import arrays, broadcastable_shapes
from tests.helpers import torch_or_skip


def fit_cubic_by_hand(library, steps=500, lr=1e-6):
    """The update loop of "Learning PyTorch with Examples" (autograd part) before it introduces
    optim: four scalar weights, updated in place inside no_grad, their gradients zeroed after."""
    x = library.tensor(np.linspace(-np.pi, np.pi, 2000, dtype=np.float32))
    y = library.tensor(np.sin(np.linspace(-np.pi, np.pi, 2000)).astype(np.float32))
    weights = [library.tensor(value, requires_grad=True) for value in (0.1, -0.2, 0.3, -0.05)]
    losses = []
    for _ in range(steps):
        a, b, c, d = weights
        loss = ((a + b * x + c * x ** 2 + d * x ** 3 - y) ** 2).sum()
        losses.append(loss.item())
        loss.backward()
        with library.no_grad():
            for weight in weights:
                weight -= lr * weight.grad
                weight.grad = None
    return losses, [w.item() for w in weights]


def test_the_by_hand_update_loop_trains():
    losses, _ = fit_cubic_by_hand(mg)
    assert losses[-1] < 0.05 * losses[0]


def test_the_by_hand_update_loop_equals_torch():
    torch = torch_or_skip()
    losses, weights = fit_cubic_by_hand(mg)
    expected_losses, expected_weights = fit_cubic_by_hand(torch)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-4)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-4, atol=1e-6)


def test_the_updated_tensor_is_the_same_object():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    alias = w
    with mg.no_grad():
        w -= 0.5
        w *= 2.0
        w += mg.tensor([1.0, 1.0])
        w /= 4.0
    assert alias is w
    np.testing.assert_allclose(w.data, [0.5, 1.0])   # ((w - 0.5) * 2 + 1) / 4
    assert w.requires_grad and w.is_leaf


IN_PLACE = {  # name -> (call on a tensor, the same on a NumPy copy)
    "+=": (lambda t, v: t.__iadd__(v), np.add),
    "-=": (lambda t, v: t.__isub__(v), np.subtract),
    "*=": (lambda t, v: t.__imul__(v), np.multiply),
    "/=": (lambda t, v: t.__itruediv__(v), np.divide),
    "add_": (lambda t, v: t.add_(v), np.add),
    "sub_": (lambda t, v: t.sub_(v), np.subtract),
    "mul_": (lambda t, v: t.mul_(v), np.multiply),
    "div_": (lambda t, v: t.div_(v), np.divide),
}


@pytest.mark.parametrize("name", IN_PLACE)
@given(data=st.data())
def test_in_place_arithmetic_equals_numpy_with_broadcasting(name, data):
    shape_x, shape_v = data.draw(broadcastable_shapes())
    full = np.broadcast_shapes(shape_x, shape_v)
    shape_x = full                                   # the target must hold the broadcast result
    x = data.draw(arrays(shape_x))
    v = data.draw(arrays(shape_v, away_from=[0.0]))
    tensor = mg.tensor(x.copy())
    call, numpy_op = IN_PLACE[name]
    returned = call(tensor, mg.tensor(v))
    assert returned is tensor
    np.testing.assert_allclose(tensor.data, numpy_op(x, v), rtol=1e-12)
    assert tensor.dtype == np.float64 and tensor._version == 1


def test_the_other_in_place_methods():
    x = mg.tensor([[1.0, -2.0, 3.0], [4.0, -5.0, 6.0]])
    assert x.add_(mg.tensor([1.0, 1.0, 1.0]), alpha=2) is x
    np.testing.assert_allclose(x.data, [[3, 0, 5], [6, -3, 8]])
    x.sub_(1.0, alpha=3)
    np.testing.assert_allclose(x.data, [[0, -3, 2], [3, -6, 5]])
    x.clamp_(-1.0, 2.5)
    np.testing.assert_allclose(x.data, [[0, -1, 2], [2.5, -1, 2.5]])
    x[x < 0] = 7.0                       # a boolean-mask Tensor as index
    np.testing.assert_allclose(x.data, [[0, 7, 2], [2.5, 7, 2.5]])
    x[mg.tensor([1]), 0] = mg.tensor([9.0])
    np.testing.assert_allclose(x.data[:, 0], [0, 9])
    x.copy_(mg.tensor([1.0, 2.0, 3.0]))  # broadcast over the rows
    np.testing.assert_allclose(x.data, [[1, 2, 3], [1, 2, 3]])
    x.fill_(4.0)
    assert (x.data == 4).all()
    assert x.zero_() is x and not x.data.any()
    assert x.dtype == np.float32 and x._version == 8   # one per change


def test_in_place_methods_equal_torch():
    torch = torch_or_skip()
    start = np.array([[1.0, -2.0, 3.0], [4.0, -5.0, 6.0]], dtype=np.float32)
    results = []
    for library in (mg, torch):
        x = library.tensor(start.copy())
        x.add_(library.tensor([1.0, 1.0, 1.0]), alpha=2)
        x.sub_(library.tensor(0.5), alpha=3)
        x.mul_(library.tensor([[2.0], [0.5]]))
        x.div_(3.0)
        x.clamp_(-1.0, 2.5)
        x[x < 0] = 7.0
        x[1, 1:] = library.tensor([8.0, 9.0])
        results.append(np.asarray(x.tolist(), dtype=np.float32))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_a_parameter_is_refused_outside_no_grad():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    for change in (lambda: w.__isub__(1.0), lambda: w.zero_(), lambda: w.add_(1.0),
                   lambda: w.__setitem__(0, 5.0), lambda: w.clamp_(0, 1)):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
            change()
    np.testing.assert_array_equal(w.data, [1.0, 2.0])    # refused before anything changed
    assert w._version == 0


def test_torch_refuses_the_same_leaf():
    torch = torch_or_skip()
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w -= 1.0


def test_an_op_result_is_refused_while_grad_is_recorded():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    y = w * 2
    with pytest.raises(RuntimeError, match="part of a graph.*Mul"):
        y += 1.0


def test_a_value_that_requires_grad_is_refused_rather_than_losing_its_gradient():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    x = mg.tensor([0.0, 0.0])
    with pytest.raises(RuntimeError, match="gradient would be lost"):
        x += w
    with pytest.raises(RuntimeError, match="gradient would be lost"):
        x[0] = w[0]
    np.testing.assert_array_equal(x.data, [0.0, 0.0])


def test_a_tensor_changed_after_an_op_used_it_makes_backward_refuse():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    x = mg.tensor([3.0, 4.0])
    y = (w * x).sum()
    x += 1.0                                       # allowed: x itself needs no gradient ...
    with pytest.raises(RuntimeError, match="Mul.*input 1.*changed in place"):
        y.backward()                               # ... but Mul's backward would read it
    assert w.grad is None


def test_torch_refuses_the_same_backward():
    torch = torch_or_skip()
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    x = torch.tensor([3.0, 4.0])
    y = (w * x).sum()
    x += 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_a_parameter_changed_under_no_grad_before_backward_is_caught():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    with mg.no_grad():
        w -= 0.1
    with pytest.raises(RuntimeError, match="changed in place"):
        y.backward()


def test_shape_and_dtype_cannot_change_in_place():
    x = mg.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"shape \(2, 2\).*\(2,\)"):
        x += mg.tensor([[1.0], [2.0]])
    counts = mg.tensor(np.array([1, 2]))
    with pytest.raises(TypeError, match="float32.*int64"):
        counts += 0.5
    with pytest.raises(TypeError, match="float64.*int64"):
        counts[0:1] = np.array([0.5])
    np.testing.assert_array_equal(x.data, [1.0, 2.0])
    np.testing.assert_array_equal(counts.data, [1, 2])


def test_a_read_only_array_is_refused_with_a_sentence():
    x = mg.from_numpy(np.broadcast_to(np.float32(1.0), (3,)))    # shared, so read-only
    with pytest.raises(ValueError, match="read-only.*clone"):
        x.zero_()


def test_a_change_through_a_view_is_seen_by_the_ops_that_used_its_base():
    """torch's views share their base's version counter; so do minigrad's (and detach())."""
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    for make_view in (lambda x: x.reshape(2, 1), lambda x: x[0:1], lambda x: x.detach()):
        x = mg.tensor([3.0, 4.0])
        y = (w * x).sum()
        view = make_view(x)
        view += 1.0                                 # changes x's memory
        with pytest.raises(RuntimeError, match="Mul.*input 1.*changed in place"):
            y.backward()


def test_a_view_made_after_a_change_is_no_change_itself():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    x = mg.tensor([3.0, 4.0])
    x += 1.0
    y = (w * x.reshape(2)).sum()
    y.backward()
    np.testing.assert_array_equal(w.grad.data, [4.0, 5.0])
