"""Element-wise arithmetic: add sub mul div neg pow exp log sqrt abs clip maximum minimum sin cos
where; comparisons and masks (eq lt ... & | ~), which have no gradient.

Binary ops broadcast like NumPy. Their backward returns gradients in the broadcast shape of the
output; the engine (`Function.input_grads`) sums each back to its input's own shape.

Each op's `differentiable_backward`, under its `backward`, is its second-order rule: the same
gradient from Tensor ops (so gradients of gradients work), its docstring the second derivative.
"""
import numpy as np

from minigrad.dtypes import as_dtype
from minigrad.function import Function
from minigrad.tensor import Tensor, as_array, is_grad_enabled


class Add(Function):
    """z = a + b;  dL/da = dL/dz,  dL/db = dL/dz  (each summed back to its input's shape)."""
    piecewise_linear = True

    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad

    def differentiable_backward(self, grad, z, a, b):
        """d2z/da2 = d2z/db2 = 0: backward is dL/dz itself, so it records itself on a Tensor."""
        return self.backward(grad)


class Sub(Function):
    """z = a - b;  dL/da = dL/dz,  dL/db = -dL/dz."""
    piecewise_linear = True

    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, -grad

    def differentiable_backward(self, grad, z, a, b):
        """d2z/da2 = d2z/db2 = 0 (backward, on a Tensor, records itself)."""
        return self.backward(grad)


