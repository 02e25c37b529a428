import numpy as np
import pytest

import minigrad as mg
from minigrad import GradcheckError, gradcheck
from tests.helpers import leaf


class WrongSquare(mg.Function):
    """y = x**2 with a deliberately wrong backward (x instead of 2x)."""

    def forward(self, x):
        self.x = x
        return x ** 2

    def backward(self, grad):
        return grad * self.x


def test_gradcheck_accepts_a_correct_op():
    assert gradcheck(lambda a, b: (a * b).tanh(), leaf([[0.1, -0.4]]), leaf([1.5, 0.3]))


def test_gradcheck_takes_torchs_tuple_of_inputs():
    a, b = leaf([[0.1, -0.4]]), leaf([1.5, 0.3])
    assert gradcheck(lambda a, b: (a * b).tanh(), (a, b))
    assert gradcheck(lambda a: a.sum(), [a])
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: WrongSquare.apply(t), (leaf([1.0, 2.0]),))


def test_gradcheck_reports_input_index_and_both_values():
    x = leaf([1.0, 2.0])
    with pytest.raises(GradcheckError) as report:
        gradcheck(lambda t: WrongSquare.apply(t), x)
    message = str(report.value)
    assert "input 0" in message and "index (0,)" in message
    assert "autograd" in message and "numerical" in message


def test_gradcheck_needs_float64_and_a_grad_input():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * 2, mg.tensor([1.0], requires_grad=True))
    with pytest.raises(ValueError, match="nothing to check"):
        gradcheck(lambda t: t * 2, mg.tensor(np.ones(1)))
