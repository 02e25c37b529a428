import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad.ops import elementwise
from minigrad.testing import arrays, assert_gradients_match, broadcastable_shapes
from tests.helpers import leaf, torch_or_skip

BINARY = {
    "add": (F.add, np.add),
    "sub": (F.sub, np.subtract),
    "mul": (F.mul, np.multiply),
    "div": (F.div, np.divide),
}


@pytest.mark.parametrize("name", BINARY)
@given(data=st.data())
def test_binary_ops_broadcast_forward_and_backward(name, data):
    op, reference = BINARY[name]
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a = data.draw(arrays(shape_a))
    b = data.draw(arrays(shape_b, away_from=0.0, margin=0.5) if name == "div" else arrays(shape_b))
    np.testing.assert_allclose(op(mg.tensor(a), mg.tensor(b)).data, reference(a, b), rtol=1e-12)
    assert_gradients_match(op, a, b)


@given(data=st.data())
def test_pow_with_tensor_exponent(data):
    shape_x, shape_p = data.draw(broadcastable_shapes())
    x = data.draw(arrays(shape_x, min_value=0.5, max_value=3.0))
    p = data.draw(arrays(shape_p, min_value=-2.0, max_value=2.0))
    np.testing.assert_allclose((mg.tensor(x) ** mg.tensor(p)).data, x ** p, rtol=1e-12)
    assert_gradients_match(lambda a, b: a ** b, x, p)


@given(arrays(), st.sampled_from([2, 3, -1, 0.5]))
def test_pow_with_scalar_exponent(x, exponent):
    if exponent in (-1, 0.5):
        x = np.abs(x) + 0.5
    assert_gradients_match(lambda a: a ** exponent, x)


def test_pow_exponent_gradient_at_zero_base_is_zero_like_torch():
    x, p = leaf([0.0, 0.0, 0.0, 2.0]), leaf([0.0, 0.5, 2.0, 3.0])
    (x ** p).sum().backward()
    np.testing.assert_array_equal(p.grad[:3], 0.0)              # lim x**p log x = 0 (p >= 0)
    assert np.isclose(p.grad[3], 8 * np.log(2))
    # d(x**p)/dx = p x**(p-1): 0 for the constant x**0, inf for sqrt at 0, 0 for x**2
    np.testing.assert_array_equal(x.grad, [0.0, np.inf, 0.0, 12.0])
    torch = torch_or_skip()
    tx, tp = (torch.tensor(a, dtype=torch.float64, requires_grad=True)
              for a in ([0.0, 0.0, 0.0, 2.0], [0.0, 0.5, 2.0, 3.0]))
    (tx ** tp).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy())
    np.testing.assert_allclose(p.grad, tp.grad.numpy())


def test_the_gradient_of_x_to_the_zero_is_zero_also_at_zero():
    x = leaf([0.0, 1.0, -2.0])
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad, 0.0)


UNARY = {
    "exp": (F.exp, np.exp, {}),
    "log": (F.log, np.log, {"min_value": 0.1}),
    "sqrt": (F.sqrt, np.sqrt, {"min_value": 0.1}),
    "abs": (F.abs, np.abs, {"away_from": 0.0}),
    "neg": (F.neg, np.negative, {}),
}


@pytest.mark.parametrize("name", UNARY)
@given(data=st.data())
def test_unary_ops(name, data):
    op, reference, value_range = UNARY[name]
    x = data.draw(arrays(**value_range))
    np.testing.assert_allclose(op(mg.tensor(x)).data, reference(x), rtol=1e-12)
    assert_gradients_match(op, x)


@given(arrays(away_from=[-1.0, 1.5]))
def test_clip(x):
    np.testing.assert_array_equal(F.clip(mg.tensor(x), -1.0, 1.5).data, np.clip(x, -1.0, 1.5))
    assert_gradients_match(lambda t: F.clip(t, min=-1.0, max=1.5), x)
    assert_gradients_match(lambda t: F.clip(t, min=-1.0), x)


def test_clip_passes_gradient_at_the_bounds_like_torch_clamp():
    x = leaf([-1.0, 0.0, 1.0, 2.0])
    F.clip(x, -1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [1, 1, 1, 0])


