"""Losses: mse_loss, l1_loss, cross_entropy, nll_loss, binary_cross_entropy and
binary_cross_entropy_with_logits, with PyTorch's arguments.

Each takes `reduction`: 'none' keeps one loss per element (per sample for the classification
losses), 'sum' adds them, 'mean' averages them. The fused ones are single Functions, because their
combined gradient is simpler and more stable than the chain of their parts (softmax - one-hot).

The classification losses take PyTorch's class `weight` and `ignore_index`: a sample counts with
the weight of its target class, an ignored one not at all, and 'mean' divides by the sum of the
counted samples' weights (not by N), exactly as PyTorch does.

Each fused loss's `differentiable_backward`, under its `backward`, is its second-order rule: the
same gradient from Tensor ops (so gradients of gradients work), its docstring the second
derivative; mse_loss and l1_loss are built from ops that have theirs.
"""
import numpy as np

from minigrad.checks import broadcasts_to, check_number
from minigrad.function import Function
from minigrad.ops.activation import log_softmax_array, sigmoid, softmax, stable_sigmoid
from minigrad.ops.elementwise import exp, log, maximum, where
from minigrad.ops.shape import expand
from minigrad.tensor import Tensor, as_array

REDUCTIONS = ("mean", "sum", "none")
LOG_FLOOR = -100.0       # binary_cross_entropy clamps each log to this, as PyTorch (log 0 = -inf)
# ... and keeps its gradient's p (1 - p) above PyTorch's 1e-12, which is a C float
PROBABILITY_EPS = float(np.float32(1e-12))


def _reduce(losses, reduction, total_weight=None):
    """Reduce per-element losses (an ndarray, or a Tensor: both have .mean() and .sum()).

    'mean' divides by total_weight when given (the classification losses' weighted count)."""
    if reduction == "mean":
        if total_weight is None:
            return losses.mean()
        with np.errstate(invalid="ignore", divide="ignore"):   # nothing counted: NaN, as PyTorch
            return losses.sum() / total_weight
    if reduction == "sum":
        return losses.sum()
    return losses


def _per_element_grad(grad, reduction, shape, total_weight=None):
    """dL/d(each element's loss): the same number for 'sum'/'mean', the given array for 'none'
    (for a Tensor grad, in a second-order rule, by recorded ops)."""
    if reduction == "mean":
        count = int(np.prod(shape)) if total_weight is None else total_weight
        # nothing counted (every target ignored): every gradient is 0, as PyTorch's
        grad = grad / count if count else np.zeros_like(grad)
    return expand(grad, shape) if isinstance(grad, Tensor) else np.broadcast_to(grad, shape)


def _target_weights(labels, classes, weight, ignore_index, label_smoothing, dtype):
    """q (N, C), how much each log-probability counts: loss_i = -sum_c q[i, c] log p[i, c];
    and the mean's denominator.

    PyTorch's rule: q[i] = (1 - e) w[y_i] one_hot(y_i) + (e / C) w for label smoothing e and class
    weights w (all 1 without), q[i] = 0 where y_i == ignore_index; 'mean' divides by the sum of
    w[y_i] over the samples not ignored (their number, without weights).
    """
    w = np.ones(classes, dtype) if weight is None else weight.astype(dtype, copy=False)
    kept = np.flatnonzero(labels != ignore_index)
    q = np.zeros((len(labels), classes), dtype)
    q[kept] = label_smoothing / classes * w
    q[kept, labels[kept]] += (1 - label_smoothing) * w[labels[kept]]
    return q, w[labels[kept]].sum()


def _weighted_sum(q, log_probs):
    """sum_c q[i, c] log p[i, c], taking only the log-probabilities that q weighs: a class masked
    with a -inf logit has log p = -inf, and 0 * -inf would make the loss NaN."""
    return (q * np.where(q != 0, log_probs, 0)).sum(axis=1)