class Mul(Function):
    """z = a * b;  dL/da = dL/dz * b,  dL/db = dL/dz * a."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        grad_a = grad * self.b if self.needs_input_grad[0] else None
        grad_b = grad * self.a if self.needs_input_grad[1] else None
        return grad_a, grad_b

    def differentiable_backward(self, grad, z, a, b):
        """d2z/da db = 1,  d2z/da2 = d2z/db2 = 0."""
        return grad * b, grad * a

    def piecewise_linear(self, varies):
        """Bilinear: linear in the input that varies while the other factor is constant."""
        return sum(varies) <= 1


class Div(Function):
    """z = a / b;  dL/da = dL/dz / b,  dL/db = -dL/dz * a / b**2 = -dL/dz * z / b."""

    def forward(self, a, b):
        self.b = b
        self.z = a / b
        return self.z

    def backward(self, grad):
        grad_a = grad / self.b if self.needs_input_grad[0] else None
        grad_b = -grad * self.z / self.b if self.needs_input_grad[1] else None
        return grad_a, grad_b

    def differentiable_backward(self, grad, z, a, b):
        """d2z/da db = -1/b**2,  d2z/db2 = 2 a / b**3,  d2z/da2 = 0."""
        return grad / b, -grad * z / b

    def piecewise_linear(self, varies):
        """Linear in the numerator only."""
        return not varies[1]


class Neg(Function):
    """z = -x;  dL/dx = -dL/dz."""
    piecewise_linear = True

    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad

    def differentiable_backward(self, grad, z, x):
        """d2z/dx2 = 0 (backward, on a Tensor, records itself)."""
        return self.backward(grad)


class Pow(Function):
    """z = x ** p;  dL/dx = dL/dz * p * x**(p-1),  dL/dp = dL/dz * z * log(x).

    As in PyTorch, dL/dp is taken as 0 where x == 0 and p >= 0 (the limit of x**p log x), and is
    NaN for negative x, where x**p is not a differentiable function of a real p; dL/dx is 0 where
    p == 0 (x**0 = 1 is constant, also at x == 0, where p * x**(p-1) would be 0 * inf).
    """

    def forward(self, x, p):
        self.x, self.p = x, p
        self.z = x ** p
        return self.z

    def backward(self, grad):
        grad_x = grad_p = None
        if self.needs_input_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_x = grad * np.where(self.p == 0, 0, self.p * self.x ** (self.p - 1))
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_x = np.where((self.x == 0) & (self.p >= 0), 0, np.log(self.x))
            grad_p = grad * self.z * log_x
        return grad_x, grad_p

    def differentiable_backward(self, grad, z, x, p):
        """d2z/dx2 = p (p-1) x**(p-2),  d2z/dp2 = z log(x)**2,  d2z/dx dp = x**(p-1) (1 + p log x)
        (backward's cases kept where they matter: dz/dx = 0 where p == 0 and x == 0, log x
        taken as 0 where x == 0 and p >= 0)."""
        grad_x = grad_p = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs_input_grad[0]:
                constant = (p.data == 0) & (x.data == 0)
                grad_x = grad * where(constant, 0.0, p * x ** (p - 1))
            if self.needs_input_grad[1]:
                zero_x = (x.data == 0) & (p.data >= 0)
                grad_p = grad * z * where(zero_x, 0.0, log(where(zero_x, 1.0, x)))
        return grad_x, grad_p


class Exp(Function):
    """z = exp(x);  dL/dx = dL/dz * z."""

    def forward(self, x):
        self.z = np.exp(x)
        return self.z

    def backward(self, grad):
        return grad * self.z

    def differentiable_backward(self, grad, z, x):
        """d2z/dx2 = z."""
        return grad * z


class Log(Function):
    """z = log(x);  dL/dx = dL/dz / x."""

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, grad):
        return grad / self.x

    def differentiable_backward(self, grad, z, x):
        """d2z/dx2 = -1 / x**2."""
        return grad / x


class Sqrt(Function):
    """z = sqrt(x);  dL/dx = dL/dz / (2 z)."""

    def forward(self, x):
        self.z = np.sqrt(x)
        return self.z

    def backward(self, grad):
        return grad / (2 * self.z)

    def differentiable_backward(self, grad, z, x):
        """d2z/dx2 = -1 / (4 z**3)."""
        return grad / (2 * z)


class Abs(Function):
    """z = |x|;  dL/dx = dL/dz * sign(x)  (0 at x = 0, as in PyTorch)."""

    def forward(self, x):
        self.sign = np.sign(x)
        return np.abs(x)

    def backward(self, grad):
        return grad * self.sign

    def differentiable_backward(self, grad, z, x):
        """d2z/dx2 = 0 (x != 0): sign(x) is a constant factor, so backward records itself."""
        return self.backward(grad)


class Clip(Function):
    """z = min(max(x, low), high);  dL/dx = dL/dz where low <= x <= high, else 0.

    The bounds are inclusive, as in `torch.clamp`: at x == low the gradient passes.
    """

    def forward(self, x, low=None, high=None):
        self.inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            self.inside &= x >= low
        if high is not None:
            self.inside &= x <= high
        return np.clip(x, low, high) if low is not None or high is not None else x.copy()

    def backward(self, grad):
        return grad * self.inside

    def differentiable_backward(self, grad, z, x):
        """d2z/dx2 = 0 (away from the bounds): a constant mask, so backward records itself."""
        return self.backward(grad)


class Maximum(Function):
    """z = max(a, b) element-wise;  dL/dz goes to the larger input, split half-half on ties."""

    def forward(self, a, b):
        self.a_share = (a > b) + 0.5 * (a == b)
        return np.maximum(a, b)

    def backward(self, grad):
        share = self.a_share.astype(grad.dtype)
        return grad * share, grad * (1 - share)

    def differentiable_backward(self, grad, z, a, b):
        """Second derivatives 0 (away from ties): constant shares, so backward records itself."""
        return self.backward(grad)


class Cast(Function):
    """z = x converted to another float dtype;  dL/dx = dL/dz converted back."""
    piecewise_linear = True

    def forward(self, x, dtype):
        self.dtype_in = x.dtype
        return x.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.dtype_in)

    def differentiable_backward(self, grad, z, x):
        """d2z/dx2 = 0: the gradient is dL/dz converted back, a Cast too."""
        return cast(grad, self.dtype_in)


def _broadcasting(fn_class, a, b):
    """Apply a binary op, turning NumPy's broadcast failure into a message naming both shapes."""
    a, b = _promoted(a, b, true_division=fn_class is Div)
    try:
        return fn_class.apply(a, b)
    except ValueError as error:
        _raise_if_not_broadcastable(fn_class.__name__.lower(), a, b)
        raise error


def _raise_if_not_broadcastable(op, a, b):
    """NumPy's broadcast failure, in a message naming the op and both shapes."""
    a_shape, b_shape = as_array(a).shape, as_array(b).shape
    try:
        np.broadcast_shapes(a_shape, b_shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {a_shape} and {b_shape} cannot be broadcast "
                         f"together") from None


def _promoted(a, b, true_division=False):
    """The operands in the dtype PyTorch's type promotion gives, where NumPy's differs.

    An integer or bool operand meets a floating one in the floating one's dtype (NumPy would turn
    float32 with int64 into float64); integers meet a Python float, or are divided, in float32.
    """
    dtype_a, dtype_b = _dtype(a), _dtype(b)
    a_is_integer = dtype_a is not None and dtype_a.kind != "f"
    b_is_integer = dtype_b is not None and dtype_b.kind != "f"
    if not (a_is_integer or b_is_integer):
        return a, b                       # floats with floats or numbers: NumPy's rule is torch's
    float_dtype = next((dtype for dtype in (dtype_a, dtype_b)
                        if dtype is not None and dtype.kind == "f"), None)
    if float_dtype is None and (true_division or isinstance(a, float) or isinstance(b, float)):
        float_dtype = np.dtype(np.float32)
    if float_dtype is None:
        return a, b
    return _as_float(a, float_dtype), _as_float(b, float_dtype)


