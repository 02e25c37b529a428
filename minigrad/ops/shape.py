"""Ops that move values around without changing them: reshape, transpose and permute, getitem
and gather, pad, cat and stack, expand and repeat, clone. Arguments as in PyTorch (`dim`);
NumPy's `axis` works too, keyword-only.

Their backward moves the gradient back the same way: every value of the output is one value of
an input, so its gradient lands exactly where that value came from. That backward is linear in
the gradient and nothing else, so every second derivative is 0, and each op's second-order rule
(`differentiable_backward`) moves a Tensor gradient back with another of these ops.
"""
import numpy as np

from minigrad.function import Function
from minigrad.ops._args import as_array, dim_in_range, dim_or_axis
from minigrad.tensor import Tensor


class Reshape(Function):
    """y = x viewed with a new shape;  dL/dx = dL/dy reshaped back to x's shape."""
    piecewise_linear = True

    def forward(self, x, shape):
        self.shape_in = x.shape
        return x.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.shape_in)

    def differentiable_backward(self, grad, y, x):
        """Second derivative 0: a Reshape back (backward, on a Tensor, records itself)."""
        return self.backward(grad)


class Clone(Function):
    """y = a copy of x, in its own memory;  dL/dx = dL/dy."""

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad

    def differentiable_backward(self, grad, y, x):
        """Second derivative 0: dL/dy itself."""
        return grad


class Expand(Function):
    """y = x broadcast to a larger shape (a read-only view: no copy);  dL/dx = dL/dy summed over
    the copies, which the engine's `unbroadcast` does for this op as for every broadcasting one."""

    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    def backward(self, grad):
        return grad

    def differentiable_backward(self, grad, y, x):
        """Second derivative 0: dL/dy, which the engine sums back (with recorded sums)."""
        return grad


class Repeat(Function):
    """y = x tiled `repeats` times along each axis (np.tile);  dL/dx = dL/dy summed over the tiles.

    With y's axis i of length repeats[i] * n[i] split into (repeats[i], n[i]), the tiles are the
    first axis of each pair, so the sum over them is a reshape and one sum.
    """

    def forward(self, x, repeats):
        self.shape_in, self.repeats = x.shape, repeats
        return np.tile(x, repeats)

    def backward(self, grad):
        sizes = (1,) * (len(self.repeats) - len(self.shape_in)) + self.shape_in
        pairs = [n for repeat_and_size in zip(self.repeats, sizes) for n in repeat_and_size]
        tiles = tuple(range(0, len(pairs), 2))                    # (r0, n0, r1, n1 ...): the r axes
        return grad.reshape(pairs).sum(axis=tiles).reshape(self.shape_in)

    def differentiable_backward(self, grad, y, x):
        """Second derivative 0: a reshape and a sum (backward, on a Tensor, records itself)."""
        return self.backward(grad)


class Transpose(Function):
    """y = x with its axes permuted;  dL/dx = dL/dy permuted by the inverse permutation."""
    piecewise_linear = True

    def forward(self, x, axes):
        self.axes = axes
        return np.transpose(x, axes)

    def backward(self, grad):
        return np.transpose(grad, self._inverse())

    def differentiable_backward(self, grad, y, x):
        """Second derivative 0: a Transpose by the inverse permutation."""
        return Transpose.apply(grad, axes=self._inverse())

    def _inverse(self):
        return None if self.axes is None else tuple(np.argsort(self.axes))


class GetItem(Function):
    """y = x[index];  dL/dx = zeros with dL/dy added at the selected positions (`scattered`: an
    element selected twice gets both gradients)."""
    piecewise_linear = True

    def forward(self, x, index):
        self.shape_in, self.dtype_in, self.index = x.shape, x.dtype, index
        return x[index]

    def backward(self, grad):
        return scattered(grad, self.shape_in, self.dtype_in, self.index)

    def differentiable_backward(self, grad, y, x):
        """Second derivative 0: dL/dy added at the index, an IndexAdd."""
        return IndexAdd.apply(grad, shape=self.shape_in, index=self.index)


class IndexAdd(Function):
    """y = zeros(shape) with x added at `index` (GetItem's backward as an op);
    dL/dx = dL/dy[index], a GetItem. Second derivative 0: each is the other's backward."""
    piecewise_linear = True

    def forward(self, x, shape, index):
        self.index = index
        return scattered(x, shape, x.dtype, index)

    def backward(self, grad):
        return grad[self.index]

    def differentiable_backward(self, grad, y, x):
        """Second derivative 0: a GetItem."""
        return GetItem.apply(grad, index=self.index)


