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
        ours, theirs = compare(mg.tensor(a), mg.tensor(b)), compare(torch.tensor(a), torch.tensor(b))
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
