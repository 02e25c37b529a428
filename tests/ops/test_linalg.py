import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad.testing import arrays, assert_gradients_match, assert_second_gradients_match
from tests.helpers import leaf, torch_or_skip


@st.composite
def matmul_shapes(draw):
    m, n, p = (draw(st.integers(1, 4)) for _ in range(3))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    batch_a = [draw(st.sampled_from([b, 1])) for b in batch]
    batch_b = [draw(st.sampled_from([b, 1])) for b in batch][draw(st.integers(0, len(batch))):]
    a = draw(st.sampled_from([(n,), tuple(batch_a) + (m, n)]))
    b = draw(st.sampled_from([(n,), tuple(batch_b) + (n, p)]))
    return a, b


@given(matmul_shapes(), st.data())
def test_matmul_1d_2d_batched_and_broadcast(shapes, data):
    a, b = data.draw(arrays(shapes[0])), data.draw(arrays(shapes[1]))
    np.testing.assert_allclose((mg.tensor(a) @ mg.tensor(b)).data, a @ b, rtol=1e-12)
    assert_gradients_match(lambda x, y: x @ y, a, b)


def test_mismatched_shapes_name_both():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        mg.tensor(np.zeros((2, 3))) @ mg.tensor(np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"batch dimensions of shapes \(2, 1, 3\) and \(3, 3, 1\)"):
        mg.tensor(np.zeros((2, 1, 3))) @ mg.tensor(np.zeros((3, 3, 1)))