def _dtype(x):
    """The dtype of a Tensor or array; None for a Python number (it takes the other's dtype)."""
    if isinstance(x, Tensor):
        return x.data.dtype
    return x.dtype if isinstance(x, (np.ndarray, np.generic)) else None


def _as_float(x, dtype):
    kind = _dtype(x)
    if kind is None or kind.kind == "f":
        return x
    return Tensor(np.asarray(as_array(x), dtype=dtype))  # integers carry no gradient


def add(a, b, *, alpha=1):
    """a + alpha * b (alpha as in torch.add)."""
    return _broadcasting(Add, a, b if alpha == 1 else mul(b, alpha))


def _is_bool(x):
    return as_array(x).dtype == np.bool_


def sub(a, b, *, alpha=1):
    """a - alpha * b (alpha as in torch.sub)."""
    if _is_bool(a) or _is_bool(b):      # as in PyTorch: 1 - mask is almost always ~mask meant
        raise TypeError("sub: subtraction with a bool tensor is not supported (as in PyTorch); "
                        "to invert a mask write ~mask, for a logical xor mask ^ other, or "
                        "convert it first with mask.float()")
    return _broadcasting(Sub, a, b if alpha == 1 else mul(b, alpha))


def mul(a, b):
    return _broadcasting(Mul, a, b)


def div(a, b):
    return _broadcasting(Div, a, b)


def pow(x, exponent):
    return _broadcasting(Pow, x, exponent)


def maximum(a, b):
    return _broadcasting(Maximum, a, b)


def minimum(a, b):
    """min(a, b) = -max(-a, -b): the same tie rule as `maximum`."""
    return neg(maximum(neg(a), neg(b)))


def neg(x):
    if _is_bool(x):
        raise TypeError("neg: negating a bool tensor is not supported (as in PyTorch); for a "
                        "logical not write ~mask, or convert it first with mask.float()")
    return Neg.apply(x)


def real(x):
    """An integer or bool tensor as float32, for a function of real numbers (exp, log, sin ...),
    as in PyTorch (NumPy would give float64)."""
    return _as_float(x, np.dtype(np.float32))


def exp(x):
    return Exp.apply(real(x))


def log(x):
    return Log.apply(real(x))


def sqrt(x):
    return Sqrt.apply(real(x))


def abs(x):
    return Abs.apply(x)


def clip(x, min=None, max=None):
    """Clamp `x` into [min, max] (either bound may be None, a number or a tensor), like
    `torch.clamp`. A bound is a constant here: one that requires grad is refused."""
    return Clip.apply(x, low=_bound(min, "min"), high=_bound(max, "max"))


def _bound(value, name):
    if not isinstance(value, Tensor):
        return value
    if value.requires_grad and is_grad_enabled():
        raise TypeError(f"clamp: the bound {name} requires grad, and minigrad's clamp passes no "
                        f"gradient to its bounds; write F.maximum(x, low) / F.minimum(x, high)")
    return value.data


def cast(x, dtype):
    """x converted to `dtype`. Between floating dtypes the gradient flows back; to or from
    integers and bool there is none (an integer tensor cannot require grad, so as in PyTorch
    x.long() of a tensor that requires grad gives one that does not)."""
    dtype = as_dtype(dtype, "astype")
    if dtype.kind == "f" and x.dtype.kind == "f":
        return Cast.apply(x, dtype=dtype)
    return Tensor(x.data.astype(dtype))


# ----- comparisons and logic: bool (or integer) results, no gradient ----------------------------
# A comparison is a step function: its derivative is 0 wherever it exists, so none is recorded.
COMPARABLE = (Tensor, np.ndarray, np.generic, int, float)    # bool is an int


def _values(x):
    """A Tensor's array; anything else as it is (an ndarray's own .data is a raw buffer)."""
    return x.data if isinstance(x, Tensor) else x