class CrossEntropy(Function):
    """loss_i = -sum_c q_ic log softmax(x_i)_c, q the target weights (see _target_weights);
    dL/dx_i = dL/dloss_i * (sum_c q_ic * softmax(x_i) - q_i)   (softmax - one-hot, when q is one).
    """

    def forward(self, logits, target_weights, total_weight, reduction):
        self.q, self.total_weight, self.reduction = target_weights, total_weight, reduction
        self.log_probs = log_softmax_array(logits, axis=1)            # (N, C)
        return _reduce(-_weighted_sum(self.q, self.log_probs), reduction, total_weight)

    def backward(self, grad):
        per_sample = _per_element_grad(grad, self.reduction, self.q.shape[:1], self.total_weight)
        q_total = self.q.sum(axis=1, keepdims=True)                   # (N, 1)
        return per_sample[:, None] * (q_total * np.exp(self.log_probs) - self.q)

    def differentiable_backward(self, grad, loss, logits):
        """d2loss_i/dx_i2 = sum_c q_ic (diag(p_i) - p_i p_i^T), p_i = softmax(x_i)."""
        per_sample = _per_element_grad(grad, self.reduction, self.q.shape[:1], self.total_weight)
        q_total = self.q.sum(axis=1, keepdims=True)                   # (N, 1)
        return per_sample[:, None] * (q_total * softmax(logits, dim=1) - self.q)


class NLLLoss(Function):
    """loss_i = -sum_c q_ic logp_ic = -w[y_i] logp[i, y_i];  dL/dlogp_i = -dL/dloss_i * q_i."""

    def forward(self, log_probs, target_weights, total_weight, reduction):
        self.q, self.total_weight, self.reduction = target_weights, total_weight, reduction
        return _reduce(-_weighted_sum(self.q, log_probs), reduction, total_weight)

    def backward(self, grad):
        per_sample = _per_element_grad(grad, self.reduction, self.q.shape[:1], self.total_weight)
        return -per_sample[:, None] * self.q

    def differentiable_backward(self, grad, loss, log_probs):
        """d2loss/dlogp2 = 0: linear, so backward, on a Tensor, records itself."""
        return self.backward(grad)


class BinaryCrossEntropyWithLogits(Function):
    """loss = -w (p y log s(x) + (1 - y) log(1 - s(x))), s = sigmoid, w = weight, p = pos_weight;
    dL/dx = dL/dloss * w ((p y + 1 - y) s(x) - p y);  dL/dy = dL/dloss * w (-x + (p - 1) sp(-x)).

    Computed as w ((1 - y) x + (p y + 1 - y) sp(-x)), sp(z) = log(1 + exp(z)) = softplus, which
    never overflows. With p = 1 the gradient is the familiar s(x) - y.
    """

    def forward(self, x, y, weight, pos_weight, reduction):
        self.x, self.y, self.reduction = x, y, reduction
        self.w = 1.0 if weight is None else weight
        self.p = 1.0 if pos_weight is None else pos_weight
        self.softplus_neg_x = np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))
        losses = self.w * ((1 - y) * x + (self.p * y + 1 - y) * self.softplus_neg_x)
        return _reduce(losses, reduction)

    def backward(self, grad):
        weighted = self.w * _per_element_grad(grad, self.reduction, self.x.shape)
        p_y = self.p * self.y
        grad_x = weighted * ((p_y + 1 - self.y) * stable_sigmoid(self.x) - p_y)
        grad_y = (weighted * (-self.x + (self.p - 1) * self.softplus_neg_x)
                  if self.needs_input_grad[1] else None)
        return grad_x, grad_y

    def differentiable_backward(self, grad, loss, x, y):
        """d2loss/dx2 = w (p y + 1 - y) s (1 - s),  d2loss/dx dy = w ((p - 1) s - p),
        d2loss/dy2 = 0;  s = sigmoid(x)."""
        weighted = self.w * _per_element_grad(grad, self.reduction, x.shape)
        p_y = self.p * y
        grad_x = weighted * ((p_y + 1 - y) * sigmoid(x) - p_y)
        # sp(-x) = max(-x, 0) + log(1 + exp(-|x|)), with both kinks at 0 on the same side (a
        # constant mask): abs and relu would each take their 0 slope there, where sp is smooth
        negative = x.data <= 0
        softplus_neg_x = where(negative, -x, 0.0) + log(1 + exp(where(negative, x, -x)))
        grad_y = (weighted * (-x + (self.p - 1) * softplus_neg_x)
                  if self.needs_input_grad[1] else None)
        return grad_x, grad_y