def scattered(values, shape, dtype, index):
    """zeros(shape) with `values` added at `index`. Integer-array indices may select one element
    several times: `np.add.at` adds every copy (a plain `a[index] += v` would keep only the last
    one); slices never select an element twice."""
    array = np.zeros(shape, dtype=dtype)
    if _is_basic_index(index):
        array[index] = values
    else:
        np.add.at(array, index, values)
    return array


class Embedding(Function):
    """y = weight[indices] (one row per index);  dL/dweight[i] = the sum of dL/dy over every
    position holding index i, and 0 for the padding index (its row is never learned)."""

    def forward(self, weight, indices, padding_idx):
        self.shape, self.indices, self.padding_idx = weight.shape, indices, padding_idx
        return weight[indices]                               # (*indices.shape, D)

    def backward(self, grad):
        grad_weight = scattered(grad, self.shape, grad.dtype, self.indices)
        if self.padding_idx is not None:
            grad_weight[self.padding_idx] = 0
        return grad_weight

    def differentiable_backward(self, grad, y, weight):
        """Second derivative 0: an IndexAdd, times a constant mask that zeroes the padding row."""
        grad_weight = IndexAdd.apply(grad, shape=self.shape, index=self.indices)
        if self.padding_idx is None:
            return grad_weight
        learned = np.ones((self.shape[0], 1), dtype=grad.dtype)
        learned[self.padding_idx] = 0
        return grad_weight * learned


def _is_basic_index(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice))
               for p in parts)


class Concatenate(Function):
    """y = [x1, x2, ...] joined along `axis`;  dL/dxi = the slice of dL/dy where xi went."""
    piecewise_linear = True

    def forward(self, *arrays, axis):
        self.axis = axis
        self.boundaries = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(self, grad):
        return tuple(np.split(grad, self.boundaries, axis=self.axis))

    def differentiable_backward(self, grad, y, *inputs):
        """Second derivative 0: each input's slice of dL/dy, a GetItem."""
        axis = self.axis % grad.ndim
        edges = [0, *self.boundaries, grad.shape[axis]]
        return tuple(GetItem.apply(grad, index=(slice(None),) * axis + (slice(start, stop),))
                     for start, stop in zip(edges[:-1], edges[1:]))


class Stack(Function):
    """y = [x1, x2, ...] stacked on a new `axis`;  dL/dxi = dL/dy taken at index i of that axis."""
    piecewise_linear = True

    def forward(self, *arrays, axis):
        self.axis = axis
        return np.stack(arrays, axis=axis)

    def backward(self, grad):
        return tuple(np.moveaxis(grad, self.axis, 0))

    def differentiable_backward(self, grad, y, *inputs):
        """Second derivative 0: dL/dy at index i of the new axis, a GetItem per input."""
        axis = self.axis % grad.ndim
        return tuple(GetItem.apply(grad, index=(slice(None),) * axis + (i,))
                     for i in range(len(inputs)))


class Pad(Function):
    """y = x surrounded by a constant border;  dL/dx = dL/dy with the border cut off."""
    piecewise_linear = True

    def forward(self, x, pad_width, value):
        self.inner = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))
        return np.pad(x, pad_width, constant_values=value)

    def backward(self, grad):
        return grad[self.inner]

    def differentiable_backward(self, grad, y, x):
        """Second derivative 0: the border cut off, a GetItem (backward, on a Tensor)."""
        return self.backward(grad)


def _int_tuple(value, name, op):
    """An int or a sequence of ints as a tuple, or a TypeError naming the op and the argument."""
    values = (value,) if isinstance(value, (int, np.integer)) else value
    if not isinstance(values, (tuple, list)) or \
            not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        raise TypeError(f"{op}: {name} must be an int or a sequence of ints, got {value!r}")
    return tuple(int(v) for v in values)


