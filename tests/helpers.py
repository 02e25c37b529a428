"""Shared test helpers: float64 leaf tensors and an optional torch import."""
import numpy as np
import pytest

import minigrad as mg


def leaf(array):
    """A float64 leaf that requires grad (what gradcheck needs)."""
    return mg.Tensor(np.array(array, dtype=np.float64), requires_grad=True)


def torch_or_skip():
    return pytest.importorskip("torch")

