"""Losses: mse_loss, cross_entropy, nll_loss, binary_cross_entropy_with_logits.

Each takes `reduction`: 'none' keeps one loss per element (per sample for the classification
losses), 'sum' adds them, 'mean' averages them. The fused ones are single Functions, because their
combined gradient is simpler and more stable than the chain of their parts (softmax - one-hot).
"""
import numpy as np

from minigrad.function import Function
from minigrad.ops.activation import log_softmax_array, stable_sigmoid

REDUCTIONS = ("mean", "sum", "none")


def _reduce(losses, reduction):
    """Reduce per-element losses (an ndarray, or a Tensor: both have .mean() and .sum())."""
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _per_element_grad(grad, reduction, shape):
    """dL/d(each element's loss): the same number for 'sum'/'mean', the given array for 'none'."""
    if reduction == "mean":
        grad = grad / int(np.prod(shape))
    return np.broadcast_to(grad, shape)


class CrossEntropy(Function):
    """loss_i = -sum_c q_ic log softmax(x_i)_c  with q the (smoothed) one-hot target;
    dL/dx_i = dL/dloss_i * (softmax(x_i) - q_i).

    With label smoothing e over C classes, q = (1 - e) one_hot + e / C (as in PyTorch).
    """

    def forward(self, logits, labels, reduction, label_smoothing):
        n, classes = logits.shape
        self.reduction = reduction
        self.log_probs = log_softmax_array(logits, axis=1)            # (N, C)
        self.target = np.full((n, classes), label_smoothing / classes, dtype=logits.dtype)
        self.target[np.arange(n), labels] += 1 - label_smoothing
        return _reduce(-(self.target * self.log_probs).sum(axis=1), reduction)

    def backward(self, grad):
        per_sample = _per_element_grad(grad, self.reduction, self.log_probs.shape[:1])
        return per_sample[:, None] * (np.exp(self.log_probs) - self.target)


class NLLLoss(Function):
    """loss_i = -logp[i, y_i];  dL/dlogp[i, c] = -dL/dloss_i if c == y_i, else 0."""

    def forward(self, log_probs, labels, reduction):
        self.shape, self.labels, self.reduction = log_probs.shape, labels, reduction
        return _reduce(-log_probs[np.arange(len(labels)), labels], reduction)

    def backward(self, grad):
        per_sample = _per_element_grad(grad, self.reduction, self.labels.shape)
        grad_in = np.zeros(self.shape, dtype=grad.dtype)
        grad_in[np.arange(len(self.labels)), self.labels] = -per_sample
        return grad_in


class BinaryCrossEntropyWithLogits(Function):
    """loss = -(y log s(x) + (1 - y) log(1 - s(x))), s = sigmoid;  dL/dx = dL/dloss * (s(x) - y).

    Computed as max(x, 0) - x y + log(1 + exp(-|x|)), which never overflows.
    """

    def forward(self, x, y, reduction):
        self.x, self.y, self.reduction = x, y, reduction
        losses = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
        return _reduce(losses, reduction)

    def backward(self, grad):
        per_element = _per_element_grad(grad, self.reduction, self.x.shape)
        grad_x = per_element * (stable_sigmoid(self.x) - self.y)
        grad_y = -per_element * self.x if self.needs_input_grad[1] else None
        return grad_x, grad_y


def _check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_same_shape(name, prediction, target):
    if target is None:
        raise TypeError(f"{name}: expected a target of the input's shape {prediction.shape}, "
                        f"got None")
    target_shape = np.shape(getattr(target, "data", target))
    if target_shape != prediction.shape:
        raise ValueError(f"{name}: target of shape {target_shape} must match the input's "
                         f"shape {prediction.shape}")


def _class_labels(logits, labels, name):
    """Validate (N, C) scores against (N,) integer labels in [0, C); return the label array."""
    labels = np.asarray(getattr(labels, "data", labels))
    if not np.issubdtype(logits.dtype, np.floating):
        raise TypeError(f"{name}: expected floating-point scores, got dtype {logits.dtype} "
                        f"(convert them with .astype(np.float32))")
    if logits.ndim != 2 or logits.shape[1] == 0:
        raise ValueError(f"{name}: expected input of shape (N, C) with C >= 1 classes, got "
                         f"{logits.shape}")
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"{name}: expected labels of shape {logits.shape[:1]} to match input "
                         f"{logits.shape}, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{name}: labels must be integers (class indices), got {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ValueError(f"{name}: labels must lie in [0, {logits.shape[1]}), got values in "
                         f"[{labels.min()}, {labels.max()}]")
    return labels


def cross_entropy(logits, labels, *, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of (N, C) logits against (N,) integer class labels.

    reduction and label_smoothing are keyword-only: PyTorch's third argument is a class weight,
    which minigrad does not take."""
    _check_reduction(reduction)
    labels = _class_labels(logits, labels, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    return CrossEntropy.apply(logits, labels=labels, reduction=reduction,
                              label_smoothing=label_smoothing)


def nll_loss(log_probs, labels, *, reduction="mean"):
    """Negative log-likelihood of (N, C) log-probabilities (e.g. log_softmax output)."""
    _check_reduction(reduction)
    labels = _class_labels(log_probs, labels, "nll_loss")
    return NLLLoss.apply(log_probs, labels=labels, reduction=reduction)


def binary_cross_entropy_with_logits(logits, targets, *, reduction="mean"):
    """Sigmoid + binary cross-entropy in one stable step; targets in [0, 1], same shape."""
    _check_reduction(reduction)
    if not np.issubdtype(logits.dtype, np.floating):
        raise TypeError(f"binary_cross_entropy_with_logits: expected floating-point logits, got "
                        f"dtype {logits.dtype} (convert them with .astype(np.float32))")
    _check_same_shape("binary_cross_entropy_with_logits", logits, targets)
    return BinaryCrossEntropyWithLogits.apply(logits, targets, reduction=reduction)


def mse_loss(prediction, target, *, reduction="mean"):
    """Mean squared error: (prediction - target)**2, reduced; built from the elementwise ops."""
    _check_reduction(reduction)
    _check_same_shape("mse_loss", prediction, target)
    return _reduce((prediction - target) ** 2, reduction)
