"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""
import numpy as np

from minigrad.optim.optimizer import Optimizer, check_hyperparameters, l2_gradient


class SGD(Optimizer):
    """Plain SGD, and SGD with momentum (PyTorch's form):

        g  = grad + weight_decay * p
        v  = momentum * v + (1 - dampening) * g        (v = g at the first step)
        d  = g + momentum * v   if nesterov   else   v
        p  = p - lr * d

    Momentum lets steps build up along directions where the gradient keeps its sign and cancel
    where it oscillates. Nesterov's variant looks one momentum step ahead.
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        check_hyperparameters("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: nesterov needs momentum > 0 and dampening = 0, got "
                             f"momentum={momentum}, dampening={dampening}")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay))

    def update(self, param, grad, state, group):
        grad = l2_gradient(param, grad, group["weight_decay"])
        momentum = group["momentum"]
        if momentum:
            velocity = state.get("momentum_buffer")
            if velocity is None:
                velocity = state["momentum_buffer"] = np.array(grad)    # an array, also 0-d
            else:
                velocity *= momentum
                velocity += (1 - group["dampening"]) * grad
            grad = grad + momentum * velocity if group["nesterov"] else velocity
        param -= group["lr"] * grad
