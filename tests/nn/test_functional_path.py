"""PyTorch's path to the functional API, `torch.nn.functional`, is minigrad.functional itself."""
import importlib

import minigrad
import minigrad.functional


def test_import_minigrad_nn_functional_is_minigrad_functional():
    import minigrad.nn.functional as F
    from minigrad.nn import functional as G
    assert F is G is minigrad.functional is importlib.import_module("minigrad.nn.functional")
    assert minigrad.nn.functional.cross_entropy is minigrad.functional.cross_entropy
