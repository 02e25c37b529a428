"""Numerical gradient check: autograd's answer against central differences, in float64.

For each input x that requires grad and each element x[i]:

    dL/dx[i]  ~=  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)        (error O(eps**2))

with L = sum(fn(*inputs) * W) for a fixed random W, so that every element of a non-scalar output
is checked with a different weight (a plain sum would hide errors that cancel out).

`gradgradcheck` checks second derivatives the same way: it runs `gradcheck` on the first
derivative, (inputs, W) -> dL/d(inputs) computed by autograd with create_graph=True, whose
autograd gradient is then a second derivative and is compared with central differences of the
first derivative.
"""
import numpy as np

from minigrad.ops.shape import cat, reshape
from minigrad.tensor import Tensor, enable_grad, grad, no_grad


class GradcheckError(AssertionError):
    """Autograd and the numerical gradient disagree; the message says where and by how much."""


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Check fn's autograd gradients against central differences; True, or GradcheckError.

    `inputs` are Tensors (float64 for every one that requires grad) or other arguments passed
    through unchanged. `fn(*inputs)` must return a floating-point Tensor. PyTorch's form, the
    inputs as one tuple, works too: `gradcheck(fn, (x, y))` is `gradcheck(fn, x, y)`.
    """
    inputs, checked = _checked_inputs(inputs, "gradcheck")
    output = fn(*inputs)
    weights = np.random.default_rng(seed).standard_normal(output.shape)
    for i in checked:
        inputs[i].grad = None
    if output.requires_grad:          # else autograd says the output is constant: gradient 0
        output.backward(weights)
    for i in checked:
        grad = inputs[i].grad
        analytic = grad.data if grad is not None else np.zeros(inputs[i].shape)
        numeric = numerical_gradient(lambda: np.sum(fn(*inputs).data * weights), inputs[i].data,
                                     eps)
        _compare(i, inputs[i].shape, analytic, numeric, atol, rtol)
    return True


def gradgradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Check fn's second derivatives against central differences of its first; True, or
    GradcheckError. The inputs are gradcheck's; the random dL/d(output) W is checked as one
    more input (last in the messages), since a gradient also depends on it."""
    inputs, checked = _checked_inputs(inputs, "gradgradcheck")
    with no_grad():
        shape = fn(*inputs).shape
    weights = Tensor(np.random.default_rng(seed + 1).standard_normal(shape), requires_grad=True)

    def first_derivative(*inputs_and_weights):
        *arguments, output_grad = inputs_and_weights
        with enable_grad():         # gradcheck's central differences run under no_grad
            grads = grad(fn(*arguments), [arguments[i] for i in checked], output_grad,
                         create_graph=True, allow_unused=True)
        return cat([reshape(g if g is not None else Tensor(np.zeros(arguments[i].shape)), (-1,))
                    for i, g in zip(checked, grads)])

    return gradcheck(first_derivative, *inputs, weights, eps=eps, atol=atol, rtol=rtol,
                     seed=seed)


def _checked_inputs(inputs, name):
    """The inputs as a tuple (PyTorch's form, one tuple, too), and the positions of those that
    require grad, each float64."""
    if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)):
        inputs = tuple(inputs[0])
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError(f"{name}: no input has requires_grad=True, there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"{name}: input {i} must be float64 for accurate finite "
                            f"differences, got {inputs[i].dtype}")
    return inputs, checked


def numerical_gradient(scalar_fn, x, eps=1e-6):
    """d scalar_fn() / dx by central differences, nudging the array `x` in place (and restoring)."""
    grad = np.zeros_like(x, dtype=np.float64)
    with no_grad():
        for index in np.ndindex(x.shape):
            original = x[index]
            x[index] = original + eps
            plus = scalar_fn()
            x[index] = original - eps
            minus = scalar_fn()
            x[index] = original
            grad[index] = (plus - minus) / (2 * eps)
    return grad


def _compare(position, shape, analytic, numeric, atol, rtol):
    if analytic.shape != numeric.shape:
        raise GradcheckError(f"input {position}: autograd gradient has shape {analytic.shape}, "
                             f"expected the input's shape {shape}")
    bad = ~(np.abs(analytic - numeric) <= atol + rtol * np.abs(numeric))
    if bad.any():
        index = tuple(int(k) for k in np.argwhere(bad)[0])
        raise GradcheckError(f"gradient mismatch for input {position} (shape {shape}) at index "
                             f"{index}: autograd {analytic[index]!r}, numerical "
                             f"{numeric[index]!r} ({int(bad.sum())} of {bad.size} elements "
                             f"differ beyond atol={atol}, rtol={rtol})")
