"""B-cos units (Boehle, Fritz, Schiele, "B-cos Networks: Alignment is All We Need for
Interpretability", CVPR 2022): a linear unit whose output is damped unless the input points
along its weight.

For an input x (a feature vector, or one k x k patch of a convolution's input) and a weight w,

    w^ = w / ||w||                      the unit-norm weight (no eps: a weight is never 0)
    l  = w^T x                          the linear response (bcos_linear, bcos_conv2d)
    n  = sqrt(||x||^2 + eps)            the input's norm (per patch: the norm of its column of
                                        the convolution's im2col matrix), eps = 1e-6 as in the
                                        paper's code
    c  = l / n                          ~ cos(x, w)
    out = |c|^(B-1) * l                 = sign(l) |l|^B n^(1-B)     (bcos_scale)

B = 1 is the linear unit w^T x; the larger B, the more a unit asks of the alignment. With
MaxOut (max_out = M units per output, as in the paper: M = 2) each output is the largest of M
such responses; since out is increasing in l at fixed n, max over out = out of the max l, so
the max is taken on l.

Backward of out = sign(l) |l|^B n^(1-B), for B >= 1:

    d out / d l = B |l|^(B-1) n^(1-B)  = B |c|^(B-1)         (= B s)
    d out / d n = (1-B) sign(l)|l|^B n^(-B) = (1-B) out / n

and n's own, d n / d x = x / n. Each layer is one op: the convolution, `BcosConv`, takes its
patch norms from the im2col matrix that it builds anyway (its column norms), so they cost a sum
of squares rather than a second convolution; the linear layer, `BcosDense`, is the same column
math with one column per sample (the arrays work of both: kernels/bcos.py).
`bcos_conv2d_simple` and `bcos_linear_simple` build the same units from primitives (the
norms as conv2d(x*x, ones) and sqrt(sum(x*x) + eps), w^ as unit_norm_simple's w / sqrt(sum(w*w))
where the layers use the one op UnitNorm, the scale as the Function BcosScale, differentiated
by autograd): use them to check the ops.
At l = 0 (x orthogonal to w, or x = 0): out = 0, d out/dl = B * 0^(B-1) = 0 for B > 1 (and 1
for B = 1, where 0^0 = 1: the linear unit), d out/dn = 0; nothing is divided by zero, since
n >= sqrt(eps) > 0. Without eps, x = 0 would be 0/0: the unit is positively homogeneous,
out(t x) = t out(x) for t > 0, continuous at 0 (|out| <= ||x||) but, like |x|, without a
gradient there; the eps makes it smooth, with gradient 0 at x = 0 for B > 1 (and the true w^
for B = 1). B < 1 would blow up at l = 0 and is refused.
(The paper's code also adds 1e-6 to |c| before the power; not here: B s is finite at c = 0,
so nothing needs it, and without it B = 1 is exactly linear.)

Explanation mode (detach=True, the paper's dynamic linear map): the factor s = |c|^(B-1) is
held fixed, out = s * l with d out/dl = s and d out/dn = 0. Every unit is then a fixed linear
map of its input, and a network of them is y = W(x) x with W(x) = dy/dx exactly.
"""
import numpy as np

from minigrad import kernels
from minigrad.checks import check_floating
from minigrad.function import Function
from minigrad.ops._args import as_array
from minigrad.ops.conv import checked_geometry, conv2d
from minigrad.ops.elementwise import abs, sqrt
from minigrad.ops.linalg import linear
from minigrad.ops.reduce import amax
from minigrad.ops.shape import concatenate
from minigrad.tensor import Tensor, grad as gradients


class BcosScale(Function):
    """out = l * s, s = |l / n|^(B-1);  dL/dl = dL/dout * B s,  dL/dn = dL/dout * (1-B) out / n
    (detach: dL/dl = dL/dout * s, dL/dn = 0). n > 0 broadcasts against l."""

    def forward(self, l, n, b, detach):
        self.n, self.b, self.detach = n, b, detach
        self.s = np.abs(l / n) ** (b - 1)
        self.out = l * self.s
        return self.out

    def backward(self, grad):
        if self.detach:
            return grad * self.s, None
        return grad * (self.b * self.s), grad * ((1 - self.b) * self.out / self.n)

    def differentiable_backward(self, grad, out, l, n):
        """d2out/dl2 = B (B-1) s / l,  d2out/dl dn = B (1-B) s / n,  d2out/dn2 = B (B-1) out / n**2
        (detach: s is a constant factor, so backward, on a Tensor, records itself)."""
        if self.detach:
            return self.backward(grad)
        s = abs(l / n) ** (self.b - 1)
        return grad * (self.b * s), grad * ((1 - self.b) * out / n)


