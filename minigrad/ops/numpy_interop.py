"""NumPy functions meeting a Tensor: `array + x` stays in the graph, `np.any(x.grad)` sees values.

NumPy hands every ufunc call that involves a Tensor (`np.add(a, x)`, `a * x`, `np.abs(x)`,
`np.any(x)`) to `Tensor.__array_ufunc__`. The arithmetic operators become minigrad's own ops, so
`array - x` records its gradient exactly like `x.__rsub__(array)`. Any other NumPy function works
on the values and returns an ndarray, as it does on a torch tensor; for a tensor that requires
grad that would silently cut the graph, so it is refused (torch refuses it too).
"""
import numpy as np

from minigrad.ops import elementwise, linalg
from minigrad.tensor import Tensor, is_grad_enabled

RECORDED = {
    np.add: elementwise.add, np.subtract: elementwise.sub, np.multiply: elementwise.mul,
    np.true_divide: elementwise.div, np.power: elementwise.pow, np.matmul: linalg.matmul,
    np.negative: elementwise.neg,
    # comparisons and logic give bool Tensors, whichever side the array is on (`array < x`)
    np.equal: elementwise.eq, np.not_equal: elementwise.ne, np.less: elementwise.lt,
    np.less_equal: elementwise.le, np.greater: elementwise.gt, np.greater_equal: elementwise.ge,
    np.bitwise_and: elementwise.bitwise_and, np.bitwise_or: elementwise.bitwise_or,
    np.bitwise_xor: elementwise.bitwise_xor, np.invert: elementwise.bitwise_not,
}


def array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """Tensor.__array_ufunc__: see the module docstring."""
    if method == "__call__" and ufunc in RECORDED and not kwargs:
        return RECORDED[ufunc](*inputs)
    if any(isinstance(x, Tensor) for x in kwargs.get("out", ())):
        raise TypeError(f"np.{ufunc.__name__}(..., out=tensor): NumPy cannot write into a tensor; "
                        f"use the tensor's in-place methods (x.copy_(...), x += ...)")
    if is_grad_enabled() and any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
        raise TypeError(f"np.{ufunc.__name__} on a tensor that requires grad would return plain "
                        f"values and lose the gradient; use minigrad's function of that name, "
                        f"or np.{ufunc.__name__}(x.detach()) for the values only")
    arrays = tuple(x.data if isinstance(x, Tensor) else x for x in inputs)
    return getattr(ufunc, method)(*arrays, **kwargs)