def test_matmul_against_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 1, 3, 4)), rng.normal(size=(5, 4, 2))
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (ta @ tb).tanh().sum().backward()
    ma, mb = leaf(a), leaf(b)
    (ma @ mb).tanh().sum().backward()
    np.testing.assert_allclose(ma.grad, ta.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(mb.grad, tb.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("needs", ["a", "b"])
def test_only_the_operand_that_requires_grad_gets_one(needs):
    """As x @ W in a first layer (the data needs no gradient) or a frozen W in saliency."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    ta = leaf(a) if needs == "a" else mg.tensor(a)
    tb = leaf(b) if needs == "b" else mg.tensor(b)
    g = rng.normal(size=(2, 4))
    (ta @ tb).backward(g)
    if needs == "a":
        assert tb.grad is None
        np.testing.assert_allclose(ta.grad, g @ b.T, rtol=1e-12)
    else:
        assert ta.grad is None
        np.testing.assert_allclose(tb.grad, a.T @ g, rtol=1e-12)


@given(st.lists(st.integers(1, 3), max_size=2), st.integers(1, 4), st.integers(1, 4),
       st.booleans(), st.data())
def test_linear_is_x_times_weight_transposed_plus_bias(batch, n_in, n_out, with_bias, data):
    x = data.draw(arrays(tuple(batch) + (n_in,)))
    w = data.draw(arrays((n_out, n_in)))
    b = data.draw(arrays((n_out,)))
    expected = x @ w.T + (b if with_bias else 0.0)
    got = F.linear(mg.tensor(x), mg.tensor(w), mg.tensor(b) if with_bias else None)
    np.testing.assert_allclose(got.data, expected, rtol=1e-12, atol=1e-12)
    if with_bias:
        assert_gradients_match(F.linear, x, w, b)
    else:
        assert_gradients_match(F.linear, x, w)


def test_linear_against_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(4)
    x, w, b = rng.normal(size=(5, 3)), rng.normal(size=(2, 3)), rng.normal(size=(2,))
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    torch.nn.functional.linear(tx, tw, tb).tanh().sum().backward()
    mx, mw, mb = leaf(x), leaf(w), leaf(b)
    F.linear(mx, mw, mb).tanh().sum().backward()
    for mine, theirs in ((mx, tx), (mw, tw), (mb, tb)):
        np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("dtype, hint", [(np.uint8, r" \(uint8 images: scale them to float32 "
                                                    r"in \[0, 1\] first, e\.g\. with "
                                                    r"ScaleUint8\(\)"),
                                         (np.int64, "$")])
def test_linear_refuses_integer_inputs_instead_of_promoting_them(dtype, hint):
    """As torch.nn.functional.linear (which raises for a uint8 or int64 input and a float32
    weight): raw uint8 pixels in a Linear layer are a missing ScaleUint8, not numbers to use."""
    x = mg.tensor(np.zeros((2, 3), dtype=dtype))
    with pytest.raises(TypeError, match=rf"linear: expected a floating-point input, got dtype "
                                        rf"{np.dtype(dtype)}{hint}"):
        F.linear(x, mg.tensor(np.ones((4, 3), np.float32)))


@given(st.lists(st.integers(1, 3), max_size=2), st.integers(1, 4), st.integers(1, 4),
       st.booleans(), st.data())
def test_linear_differentiates_twice(batch, n_in, n_out, with_bias, data):
    """Linear is one node (#29), with a second-order rule of its own: gradients of its gradients
    against float64 central differences."""
    x = data.draw(arrays(tuple(batch) + (n_in,)))
    w, b = data.draw(arrays((n_out, n_in))), data.draw(arrays((n_out,)))
    inputs = (x, w, b) if with_bias else (x, w)
    assert_second_gradients_match(lambda *args: F.linear(*args).tanh(), *inputs)
    plain, recorded = [leaf(v) for v in inputs], [leaf(v) for v in inputs]
    F.linear(*plain).tanh().sum().backward()          # the same first gradients either way
    firsts = mg.autograd.grad(F.linear(*recorded).tanh().sum(), recorded, create_graph=True)
    for tensor, first in zip(plain, firsts):
        np.testing.assert_allclose(first.data, tensor.grad.data, rtol=1e-12, atol=1e-12)


def test_linear_is_one_node_and_fills_only_the_gradients_wanted():
    """A first layer: the data needs no gradient, the weight and bias do."""
    from minigrad.ops.linalg import Linear
    rng = np.random.default_rng(5)
    x, w, b, g = (rng.normal(size=s) for s in ((2, 3, 4), (5, 4), (5,), (2, 3, 5)))
    tx, tw, tb = mg.tensor(x), leaf(w), leaf(b)
    y = F.linear(tx, tw, tb)
    assert type(y.grad_fn) is Linear and y.grad_fn.inputs == (tx, tw, tb)
    y.backward(g)
    assert tx.grad is None
    np.testing.assert_allclose(tw.grad, g.reshape(-1, 5).T @ x.reshape(-1, 4), rtol=1e-12)
    np.testing.assert_allclose(tb.grad, g.sum(axis=(0, 1)), rtol=1e-12)
    assert Linear().piecewise_linear([True, False, False])
    assert not Linear().piecewise_linear([True, True, False])


@pytest.mark.parametrize("bias_dtype", [np.float32, np.float64])
def test_linear_in_float32_promotes_as_numpy_does(bias_dtype):
    rng = np.random.default_rng(6)
    x, w = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(2, 4)).astype(np.float32)
    b = rng.normal(size=2).astype(bias_dtype)
    y = F.linear(mg.tensor(x), mg.tensor(w), mg.tensor(b))
    expected = x @ w.T + b
    assert y.dtype == expected.dtype
    np.testing.assert_allclose(y.data, expected, rtol=1e-6)


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 5), st.integers(1, 5), st.data())
def test_linear_on_stacks_against_torch(n, length, n_in, n_out, data):
    torch = torch_or_skip()
    x, w, b = (data.draw(arrays(s)) for s in ((n, length, n_in), (n_out, n_in), (n_out,)))
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    ty = torch.nn.functional.linear(tx, tw, tb)
    (ty * ty).sum().backward()
    mx, mw, mb = leaf(x), leaf(w), leaf(b)
    my = F.linear(mx, mw, mb)
    (my * my).sum().backward()
    np.testing.assert_allclose(my.data, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for mine, theirs in ((mx, tx), (mw, tw), (mb, tb)):
        np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_linear_with_no_input_features_is_the_bias_as_in_torch():
    y = F.linear(mg.tensor(np.zeros((3, 0))), mg.tensor(np.zeros((4, 0))),
                 mg.tensor(np.arange(4.0)))
    np.testing.assert_array_equal(y.data, np.tile(np.arange(4.0), (3, 1)))


def test_linear_refuses_an_integer_weight_as_torch_does():
    with pytest.raises(TypeError, match="linear: expected a floating-point weight, got dtype "
                                        "int64"):
        F.linear(mg.tensor(np.zeros((2, 3))), np.zeros((4, 3), np.int64))


def test_linear_is_affine_unless_x_and_the_weight_both_vary():
    from minigrad.ops.linalg import Linear
    assert Linear().piecewise_linear([True, False, True])        # x and b vary: affine
    assert Linear().piecewise_linear([False, True, True])
    assert not Linear().piecewise_linear([True, True, False])