class BinaryCrossEntropy(Function):
    """loss = -w (y log p + (1 - y) log(1 - p)), each log clamped to >= -100 (as PyTorch);
    dL/dp = dL/dloss * w (p - y) / max(p (1 - p), 1e-12);  dL/dy = dL/dloss * w (log(1-p) - log p).

    The clamp keeps a confident wrong answer (p = 0, y = 1) at a loss of 100 rather than inf; the
    gradient is PyTorch's: the unclamped formula with its denominator kept away from 0.
    """

    def forward(self, p, y, weight, reduction):
        self.p, self.y, self.reduction = p, y, reduction
        self.w = 1.0 if weight is None else weight
        with np.errstate(divide="ignore"):                          # log 0 = -inf, then clamped
            self.log_p = np.maximum(np.log(p), LOG_FLOOR)
            self.log_1mp = np.maximum(np.log1p(-p), LOG_FLOOR)
        return _reduce(-self.w * (y * self.log_p + (1 - y) * self.log_1mp), reduction)

    def backward(self, grad):
        weighted = self.w * _per_element_grad(grad, self.reduction, self.p.shape)
        grad_p = weighted * (self.p - self.y) / np.maximum(self.p * (1 - self.p), PROBABILITY_EPS)
        grad_y = weighted * (self.log_1mp - self.log_p) if self.needs_input_grad[1] else None
        return grad_p, grad_y

    def differentiable_backward(self, grad, loss, p, y):
        """d2loss/dp2 = w (y / p**2 + (1 - y) / (1 - p)**2),  d2loss/dp dy = -w / (p (1 - p)),
        d2loss/dy2 = 0 (away from the clamps)."""
        weighted = self.w * _per_element_grad(grad, self.reduction, p.shape)
        grad_p = weighted * (p - y) / maximum(p * (1 - p), PROBABILITY_EPS)
        grad_y = None
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                log_p, log_1mp = maximum(log(p), LOG_FLOOR), maximum(log(1 - p), LOG_FLOOR)
            grad_y = weighted * (log_1mp - log_p)
        return grad_p, grad_y


# ----- argument checks ---------------------------------------------------------------------------
def check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_floating(name, x, what):
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name}: expected floating-point {what}, got dtype {x.dtype} "
                        f"(convert them with .astype(np.float32))")


def _check_unit_interval(name, what, values):
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{name}: the {what} must hold numbers, got dtype {values.dtype}")
    if not ((values >= 0) & (values <= 1)).all():                 # NaN fails both comparisons
        raise ValueError(f"{name}: every element of the {what} must lie in [0, 1], got values "
                         f"in [{values.min()}, {values.max()}]")


def _check_same_shape(name, prediction, target):
    if target is None:
        raise TypeError(f"{name}: expected a target of the input's shape {prediction.shape}, "
                        f"got None")
    target_shape = as_array(target).shape
    if target_shape != prediction.shape:
        raise ValueError(f"{name}: target of shape {target_shape} must match the input's "
                         f"shape {prediction.shape}")


def _constant(name, what, value, dtype, shape, exact=False):
    """A weight argument (Tensor, array or None) as an array of `dtype`, or None; it must have
    `shape` (exact) or broadcast to it. No gradient is computed for it (as in PyTorch)."""
    if value is None:
        return None
    check_constant(name, what, value)
    array = as_array(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name}: {what} must hold numbers, got dtype {array.dtype}")
    fits = array.shape == shape if exact else broadcasts_to(array.shape, shape)
    if not fits:
        expected = f"shape {shape}" if exact else f"a shape that broadcasts to {shape}"
        raise ValueError(f"{name}: expected {what} of {expected}, got shape {array.shape}")
    return array.astype(dtype, copy=False)


def check_constant(name, what, value):
    """Refuse a weight that requires grad: no loss is differentiable with respect to its weights
    (PyTorch refuses them too), so its gradient would silently stay None."""
    if getattr(value, "requires_grad", False):
        raise ValueError(f"{name}: {what} requires grad, but the loss is not differentiable with "
                         f"respect to it (as in PyTorch); pass {what}.detach()")


def _class_labels(logits, labels, name, ignore_index):
    """Validate (N, C) scores against (N,) integer labels, each in [0, C) or ignore_index."""
    labels = as_array(labels)
    _check_floating(name, logits, "scores")
    if logits.ndim != 2 or logits.shape[1] == 0:
        raise ValueError(f"{name}: expected input of shape (N, C) with C >= 1 classes, got "
                         f"{logits.shape}")
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"{name}: expected labels of shape {logits.shape[:1]} to match input "
                         f"{logits.shape}, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{name}: labels must be integers (class indices), got {labels.dtype}; "
                        f"class probabilities as targets are not supported")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"{name}: ignore_index must be an int, got {ignore_index!r}")
    counted = labels[labels != ignore_index]
    if counted.size and (counted.min() < 0 or counted.max() >= logits.shape[1]):
        raise ValueError(f"{name}: labels must lie in [0, {logits.shape[1]}) (or equal "
                         f"ignore_index={ignore_index}), got values in "
                         f"[{counted.min()}, {counted.max()}]")
    return labels