def size_arguments(sizes, op):
    """f(2, 3), f((2, 3)) and f([2, 3]) all mean the sizes (2, 3), as in PyTorch's zeros, view,
    expand, repeat ..."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = sizes[0]
    return _int_tuple(sizes, "size", op)


def reshape(x, shape):
    shape = _int_tuple(shape, "shape", "reshape")
    if any(n < -1 for n in shape):
        raise ValueError(f"reshape: sizes must be >= 0, or -1 for one inferred size, got {shape}")
    known = int(np.prod([n for n in shape if n != -1]))
    size = int(np.prod(x.shape))
    if shape.count(-1) > 1 or (-1 not in shape and known != size) or \
            (-1 in shape and (known == 0 or size % known)):
        raise ValueError(f"cannot reshape a tensor of shape {x.shape} ({size} elements) "
                         f"into shape {shape}")
    return Reshape.apply(x, shape=shape)


def permute(x, dims=None):
    """Reorder the axes: y.shape[i] = x.shape[dims[i]], like `torch.permute` / `np.transpose`
    (dims=None reverses them, as `x.T`)."""
    if dims is not None:
        given = _int_tuple(dims, "dims", "permute")
        dims = tuple(a % x.ndim for a in given) if x.ndim else given
        if len(given) != x.ndim or any(not -x.ndim <= a < x.ndim for a in given) \
                or sorted(dims) != list(range(x.ndim)):
            raise ValueError(f"permute: dims {given} are not a permutation of the "
                             f"{x.ndim} axes of a tensor of shape {x.shape}")
    return Transpose.apply(x, axes=dims)


def transpose(x, dim0, dim1):
    """Swap two axes, like `torch.transpose` (NumPy's transpose, reordering all axes, is
    `permute`)."""
    dim0, dim1 = _int_tuple((dim0, dim1), "dims", "transpose")
    if not all(-x.ndim <= d < x.ndim for d in (dim0, dim1)):
        raise ValueError(f"transpose: dims ({dim0}, {dim1}) out of range for a tensor of shape "
                         f"{x.shape}")
    order = list(range(x.ndim))
    order[dim0], order[dim1] = order[dim1], order[dim0]
    return permute(x, order)


def t(x):
    """The transpose of a matrix, as torch.t: a 0-d or 1-d tensor comes back unchanged."""
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor of at most 2 dimensions, got shape {x.shape}; "
                         f"use x.transpose(0, 1) or x.permute(...)")
    return permute(x)


def clone(x):
    """A copy of x in its own memory; the gradient passes through to x (as torch.clone)."""
    return Clone.apply(x)


def expand(x, sizes):
    """x broadcast to `sizes`, as torch's x.expand(*sizes): a size-1 axis stretches to any size,
    -1 keeps an axis's size, and new axes can be added in front. No copy is made."""
    sizes = _int_tuple(sizes, "sizes", "expand")
    new_axes = len(sizes) - x.ndim
    if new_axes < 0:
        raise ValueError(f"expand: {len(sizes)} sizes {sizes} for a tensor of {x.ndim} "
                         f"dimensions {x.shape}; give one size for every dimension (-1 keeps one)")
    shape = []
    for axis, size in enumerate(sizes):
        old = x.shape[axis - new_axes] if axis >= new_axes else None
        if size == -1 and old is None:
            raise ValueError(f"expand: -1 (keep the size) at position {axis} of {sizes}, a new "
                             f"leading axis of the tensor {x.shape}, which has no size to keep")
        if size < -1 or (size != -1 and old not in (None, 1, size)):
            raise ValueError(f"expand: cannot expand the tensor {x.shape} to {sizes}: only an "
                             f"axis of size 1 can take a new size (axis {axis} has {old})")
        shape.append(old if size == -1 else size)
    return Expand.apply(x, shape=tuple(shape))


