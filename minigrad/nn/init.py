"""Weight initialisers, in place, with PyTorch's names: `nn.init.kaiming_uniform_(layer.weight)`.

Why the scale matters: for zero-mean weights drawn independently of the input, a layer's output
variance is fan_in * Var(w) * E[input**2] -- the input's second moment, which is its variance
only when its mean is 0 (after a ReLU it is not: E[x**2] is 1.47x Var(x) there). Choosing
Var(w) so that fan_in * Var(w) is about 1 (times a `gain` that undoes what the activation takes
from E[x**2]) keeps activations and gradients from vanishing or exploding through a deep stack
(examples/init_and_activations.py measures both).

    xavier (Glorot & Bengio 2010): Var(w) = gain**2 * 2 / (fan_in + fan_out)
    kaiming (He et al. 2015):      Var(w) = gain**2 / fan        (fan = fan_in or fan_out)

A uniform(-b, b) has variance b**2 / 3, hence the sqrt(3) in the uniform bounds.

All random numbers of `minigrad.nn` (initialisation and Dropout without its own seed) come from
one generator; `manual_seed(seed)` makes a whole run reproducible.
"""
import math

import numpy as np

from minigrad.tensor import as_array

_generator = np.random.default_rng()


def manual_seed(seed):
    """Restart the generator shared by the initialisers and by Dropout layers without a seed."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator():
    """The shared np.random.Generator (use it for anything that should follow manual_seed)."""
    return _generator


def calculate_gain(nonlinearity, param=None):
    """The factor that restores unit variance after `nonlinearity` (PyTorch's values).

    relu halves the second moment E[z**2] of a zero-mean symmetric z (gain sqrt(2)); its
    variance falls further, to 1/2 - 1/(2 pi) = 0.34 of E[z**2], but the next layer's output
    variance follows E[x**2] (see above). leaky_relu with slope a keeps (1 + a**2) / 2 of
    E[z**2]; tanh's 5/3 and selu's 3/4 are empirical. Linear layers, conv and sigmoid use 1.
    """
    gains = {"linear": 1.0, "conv2d": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3,
             "relu": math.sqrt(2.0), "selu": 3.0 / 4}
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in gains:
        raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; expected one "
                         f"of {sorted(gains) + ['leaky_relu']}")
    return gains[nonlinearity]


def fans(shape):
    """(fan_in, fan_out) of a weight: Linear (out, in) or Conv2d (out, in / groups, KH, KW).

    A conv weight sees in * KH * KW inputs per output value and feeds out * KH * KW outputs.
    """
    if len(shape) < 2:
        raise ValueError(f"fan_in/fan_out need a weight with at least 2 dimensions, "
                         f"got shape {tuple(shape)}")
    receptive_field = int(np.prod(shape[2:]))
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fill(tensor, values):
    array = as_array(tensor)          # a Tensor's (or Parameter's) data, or the ndarray
    array[...] = values
    return tensor


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with samples of uniform(a, b)."""
    return _fill(tensor, _generator.uniform(a, b, as_array(tensor).shape))


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with samples of normal(mean, std**2)."""
    return _fill(tensor, _generator.normal(mean, std, as_array(tensor).shape))


def constant_(tensor, value):
    return _fill(tensor, value)


def zeros_(tensor):
    return _fill(tensor, 0.0)


def ones_(tensor):
    return _fill(tensor, 1.0)


def _xavier_std(tensor, gain):
    fan_in, fan_out = fans(as_array(tensor).shape)
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def xavier_uniform_(tensor, gain=1.0):
    """uniform(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    bound = math.sqrt(3.0) * _xavier_std(tensor, gain)
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """normal(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    return normal_(tensor, 0.0, _xavier_std(tensor, gain))


def _kaiming_std(tensor, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fans(as_array(tensor).shape)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """uniform(-b, b) with b = gain * sqrt(3 / fan); `a` is the leaky_relu slope in the gain.

    PyTorch's Linear and Conv2d default is a = sqrt(5), which gives b = 1 / sqrt(fan_in).
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """normal(0, std**2) with std = gain / sqrt(fan)."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))
