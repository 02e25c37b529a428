"""Tensor methods with PyTorch's names: comparisons, one-element conversions, casts, shapes,
norms. Each forward against NumPy (and torch where installed), each new differentiable one's
backward against numerical gradients."""
import operator

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad.testing import arrays, assert_gradients_match, broadcastable_shapes
from tests.helpers import leaf, torch_or_skip

COMPARISONS = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
               "gt": operator.gt, "ge": operator.ge}


# ----- comparisons --------------------------------------------------------------------------
@pytest.mark.parametrize("name", COMPARISONS)
@given(data=st.data())
def test_comparisons_give_bool_tensors_as_numpy_and_the_method_alike(name, data):
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a = data.draw(arrays(shape_a).map(np.round))       # rounded: equal values occur
    b = data.draw(arrays(shape_b).map(np.round))
    x, y = mg.tensor(a, requires_grad=True), mg.tensor(b)
    for result in (COMPARISONS[name](x, y), getattr(x, name)(y), COMPARISONS[name](x, b),
                   COMPARISONS[name](x, 1.0)):
        assert isinstance(result, mg.Tensor) and result.dtype == np.bool_
        assert not result.requires_grad and result.grad_fn is None
    np.testing.assert_array_equal(COMPARISONS[name](x, y).data, COMPARISONS[name](a, b))
    np.testing.assert_array_equal(getattr(x, name)(1.0).data, COMPARISONS[name](a, 1.0))


def test_a_number_or_array_on_the_left_is_compared_the_right_way_round():
    x = mg.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal((2 < x).data, [False, False, True])
    np.testing.assert_array_equal((2.0 >= x).data, [True, True, False])
    assert isinstance(2 < x, mg.Tensor)
    on_the_left = np.array([0.0, 2.0, 4.0]) < x                  # as torch: a tensor, not an array
    assert isinstance(on_the_left, mg.Tensor)
    np.testing.assert_array_equal(on_the_left.data, [True, False, False])
    assert isinstance(np.array([True, False, True]) & (x > 1), mg.Tensor)


def test_comparisons_against_torch():
    torch = torch_or_skip()
    a, b = np.array([[1.0, 2.0, 3.0]]), np.array([[2.0], [1.0]])
    for name, compare in COMPARISONS.items():
        ours = compare(mg.tensor(a), mg.tensor(b))
        theirs = compare(torch.tensor(a), torch.tensor(b))
        assert theirs.dtype == torch.bool and ours.dtype == np.bool_, name
        np.testing.assert_array_equal(ours.data, theirs.numpy(), err_msg=name)


def test_comparison_with_something_not_a_number_falls_back_as_in_torch():
    x = mg.tensor([1.0, 2.0])
    assert (x == None) is False and (x != None) is True        # noqa: E711 (what torch gives)
    assert (x == [1.0, 2.0]) is False                          # torch does not compare lists
    with pytest.raises(TypeError):
        x < "a"
    with pytest.raises(TypeError, match="eq: expected tensors or numbers"):
        x.eq("a")


def test_comparing_shapes_that_do_not_broadcast_names_both():
    with pytest.raises(ValueError, match=r"lt: shapes \(2,\) and \(3,\) cannot be broadcast"):
        mg.tensor([1.0, 2.0]) < mg.tensor([1.0, 2.0, 3.0])


def test_masks_index_count_and_combine():
    x = mg.tensor([-1.0, 0.5, 2.0, 3.0])
    mask = (x > 0) & (x < 2.5)
    np.testing.assert_array_equal(x[mask].data, [0.5, 2.0])
    np.testing.assert_array_equal((~mask).data, [True, False, False, True])
    np.testing.assert_array_equal(((x < 0) | (x > 2.5)).data, [True, False, False, True])
    np.testing.assert_array_equal(((x > 0) ^ (x > 1)).data, [False, True, False, False])
    assert (x > 0).sum().item() == 3 and (x > 0).sum().dtype == np.int64   # torch's too
    assert (mask & True).dtype == np.bool_ and (True & mask).dtype == np.bool_


