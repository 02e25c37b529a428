# %% [markdown]
# # Write your own op: softplus, as a minigrad Function, property-tested with hypothesis
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
#     softplus(x) = log(1 + exp(x))        d softplus / dx = sigmoid(x)
#
# Three steps, the same for any op:
#   1. forward on NumPy arrays, saving what backward needs on `self`;
#   2. backward: multiply the incoming gradient by the local derivative (the chain rule);
#   3. let hypothesis throw random shapes and values at it and compare the backward with
#      central differences (`assert_gradients_match`).
# Run: python examples/write_your_own_op.py   (needs the `test` extra: pip install '.[test]')

# %%
import numpy as np
from hypothesis import given, settings

import minigrad as mg
from minigrad.lessons import Lesson
from minigrad.ops.activation import stable_sigmoid
from minigrad.testing import arrays, assert_gradients_match


# %%
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


# %%
@settings(max_examples=50, deadline=None)
@given(arrays(min_value=-30, max_value=30))
def test_softplus_gradient(x):
    assert_gradients_match(softplus, x)


@settings(max_examples=50, deadline=None)
@given(arrays(min_value=-30, max_value=30))
def test_softplus_forward(x):
    np.testing.assert_allclose(softplus(mg.tensor(x)).data, np.logaddexp(0, x), rtol=1e-12)


# %%
if __name__ == "__main__":
    lesson = Lesson()
    try:
        test_softplus_forward()
        test_softplus_gradient()
        passed = True
    except AssertionError as failure:             # hypothesis re-raises the smallest failure
        print(failure)
        passed = False
    x = mg.tensor([-1000.0, -1.0, 0.0, 1.0, 1000.0], requires_grad=True)
    softplus(x).sum().backward()
    print("softplus([-1000, -1, 0, 1, 1000]) gradient:", x.grad)
    expected = [0.0, 1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-1)), 1.0]      # sigmoid, float32
    lesson.claim(passed and np.allclose(x.grad.data, expected, rtol=1e-6, atol=1e-7),
                 "softplus: forward matches NumPy and backward matches central differences on "
                 "50 random arrays each, and its gradient at +-1000 is sigmoid's (0 and 1), "
                 "not NaN")
