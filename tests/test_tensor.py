import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F
from tests.helpers import leaf


def test_dtypes():
    assert mg.tensor([1.0, 2.0]).dtype == np.float32
    assert mg.tensor(np.zeros(2, dtype=np.float64)).dtype == np.float64
    assert mg.tensor(np.zeros(2, dtype=np.float16)).dtype == np.float32
    assert mg.tensor([1, 2]).dtype == np.int64
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        mg.tensor([1, 2], requires_grad=True)


def test_properties_and_conversions():
    x = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.dim() == 2 and len(x) == 2
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-2) == 2 and x.numel() == 6
    assert x.T.shape == (3, 2)
    assert x.view(3, 2).shape == (3, 2) and x.view(-1).shape == (6,)
    np.testing.assert_array_equal(x.view(3, 2).data, x.data.reshape(3, 2))
    assert mg.tensor(3.5).item() == 3.5
    assert isinstance(x.numpy(), np.ndarray)
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None and d.numpy() is x.numpy()
    assert "requires_grad=True" in repr(x) and "dtype=float64" in repr(x)
    assert "grad_fn=<Mul>" in repr(x * 2) and "dtype=float64" in repr(x * 2)


def test_comparisons_return_bool_tensors_outside_the_graph():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    result = x > 1.5
    assert isinstance(result, mg.Tensor) and result.dtype == bool and not result.requires_grad
    np.testing.assert_array_equal(x == mg.tensor([1.0, 0.0, 3.0]), [True, False, True])
    np.testing.assert_array_equal(x <= 2, [True, True, False])
    for compare, expected in [(x < 2, [1, 0, 0]), (x <= 2, [1, 1, 0]), (x > 2, [0, 0, 1]),
                              (x >= 2, [0, 1, 1]), (x != 2, [1, 0, 1])]:
        np.testing.assert_array_equal(compare, np.array(expected, dtype=bool))  # at equality too


def test_tensor_used_twice():
    x = leaf([3.0])
    (x * x).backward()
    np.testing.assert_array_equal(x.grad, [6.0])


def test_diamond_graph():
    # x feeds two branches that meet again: dy/dx = d/dx (2x * x^2) = 6 x^2
    x = leaf(2.0)
    a, b = x * 2, x ** 2
    (a * b).backward()
    assert x.grad == pytest.approx(24.0)


def test_gradients_accumulate_across_calls_on_leaves():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])
    x.zero_grad()
    assert x.grad is None


def test_no_grad_context_and_decorator():
    x = leaf([1.0])
    with mg.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None

    @mg.no_grad()
    def double(t):
        return t * 2
    assert not double(x).requires_grad
    assert mg.is_grad_enabled() and (x * 2).requires_grad
    with mg.no_grad():
        with mg.enable_grad():
            assert (x * 2).requires_grad


def test_bare_no_grad_decorates_as_torch_does_and_a_recursive_call_restores_the_state():
    x = leaf([1.0])

    @mg.no_grad                                     # without parentheses, as torch allows
    def double(t):
        return t * 2
    assert not double(x).requires_grad and double.__name__ == "double"
    assert mg.is_grad_enabled()

    @mg.no_grad()
    def depth_first(n):                             # enters no_grad again before it leaves
        return depth_first(n - 1) if n else mg.is_grad_enabled()
    assert depth_first(3) is False and mg.is_grad_enabled()
    with pytest.raises(TypeError, match="takes no argument"):
        mg.no_grad(3)


def test_detach_stops_the_gradient():
    x = leaf([2.0])
    (x * x.detach()).backward()
    np.testing.assert_array_equal(x.grad, [2.0])


def test_retain_graph_allows_a_second_backward():
    x = leaf([2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad, [8.0])


def test_backward_through_a_freed_graph_is_a_clear_error():
    x = leaf([2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()
    np.testing.assert_array_equal(x.grad, [4.0])   # the failed call changed nothing


def test_non_scalar_backward_needs_a_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"non-scalar output \(shape \(2,\)\)"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 20.0])
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\), expected \(2,\)"):
        (x * 2).backward(np.ones(3))
    x.grad = None
    (x * 2).backward(gradient=mg.tensor([1.0, -1.0]))         # torch's keyword, and a Tensor
    np.testing.assert_array_equal(x.grad, [2.0, -2.0])


def test_tensor_takes_dtype_and_requires_grad_by_keyword_only():
    """As torch.tensor: mg.tensor(x, np.float64) would have read the dtype as requires_grad."""
    with pytest.raises(TypeError):
        mg.tensor([1.0], np.float64)
    t = mg.tensor([1.0], dtype=np.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad


def test_manual_seed_makes_initialisation_and_dropout_reproducible():
    def draw():
        mg.manual_seed(7)
        layer, dropout = mg.nn.Linear(3, 2), mg.nn.Dropout(0.5)
        return layer.weight.data.copy(), dropout(mg.tensor(np.ones((4, 4)))).data
    (w1, d1), (w2, d2) = draw(), draw()
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(d1, d2)


def test_backward_without_grad_requirement_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).sum().backward()


def test_a_100000_node_chain_does_not_hit_the_recursion_limit():
    x = leaf(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    assert 100_000 > sys.getrecursionlimit()
    y.backward()
    assert x.grad == 1.0


def test_hooks_see_and_can_replace_gradients():
    x = leaf([1.0, 2.0])
    h = x * 3
    seen = []
    handle = h.register_hook(lambda g: seen.append(np.array(g)) or g * 0 + 1)   # g: a Tensor
    h.retain_grad()
    h.sum().backward()
    np.testing.assert_array_equal(seen[0], [1.0, 1.0])
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    np.testing.assert_array_equal(h.grad, [1.0, 1.0])
    handle.remove()
    assert h._hooks == []


def test_integer_index_tensor_and_grad_dtype():
    x = mg.tensor(np.arange(4.0, dtype=np.float32), requires_grad=True)
    F.relu(x[mg.tensor([1, 3])]).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [0, 1, 0, 1])


class ScaleShift(mg.Function):
    """y = x * s (+ b if b is given);  dL/dx = dL/dy * s, dL/db = dL/dy."""

    def forward(self, x, b, s):
        self.s = s
        return x * s if b is None else x * s + b

    def backward(self, grad):
        return grad * self.s, grad


def test_a_none_input_passes_through_apply_and_backward():
    x, b = leaf([1.0, 2.0]), leaf([0.5, 0.5])
    y = ScaleShift.apply(x, None, s=3.0)             # as conv2d(x, w, bias=None)
    assert y.grad_fn.inputs == (x, None)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    x.grad = None
    ScaleShift.apply(x, b, s=2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


def test_backward_frees_what_forward_saved_unless_the_graph_is_retained():
    x = leaf([1.0, 2.0])
    kept = ScaleShift.apply(x, None, s=3.0)
    kept.sum().backward(retain_graph=True)
    assert kept.grad_fn.s == 3.0 and not kept.grad_fn.freed
    freed = ScaleShift.apply(x, None, s=3.0)
    freed.sum().backward()
    assert freed.grad_fn.freed and not hasattr(freed.grad_fn, "s")
    assert freed.grad_fn.inputs == (x, None)         # the graph's shape is kept, its buffers not