def _compared(compare, op, a, b):
    """compare(a, b) element-wise, broadcast, as a new Tensor outside any graph."""
    if not (isinstance(a, COMPARABLE) and isinstance(b, COMPARABLE)):
        raise TypeError(f"{op}: expected tensors or numbers, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    try:
        return Tensor(compare(_values(a), _values(b)))
    except ValueError:
        _raise_if_not_broadcastable(op, a, b)
        raise


def eq(a, b):
    """a == b element-wise, a bool Tensor."""
    return _compared(np.equal, "eq", a, b)


def ne(a, b):
    """a != b element-wise, a bool Tensor."""
    return _compared(np.not_equal, "ne", a, b)


def lt(a, b):
    """a < b element-wise, a bool Tensor."""
    return _compared(np.less, "lt", a, b)


def le(a, b):
    """a <= b element-wise, a bool Tensor."""
    return _compared(np.less_equal, "le", a, b)


def gt(a, b):
    """a > b element-wise, a bool Tensor."""
    return _compared(np.greater, "gt", a, b)


def ge(a, b):
    """a >= b element-wise, a bool Tensor."""
    return _compared(np.greater_equal, "ge", a, b)


def _integer_or_bool(op, *operands):
    """Bitwise logic is defined on bool and integer tensors only, as in PyTorch."""
    for x in operands:
        dtype = _dtype(x)
        if (dtype is None and isinstance(x, float)) or (dtype is not None and dtype.kind == "f"):
            raise TypeError(f"{op}: defined for bool and integer tensors only, got "
                            f"{dtype or 'a float'}; a mask is a comparison (x > 0), and "
                            f"masks combine with & | ^ ~")


def bitwise_and(a, b):
    """a & b: logical and of bool tensors (masks), bitwise and of integers."""
    _integer_or_bool("bitwise_and (&)", a, b)
    return _compared(np.bitwise_and, "bitwise_and (&)", a, b)


def bitwise_or(a, b):
    """a | b: logical or of bool tensors, bitwise or of integers."""
    _integer_or_bool("bitwise_or (|)", a, b)
    return _compared(np.bitwise_or, "bitwise_or (|)", a, b)


def bitwise_xor(a, b):
    """a ^ b: logical xor of bool tensors, bitwise xor of integers."""
    _integer_or_bool("bitwise_xor (^)", a, b)
    return _compared(np.bitwise_xor, "bitwise_xor (^)", a, b)


def bitwise_not(x):
    """~x: logical not of a bool tensor (a mask inverted), bitwise not of integers."""
    _integer_or_bool("bitwise_not (~)", x)
    return Tensor(np.invert(_values(x)))


# ----- trigonometry ------------------------------------------------------------------------------
class Sin(Function):
    """z = sin(x);  dL/dx = dL/dz * cos(x)."""

    def forward(self, x):
        self.x = x
        return np.sin(x)

    def backward(self, grad):
        return grad * np.cos(self.x)

    def differentiable_backward(self, grad, z, x):
        """d2z/dx2 = -sin(x)."""
        return grad * cos(x)


class Cos(Function):
    """z = cos(x);  dL/dx = -dL/dz * sin(x)."""

    def forward(self, x):
        self.x = x
        return np.cos(x)

    def backward(self, grad):
        return -grad * np.sin(self.x)

    def differentiable_backward(self, grad, z, x):
        """d2z/dx2 = -cos(x)."""
        return -grad * sin(x)


def sin(x):
    return Sin.apply(real(x))


def cos(x):
    return Cos.apply(real(x))


# ----- choosing by a mask ------------------------------------------------------------------------
class Where(Function):
    """z = a where condition, else b;  dL/da = dL/dz where condition (0 elsewhere), dL/db = dL/dz
    where not (each summed back to its input's shape, as for every broadcasting op)."""

    def forward(self, a, b, condition):
        self.condition = condition
        return np.where(condition, a, b)

    def backward(self, grad):
        zero = np.zeros((), dtype=grad.dtype)
        return np.where(self.condition, grad, zero), np.where(self.condition, zero, grad)

    def differentiable_backward(self, grad, z, a, b):
        """d2z/da2 = d2z/db2 = 0: the gradient is dL/dz chosen by the constant condition."""
        return Where.apply(grad, 0.0, condition=self.condition), \
            Where.apply(0.0, grad, condition=self.condition)


def where(condition, input=None, other=None):
    """torch.where: `where(condition, input, other)` takes input where condition is True and
    other elsewhere (all three broadcast; numbers allowed); `where(condition)` alone gives the
    indices of the True elements, one int64 tensor per axis (torch.nonzero(c, as_tuple=True))."""
    mask = as_array(condition)
    if mask.dtype != np.bool_:
        raise TypeError(f"where: the condition must be a bool tensor, such as x > 0; got dtype "
                        f"{mask.dtype} (compare it, e.g. mask != 0)")
    if input is None and other is None:
        return tuple(Tensor(indices) for indices in np.nonzero(mask))
    if input is None or other is None:
        raise TypeError("where: give both input and other, or the condition alone")
    a, b = _promoted(input, other)
    if _dtype(a) is None and _dtype(b) is None:     # two Python numbers: torch's default dtypes
        floats = isinstance(a, float) or isinstance(b, float)
        a = Tensor(np.asarray(a, dtype=np.float32 if floats else None))
    shapes = mask.shape, np.shape(_values(a)), np.shape(_values(b))
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"where: the shapes of condition {shapes[0]}, input {shapes[1]} and "
                         f"other {shapes[2]} cannot be broadcast together") from None
    return Where.apply(a, b, condition=mask)
