"""In-place changes: `x += y`, `p -= lr * p.grad`, `x.add_(y)`, `x.zero_()`, `x[mask] = 0` ...

None of these is an op of the graph. Each computes its new values with the ordinary op (so
broadcasting and dtypes follow the same rules), then writes them into the tensor's own array.
That is only safe where no gradient needs the old values, so each asks the engine first
(`Tensor._check_inplace`, PyTorch's rule): allowed under `no_grad()` (an optimizer step) or on a
tensor outside any graph; refused on a parameter or an op's result while gradients are recorded.
A tensor changed after an op used it makes that op's backward refuse (`Tensor._version`).
"""
import numpy as np

from minigrad.ops import elementwise
from minigrad.ops.shape import _index_arrays
from minigrad.tensor import Tensor, as_array, no_grad


def _write(tensor, values, op_name):
    """Store `values` in `tensor.data` without changing its shape or dtype, as PyTorch does."""
    values = np.asarray(values)
    if values.shape != tensor.shape:
        raise ValueError(f"{op_name}: the result has shape {values.shape}, but an in-place op "
                         f"cannot change the shape of this tensor {tensor.shape}; write "
                         f"x = x + ... (a new tensor) instead")
    if not np.can_cast(values.dtype, tensor.dtype, casting="same_kind"):
        raise TypeError(f"{op_name}: the result is {values.dtype}, which cannot be stored in place "
                        f"in this {tensor.dtype} tensor (as in PyTorch); convert it first, e.g. "
                        f"x = x.float()")
    _check_writeable(tensor, op_name)
    np.copyto(tensor.data, values, casting="same_kind")
    tensor._mark_changed()
    return tensor


def _check_writeable(tensor, op_name):
    if not tensor.data.flags.writeable:
        raise ValueError(f"{op_name}: this tensor's array is read-only (a broadcast view or a "
                         f"memory-mapped file); change a copy, x = x.clone()")


def _update(tensor, function, other, op_name):
    """tensor (op)= other: the new values are function(tensor, other), computed without a graph."""
    tensor._check_inplace(op_name, other)
    with no_grad():
        result = function(tensor, other)
    return _write(tensor, result.data, op_name)


def _updating(function, op_name):
    """The method `x (op)= other`."""
    def method(self, other):
        return _update(self, function, other, op_name)
    method.__name__ = op_name
    return method


def _scaled(function, op_name):
    """x.add_(other, alpha=2) is x += 2 * other, with torch.add's alpha (elementwise.add's)."""
    def method(self, other, *, alpha=1):
        return _update(self, lambda x, y: function(x, y, alpha=alpha), other, op_name)
    method.__name__ = op_name
    return method


def zero_(self):
    """Set every element to 0 (`w.grad.zero_()`)."""
    return fill_(self, 0)


def fill_(self, value):
    """Set every element to `value`."""
    _store(self, Ellipsis, value, "fill_")
    return self


def copy_(self, src, non_blocking=False):
    """Copy `src`'s values (broadcast to this tensor's shape) into this tensor."""
    self._check_inplace("copy_", src)
    values = np.broadcast_to(as_array(src), self.shape)
    return _write(self, values.astype(self.dtype, copy=False), "copy_")


def clamp_(self, min=None, max=None):
    """Clamp into [min, max] in place, as `clamp`."""
    return _update(self, lambda x, _: elementwise.clip(x, min, max), None, "clamp_")


def setitem(self, index, value):
    """x[index] = value, with the same indices as x[index] (a boolean-mask Tensor included)."""
    _store(self, index, value, "x[index] = value")


def _store(tensor, index, value, op_name):
    """tensor.data[index] = value, after the in-place rule and the dtype and memory checks."""
    tensor._check_inplace(op_name, value)
    _check_writeable(tensor, op_name)
    values = as_array(value)
    if not np.can_cast(values.dtype, tensor.dtype, casting="same_kind") and values.ndim:
        raise TypeError(f"{op_name}: a {values.dtype} value cannot be stored in place in "
                        f"this {tensor.dtype} tensor (as in PyTorch); convert it first")
    try:
        tensor.data[_index_arrays(index)] = values
    except (IndexError, ValueError) as error:
        raise type(error)(f"{op_name}: cannot write a value of shape {values.shape} at "
                          f"{index!r} of a tensor of shape {tensor.shape} ({error})") from None
    tensor._mark_changed()


IN_PLACE = {
    "__iadd__": _updating(elementwise.add, "+="),
    "__isub__": _updating(elementwise.sub, "-="),
    "__imul__": _updating(elementwise.mul, "*="),
    "__itruediv__": _updating(elementwise.div, "/="),
    "add_": _scaled(elementwise.add, "add_"),
    "sub_": _scaled(elementwise.sub, "sub_"),
    "mul_": _updating(elementwise.mul, "mul_"),
    "div_": _updating(elementwise.div, "div_"),
    "zero_": zero_, "fill_": fill_, "copy_": copy_, "clamp_": clamp_,
    "__setitem__": setitem,
}