def test_bitwise_logic_refuses_floats_as_torch_does():
    x = mg.tensor([1.0, 2.0])
    for call in (lambda: x & x, lambda: (x > 1) | x, lambda: ~x, lambda: (x > 1) & 1.5):
        with pytest.raises(TypeError, match="defined for bool and integer tensors only"):
            call()
    np.testing.assert_array_equal((mg.tensor([6, 3]) & mg.tensor([3, 1])).data, [2, 1])


def test_accuracy_as_a_torch_tutorial_computes_it():
    logits = mg.tensor([[0.1, 2.0], [3.0, 0.5], [0.2, 0.1]])
    labels = mg.tensor([1, 0, 1])
    predicted = logits.max(1).indices
    correct = (predicted == labels).sum().item()
    assert correct == 2 and isinstance(correct, int)


# ----- a one-element tensor as a Python number ----------------------------------------------
def test_one_element_tensors_convert_to_python_numbers():
    classes = ("plane", "car", "bird")
    labels = mg.tensor([2, 0])
    assert [classes[labels[j]] for j in range(2)] == ["bird", "plane"]
    assert int(mg.tensor(3.7)) == 3 and float(mg.tensor([[2]])) == 2.0
    assert bool(mg.tensor([0.0])) is False and bool(mg.tensor(True)) is True
    assert list(range(mg.tensor(3))) == [0, 1, 2]
    assert ["a", "b"][mg.tensor(True)] == "b"                  # torch takes a bool as an index
    if mg.tensor(1.0) > 0:
        pass
    else:
        pytest.fail("a one-element comparison should be True in an if")


def test_conversions_of_one_element_match_torch():
    torch = torch_or_skip()
    for values in (3.7, [[-2.5]], 0, [1]):
        assert int(mg.tensor(values)) == int(torch.tensor(values))
        assert float(mg.tensor(values)) == pytest.approx(float(torch.tensor(values)))
        assert bool(mg.tensor(values)) == bool(torch.tensor(values))


@pytest.mark.parametrize("values", [[1.0, 2.0], [], [[1, 2]]])
def test_several_or_no_elements_do_not_convert(values):
    x = mg.tensor(values)
    with pytest.raises(RuntimeError, match="truth value of a tensor is defined only for a single"):
        bool(x)
    for convert in (int, float):
        with pytest.raises(ValueError, match="only a one-element tensor can be converted"):
            convert(x)


def test_only_integer_tensors_index():
    with pytest.raises(TypeError, match="only an integer tensor of one element can be used as an "
                                        "index; this one is float32"):
        ["a", "b"][mg.tensor(1.0)]
    with pytest.raises(TypeError, match="this tensor has 2 elements"):
        ["a", "b"][mg.tensor([0, 1])]


# ----- casts: double() float() long() int() bool() type() to() --------------------------------
CASTS = {"double": np.float64, "float": np.float32, "long": np.int64, "int": np.int32,
         "bool": np.bool_}


@pytest.mark.parametrize("name", CASTS)
def test_casts_convert_and_return_self_when_nothing_changes(name):
    x = mg.tensor([0.0, 1.5, -2.7])
    converted = getattr(x, name)()
    assert converted.dtype == CASTS[name]
    np.testing.assert_array_equal(converted.data, x.data.astype(CASTS[name]))
    assert getattr(converted, name)() is converted                # already that dtype: itself


def test_casts_against_torch():
    torch = torch_or_skip()
    values = [0.0, 1.5, -2.7, 3.9]
    for name in CASTS:
        ours, theirs = getattr(mg.tensor(values), name)(), getattr(torch.tensor(values), name)()
        assert str(theirs.dtype) == f"torch.{ours.dtype}", name
        np.testing.assert_array_equal(ours.data, theirs.numpy(), err_msg=name)
    assert mg.tensor(values).type() == torch.tensor(values).type() == "torch.FloatTensor"
    assert mg.tensor([1]).type() == torch.tensor([1]).type() == "torch.LongTensor"


