"""Ops that move values around without changing them: reshape transpose getitem pad concat stack.

Their backward moves the gradient back the same way: every value of the output is one value of
an input, so its gradient lands exactly where that value came from.
"""
import numpy as np

from minigrad.function import Function


class Reshape(Function):
    """y = x viewed with a new shape;  dL/dx = dL/dy reshaped back to x's shape."""

    def forward(self, x, shape):
        self.shape_in = x.shape
        return x.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.shape_in)


class Transpose(Function):
    """y = x with its axes permuted;  dL/dx = dL/dy permuted by the inverse permutation."""

    def forward(self, x, axes):
        self.axes = axes
        return np.transpose(x, axes)

    def backward(self, grad):
        inverse = None if self.axes is None else tuple(np.argsort(self.axes))
        return np.transpose(grad, inverse)


class GetItem(Function):
    """y = x[index];  dL/dx = zeros with dL/dy added at the selected positions.

    Integer-array indices may select one element several times: `np.add.at` adds every copy's
    gradient (a plain `g[index] += ...` would keep only the last one).
    """

    def forward(self, x, index):
        self.shape_in, self.dtype_in, self.index = x.shape, x.dtype, index
        return x[index]

    def backward(self, grad):
        grad_in = np.zeros(self.shape_in, dtype=self.dtype_in)
        if _is_basic_index(self.index):
            grad_in[self.index] = grad  # slices never select an element twice
        else:
            np.add.at(grad_in, self.index, grad)
        return grad_in


def _is_basic_index(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice))
               for p in parts)


class Concatenate(Function):
    """y = [x1, x2, ...] joined along `axis`;  dL/dxi = the slice of dL/dy where xi went."""

    def forward(self, *arrays, axis):
        self.axis = axis
        self.boundaries = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(self, grad):
        return tuple(np.split(grad, self.boundaries, axis=self.axis))


class Stack(Function):
    """y = [x1, x2, ...] stacked on a new `axis`;  dL/dxi = dL/dy taken at index i of that axis."""

    def forward(self, *arrays, axis):
        self.axis = axis
        return np.stack(arrays, axis=axis)

    def backward(self, grad):
        return tuple(np.moveaxis(grad, self.axis, 0))


class Pad(Function):
    """y = x surrounded by a constant border;  dL/dx = dL/dy with the border cut off."""

    def forward(self, x, pad_width, value):
        self.inner = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))
        return np.pad(x, pad_width, constant_values=value)

    def backward(self, grad):
        return grad[self.inner]


def _int_tuple(value, name, op):
    """An int or a sequence of ints as a tuple, or a TypeError naming the op and the argument."""
    values = (value,) if isinstance(value, (int, np.integer)) else value
    if not isinstance(values, (tuple, list)) or \
            not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        raise TypeError(f"{op}: {name} must be an int or a sequence of ints, got {value!r}")
    return tuple(int(v) for v in values)


def reshape(x, shape):
    shape = _int_tuple(shape, "shape", "reshape")
    if any(n < -1 for n in shape):
        raise ValueError(f"reshape: sizes must be >= 0, or -1 for one inferred size, got {shape}")
    known = int(np.prod([n for n in shape if n != -1]))
    if shape.count(-1) > 1 or (-1 not in shape and known != x.size) or \
            (-1 in shape and (known == 0 or x.size % known)):
        raise ValueError(f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                         f"into shape {shape}")
    return Reshape.apply(x, shape=shape)


def transpose(x, axes=None):
    """Reverse the axes (axes=None) or permute them, like `np.transpose` / `torch.permute`."""
    if axes is not None:
        given = _int_tuple(axes, "axes", "transpose")
        if len(given) != x.ndim or any(not -x.ndim <= a < x.ndim for a in given):
            raise ValueError(f"transpose: axes {given} are not a permutation of the "
                             f"{x.ndim} axes of a tensor of shape {x.shape}")
        axes = tuple(a % x.ndim for a in given)
        if sorted(axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the "
                             f"{x.ndim} axes of a tensor of shape {x.shape}")
    return Transpose.apply(x, axes=axes)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes start_dim..end_dim into one, like `torch.flatten`."""
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = start_dim % x.ndim, end_dim % x.ndim
    return reshape(x, x.shape[:start] + (-1,) + x.shape[end + 1:])


def unsqueeze(x, axis):
    axis = axis % (x.ndim + 1)
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(x, axis=None):
    axes = range(x.ndim) if axis is None else [a % x.ndim for a in np.atleast_1d(axis)]
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1)))


def getitem(x, index):
    """x[index] with slices, integers, None, Ellipsis, integer arrays or boolean masks."""
    index = _index_arrays(index)
    try:
        return GetItem.apply(x, index=index)
    except IndexError as error:          # IndexError, as Python's and PyTorch's (iteration needs it)
        raise IndexError(f"getitem: index {index!r} is out of range for a tensor of shape "
                         f"{np.shape(getattr(x, 'data', x))} ({error})") from None
    except (TypeError, ValueError) as error:
        raise TypeError(f"getitem: {index!r} is not a valid index for a tensor of shape "
                        f"{np.shape(getattr(x, 'data', x))}: use ints, slices, None, ..., "
                        f"integer arrays or boolean masks ({error})") from None


def _index_arrays(index):
    """Tensors used as indices are replaced by their arrays (indices carry no gradient)."""
    if isinstance(index, tuple):
        return tuple(_index_arrays(i) for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return getattr(index, "data", index)


def concatenate(tensors, axis=0):
    shapes = [t.shape for t in tensors]
    rest = {s[:axis % len(s)] + s[axis % len(s) + 1:] for s in shapes}
    if len(rest) != 1 or len({len(s) for s in shapes}) != 1:
        raise ValueError(f"concatenate: shapes {shapes} must agree except along axis {axis}")
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors, axis=0):
    shapes = [t.shape for t in tensors]
    if len(set(shapes)) != 1:
        raise ValueError(f"stack: all shapes must be equal, got {shapes}")
    return Stack.apply(*tensors, axis=axis)


def pad(x, pad_width, value=0.0):
    """Constant padding; `pad_width` as in `np.pad`: int, (before, after), or one pair per axis."""
    pad_width = tuple(tuple(int(n) for n in pair)
                      for pair in np.broadcast_to(pad_width, (x.ndim, 2)))
    if any(n < 0 for pair in pad_width for n in pair):
        raise ValueError(f"pad: widths must be >= 0, got {pad_width}")
    return Pad.apply(x, pad_width=pad_width, value=value)
