"""RMSprop (Hinton's lecture 6e): divide each step by a running RMS of recent gradients."""
import numpy as np

from minigrad.optim.optimizer import Optimizer, check_hyperparameters, l2_gradient


class RMSprop(Optimizer):
    """Per-parameter step sizes from a running mean of squared gradients (PyTorch's form):

        g = grad + weight_decay * p
        s = alpha * s + (1 - alpha) * g**2            (s starts at 0)
        d = g / (sqrt(s) + eps)
        p = p - lr * d                     or, with momentum:
        b = momentum * b + d,   p = p - lr * b

    Parameters with large, noisy gradients take small steps, rarely-updated ones large steps.
    (PyTorch's `centered=True` variant is not implemented.)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0):
        check_hyperparameters("RMSprop", lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                              momentum=momentum)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum))

    def update(self, param, grad, state, group):
        grad = l2_gradient(param, grad, group["weight_decay"])
        alpha = group["alpha"]
        square_avg = state.setdefault("square_avg", np.zeros_like(param))
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        direction = grad / (np.sqrt(square_avg) + group["eps"])
        if group["momentum"]:
            buffer = state.setdefault("momentum_buffer", np.zeros_like(param))
            buffer *= group["momentum"]
            buffer += direction
            direction = buffer
        param -= group["lr"] * direction
