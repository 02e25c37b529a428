"""Adagrad (Duchi, Hazan & Singer 2011): divide each step by the root of all past squared
gradients."""
import numpy as np

from minigrad.optim.optimizer import (Optimizer, check_hyperparameters, l2_gradient,
                                      refuse_unsupported)


class Adagrad(Optimizer):
    """Per-parameter step sizes that only shrink (PyTorch's form; step t = 1, 2, ...):

        g     = grad + weight_decay * p              (g = -grad first, with maximize=True)
        sum   = sum + g**2                           (sum starts at initial_accumulator_value)
        lr_t  = lr / (1 + (t - 1) * lr_decay)
        p     = p - lr_t * g / (sqrt(sum) + eps)

    A weight whose gradients have been large takes small steps from then on; a rarely-updated
    one keeps large steps. Because sum never forgets, the steps decay towards 0 (RMSprop and
    Adadelta replace the sum by a running mean).
    `foreach` and `fused` are accepted and change nothing (they pick one of PyTorch's
    implementations); `differentiable=True` is refused. (PyTorch starts every group's sum at the
    constructor's initial_accumulator_value; here a group may set its own.)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_hyperparameters("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                              initial_accumulator_value=initial_accumulator_value, eps=eps)
        refuse_unsupported("Adagrad", differentiable=differentiable)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    def update(self, param, grad, state, group):
        grad = l2_gradient(param, -grad if group["maximize"] else grad, group["weight_decay"])
        step = state["step"] = state.get("step", 0) + 1
        if "sum" not in state:
            state["sum"] = np.full_like(param, group["initial_accumulator_value"])
        state["sum"] += grad * grad
        decayed_lr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        param -= decayed_lr * (grad / (np.sqrt(state["sum"]) + group["eps"]))
