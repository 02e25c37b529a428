import shutil

import numpy as np
import pytest

import minigrad as mg
from minigrad.viz import graph_dot


def test_graph_dot_has_one_node_per_op_and_leaf():
    w = mg.tensor(np.ones((3, 2)), requires_grad=True)
    x = mg.tensor(np.ones((4, 3)))
    y = (x @ w).relu().sum()
    dot = graph_dot(y)
    assert dot.startswith("digraph")
    assert 'label="MatMul\\n4x2"' in dot and 'label="ReLU\\n4x2"' in dot
    assert 'label="Sum\\nscalar"' in dot
    assert dot.count("leaf") == 1            # x does not require grad: not part of the graph
    assert dot.count("->") == 3


def test_graph_renders_png_when_graphviz_is_present(tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` is not installed")
    x = mg.tensor([1.0], requires_grad=True)
    graph_dot((x * 2).sum(), tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