def check_b(b, where):
    """b as a float >= 1, or a ValueError naming `where`."""
    if isinstance(b, bool) or not isinstance(b, (int, float, np.integer, np.floating)) \
            or not np.isfinite(b):
        raise TypeError(f"{where}: B must be a number >= 1, got {b!r}")
    if b < 1:
        raise ValueError(f"{where}: B must be >= 1 (B = 1 is linear; B < 1 makes |cos|^(B-1) "
                         f"infinite at cos = 0), got B = {b}")
    return float(b)


def bcos_scale(l, n, b=2.0, detach=False):
    """sign(l) |l|^B n^(1-B): the B-cos non-linearity of linear responses l given the input
    norms n > 0 (broadcastable to l). detach: hold |l/n|^(B-1) fixed in backward."""
    return BcosScale.apply(l, n, b=check_b(b, "bcos_scale"), detach=bool(detach))


class UnitNorm(Function):
    """v = w / ||w|| per output unit r (a row of w: all axes but the first);
    dL/dw = (g - v * sum_r(g * v)) / ||w||: g less its part along v, over the norm.
    A zero row is 0 / 0 = NaN, as in the authors' code (PyTorch's F.normalize clamps the norm
    to 1e-12 instead: an output 0 with a gradient g * 1e12)."""

    def forward(self, weight):
        self.axes = tuple(range(1, weight.ndim))
        self.norm = np.sqrt(np.sum(weight * weight, axis=self.axes, keepdims=True))  # (K, 1..)
        self.v = weight / self.norm
        return self.v

    def backward(self, grad):
        along = np.sum(grad * self.v, axis=self.axes, keepdims=True)               # (K, 1..)
        return (grad - self.v * along) / self.norm

    def differentiable_backward(self, grad, v, weight):
        """The second-order rule of unit_norm_simple's graph, differentiated with
        create_graph."""
        return _recorded_gradients(self, unit_norm_simple(weight), grad, (weight,))


def unit_norm(weight):
    """w / ||w|| for each output unit (row of a Linear's weight (K, D), filter of a Conv2d's
    (K, C, KH, KW)): one op, UnitNorm."""
    wa = as_array(weight)
    if wa.ndim < 2:
        raise ValueError(f"unit_norm: expected a weight with one row per output unit (2-D or "
                         f"more), got shape {wa.shape}")
    check_floating(wa, "unit_norm", "weight")
    return UnitNorm.apply(weight)


def unit_norm_simple(weight):
    """Readable reference for `unit_norm`, built from primitives that autograd
    differentiates."""
    axes = tuple(range(1, weight.ndim))
    return weight / sqrt((weight * weight).sum(axis=axes, keepdims=True))


