"""Initialisers: gains, fans, bounds and variances as in PyTorch; reproducible with manual_seed."""
import math

import numpy as np
import pytest

import minigrad.nn as nn
from minigrad.nn import init


def test_gains_and_fans():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.fans((8, 3, 5, 5)) == (75, 200) and init.fans((10, 4)) == (4, 10)
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.fans((5,))


@pytest.mark.parametrize("initialise, expected_std", [
    (lambda w: init.xavier_uniform_(w), math.sqrt(2 / (200 + 100))),
    (lambda w: init.xavier_normal_(w, gain=2.0), 2 * math.sqrt(2 / (200 + 100))),
    (lambda w: init.kaiming_uniform_(w, nonlinearity="relu"), math.sqrt(2 / 200)),
    (lambda w: init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"), math.sqrt(2 / 100)),
])
def test_initialisers_have_the_textbook_standard_deviation(initialise, expected_std):
    weight = nn.Parameter(np.zeros((100, 200), np.float32))
    assert initialise(weight) is weight
    assert weight.data.std() == pytest.approx(expected_std, rel=0.03)
    assert abs(weight.data.mean()) < 0.1 * expected_std


def test_uniform_bound_and_reproducibility():
    nn.manual_seed(1)
    first = init.kaiming_uniform_(np.zeros((30, 12)), a=math.sqrt(5))
    assert np.abs(first).max() <= 1 / math.sqrt(12)
    nn.manual_seed(1)
    np.testing.assert_array_equal(init.kaiming_uniform_(np.zeros((30, 12)), a=math.sqrt(5)), first)
    nn.manual_seed(1)
    np.testing.assert_array_equal(nn.Linear(12, 30).weight.data, first.astype(np.float32))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_normal_(np.zeros((3, 3)), mode="fan")


def test_constant_fills():
    w = nn.Parameter(np.ones((2, 3), np.float32))
    assert not np.any(init.zeros_(w).data)
    assert np.all(init.ones_(w).data == 1) and np.all(init.constant_(w, 0.5).data == 0.5)
