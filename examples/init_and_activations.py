"""Initialisation and activations: watch gradients vanish (or not) through a deep stack.

    python examples/init_and_activations.py        # writes init_and_activations.png

A stack of Linear layers (width 256) with sigmoid, tanh or ReLU between them, fed a batch of
N(0, 1) inputs; one forward and one backward of a cross-entropy loss, then, layer by layer, the
spread of the activations and the size of the weight gradients. Each layer multiplies the
variance of its input by fan_in * Var(w) and by what the activation keeps of it:

  - "naive" weights N(0, 0.01^2) make fan_in * Var(w) = 0.0256: the signal shrinks ~6x per
    layer on the way forward, for every activation, and the gradients that come back are
    tiny at every layer: nothing learns;
  - Xavier (Glorot & Bengio 2010), Var(w) = 2 / (fan_in + fan_out), keeps the variance of a
    linear layer: tanh, about linear near 0, keeps most of its signal -- but sigmoid's slope is
    at most 1/4 (and its outputs are not centred), so its gradient is divided by ~4 at every
    layer on the way back: the first layers get almost none (vanishing gradients);
    ReLU zeroes half of its inputs, so under Xavier its signal halves in variance per layer;
  - Kaiming (He et al. 2015), Var(w) = 2 / fan_in, doubles Xavier's variance for ReLU and keeps
    activations and gradients at one scale through the whole stack.
(PyTorch's calculate_gain folds these factors into a `gain`: Xavier with gain sqrt(2) is
Kaiming for a square layer. Here Xavier is the paper's, gain 1.)
"""
import argparse

import matplotlib
import numpy as np

import minigrad as mg
from minigrad import functional as F, nn

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--depth", type=int, default=12, help="hidden layers")
parser.add_argument("--width", type=int, default=256)
parser.add_argument("--batch", type=int, default=256)
parser.add_argument("--out", default="init_and_activations")
args = parser.parse_args()

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
INITS = {
    "naive N(0, 0.01^2)": lambda w, act: nn.init.normal_(w, 0.0, 0.01),
    "Xavier": lambda w, act: nn.init.xavier_normal_(w),
    "Kaiming": lambda w, act: nn.init.kaiming_normal_(w, nonlinearity="relu"),
}
CASES = [("sigmoid", "naive N(0, 0.01^2)"), ("sigmoid", "Xavier"), ("tanh", "naive N(0, 0.01^2)"),
         ("tanh", "Xavier"), ("relu", "naive N(0, 0.01^2)"), ("relu", "Xavier"),
         ("relu", "Kaiming")]

rng = np.random.default_rng(0)
x = mg.tensor(rng.standard_normal((args.batch, args.width)).astype(np.float32))
labels = rng.integers(0, 10, args.batch)


def measure(activation, init):
    """Per hidden layer: std of its activations and mean |dL/dW| of its weights."""
    mg.manual_seed(0)
    layers = []
    for _ in range(args.depth):
        layers += [nn.Linear(args.width, args.width), ACTIVATIONS[activation]()]
    model = nn.Sequential(*layers, nn.Linear(args.width, 10))
    for layer in model:
        if isinstance(layer, nn.Linear):
            INITS[init](layer.weight, activation)
            nn.init.zeros_(layer.bias)
    spreads = []
    hooks = [layer.register_forward_hook(lambda m, i, out: spreads.append(out.data.std()))
             for layer in model if isinstance(layer, ACTIVATIONS[activation])]
    F.cross_entropy(model(x), labels).backward()
    for hook in hooks:
        hook.remove()
    grads = [np.abs(layer.weight.grad).mean() for layer in model
             if isinstance(layer, nn.Linear)][:args.depth]
    return np.array(spreads), np.array(grads)


results = {case: measure(*case) for case in CASES}
print(f"{args.depth} hidden layers of {args.width}; mean |dL/dW| at the first and the last "
      f"hidden layer, and activation std there")
print(f"   {'activation, init':<30} {'|grad| layer 1':>15} {'layer ' + str(args.depth):>10} "
      f"{'ratio':>9}   {'std layer 1':>11} {'layer ' + str(args.depth):>9}")
for (activation, init), (spreads, grads) in results.items():
    print(f"   {activation + ', ' + init:<30} {grads[0]:>15.2e} {grads[-1]:>10.2e} "
          f"{grads[0] / grads[-1]:>9.1e}   {spreads[0]:>11.3f} {spreads[-1]:>9.3f}")
print("   ratio = gradient at layer 1 / at the last hidden layer: far below 1, the first layers\n"
      "   hardly learn (vanishing gradients); near 1 with gradients of ~1e-13, nothing learns.")

figure, axes = plt.subplots(1, 2, figsize=(13, 4.8))
depths = np.arange(1, args.depth + 1)
for (activation, init), (spreads, grads) in results.items():
    style = {"sigmoid": ":", "tanh": "--", "relu": "-"}[activation]
    colour = {"naive N(0, 0.01^2)": "C3", "Xavier": "C0", "Kaiming": "C2"}[init]
    label = f"{activation}, {init}"
    axes[0].semilogy(depths, spreads, style, color=colour, label=label)
    axes[1].semilogy(depths, grads, style, color=colour, label=label)
axes[0].set_title("spread of the activations (std) by layer")
axes[1].set_title("mean |dL/dW| by layer: the gradient reaching each layer")
for ax in axes:
    ax.set_xlabel("hidden layer (1 = next to the input)")
    ax.legend(fontsize=7)
figure.tight_layout()
figure.savefig(args.out + ".png", dpi=90)
print(f"wrote {args.out}.png")
