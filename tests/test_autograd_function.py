"""minigrad.autograd.Function: PyTorch's protocol for a custom op (static forward/backward on
Tensors, ctx), on top of minigrad's own Function."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad.autograd import Function
from minigrad.testing import arrays, assert_gradients_match, broadcastable_shapes
from tests.helpers import leaf, torch_or_skip


def legendre_polynomial_3(base):
    """The custom Function of PyTorch's "Learning PyTorch with Examples", section "Defining new
    autograd functions" (pytorch/tutorials, beginner_source/examples_autograd/
    polynomial_custom_function.py, BSD-3-Clause), for either library's autograd.Function."""

    class LegendrePolynomial3(base):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    return LegendrePolynomial3


def fit_sine(torch, steps):
    """The tutorial's training loop. Edits: x and y come from NumPy (one array for both
    libraries), `torch.full((), v, requires_grad=True)` is `torch.tensor(v, requires_grad=True)`,
    `.pow(2)` is `** 2`, and the losses are returned instead of printed."""
    x_array = np.linspace(-math.pi, math.pi, 2000, dtype=np.float32)
    x, y = torch.tensor(x_array), torch.tensor(np.sin(x_array))
    a, b, c, d = (torch.tensor(np.float32(v), requires_grad=True) for v in (0.0, -1.0, 0.0, 0.3))
    P3 = legendre_polynomial_3(torch.autograd.Function).apply
    learning_rate, losses = 5e-6, []
    for _ in range(steps):
        y_pred = a + b * P3(c + d * x)
        loss = ((y_pred - y) ** 2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= learning_rate * p.grad
                p.grad = None
    return np.array(losses), np.array([p.item() for p in (a, b, c, d)])


def test_the_tutorials_legendre_polynomial_trains_as_in_torch():
    torch = torch_or_skip()
    torch.set_num_threads(1)
    losses, coefficients = fit_sine(mg, 2000)
    expected_losses, expected_coefficients = fit_sine(torch, 2000)
    assert losses[-1] < 0.05 * losses[0]                   # it learned: the tutorial's claim
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)
    np.testing.assert_allclose(coefficients, expected_coefficients, rtol=1e-5, atol=1e-6)


class ScaledProduct(Function):
    """z = k x y with broadcasting (k a Python number): several inputs, one of them no Tensor."""

    @staticmethod
    def forward(ctx, x, y, k):
        ctx.save_for_backward(x, y)
        ctx.k = k
        return k * x * y

    @staticmethod
    def backward(ctx, grad_output):
        x, y = ctx.saved_tensors
        grad_x = grad_output * ctx.k * y if ctx.needs_input_grad[0] else None
        grad_y = grad_output * ctx.k * x if ctx.needs_input_grad[1] else None
        return grad_x, grad_y, None      # gradients in the broadcast shape: summed back for us


@given(shapes=broadcastable_shapes(2), k=st.floats(-3, 3), data=st.data())
def test_a_custom_function_of_several_inputs_passes_gradcheck(shapes, k, data):
    x, y = (data.draw(arrays(shape)) for shape in shapes)
    np.testing.assert_allclose(ScaledProduct.apply(mg.tensor(x), mg.tensor(y), k).data, k * x * y)
    assert_gradients_match(lambda a, b: ScaledProduct.apply(a, b, k), x, y)


def test_a_custom_function_gives_torchs_gradients():
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 1)), rng.normal(size=(2, 1, 4))

    class TorchScaledProduct(torch.autograd.Function):
        forward, backward = ScaledProduct.forward, ScaledProduct.backward

    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    TorchScaledProduct.apply(tx, ty, 2.5).tanh().sum().backward()
    mx, my = leaf(x), leaf(y)
    ScaledProduct.apply(mx, my, 2.5).tanh().sum().backward()
    np.testing.assert_allclose(np.asarray(mx.grad), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(my.grad), ty.grad.numpy(), rtol=1e-12)


def test_ctx_holds_needs_input_grad_per_argument_and_any_attribute():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, x, y, k):
            seen["forward"] = (ctx.needs_input_grad, mg.is_grad_enabled(), type(x), type(k))
            ctx.note = "kept"
            return x * y

        @staticmethod
        def backward(ctx, grad_output):
            seen["backward"] = (ctx.note, mg.is_grad_enabled(), type(grad_output))
            return grad_output, None, None

    x = leaf([1.0, 2.0])
    out = Probe.apply(x, mg.tensor([3.0, 4.0]), 7)
    inner = (x * 2)                                     # recorded out here, not inside forward
    out.sum().backward()
    assert seen["forward"] == ((True, False, False), False, mg.Tensor, int)
    assert seen["backward"] == ("kept", False, mg.Tensor)
    assert inner.grad_fn is not None and out.grad_fn is not None
    np.testing.assert_array_equal(np.asarray(x.grad), [1.0, 1.0])


def test_forward_records_no_graph_inside():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            inside = x * x
            ctx.save_for_backward(x, inside)
            assert inside.grad_fn is None and not inside.requires_grad
            return inside

        @staticmethod
        def backward(ctx, grad_output):
            x, _ = ctx.saved_tensors
            return 2 * x * grad_output

    x = leaf([3.0])
    y = Square.apply(x)
    assert y.requires_grad and repr(y.grad_fn) == "<SquareBackward>"
    y.backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [6.0])
    assert repr(y.grad_fn) == "<SquareBackward>"          # still named after backward freed it