def test_float_to_float_casts_carry_the_gradient_and_integer_casts_none():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.requires_grad and y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(np.asarray(x.grad), [2.0, 4.0])
    as_integers = x.long()
    assert as_integers.dtype == np.int64 and not as_integers.requires_grad   # as torch
    assert not x.bool().requires_grad


@given(arrays())
def test_a_float_cast_passes_numerical_gradients(x):
    assert_gradients_match(lambda t: t.astype(mg.float64) * t, x)   # astype: always a Cast


def test_type_and_to_accept_torch_forms():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert x.type(mg.float64).dtype == np.float64
    assert x.type("torch.DoubleTensor").dtype == np.float64
    assert x.type(mg.float32) is x
    assert x.to(mg.float64).dtype == np.float64 and x.to(mg.float64).requires_grad
    assert x.to("cpu", mg.float64).dtype == np.float64
    assert x.to(device="cpu", dtype=mg.long).dtype == np.int64
    assert x.to(mg.tensor([1], dtype=mg.long)).dtype == np.int64    # to(other): other's dtype
    assert x.to(mg.float64, False).dtype == np.float64             # to(dtype, non_blocking)
    copied = x.to("cpu", copy=True)
    assert copied is not x and copied.requires_grad
    copied.sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [1.0, 1.0])   # clone: differentiable


def test_a_bad_dtype_in_a_cast_is_refused_with_a_sentence():
    x = mg.tensor([1.0])
    with pytest.raises(TypeError, match="Tensor.type: 'torch.HalfTensor' is not a dtype"):
        x.type("torch.HalfTensor")
    with pytest.raises(TypeError, match="Tensor.to: .*float16 is not one of them"):
        x.to(np.float16)
    with pytest.raises(TypeError, match="astype: 'cpu' is not a dtype"):
        x.astype("cpu")


# ----- arithmetic and maths as methods ---------------------------------------------------------
def test_arithmetic_methods_match_operators_and_torch_alpha():
    torch = torch_or_skip()
    a, b = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, -1.0])
    x, y, tx, ty = mg.tensor(a), mg.tensor(b), torch.tensor(a), torch.tensor(b)
    pairs = [(x.add(y), tx.add(ty)), (x.add(y, alpha=2), tx.add(ty, alpha=2)),
             (x.sub(y, alpha=3), tx.sub(ty, alpha=3)), (x.mul(y), tx.mul(ty)),
             (x.div(y), tx.div(ty)), (x.pow(2), tx.pow(2)), (x.pow(y), tx.pow(ty)),
             (x.matmul(x), tx.matmul(tx)), (x.mm(x), tx.mm(tx)), (x.t(), tx.t()),
             (x.sin(), tx.sin()), (x.cos(), tx.cos()), (x.exp(), tx.exp()),
             (x.log(), tx.log()), (x.sqrt(), tx.sqrt()), (abs(-x), abs(-tx)),
             (x.clamp(1.5, 3.5), tx.clamp(1.5, 3.5)),
             (x.clamp(max=mg.tensor([1.5, 3.0])), tx.clamp(max=torch.tensor([1.5, 3.0])))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)


@given(data=st.data())
def test_add_and_sub_with_alpha_pass_numerical_gradients(data):
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    np.testing.assert_allclose(mg.tensor(a).sub(mg.tensor(b), alpha=2.5).data, a - 2.5 * b)
    assert_gradients_match(lambda p, q: p.add(q, alpha=-2.0) * p.sub(q, alpha=0.5), a, b)


def test_clamp_refuses_a_bound_that_requires_grad():
    with pytest.raises(TypeError, match="clamp: the bound min requires grad"):
        mg.tensor([1.0]).clamp(min=mg.tensor([0.0], requires_grad=True))


def test_mm_and_t_want_matrices():
    with pytest.raises(ValueError, match=r"mm: expected two matrices \(2-D\), got shapes \(3,\)"):
        mg.tensor([1.0, 2.0, 3.0]).mm(mg.ones(3, 2))
    with pytest.raises(ValueError, match="t: expects a tensor of at most 2 dimensions"):
        mg.ones(2, 3, 4).t()
    v = mg.tensor([1.0, 2.0])
    assert v.t().shape == (2,) and mg.tensor(3.0).t().shape == ()