@given(data=st.data())
def test_maximum_minimum(data):
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    assume(np.all(np.abs(np.subtract(a, b)) > 1e-3))   # keep finite differences off the kink
    np.testing.assert_array_equal(F.maximum(mg.tensor(a), mg.tensor(b)).data, np.maximum(a, b))
    np.testing.assert_array_equal(F.minimum(mg.tensor(a), mg.tensor(b)).data, np.minimum(a, b))
    assert_gradients_match(F.maximum, a, b)
    assert_gradients_match(F.minimum, a, b)


def test_reflected_operators():
    x = leaf([1.0, 2.0, 4.0])
    y = (2 - x) + (1 / x) * 3 + 2 ** x - x * 0.5
    y.sum().backward()
    expected = -1 - 3 / x.data ** 2 + np.log(2) * 2 ** x.data - 0.5
    np.testing.assert_allclose(x.grad, expected)
    np.testing.assert_allclose(y.data, 2 - x.data + 3 / x.data + 2 ** x.data - 0.5 * x.data)


def test_constants_keep_float32():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2.0 + 1) / 3.0 - np.float64(1.0)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_non_broadcastable_pair_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        mg.tensor(np.zeros((2, 3))) + mg.tensor(np.zeros(4))


def test_elementwise_against_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.5, 2, (3, 4)), rng.uniform(0.5, 2, (4,))
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    ((ta * tb) / (ta + tb) - ta.log() * tb.sqrt() + (ta ** tb).exp() * 0.01).sum().backward()
    ma, mb = leaf(a), leaf(b)
    ((ma * mb) / (ma + mb) - ma.log() * mb.sqrt() + (ma ** mb).exp() * 0.01).sum().backward()
    np.testing.assert_allclose(ma.grad, ta.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(mb.grad, tb.grad.numpy(), rtol=1e-10)


def bool_subtractions(flags, numbers):
    """Every way a bool tensor can meet `-`: each is refused, in minigrad as in torch."""
    return (lambda: flags - flags, lambda: flags - 1, lambda: 1 - flags,
            lambda: numbers - flags, lambda: numbers - True)


def test_bool_subtraction_and_negation_are_refused_as_in_torch():
    flags, numbers = mg.tensor(np.array([True, False])), mg.tensor(np.array([1.5, 2.0]))
    for call in bool_subtractions(flags, numbers):
        with pytest.raises(TypeError, match="sub: subtraction with a bool tensor"):
            call()
    with pytest.raises(TypeError, match="neg: negating a bool tensor"):
        -flags
    np.testing.assert_array_equal((numbers - flags.astype(np.float64)).data, [0.5, 2.0])


def test_torch_refuses_bool_subtraction_and_negation_too():
    torch = torch_or_skip()
    flags, numbers = torch.tensor([True, False]), torch.tensor([1.5, 2.0])
    for call in bool_subtractions(flags, numbers):
        with pytest.raises(RuntimeError, match="Subtraction"):
            call()
    with pytest.raises(RuntimeError, match="Negation"):
        -flags


PROMOTION = [  # (left dtype, right dtype or Python number, op) -> torch's result dtype
    ("float32", "int64", "pow", "float32"), ("float32", "int64", "add", "float32"),
    ("float32", "int32", "mul", "float32"), ("float32", "bool", "mul", "float32"),
    ("int64", "float32", "sub", "float32"), ("float64", "int32", "div", "float64"),
    ("int64", "int64", "div", "float32"), ("int64", "int64", "add", "int64"),
    ("int64", "int64", "pow", "int64"), ("int64", 2.5, "mul", "float32"),
    ("int64", 2.5, "pow", "float32"), ("int64", 2, "mul", "int64"),
    ("float32", "float64", "add", "float64"),
]


def _operand(library, dtype):
    if not isinstance(dtype, str):
        return dtype
    return library.tensor(np.array([1, 2, 3]).astype(dtype))


@pytest.mark.parametrize("left, right, op, expected", PROMOTION)
def test_mixed_dtypes_promote_as_in_torch(left, right, op, expected):
    """NumPy would make float32 ** int64 float64 (and int / int float64); torch keeps float32."""
    function = getattr(elementwise, op)
    assert function(_operand(mg, left), _operand(mg, right)).dtype == np.dtype(expected)
    torch = pytest.importorskip("torch")
    torch_op = {"pow": torch.pow, "add": torch.add, "mul": torch.mul, "sub": torch.sub,
                "div": torch.div}[op]
    torch_dtype = torch_op(_operand(torch, left), _operand(torch, right)).dtype
    assert str(torch_dtype) == f"torch.{expected}"


def test_float32_to_an_integer_tensor_power_keeps_float32_values_and_gradient():
    x = mg.tensor([1.5, 2.0, 3.0], requires_grad=True)
    y = x ** mg.tensor([2, 3, 1])
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(y.data, [2.25, 8.0, 3.0])
    np.testing.assert_allclose(x.grad, [3.0, 12.0, 1.0])


# ----- sin and cos (#24) ---------------------------------------------------------------------
TRIGONOMETRY = {"sin": (F.sin, np.sin), "cos": (F.cos, np.cos)}


@pytest.mark.parametrize("name", TRIGONOMETRY)
@given(arrays(min_value=-7.0, max_value=7.0))
def test_sin_and_cos_forward_and_backward(name, x):
    op, reference = TRIGONOMETRY[name]
    np.testing.assert_allclose(op(mg.tensor(x)).data, reference(x), rtol=1e-12)
    assert_gradients_match(op, x)


def test_sin_and_cos_against_torch_top_level_and_methods():
    torch = torch_or_skip()
    values = np.linspace(-4, 4, 9)
    ours, theirs = leaf(values), torch.tensor(values, requires_grad=True)
    (mg.sin(ours) * ours.cos() + mg.cos(ours * 2)).sum().backward()
    (torch.sin(theirs) * theirs.cos() + torch.cos(theirs * 2)).sum().backward()
    np.testing.assert_allclose(np.asarray(ours.grad), theirs.grad.numpy(), rtol=1e-12)
    assert mg.sin(mg.tensor([1.0])).dtype == np.float32


@pytest.mark.parametrize("name", ["sin", "cos", "exp", "log", "sqrt"])
def test_functions_of_reals_make_integers_float32_as_torch(name):
    ours = getattr(F, name)(mg.tensor([1, 2, 4]))
    assert ours.dtype == np.float32
    torch = torch_or_skip()
    theirs = getattr(torch, name)(torch.tensor([1, 2, 4]))
    assert theirs.dtype == torch.float32
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)


