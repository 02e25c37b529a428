"""Tensor's operators and methods: `x + y`, `x @ w`, `x[i]`, `x.sum()`, `x.relu()` ...

Each is the lower-case function of an op, attached to `Tensor` here, once, when minigrad is
imported (DeZero's `setup_variable` does the same). So the engine (tensor.py, function.py) never
imports an op, and every import in the package runs one way: engine <- ops <- this module.
"""
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
        sizes = sizes[0] if len(sizes) == 1 and not isinstance(sizes[0], int) else sizes
        return function(self, (sizes or None) if none_if_empty else sizes)
    method.__name__ = function.__name__
    return method


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
}

METHODS = {
    "astype": elementwise.cast,
    "exp": elementwise.exp, "log": elementwise.log, "sqrt": elementwise.sqrt,
    "abs": elementwise.abs, "clip": elementwise.clip, "clamp": elementwise.clip,
    "sum": reduce.sum, "mean": reduce.mean, "max": reduce.max, "min": reduce.min,
    "amax": reduce.amax, "amin": reduce.amin, "argmax": reduce.argmax, "argmin": reduce.argmin,
    "var": reduce.var,
    # view and reshape are one op here: NumPy's reshape shares memory when it can, as torch's
    # reshape does; only view's refusal of a copy is missing.
    "reshape": _sizes(shape.reshape), "view": _sizes(shape.reshape),
    "transpose": shape.transpose,                                   # x.transpose(0, 1): swap two
    "permute": _sizes(shape.permute, none_if_empty=True),           # x.permute(2, 0, 1)
    "gather": shape.gather,
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