@given(arrays(shape=(2, 3)), arrays(shape=(3, 4)))
def test_mm_and_t_pass_numerical_gradients(a, b):
    assert_gradients_match(lambda p, q: p.mm(q).t(), a, b)


# ----- clone, expand, repeat, view_as, reshape_as, requires_grad_ ------------------------------
@given(arrays())
def test_clone_copies_and_passes_the_gradient(x):
    t = mg.tensor(x)
    copy = t.clone()
    assert copy is not t and not np.shares_memory(copy.data, t.data)
    np.testing.assert_array_equal(copy.data, x)
    assert_gradients_match(lambda v: v.clone() * v, x)


EXPANSIONS = [((3, 1), (3, 4)), ((3, 1), (2, 3, 5)), ((1,), (4,)), ((), (2, 3)),
              ((2, 1, 1), (-1, 3, -1)), ((1, 3), (2, -1, -1))]


@pytest.mark.parametrize("shape_in, sizes", EXPANSIONS)
def test_expand_forward_and_backward_against_torch(shape_in, sizes):
    x = np.random.default_rng(0).normal(size=shape_in)
    expected_shape = np.broadcast_shapes(shape_in, tuple(1 if n == -1 else n for n in sizes))
    expected_shape = tuple(x.shape[i - len(sizes) + x.ndim] if n == -1 else s
                           for i, (n, s) in enumerate(zip(sizes, expected_shape)))
    expanded = mg.tensor(x).expand(*sizes)
    assert expanded.shape == expected_shape and mg.tensor(x).expand(sizes).shape == expected_shape
    np.testing.assert_array_equal(expanded.data, np.broadcast_to(x, expected_shape))
    weights = np.arange(np.prod(expected_shape), dtype=np.float64).reshape(expected_shape)
    assert_gradients_match(lambda t: (t.expand(*sizes) * mg.tensor(weights)).sum(), x)
    torch = torch_or_skip()
    tx = torch.tensor(x, requires_grad=True)
    (tx.expand(*sizes) * torch.tensor(weights)).sum().backward()
    ours = leaf(x)
    (ours.expand(*sizes) * mg.tensor(weights)).sum().backward()
    np.testing.assert_allclose(np.asarray(ours.grad), tx.grad.numpy())


@pytest.mark.parametrize("shape_in, sizes, message", [
    ((3, 4), (3, 5), "only an axis of size 1 can take a new size \\(axis 1 has 4\\)"),
    ((3, 4), (4,), "1 sizes \\(4,\\) for a tensor of 2 dimensions"),
    ((3,), (-1, 3), "-1 \\(keep the size\\) at position 0"),
    ((3,), (-2,), "cannot expand the tensor")])
def test_expand_refuses_with_a_sentence(shape_in, sizes, message):
    with pytest.raises(ValueError, match=f"expand: .*{message}"):
        mg.zeros(shape_in).expand(*sizes)


REPEATS = [((2, 3), (2, 1)), ((2, 3), (1, 3)), ((3,), (2, 2)), ((2, 1, 2), (1, 3, 2)),
           ((), (3,)), ((2,), (0,)), ((1, 2), (2, 2, 3))]


@pytest.mark.parametrize("shape_in, repeats", REPEATS)
def test_repeat_forward_and_backward(shape_in, repeats):
    x = np.random.default_rng(1).normal(size=shape_in)
    np.testing.assert_array_equal(mg.tensor(x).repeat(*repeats).data, np.tile(x, repeats))
    np.testing.assert_array_equal(mg.tensor(x).repeat(repeats).data, np.tile(x, repeats))
    tiled = np.tile(x, repeats)
    weights = np.arange(tiled.size, dtype=np.float64).reshape(tiled.shape)
    assert_gradients_match(lambda t: (t.repeat(*repeats) * mg.tensor(weights)).sum(), x)
    torch = torch_or_skip()
    np.testing.assert_array_equal(torch.tensor(x).repeat(*repeats).numpy(), tiled)


