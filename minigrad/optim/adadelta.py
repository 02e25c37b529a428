"""Adadelta (Zeiler 2012): step sizes in the units of the parameter, from two running means."""
import numpy as np

from minigrad.optim.optimizer import (Optimizer, check_hyperparameters, l2_gradient,
                                      refuse_unsupported)


class Adadelta(Optimizer):
    """Each step is scaled by RMS(recent steps) / RMS(recent gradients) (PyTorch's form):

        g  = grad + weight_decay * p                  (g = -grad first, with maximize=True)
        v  = rho * v + (1 - rho) * g**2               (running mean of squared gradients)
        dx = sqrt(u + eps) / sqrt(v + eps) * g        (u: the running mean of squared steps)
        u  = rho * u + (1 - rho) * dx**2
        p  = p - lr * dx

    v and u start at 0. The ratio of the two RMS values has the units of p, so Zeiler's method
    needs no learning rate: lr (1.0 by default) only rescales the step, as in PyTorch.
    `foreach` is accepted and changes nothing (it picks one of PyTorch's implementations);
    `capturable=True` and `differentiable=True` are refused.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        check_hyperparameters("Adadelta", lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)
        refuse_unsupported("Adadelta", capturable=capturable, differentiable=differentiable)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def update(self, param, grad, state, group):
        grad = l2_gradient(param, -grad if group["maximize"] else grad, group["weight_decay"])
        rho, eps = group["rho"], group["eps"]
        square_avg = state.setdefault("square_avg", np.zeros_like(param))
        acc_delta = state.setdefault("acc_delta", np.zeros_like(param))
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        param -= group["lr"] * delta