def max_out(l, units):
    """MaxOut over groups of `units` consecutive outputs: (N, K*M, ...) -> (N, K, ...)."""
    if units == 1:
        return l
    n, channels = l.shape[:2]
    return amax(l.reshape(n, channels // units, units, *l.shape[2:]), axis=2)


def _check_max_out(weight, units, where):
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
        raise ValueError(f"{where}: max_out must be an int >= 1, got {units!r}")
    if weight.shape[0] % units:
        raise ValueError(f"{where}: the weight's {weight.shape[0]} output units do not split "
                         f"into groups of max_out={units}")


def _checked(x, weight, b, units, where):
    """B and the MaxOut checked for the layer `where`; x as a Tensor. -> (b, x)"""
    b = check_b(b, where)
    _check_max_out(weight, units, where)
    return b, (x if isinstance(x, Tensor) else Tensor(x))


class BcosDense(Function):
    """B-cos linear layer of x (N, D) by unit-norm weight rows (K*M, D), BcosConv's math with
    one column per sample (cols = x^T):  l = max over output k's M units of x @ W^T,
    n = sqrt(||x||^2 + eps) per sample,  out = |l/n|^(B-1) l -> (N, K);
    with dz, dn as in BcosConv:  dL/dW = dz^T @ x,  dL/dx = dz @ W + x * dn / n."""

    def forward(self, x, weight, units, b, eps, detach):
        self.weight, self.units, self.b, self.eps, self.detach = weight, units, b, eps, detach
        out, self.saved = kernels.bcos_linear_forward(x, weight, units, b, eps)
        return out                                                   # (N, K)

    def backward(self, grad):
        return kernels.bcos_linear_backward(grad, self.saved, self.weight, self.units, self.b,
                                            self.detach, self.needs_input_grad)

    def differentiable_backward(self, grad, out, x, weight):
        """The second-order rule of the unit built from primitives (bcos_linear_simple's
        graph), differentiated with create_graph."""
        again = _bcos_linear_from_primitives(x, weight, self.b, self.units, self.eps,
                                             self.detach)
        return _recorded_gradients(self, again, grad, (x, weight))


def bcos_linear(x, weight, b=2.0, units=2, eps=1e-6, detach=False):
    """B-cos linear layer. x: (N, in_features), weight (out_features * units, in_features)
    -> (N, out_features): MaxOut over `units` B-cos units |cos(x, w)|^(B-1) w^T x (one op,
    BcosDense)."""
    b, x = _checked(x, weight, b, units, "bcos_linear")
    _check_linear_shapes(as_array(x), as_array(weight))
    return BcosDense.apply(x, unit_norm(weight), units=int(units), b=b, eps=float(eps),
                           detach=bool(detach))


def bcos_linear_simple(x, weight, b=2.0, units=2, eps=1e-6, detach=False):
    """Readable reference for `bcos_linear`, built from primitives that autograd
    differentiates: the norms are sqrt(sum(x * x) + eps)."""
    b, x = _checked(x, weight, b, units, "bcos_linear_simple")
    return _bcos_linear_from_primitives(x, unit_norm_simple(weight), b, units, eps, detach)


def _bcos_linear_from_primitives(x, w_hat, b, units, eps, detach):
    norm = sqrt((x * x).sum(axis=-1, keepdims=True) + eps)                # (N, 1)
    return bcos_scale(max_out(linear(x, w_hat), units), norm, b, detach)


def _check_linear_shapes(xa, wa):
    if wa.ndim != 2:
        raise ValueError(f"bcos_linear: expected a weight of shape (out_features * units, "
                         f"in_features), got {wa.shape}")
    if xa.ndim != 2 or xa.shape[1] != wa.shape[1]:
        raise ValueError(f"bcos_linear: expected an input of shape (N, {wa.shape[1]}) for a "
                         f"weight of shape {wa.shape}, got {xa.shape}")
    check_floating(xa, "bcos_linear")
    if xa.dtype != wa.dtype:
        raise TypeError(f"bcos_linear: input dtype {xa.dtype} and weight dtype {wa.dtype} "
                        f"differ")


def _recorded_gradients(op, again, grad, inputs):
    """The gradients of `again` (op's output rebuilt from primitives) with respect to those of
    `inputs` op needs, recorded (create_graph): op's differentiable_backward."""
    wanted = [t for t, need in zip(inputs, op.needs_input_grad) if need]
    found = iter(gradients(again, wanted, grad, create_graph=True, allow_unused=True))
    return tuple(next(found) if need else None for need in op.needs_input_grad)


class BcosConv(Function):
    """B-cos convolution of x (N, C, H, W) by unit-norm filters weight (K*M, C, KH, KW), per
    patch column p of cols = im2col(x) (D, P):
        l = max over output k's M units of (W @ cols),  n = sqrt(sum_rows cols**2 + eps),
        out = |l/n|^(B-1) l  -> (N, K, OH, OW);
    with dl = dout B s, dn = sum_k dout (1-B) out / n (detach: dl = dout s, dn = 0), s = |l/n|^(B-1):
        dL/dW = dz @ cols^T,  dL/dx = col2im(W^T @ dz + cols * dn / n),
    dz being dl at each output's winning unit and 0 at the others (at a tie: the first unit,
    as torch.max and the authors' layer; bcos_conv2d_simple's amax shares it out).
    add_inverse: the same of u = [x, 1 - x], weight (K*M, 2C, KH, KW), and dL/dx = du_1 - du_2
    (the kernels never build u)."""

    def forward(self, x, weight, geometry, padding, units, b, eps, detach, add_inverse):
        self.x_shape, self.weight, self.geometry, self.padding = x.shape, weight, geometry, padding
        self.units, self.b, self.eps, self.detach = units, b, eps, detach
        self.add_inverse = add_inverse
        out, self.saved = kernels.bcos_conv2d_forward(x, weight, geometry, units, b, eps,
                                                      add_inverse)
        return out                                                   # (N, K, OH, OW)

    def backward(self, grad):
        return kernels.bcos_conv2d_backward(grad, self.saved, self.weight, self.x_shape,
                                            self.geometry, self.units, self.b, self.detach,
                                            self.needs_input_grad, self.add_inverse)

    def differentiable_backward(self, grad, out, x, weight):
        """The second-order rule of the same unit built from primitives (bcos_conv2d_simple's
        graph), differentiated with create_graph."""
        g = self.geometry
        again = _bcos_conv_from_primitives(x, weight, self.b, self.units, (g.SH, g.SW),
                                           self.padding, (g.DH, g.DW), self.eps, self.detach,
                                           self.add_inverse)
        return _recorded_gradients(self, again, grad, (x, weight))


def bcos_conv2d(x, weight, b=2.0, units=2, stride=1, padding=0, dilation=1, eps=1e-6,
                detach=False, add_inverse=False):
    """B-cos convolution. x: (N, C, H, W), weight (out_channels * units, C, KH, KW)
    -> (N, out_channels, OH, OW): at each position, MaxOut over `units` B-cos units of the
    k x k patch (one op, BcosConv: the patch norms come from the im2col columns).
    add_inverse: the convolution of [x, 1 - x] (AddInverse's encoding; weight with 2C input
    channels), without building it."""
    b, x = _checked(x, weight, b, units, "bcos_conv2d")
    xa, wa = as_array(x), as_array(weight)
    if add_inverse:                         # the geometry and checks of x's half of the filters
        wa = _half_of_encoded(xa, wa, "bcos_conv2d")
    geometry = checked_geometry(xa, wa, stride, padding, dilation, 1, "bcos_conv2d")
    return BcosConv.apply(x, unit_norm(weight), geometry=geometry, padding=padding,
                          units=int(units), b=b, eps=float(eps), detach=bool(detach),
                          add_inverse=bool(add_inverse))


def _half_of_encoded(xa, wa, where):
    """wa's filters on x (the first half of the channels), or a clear error unless wa has
    2C input channels for x's C, as the convolution of [x, 1 - x] needs."""
    if xa.ndim == wa.ndim == 4 and wa.shape[1] != 2 * xa.shape[1]:
        raise ValueError(f"{where}: with add_inverse the weight needs 2 * C = "
                         f"{2 * xa.shape[1]} input channels (for x and 1 - x), got a weight "
                         f"{wa.shape} for an input {xa.shape}")
    return wa[:, :xa.shape[1]] if wa.ndim == 4 else wa


def bcos_conv2d_simple(x, weight, b=2.0, units=2, stride=1, padding=0, dilation=1, eps=1e-6,
                       detach=False, add_inverse=False):
    """Readable reference for `bcos_conv2d`, built from primitives that autograd differentiates:
    the patch norms are sqrt(conv2d(x*x, ones (1, C, KH, KW)) + eps); add_inverse: of
    x = [x, 1 - x]."""
    b, x = _checked(x, weight, b, units, "bcos_conv2d_simple")
    return _bcos_conv_from_primitives(x, unit_norm_simple(weight), b, units, stride, padding,
                                      dilation, eps, detach, add_inverse)


def _bcos_conv_from_primitives(x, w_hat, b, units, stride, padding, dilation, eps, detach,
                               add_inverse):
    if add_inverse:
        x = concatenate([x, 1.0 - x], axis=1)
    ones = np.ones((1,) + tuple(w_hat.shape[1:]), dtype=x.dtype)
    patch_norm = sqrt(conv2d(x * x, ones, None, stride, padding, dilation) + eps)  # (N,1,OH,OW)
    response = conv2d(x, w_hat, None, stride, padding, dilation)
    return bcos_scale(max_out(response, units), patch_norm, b, detach)