@given(arrays(shape=(2, 3)), st.sampled_from([(1, 2), (3, 1), (2, 1, 2)]))
def test_repeat_passes_numerical_gradients(x, repeats):
    assert_gradients_match(lambda t: t.repeat(*repeats) ** 2, x)


def test_repeat_refuses_fewer_counts_than_axes():
    with pytest.raises(ValueError, match=r"repeat: expected one count >= 0 for each of the 2 axes"):
        mg.zeros(2, 3).repeat(2)


def test_view_as_reshape_as_and_shape_methods():
    x, other = mg.arange(6.0), mg.zeros(2, 3)
    assert x.view_as(other).shape == (2, 3) and x.reshape_as(other).shape == (2, 3)
    y = x.view_as(other)
    assert y.unsqueeze(0).shape == (1, 2, 3) and y.unsqueeze(0).squeeze().shape == (2, 3)
    assert y.flatten().shape == (6,) and y.dim() == 2 and y.ndim == 2
    assert y.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


def test_requires_grad_sets_the_flag_in_place_and_returns_the_tensor():
    x = mg.zeros(2)
    assert x.requires_grad_() is x and x.requires_grad
    assert x.requires_grad_(False) is x and not x.requires_grad
    y = x.requires_grad_() * 2
    with pytest.raises(RuntimeError, match="only a leaf's flag can change"):
        y.requires_grad_(False)
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        mg.tensor([1, 2]).requires_grad_()


# ----- norm, std, var, any, all -----------------------------------------------------------------
NORMS = [("fro", None, False), (2, 1, False), (2, (0, 1), True), (1, None, False),
         (1, 0, True), (3, 1, False), (0.5, None, False), (np.inf, 1, False),
         (-np.inf, None, False), (0, 1, False)]


@pytest.mark.parametrize("p, dim, keepdim", NORMS)
def test_norm_against_numpy_and_torch(p, dim, keepdim):
    x = np.array([[1.0, -2.0, 0.0], [3.5, 0.25, -1.0]])
    axes = dim if dim is not None else (0, 1)
    absolute = np.abs(x)
    expected = (np.count_nonzero(x, axis=axes, keepdims=keepdim).astype(float) if p == 0 else
                absolute.max(axis=axes, keepdims=keepdim) if p == np.inf else
                absolute.min(axis=axes, keepdims=keepdim) if p == -np.inf else
                (absolute ** (2 if p == "fro" else p)).sum(axis=axes, keepdims=keepdim)
                ** (1 / (2 if p == "fro" else p)))
    ours = mg.tensor(x).norm(p, dim, keepdim)
    np.testing.assert_allclose(ours.data, expected, rtol=1e-12)
    torch = torch_or_skip()
    np.testing.assert_allclose(ours.data, torch.tensor(x).norm(p, dim, keepdim).numpy(),
                               rtol=1e-12)


@given(arrays(shape=(3, 4), away_from=0.0), st.sampled_from([2, 1, 3]),
       st.sampled_from([None, 0, 1]))
def test_norm_passes_numerical_gradients(x, p, dim):
    assert_gradients_match(lambda t: t.norm(p, dim), x)


def test_the_gradient_of_the_2_norm_at_zero_is_zero_as_in_torch():
    x = leaf([[0.0, 0.0], [3.0, 4.0]])
    x.norm(dim=1).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [[0.0, 0.0], [0.6, 0.8]], rtol=1e-15)
    torch = torch_or_skip()
    tx = torch.tensor([[0.0, 0.0], [3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    tx.norm(dim=1).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), tx.grad.numpy(), rtol=1e-15)


def test_norm_refuses_the_nuclear_norm():
    with pytest.raises(ValueError, match="norm: p must be a number or 'fro', got 'nuc'"):
        mg.ones(2, 2).norm("nuc")


def test_a_gradient_norm_as_torch_users_write_it():
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    (w * w).sum().backward()
    assert w.grad.norm().item() == pytest.approx(10.0)


def test_std_and_var_default_to_unbiased_as_torch():
    torch = torch_or_skip()
    x = np.array([[1.0, 2.0, 4.0], [0.5, 0.0, 3.0]])
    ours, theirs = mg.tensor(x), torch.tensor(x)
    pairs = [(ours.var(), theirs.var()), (ours.std(), theirs.std()),
             (ours.std(1), theirs.std(1)), (ours.var(0, keepdim=True), theirs.var(0, keepdim=True)),
             (ours.std(unbiased=False), theirs.std(unbiased=False)),
             (ours.var(1, unbiased=False), theirs.var(1, unbiased=False)),
             (ours.std(1, correction=0), theirs.std(1, correction=0)),
             (ours.var(False), theirs.var(False)), (ours.std(True), theirs.std(True)),
             (mg.functional.std(ours, 1), torch.std(theirs, 1))]
    for a, b in pairs:
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.std().data, np.std(x, ddof=1), rtol=1e-12)


