"""Write your own op: softplus, as a minigrad Function, property-tested with hypothesis.

    softplus(x) = log(1 + exp(x))        d softplus / dx = sigmoid(x)

Three steps, the same for any op:
  1. forward on NumPy arrays, saving what backward needs on `self`;
  2. backward: multiply the incoming gradient by the local derivative (the chain rule);
  3. let hypothesis throw random shapes and values at it and compare the backward with
     central differences (`assert_gradients_match`).
Run: python examples/write_your_own_op.py   (needs the `test` extra: pip install '.[test]')
"""
import numpy as np
from hypothesis import given, settings

import minigrad as mg
from minigrad.ops.activation import stable_sigmoid
from minigrad.testing import arrays, assert_gradients_match


class Softplus(mg.Function):
    """y = log(1 + exp(x));  dL/dx = dL/dy * sigmoid(x)."""

    def forward(self, x):
        self.x = x
        # log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)): no overflow for large |x|.
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    def backward(self, grad):
        return grad * stable_sigmoid(self.x)


def softplus(x):
    return Softplus.apply(x)


@settings(max_examples=50, deadline=None)
@given(arrays(min_value=-30, max_value=30))
def test_softplus_gradient(x):
    assert_gradients_match(softplus, x)


@settings(max_examples=50, deadline=None)
@given(arrays(min_value=-30, max_value=30))
def test_softplus_forward(x):
    np.testing.assert_allclose(softplus(mg.tensor(x)).data, np.logaddexp(0, x), rtol=1e-12)


if __name__ == "__main__":
    test_softplus_forward()
    test_softplus_gradient()
    print("softplus: forward matches NumPy and backward matches central differences "
          "on 50 random arrays each")
    x = mg.tensor([-1000.0, -1.0, 0.0, 1.0, 1000.0], requires_grad=True)
    softplus(x).sum().backward()
    print("softplus([-1000, -1, 0, 1, 1000]) gradient:", x.grad)
