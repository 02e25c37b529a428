import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad.testing import arrays, assert_gradients_match, shapes


@given(arrays(shapes(min_dims=1)), st.data())
def test_reshape_and_flatten(x, data):
    target = data.draw(st.sampled_from([(-1,), (x.size, 1), (1, -1), x.shape[::-1]]))
    np.testing.assert_array_equal(F.reshape(mg.tensor(x), target).data, x.reshape(target))
    assert_gradients_match(lambda t: F.reshape(t, target), x)
    assert_gradients_match(lambda t: t.flatten(), x)
    assert F.flatten(mg.tensor(x), start_dim=0, end_dim=-1).shape == (x.size,)


@given(arrays(shapes(min_dims=1)), st.data())
def test_transpose_and_permute(x, data):
    axes = tuple(data.draw(st.permutations(range(x.ndim))))
    np.testing.assert_array_equal(mg.tensor(x).permute(axes).data, np.transpose(x, axes))
    assert_gradients_match(lambda t: t.permute(axes), x)
    assert_gradients_match(lambda t: t.T, x)


@given(arrays(shapes(min_dims=1, min_side=2)), st.data())
def test_getitem_slices_integer_arrays_and_masks(x, data):
    rows = data.draw(st.lists(st.integers(0, x.shape[0] - 1), min_size=1, max_size=6))
    mask = data.draw(arrays(x.shape)) > 0
    for index in (slice(None, None, 2), (slice(1, None), ...), 0, (Ellipsis, None),
                  np.array(rows), mask):
        np.testing.assert_array_equal(mg.tensor(x)[index].data, x[index])
        assert_gradients_match(lambda t: t[index], x)


def test_getitem_adds_gradient_of_repeated_indices():
    x = mg.tensor(np.arange(3.0), requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3, 0, 1])


@given(st.data())
def test_concatenate_and_stack(data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    axis = data.draw(st.integers(0, len(shape) - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    parts = [data.draw(arrays(shape[:axis] + (n,) + shape[axis + 1:])) for n in sizes]
    np.testing.assert_array_equal(F.concatenate([mg.tensor(p) for p in parts], axis).data,
                                  np.concatenate(parts, axis))
    assert_gradients_match(lambda *ts: F.concatenate(ts, axis), *parts)
    same = [data.draw(arrays(shape)) for _ in sizes]
    np.testing.assert_array_equal(F.stack([mg.tensor(p) for p in same], axis).data,
                                  np.stack(same, axis))
    assert_gradients_match(lambda *ts: F.stack(ts, axis), *same)


@given(arrays(shapes(min_dims=1, max_dims=3)), st.data())
def test_pad(x, data):
    widths = tuple(tuple(data.draw(st.integers(0, 2)) for _ in range(2)) for _ in range(x.ndim))
    np.testing.assert_array_equal(F.pad(mg.tensor(x), widths, 1.5).data,
                                  np.pad(x, widths, constant_values=1.5))
    assert_gradients_match(lambda t: F.pad(t, widths), x)


def test_bad_shapes_are_named():
    x = mg.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*into shape \(4,\)"):
        x.reshape(4)
    with pytest.raises(ValueError, match="must agree except along axis 0"):
        F.concatenate([x, mg.tensor(np.zeros((2, 4)))], axis=0)
    with pytest.raises(ValueError, match="all shapes must be equal"):
        F.stack([x, mg.tensor(np.zeros((3, 2)))])
