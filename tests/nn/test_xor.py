"""End to end: a tiny MLP learns XOR (well under a second)."""
import numpy as np

import minigrad.nn as nn
from minigrad import Tensor
from minigrad.functional import binary_cross_entropy_with_logits
from minigrad.optim import Adam


def test_mlp_learns_xor():
    nn.manual_seed(0)
    x = Tensor(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32))
    y = np.array([[0], [1], [1], [0]], np.float32)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    optimizer = Adam(model.parameters(), lr=0.05)
    for _ in range(150):
        optimizer.zero_grad()
        binary_cross_entropy_with_logits(model(x), y).backward()
        optimizer.step()
    predictions = model(x).data > 0
    assert np.array_equal(predictions, y == 1)
