"""Loss modules, as PyTorch's: MSELoss, L1Loss, CrossEntropyLoss, NLLLoss, BCEWithLogitsLoss and
BCELoss. Each is a thin Module over its function (minigrad/ops/loss.py), which does the work:

    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    loss = criterion(model(x), y)           # = F.cross_entropy(model(x), y, label_smoothing=0.1)

The constructors take PyTorch's arguments in PyTorch's order: `weight` first where PyTorch has
it, the rest keyword-only, because PyTorch's next positional ones are its deprecated
`size_average` and `reduce` (write `reduction='sum'` for `size_average=False`). The weights are
buffers, as in PyTorch: saved in the state dict and cast by `to(dtype)`.
"""
import numpy as np

from minigrad import functional as F
from minigrad.nn.module import Module
from minigrad.ops.loss import check_constant, check_reduction
from minigrad.tensor import as_array


class _Loss(Module):
    """What every loss module shares: a checked `reduction`, and weights kept as buffers."""

    def __init__(self, reduction):
        super().__init__()
        check_reduction(reduction)
        self.reduction = reduction

    def _weight_buffer(self, name, weight):
        check_constant(type(self).__name__, name, weight)
        self.register_buffer(name, None if weight is None else as_array(weight))


class MSELoss(_Loss):
    """Mean squared error between input and target (same shape); see F.mse_loss."""

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error between input and target (same shape); see F.l1_loss."""

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class NLLLoss(_Loss):
    """Negative log-likelihood of (N, C) log-probabilities against (N,) class labels, with
    optional (C,) class weights; see F.nll_loss."""

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self._weight_buffer("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(NLLLoss):
    """Softmax cross-entropy of (N, C) logits against (N,) class labels; see F.cross_entropy."""

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, ignore_index=ignore_index, reduction=reduction)
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1] against targets in [0, 1], with an
    optional weight that broadcasts to the input; see F.binary_cross_entropy."""

    def __init__(self, weight=None, *, reduction="mean"):
        super().__init__(reduction)
        self._weight_buffer("weight", weight)

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(BCELoss):
    """Sigmoid and binary cross-entropy in one stable step, with optional weight and pos_weight
    (one per class, along the last axis); see F.binary_cross_entropy_with_logits."""

    def __init__(self, weight=None, *, reduction="mean", pos_weight=None):
        super().__init__(weight, reduction=reduction)
        self._weight_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
