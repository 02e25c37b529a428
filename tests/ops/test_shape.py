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
    np.testing.assert_array_equal(mg.tensor(x).permute(*axes).data, np.transpose(x, axes))
    assert_gradients_match(lambda t: t.permute(axes), x)
    assert_gradients_match(lambda t: t.T, x)
    dim0, dim1 = data.draw(st.integers(0, x.ndim - 1)), data.draw(st.integers(-x.ndim, -1))
    np.testing.assert_array_equal(mg.tensor(x).transpose(dim0, dim1).data,
                                  np.swapaxes(x, dim0, dim1))
    assert_gradients_match(lambda t: F.transpose(t, dim0, dim1), x)


def test_transpose_swaps_two_axes_as_in_torch():
    """NumPy's x.transpose(0, 1) of a matrix is the identity permutation; torch's swaps."""
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    assert x.transpose(0, 1).shape == (3, 2)
    assert mg.tensor(np.zeros((2, 3, 4))).transpose(0, 2).shape == (4, 3, 2)
    with pytest.raises(TypeError):
        x.transpose()                        # PyTorch needs the two axes too; x.T reverses all


@given(arrays(shapes(min_dims=1, max_dims=3)), st.data())
def test_gather(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    out_shape = tuple(data.draw(st.integers(1, 3)) if a == dim % x.ndim else n
                      for a, n in enumerate(x.shape))
    index = data.draw(arrays(out_shape, 0, x.shape[dim] - 1)).round().astype(np.int64)
    np.testing.assert_array_equal(mg.tensor(x).gather(dim, index).data,
                                  np.take_along_axis(x, index, axis=dim))
    assert_gradients_match(lambda t: F.gather(t, dim, index), x)   # repeated picks add up


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
    """torch's form: (before, after) pairs from the last axis backwards."""
    padded_axes = data.draw(st.integers(1, x.ndim))
    pairs = [tuple(data.draw(st.integers(0, 2)) for _ in range(2)) for _ in range(padded_axes)]
    flat = tuple(n for pair in pairs for n in pair)          # (last axis, the one before, ...)
    widths = [(0, 0)] * (x.ndim - padded_axes) + pairs[::-1]
    np.testing.assert_array_equal(F.pad(mg.tensor(x), flat, value=1.5).data,
                                  np.pad(x, widths, constant_values=1.5))
    assert_gradients_match(lambda t: F.pad(t, flat), x)


def test_pad_of_an_image_batch_pads_width_and_height_only():
    """The silent trap: NumPy's meaning padded the batch and channel axes too."""
    x = mg.tensor(np.ones((2, 3, 4, 5)))
    assert F.pad(x, (1, 1)).shape == (2, 3, 4, 7)
    assert F.pad(x, (1, 2, 3, 4)).shape == (2, 3, 11, 8)
    with pytest.raises(ValueError, match="even number"):
        F.pad(x, (1, 1, 1))
    with pytest.raises(ValueError, match="only mode='constant'"):
        F.pad(x, (1, 1), mode="reflect")


def test_pad_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    for pad in ((1, 1), (0, 2, 1, 0), (1, 0, 0, 1, 2, 2)):
        np.testing.assert_array_equal(F.pad(mg.tensor(x), pad, value=-1.0).data,
                                      torch.nn.functional.pad(torch.tensor(x), pad,
                                                              value=-1.0).numpy())


def test_bad_shapes_are_named():
    x = mg.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*into shape \(4,\)"):
        x.reshape(4)
    with pytest.raises(ValueError, match="must agree except along dim 0"):
        F.cat([x, mg.tensor(np.zeros((2, 4)))], dim=0)
    with pytest.raises(ValueError, match="all shapes must be equal"):
        F.stack([x, mg.tensor(np.zeros((3, 2)))])


@given(arrays(shapes(min_dims=0, max_dims=3)))
def test_unsqueeze_every_axis_like_numpy(x):
    for axis in range(-x.ndim - 1, x.ndim + 1):         # -1 adds a last axis, as in torch
        np.testing.assert_array_equal(mg.tensor(x).unsqueeze(axis).data, np.expand_dims(x, axis))
        assert_gradients_match(lambda t: t.unsqueeze(axis), x)


@pytest.mark.parametrize("axis,expected", [(None, (3, 2)), (0, (3, 1, 2)), (-2, (1, 3, 2)),
                                           (1, (1, 3, 1, 2)), ((0, 2), (3, 2))])
def test_squeeze_drops_only_size_one_axes_like_torch(axis, expected):
    x = np.arange(6.0).reshape(1, 3, 1, 2)
    squeezed = mg.tensor(x).squeeze() if axis is None else mg.tensor(x).squeeze(axis)
    assert squeezed.shape == expected                 # axis 1 (size 3) is left alone
    np.testing.assert_array_equal(squeezed.data.ravel(), x.ravel())
    assert_gradients_match(lambda t: t.squeeze(axis), x)


def test_a_ragged_list_index_is_a_clear_error():
    x = mg.tensor(np.zeros((3, 4)))
    with pytest.raises(TypeError, match=r"getitem: \[\[0, 1\], \[2\]\] is not a valid index "
                                         r"for a tensor of shape \(3, 4\)"):
        x[[[0, 1], [2]]]