def test_the_same_tensor_twice_gets_both_gradients():
    x = leaf([1.0, -2.0])
    ScaledProduct.apply(x, x, 3.0).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), 6.0 * np.array([1.0, -2.0]))


def test_under_no_grad_apply_records_nothing():
    with mg.no_grad():
        y = ScaledProduct.apply(leaf([1.0]), leaf([2.0]), 1.0)
    assert not y.requires_grad and y.grad_fn is None


def test_retain_graph_keeps_ctx_for_a_second_backward():
    x = leaf([1.0, 2.0])
    y = ScaledProduct.apply(x, mg.tensor([5.0, 5.0]), 1.0).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [10.0, 10.0])
    with pytest.raises(RuntimeError, match="a second time"):
        y.backward()


def test_the_gradient_takes_the_inputs_dtype_as_in_torch():
    class Float64Gradient(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad_output):
            return mg.tensor(np.full(grad_output.shape, 2.0, np.float64))

    x = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    Float64Gradient.apply(x).sum().backward()
    assert np.asarray(x.grad).dtype == np.float32


def test_pytorch_2s_setup_context_style():
    class Cube(Function):
        @staticmethod
        def forward(x):
            return x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, grad_output):
            x, = ctx.saved_tensors
            return 3 * x ** 2 * grad_output

    assert_gradients_match(Cube.apply, np.array([0.5, -1.5, 2.0]))


def custom(backward_result=None, forward_result=None):
    """A Function of (x, y, k) whose forward or backward returns the given thing."""
    class Faulty(Function):
        @staticmethod
        def forward(ctx, x, y, k):
            return x * y if forward_result is None else forward_result

        @staticmethod
        def backward(ctx, grad_output):
            return backward_result(grad_output)

    return Faulty


def test_extra_trailing_nones_are_accepted_as_in_torch():
    x, y = leaf([1.0]), leaf([3.0])
    custom(lambda g: (g * 2, g * 3, None, None, None)).apply(x, y, 1.5).backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [2.0])
    np.testing.assert_array_equal(np.asarray(y.grad), [3.0])


# ----- what goes wrong gets a sentence that names the function ----------------------------------
@pytest.mark.parametrize("backward, error, message", [
    (lambda g: g, RuntimeError,
     r"Faulty.backward returned 1 gradient\(s\); forward took 3 argument\(s\)"),
    (lambda g: (g, g, None, g), RuntimeError, r"Faulty.backward returned 4 gradient\(s\)"),
    (lambda g: (g, g, g), RuntimeError,
     r"Faulty.backward returned a gradient for argument 2 of forward, a float, not a Tensor"),
    (lambda g: (g.numpy(), g, None), TypeError,
     r"Faulty.backward returned a ndarray for argument 0; it must return a Tensor or None"),
    (lambda g: (g, mg.tensor(np.ones(3)), None), ValueError,
     r"Faulty.backward returned a gradient of shape \(3,\) for argument 1 of forward, of "
     r"shape \(2,\)"),
])
def test_a_wrong_backward_is_named(backward, error, message):
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    out = custom(backward).apply(x, y, 1.5)
    with pytest.raises(error, match=message):
        out.sum().backward()
    assert x.grad is None and y.grad is None


def test_a_forward_that_returns_no_tensor_is_named():
    with pytest.raises(TypeError, match=r"Faulty.forward returned a ndarray; it must return one "
                                        r"Tensor"):
        custom(forward_result=np.zeros(2)).apply(leaf([1.0, 2.0]), leaf([1.0, 2.0]), 1)
    with pytest.raises(TypeError, match=r"Faulty.forward returned a tuple"):
        custom(forward_result=(mg.tensor(1.0), mg.tensor(2.0))).apply(leaf([1.0]), leaf([1.0]),
                                                                      1)


def test_save_for_backward_takes_tensors_only():
    class SavesANumber(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, None, 3)
            return x

    with pytest.raises(TypeError, match="save_for_backward saves Tensors .*argument 2 is a int"):
        SavesANumber.apply(leaf([1.0]))


def test_the_old_style_call_of_an_instance_is_refused():
    with pytest.raises(TypeError, match=r"call ScaledProduct.apply\(...\)"):
        ScaledProduct()(leaf([1.0]), leaf([1.0]), 1.0)


def test_a_function_without_backward_says_so():
    class ForwardOnly(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    with pytest.raises(NotImplementedError, match=r"must define @staticmethod backward"):
        ForwardOnly.apply(leaf([1.0])).sum().backward()


@pytest.mark.parametrize("mark", ["mark_dirty", "mark_non_differentiable",
                                  "set_materialize_grads"])
def test_the_ctx_marks_minigrad_lacks_are_refused_with_a_sentence(mark):
    class Marks(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            getattr(ctx, mark)(x)
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    with pytest.raises(NotImplementedError, match=f"ctx.{mark} is not supported"):
        Marks.apply(mg.tensor([1.0], requires_grad=True))
