"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019)."""
import math

import numpy as np

from minigrad.optim.optimizer import Optimizer, check_hyperparameters, l2_gradient


class Adam(Optimizer):
    """Momentum and RMSprop together, with bias correction (step t = 1, 2, ...):

        g     = grad + weight_decay * p             (L2 penalty inside the gradient)
        m     = beta1 * m + (1 - beta1) * g         (running mean of gradients)
        v     = beta2 * v + (1 - beta2) * g**2      (running mean of squared gradients)
        m_hat = m / (1 - beta1**t),   v_hat = v / (1 - beta2**t)
        p     = p - lr * m_hat / (sqrt(v_hat) + eps)

    m and v start at 0, so early on they underestimate; dividing by (1 - beta**t) undoes that.
    (PyTorch's `amsgrad=True` variant is not implemented.)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        check_hyperparameters(type(self).__name__, lr=lr, beta1=betas[0], beta2=betas[1],
                              eps=eps, weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

    def decay(self, param, grad, group):
        """Adam's weight decay: an L2 term added to the gradient (then rescaled by v)."""
        return l2_gradient(param, grad, group["weight_decay"])

    def update(self, param, grad, state, group):
        grad = self.decay(param, grad, group)
        beta1, beta2 = group["betas"]
        step = state["step"] = state.get("step", 0) + 1
        m = state.setdefault("exp_avg", np.zeros_like(param))
        v = state.setdefault("exp_avg_sq", np.zeros_like(param))
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        # The bias corrections are folded into a step size and the denominator, as PyTorch does:
        # lr * m_hat / (sqrt(v_hat) + eps) = (lr / c1) * m / (sqrt(v) / sqrt(c2) + eps).
        denominator = np.sqrt(v) / math.sqrt(1 - beta2 ** step) + group["eps"]
        param -= (group["lr"] / (1 - beta1 ** step)) * m / denominator


class AdamW(Adam):
    """Adam with decoupled weight decay: first  p = p - lr * weight_decay * p,  then the Adam
    step without any L2 term in g. Unlike Adam's L2 term, this decay is not divided by
    sqrt(v_hat), so every weight shrinks at the same rate."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)

    def decay(self, param, grad, group):
        param *= 1 - group["lr"] * group["weight_decay"]
        return grad