def _classification_targets(name, scores, labels, weight, ignore_index, reduction,
                            label_smoothing=0.0):
    """The checks cross_entropy and nll_loss share; returns (q, total_weight)."""
    check_reduction(reduction)
    labels = _class_labels(scores, labels, name, ignore_index)
    weight = _constant(name, "weight", weight, scores.dtype, scores.shape[1:], exact=True)
    return _target_weights(labels, scores.shape[1], weight, ignore_index, label_smoothing,
                           scores.dtype)


# ----- the functions -----------------------------------------------------------------------------
def cross_entropy(logits, labels, weight=None, *, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Softmax cross-entropy of (N, C) logits against (N,) integer class labels.

    weight: (C,) class weights or None; labels equal to ignore_index count for nothing. The
    arguments after weight are keyword-only: PyTorch's next positional ones are its deprecated
    size_average and reduce, which minigrad does not take."""
    check_number(label_smoothing, "label_smoothing", "cross_entropy", 0.0, 1.0)
    q, total = _classification_targets("cross_entropy", logits, labels, weight, ignore_index,
                                       reduction, label_smoothing)
    return CrossEntropy.apply(logits, target_weights=q, total_weight=total, reduction=reduction)


def nll_loss(log_probs, labels, weight=None, *, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of (N, C) log-probabilities (e.g. log_softmax output) against (N,)
    integer labels; weight and ignore_index as in cross_entropy."""
    q, total = _classification_targets("nll_loss", log_probs, labels, weight, ignore_index,
                                       reduction)
    return NLLLoss.apply(log_probs, target_weights=q, total_weight=total, reduction=reduction)


def binary_cross_entropy_with_logits(logits, targets, weight=None, *, reduction="mean",
                                     pos_weight=None):
    """Sigmoid + binary cross-entropy in one stable step; targets in [0, 1], same shape.

    weight rescales each element's loss, pos_weight the positive term's (one per class, along
    the last axis); both broadcast to the input's shape."""
    name = "binary_cross_entropy_with_logits"
    check_reduction(reduction)
    _check_floating(name, logits, "logits")
    _check_same_shape(name, logits, targets)
    weight = _constant(name, "weight", weight, logits.dtype, logits.shape)
    pos_weight = _constant(name, "pos_weight", pos_weight, logits.dtype, logits.shape)
    return BinaryCrossEntropyWithLogits.apply(logits, targets, weight=weight,
                                              pos_weight=pos_weight, reduction=reduction)


def binary_cross_entropy(probabilities, targets, weight=None, *, reduction="mean"):
    """Binary cross-entropy of probabilities in [0, 1] (a sigmoid's output) against targets in
    [0, 1] of the same shape; each log is clamped to >= -100, as in PyTorch. For raw scores,
    binary_cross_entropy_with_logits is the stable choice."""
    name = "binary_cross_entropy"
    check_reduction(reduction)
    _check_floating(name, probabilities, "probabilities")
    _check_same_shape(name, probabilities, targets)
    _check_unit_interval(name, "input", as_array(probabilities))
    _check_unit_interval(name, "target", as_array(targets))
    weight = _constant(name, "weight", weight, probabilities.dtype, probabilities.shape)
    return BinaryCrossEntropy.apply(probabilities, targets, weight=weight, reduction=reduction)


def mse_loss(prediction, target, *, reduction="mean"):
    """Mean squared error: (prediction - target)**2, reduced; built from the elementwise ops
    (so its gradient, 2 (prediction - target), is theirs)."""
    check_reduction(reduction)
    _check_same_shape("mse_loss", prediction, target)
    return _reduce((prediction - target) ** 2, reduction)


def l1_loss(prediction, target, *, reduction="mean"):
    """Mean absolute error: |prediction - target|, reduced; built from the elementwise ops (so its
    gradient is sign(prediction - target), 0 where they are equal, as in PyTorch)."""
    check_reduction(reduction)
    _check_same_shape("l1_loss", prediction, target)
    return _reduce((prediction - target).abs(), reduction)
