# %% [markdown]
# # Activations and their derivatives, and tanh as a stretched sigmoid
#
#     python examples/activations.py            # writes activations.png
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# Backpropagation multiplies the gradient by the activation's derivative at every layer, so the
# derivative's shape is what decides how a deep stack learns: sigmoid's is at most 1/4 (the
# gradient shrinks at least 4x per layer, see init_and_activations.py), tanh's reaches 1 at 0,
# ReLU's is exactly 1 for every positive input and 0 below; GELU (x Phi(x), transformers') is a
# smooth ReLU whose slope overshoots 1 a little.
#
# tanh is a sigmoid stretched and shifted: tanh(x) = 2 sigmoid(2x) - 1, since
# 2 / (1 + e^(-2x)) - 1 = (1 - e^(-2x)) / (1 + e^(-2x)) = (e^x - e^(-x)) / (e^x + e^(-x)). Same
# S-curve, but centred on 0 with slope 1 there.
#
# The derivatives are taken by minigrad's backward() and compared with their formulas.

# %%
import argparse
import math

import matplotlib
import numpy as np

import minigrad as mg
from minigrad import functional as F
from minigrad.lessons import Lesson

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description="Activations and their derivatives")
parser.add_argument("--points", type=int, default=2001, help="points on [-6, 6]")
parser.add_argument("--out", default="activations")
lesson = Lesson(parser)
args = lesson.args
x = np.linspace(-6, 6, args.points)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def normal_cdf(z):
    """Phi(z), the standard normal's cumulative distribution (GELU(z) = z Phi(z))."""
    return 0.5 * (1 + np.vectorize(math.erf)(z / np.sqrt(2)))


# %%
# Each activation, and its derivative by formula (to check backward against).
ACTIVATIONS = {
    "sigmoid": (F.sigmoid, lambda z: sigmoid(z) * (1 - sigmoid(z))),
    "tanh": (F.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "relu": (F.relu, lambda z: (z > 0).astype(float)),
    "leaky_relu 0.1": (lambda t: F.leaky_relu(t, 0.1), lambda z: np.where(z > 0, 1.0, 0.1)),
    "gelu": (F.gelu, lambda z: normal_cdf(z) + z * np.exp(-z ** 2 / 2) / np.sqrt(2 * np.pi)),
}


def value_and_derivative(function):
    """f(x) and df/dx at every point of x, the derivative by backward() (float64)."""
    t = mg.tensor(x, requires_grad=True)
    y = function(t)
    y.sum().backward()               # d(sum_i f(x_i)) / dx_i = f'(x_i): one pass for all points
    return y.data, t.grad.data


curves, worst = {}, 0.0
for name, (function, formula) in ACTIVATIONS.items():
    values, derivative = value_and_derivative(function)
    curves[name] = (values, derivative)
    worst = max(worst, np.abs(derivative - formula(x)).max())
    print(f"{name:<15} largest slope {derivative.max():.3f} (at x = {x[derivative.argmax()]:+.2f})"
          f", slope at 0: {derivative[np.abs(x).argmin()]:.3f}")
lesson.claim(worst < 1e-12, f"backward() gives every activation's derivative formula to "
             f"{worst:.0e}")
sigmoid_slope, tanh_slope = curves["sigmoid"][1].max(), curves["tanh"][1].max()
lesson.claim(abs(sigmoid_slope - 0.25) < 1e-6 and abs(tanh_slope - 1) < 1e-6,
             f"sigmoid's slope is at most {sigmoid_slope:.3f} (1/4, at 0), tanh's "
             f"{tanh_slope:.3f} (1, at 0)")

# %%
# tanh(x) = 2 sigmoid(2x) - 1, with minigrad's ops, values and gradients.
t = mg.tensor(x, requires_grad=True)
stretched = 2 * F.sigmoid(2 * t) - 1
stretched.sum().backward()
value_gap = np.abs(stretched.data - curves["tanh"][0]).max()
slope_gap = np.abs(t.grad.data - curves["tanh"][1]).max()
print(f"tanh(x) against 2 sigmoid(2x) - 1 on [-6, 6]: max difference {value_gap:.0e}, of the "
      f"derivatives {slope_gap:.0e}")
lesson.claim(max(value_gap, slope_gap) < 1e-14,
             f"tanh(x) = 2 sigmoid(2x) - 1: equal to {value_gap:.0e}, their derivatives to "
             f"{slope_gap:.0e}")

# %%
figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
for name, (values, derivative) in curves.items():
    axes[0].plot(x, values, label=name)
    axes[1].plot(x, derivative, label=name)
axes[0].plot(x, 2 * sigmoid(2 * x) - 1, "k:", lw=2, label="2 sigmoid(2x) - 1")
axes[0].set_ylim(-1.5, 3), axes[0].set_title("activations")
axes[1].set_title("their derivatives (by backward)")
for ax in axes:
    ax.axhline(0, color="0.8", lw=0.8), ax.axvline(0, color="0.8", lw=0.8)
    ax.legend(fontsize=8)
figure.tight_layout()
figure.savefig(args.out + ".png", dpi=90)
print(f"wrote {args.out}.png")
