"""Tensor's operators and methods: `x + y`, `x @ w`, `x[i]`, `x.sum()`, `x.relu()` ...

Each is the lower-case function of an op, attached to `Tensor` here, once, when minigrad is
imported (DeZero's `setup_variable` does the same). So the engine (tensor.py, function.py) never
imports an op, and every import in the package runs one way: engine <- ops <- this module.
"""
from minigrad import devices, dtypes
from minigrad.ops import activation, elementwise, linalg, reduce, shape
from minigrad.ops.inplace import IN_PLACE
from minigrad.ops.numpy_interop import array_ufunc
from minigrad.tensor import Tensor


def _swapped(function):
    """`other (op) tensor`: Python calls tensor.__rop__(other), which must compute op(other, x)."""
    def reflected(self, other):
        return function(other, self)
    reflected.__name__ = f"r{function.__name__}"
    return reflected


def _comparison(function):
    """x == y, x < y ...: for a y that is no tensor or number, NotImplemented, so that Python
    falls back on its default as it does for torch's tensors (`x == None` is False, `x < 'a'` a
    TypeError)."""
    def operator(self, other):
        return function(self, other) if isinstance(other, elementwise.COMPARABLE) \
            else NotImplemented
    operator.__name__ = function.__name__
    return operator


def _sizes(function, none_if_empty=False):
    """x.reshape(2, 3) and x.reshape((2, 3)) both mean shape (2, 3), as in PyTorch."""
    def method(self, *sizes):
        sizes = shape.size_arguments(sizes, function.__name__)
        return function(self, (sizes or None) if none_if_empty else sizes)
    method.__name__ = function.__name__
    return method


def to(self, device=None, dtype=None, non_blocking=False, copy=False):
    """x.to("cpu"), x.to(minigrad.float64), x.to(other), x.to("cpu", minigrad.float64): PyTorch's
    forms. x is on the CPU already, so only the dtype can change: x itself when nothing changes (a
    copy with copy=True), else `cast` (differentiable between floating dtypes)."""
    dtype = devices.target_dtype(device, dtype, "Tensor.to")
    if dtype is None or dtype == self.dtype:
        return shape.clone(self) if copy else self
    return elementwise.cast(self, dtype)


def type_(self, dtype=None, non_blocking=False):
    """x.type(): PyTorch's name of x's type ("torch.FloatTensor"); x.type(dtype) is x.to(dtype),
    and takes those names too (x.type("torch.DoubleTensor"))."""
    if dtype is None:
        return dtypes.type_name(self.dtype)
    return to(self, dtypes.as_dtype(dtype, "Tensor.type"))


def _converting_to(dtype):
    """x.float(), x.double(), x.long() ...: x.to(that dtype), so x itself if it has it already."""
    def method(self, memory_format=None):
        return to(self, dtype)
    return method


def requires_grad_(self, requires_grad=True):
    """Set requires_grad in place and return x, as torch; only a leaf's flag can be switched off."""
    if not requires_grad and not self.is_leaf:
        raise RuntimeError(f"requires_grad_(False) on a tensor made by {self.grad_fn!r}: only a "
                           f"leaf's flag can change; use x.detach() for a tensor outside the graph")
    self.requires_grad = requires_grad
    return self


def view_as(self, other):
    """x reshaped to other's shape."""
    return shape.reshape(self, other.shape)


OPERATORS = {
    "__add__": elementwise.add, "__radd__": _swapped(elementwise.add),
    "__sub__": elementwise.sub, "__rsub__": _swapped(elementwise.sub),
    "__mul__": elementwise.mul, "__rmul__": _swapped(elementwise.mul),
    "__truediv__": elementwise.div, "__rtruediv__": _swapped(elementwise.div),
    "__pow__": elementwise.pow, "__rpow__": _swapped(elementwise.pow),
    "__neg__": elementwise.neg,
    "__matmul__": linalg.matmul, "__rmatmul__": _swapped(linalg.matmul),
    "__getitem__": shape.getitem,
    "__array_ufunc__": array_ufunc,
    "__eq__": _comparison(elementwise.eq), "__ne__": _comparison(elementwise.ne),
    "__lt__": _comparison(elementwise.lt), "__le__": _comparison(elementwise.le),
    "__gt__": _comparison(elementwise.gt), "__ge__": _comparison(elementwise.ge),
    "__and__": elementwise.bitwise_and, "__rand__": _swapped(elementwise.bitwise_and),
    "__or__": elementwise.bitwise_or, "__ror__": _swapped(elementwise.bitwise_or),
    "__xor__": elementwise.bitwise_xor, "__rxor__": _swapped(elementwise.bitwise_xor),
    "__invert__": elementwise.bitwise_not,
    "__abs__": elementwise.abs,
}

METHODS = {
    "astype": elementwise.cast,
    "to": to, "type": type_, "float": _converting_to(dtypes.float32),
    "double": _converting_to(dtypes.float64), "long": _converting_to(dtypes.int64),
    "int": _converting_to(dtypes.int32), "bool": _converting_to(dtypes.bool_),
    "cpu": devices.cpu, "cuda": devices.refuse_cuda, "device": property(devices.tensor_device),
    "requires_grad_": requires_grad_, "clone": shape.clone,
    "add": elementwise.add, "sub": elementwise.sub, "mul": elementwise.mul,
    "div": elementwise.div, "pow": elementwise.pow,
    "matmul": linalg.matmul, "mm": linalg.mm,
    "exp": elementwise.exp, "log": elementwise.log, "sqrt": elementwise.sqrt,
    "sin": elementwise.sin, "cos": elementwise.cos,
    "abs": elementwise.abs, "clip": elementwise.clip, "clamp": elementwise.clip,
    "sum": reduce.sum, "mean": reduce.mean, "max": reduce.max, "min": reduce.min,
    "amax": reduce.amax, "amin": reduce.amin, "argmax": reduce.argmax, "argmin": reduce.argmin,
    "var": reduce.var, "std": reduce.std, "norm": reduce.norm, "any": reduce.any,
    "all": reduce.all,
    # view and reshape are one op here: NumPy's reshape shares memory when it can, as torch's
    # reshape does; only view's refusal of a copy is missing.
    "reshape": _sizes(shape.reshape), "view": _sizes(shape.reshape),
    "transpose": shape.transpose,                                   # x.transpose(0, 1): swap two
    "permute": _sizes(shape.permute, none_if_empty=True),           # x.permute(2, 0, 1)
    "gather": shape.gather,
    "t": shape.t, "view_as": view_as, "reshape_as": view_as,
    "expand": _sizes(shape.expand), "repeat": _sizes(shape.repeat),
    "flatten": shape.flatten, "unsqueeze": shape.unsqueeze, "squeeze": shape.squeeze,
    "eq": elementwise.eq, "ne": elementwise.ne, "lt": elementwise.lt, "le": elementwise.le,
    "gt": elementwise.gt, "ge": elementwise.ge,
    "relu": activation.relu, "tanh": activation.tanh, "sigmoid": activation.sigmoid,
    "softmax": activation.softmax, "log_softmax": activation.log_softmax,
}


def install():
    """Attach every operator and method to Tensor (idempotent)."""
    for name, function in {**OPERATORS, **METHODS, **IN_PLACE}.items():
        setattr(Tensor, name, function)


install()