def repeat(x, repeats):
    """x tiled along each axis, as torch's x.repeat(*repeats) (NumPy's np.tile, which is what
    np.repeat is not): at least one count per axis; extra counts add axes in front."""
    repeats = _int_tuple(repeats, "repeats", "repeat")
    if len(repeats) < x.ndim or any(r < 0 for r in repeats):
        raise ValueError(f"repeat: expected one count >= 0 for each of the {x.ndim} axes of the "
                         f"tensor {x.shape} (or more, for new leading axes), got {repeats}")
    return Repeat.apply(x, repeats=repeats)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes start_dim..end_dim into one, like `torch.flatten`."""
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = (dim_in_range(dim, x.ndim, "flatten") for dim in (start_dim, end_dim))
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} in a "
                         f"tensor of {x.ndim} dimensions")
    # the merged size, not -1: with a 0 in the shape (an empty batch) -1 could be anything
    merged = int(np.prod(x.shape[start:end + 1]))
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def unsqueeze(x, dim=None, *, axis=None):
    """Insert a size-1 axis at position dim."""
    dim = dim_or_axis(dim, axis, "unsqueeze")
    if dim is None:
        raise TypeError("unsqueeze: give the position of the new axis, dim")
    dim = dim % (x.ndim + 1)
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def squeeze(x, dim=None, *, axis=None):
    """Remove size-1 axes: all of them, or those among dim (an int or a tuple)."""
    dim = dim_or_axis(dim, axis, "squeeze")
    axes = range(x.ndim) if dim is None else [a % x.ndim for a in np.atleast_1d(dim)]
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1)))


def getitem(x, index):
    """x[index] with slices, integers, None, Ellipsis, integer arrays or boolean masks."""
    try:
        index = _index_arrays(index)
        return GetItem.apply(x, index=index)
    except IndexError as error:          # IndexError, as Python's and PyTorch's (iteration needs it)
        raise IndexError(f"getitem: index {index!r} is out of range for a tensor of shape "
                         f"{as_array(x).shape} ({error})") from None
    except (TypeError, ValueError) as error:
        raise TypeError(f"getitem: {index!r} is not a valid index for a tensor of shape "
                        f"{as_array(x).shape}: use ints, slices, None, ..., "
                        f"integer arrays or boolean masks ({error})") from None


def _index_arrays(index):
    """Tensors used as indices are replaced by their arrays (indices carry no gradient)."""
    if isinstance(index, tuple):
        return tuple(_index_arrays(i) for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return as_array(index) if isinstance(index, Tensor) else index      # a slice stays a slice


def gather(x, dim, index):
    """y[i][j][k] = x[i][index[i][j][k]][k] for dim=1 (any dim alike), like `torch.gather`:
    pick along dim the entries that `index` (integers, x's number of axes) names.
    It is x[...] with an integer index array on dim and a grid on the others, so its gradient is
    getitem's: dL/dy added back where each value came from."""
    index = as_array(index)
    if index.ndim != x.ndim or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"gather: index must be an integer array with as many axes as the "
                         f"input {x.shape}, got {index.dtype} of shape {index.shape}")
    where = list(np.indices(index.shape, sparse=True))
    where[dim] = index
    return GetItem.apply(x, index=tuple(where))


def embedding(input, weight, padding_idx=None):
    """The rows of weight (num_embeddings, D) at the integer `input` indices, of any shape:
    -> (*input.shape, D), as `torch.nn.functional.embedding`. A lookup table is a Linear layer
    applied to one-hot vectors, without building them."""
    indices = as_array(input)
    count = weight.shape[0]
    if not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"embedding: indices must be integers, got dtype {indices.dtype}")
    if indices.size and (indices.min() < 0 or indices.max() >= count):
        raise ValueError(f"embedding: indices must lie in [0, {count}) for a table of {count} "
                         f"rows, got values in [{indices.min()}, {indices.max()}]")
    if padding_idx is not None:
        if not -count <= padding_idx < count:
            raise ValueError(f"embedding: padding_idx {padding_idx} is outside the table of "
                             f"{count} rows")
        padding_idx %= count
    return Embedding.apply(weight, indices=indices, padding_idx=padding_idx)


def cat(tensors, dim=None, *, axis=None):
    """Join tensors along an existing axis dim (0 by default; `concatenate` is NumPy's name)."""
    dim = dim_or_axis(dim, axis, "cat") or 0
    shapes = [t.shape for t in tensors]
    rest = {s[:dim % len(s)] + s[dim % len(s) + 1:] for s in shapes}
    if len(rest) != 1 or len({len(s) for s in shapes}) != 1:
        raise ValueError(f"cat: shapes {shapes} must agree except along dim {dim}")
    return Concatenate.apply(*tensors, axis=dim)


def stack(tensors, dim=None, *, axis=None):
    """Join equal-shaped tensors along a new axis dim (0 by default)."""
    dim = dim_or_axis(dim, axis, "stack") or 0
    shapes = [t.shape for t in tensors]
    if len(set(shapes)) != 1:
        raise ValueError(f"stack: all shapes must be equal, got {shapes}")
    return Stack.apply(*tensors, axis=dim)


def pad(x, pad, mode="constant", value=None):
    """Constant padding with PyTorch's `pad`: pairs (before, after) from the last axis backwards,
    so (1, 1) pads the last axis by one on each side, (1, 1, 2, 2) the last two (W by 1, H by 2),
    and axes not named are left alone. (NumPy's np.pad lists the pairs from the first axis.)"""
    pad = tuple(int(n) for n in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: expected an even number of widths, at most 2 per axis "
                         f"({2 * x.ndim} for shape {x.shape}), got {pad}")
    if any(n < 0 for n in pad):
        raise ValueError(f"pad: widths must be >= 0, got {pad}")
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is implemented, got {mode!r}")
    last_first = [pad[i:i + 2] for i in range(0, len(pad), 2)]
    pad_width = ((0, 0),) * (x.ndim - len(last_first)) + tuple(last_first[::-1])
    return Pad.apply(x, pad_width=pad_width, value=0.0 if value is None else value)


concatenate = cat