def test_var_refuses_both_correction_and_unbiased():
    with pytest.raises(TypeError, match="give correction or unbiased, not both"):
        mg.ones(3).var(correction=0, unbiased=True)


@given(arrays(shape=(3, 4)), st.sampled_from([None, 0, 1]), st.booleans())
def test_std_passes_numerical_gradients(x, dim, unbiased):
    spread = x + np.arange(12.0).reshape(3, 4)          # no constant row: std > 0 everywhere
    assert_gradients_match(lambda t: t.std(dim, unbiased=unbiased), spread)


def test_any_and_all_as_torch_and_numpy():
    mask = mg.tensor([[True, False], [False, False]])
    assert mask.any().item() is True and mask.all().item() is False
    np.testing.assert_array_equal(mask.any(1).data, [True, False])
    np.testing.assert_array_equal(mask.all(0, keepdim=True).data, [[False, False]])
    assert bool(np.any(mask)) and not bool(np.all(mask))       # NumPy calls x.any(axis=...)
    assert (mg.tensor([1.0, 2.0]) > 0).all()
    assert (mg.tensor([0.5, 0.25]) > 0).float().mean().item() == 1.0


# ----- the torch.* functions at the top level ----------------------------------------------------
def test_top_level_functions_against_torch():
    torch = torch_or_skip()
    a = np.array([[0.5, -1.0, 2.0], [3.0, 0.25, -2.5]])
    x, t = mg.tensor(a), torch.tensor(a)
    pairs = [(mg.sin(x), torch.sin(t)), (mg.cos(x), torch.cos(t)), (mg.exp(x), torch.exp(t)),
             (mg.log(mg.abs(x)), torch.log(torch.abs(t))), (mg.tanh(x), torch.tanh(t)),
             (mg.sigmoid(x), torch.sigmoid(t)), (mg.relu(x), torch.relu(t)),
             (mg.sqrt(mg.abs(x)), torch.sqrt(torch.abs(t))), (mg.pow(x, 2), torch.pow(t, 2)),
             (mg.clamp(x, -1, 1), torch.clamp(t, -1, 1)), (mg.softmax(x, 1), torch.softmax(t, 1)),
             (mg.matmul(input=x, other=x.t()), torch.matmul(input=t, other=t.t())),
             (mg.mm(x, x.t()), torch.mm(t, t.t())), (mg.flatten(x), torch.flatten(t)),
             (mg.cat([x, x], 1), torch.cat([t, t], 1)), (mg.stack([x, x]), torch.stack([t, t])),
             (mg.sum(x, 1), torch.sum(t, 1)), (mg.mean(x), torch.mean(t)),
             (mg.max(x), torch.max(t)), (mg.min(x), torch.min(t)),
             (mg.argmax(x, 1), torch.argmax(t, 1)),
             (mg.where(x > 0, x, -x), torch.where(t > 0, t, -t))]
    for ours, theirs in pairs:
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)
    values, indices = mg.max(x, 1)
    expected = torch.max(t, 1)
    np.testing.assert_array_equal(values.data, expected.values.numpy())
    np.testing.assert_array_equal(mg.max(x, dim=1).indices.data, expected.indices.numpy())
    np.testing.assert_array_equal(mg.min(x, 0).indices.data, torch.min(t, 0).indices.numpy())