# ----- where (#24) ---------------------------------------------------------------------------
@given(data=st.data())
def test_where_forward_and_backward_broadcast(data):
    shape_c, shape_a, shape_b = data.draw(broadcastable_shapes(num_shapes=3))
    condition = data.draw(arrays(shape_c)) > 0
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    np.testing.assert_array_equal(F.where(mg.tensor(condition), mg.tensor(a), mg.tensor(b)).data,
                                  np.where(condition, a, b))
    assert_gradients_match(lambda p, q: F.where(mg.tensor(condition), p, q), a, b)


def test_where_against_torch_with_numbers_and_a_comparison():
    torch = torch_or_skip()
    values = np.array([[-1.0, 2.0], [0.5, -3.0]])
    ours, theirs = leaf(values), torch.tensor(values, requires_grad=True)
    mg.where(ours > 0, ours * 2, 0.0).sum().backward()
    torch.where(theirs > 0, theirs * 2, 0.0).sum().backward()
    np.testing.assert_array_equal(np.asarray(ours.grad), theirs.grad.numpy())
    assert mg.where(mg.tensor([1.0, -1.0]) > 0, mg.tensor([1.0, 2.0]), 0).dtype == np.float32
    mask = mg.tensor([True, False])
    for numbers in ((1.0, 0.0), (1, 0.5), (0.5, 1), (1, 0)):
        ours = mg.where(mask, *numbers)
        theirs = torch.where(torch.tensor([True, False]), *numbers)
        assert str(theirs.dtype) == f"torch.{ours.dtype}", numbers
    for ours_index, theirs_index in zip(mg.where(mg.tensor(values) > 0),
                                        torch.where(torch.tensor(values) > 0)):
        assert ours_index.dtype == np.int64
        np.testing.assert_array_equal(ours_index.data, theirs_index.numpy())


def test_where_refuses_with_a_sentence():
    x = mg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="where: the condition must be a bool tensor, such as "
                                        "x > 0; got dtype float32"):
        mg.where(x, x, 0.0)
    with pytest.raises(TypeError, match="where: give both input and other"):
        mg.where(x > 0, x)
    with pytest.raises(ValueError, match=r"where: the shapes of condition \(2,\), input \(3,\)"):
        mg.where(x > 0, mg.zeros(3), 0.0)
