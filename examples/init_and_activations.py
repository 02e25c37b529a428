# %% [markdown]
# # Initialisation and activations: watch gradients vanish (or not) through a deep stack
#
#     python examples/init_and_activations.py        # writes init_and_activations.png
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# **One layer.** For z = W x with zero-mean weights drawn independently of x,
#
#     Var(z) = fan_in * Var(w) * E[x^2]
#
# with the *second moment* E[x^2] = Var(x) + E[x]^2 of the input, not its variance: the two
# agree only for a zero-mean input. ReLU's outputs have a mean, so after a ReLU the variance
# formula is wrong by a third. ReLU halves E[z^2] of a symmetric z (what Kaiming's factor 2
# makes up for); it cuts the variance to 0.34 of it.
#
# **A deep stack.** Linear layers (width 256) with sigmoid, tanh or ReLU between them, fed a
# batch of N(0, 1) inputs; one forward and one backward of a cross-entropy loss, then, layer by
# layer, the spread of the activations and the size of the weight gradients:
#
# - "naive" weights N(0, 0.01^2) make fan_in * Var(w) = 0.0256: with tanh and ReLU the signal
#   shrinks ~6x and ~9x per layer on the way forward (sqrt(0.0256), and ReLU's halving on top),
#   and the gradients that come back are tiny at every layer: nothing learns;
# - sigmoid's spread does *not* shrink there: its outputs are centred on 1/2, not 0, so
#   E[x^2] >= 1/4 at every layer and each layer gives every unit an offset (1/2) sum_i w_ji --
#   the same for every input. What is left of the spread says nothing about the input: the
#   part that depends on it shrinks with every layer, faster than tanh's. That is what "not
#   zero-centred" costs, and sigmoid - 1/2 (zero-centred) shows the plateau go away;
# - Xavier (Glorot & Bengio 2010), Var(w) = 2 / (fan_in + fan_out), keeps the second moment of
#   a linear layer: tanh, about linear near 0, keeps most of its signal -- but sigmoid's slope
#   is at most 1/4, so its gradient is divided by ~4 at every layer on the way back: the first
#   layers get almost none (vanishing gradients); ReLU halves E[x^2] per layer under Xavier;
# - Kaiming (He et al. 2015), Var(w) = 2 / fan_in, makes up for ReLU's halving and keeps
#   activations and gradients at one scale through the whole stack.
#
# (PyTorch's calculate_gain folds these factors into a `gain`: Xavier with gain sqrt(2) is
# Kaiming for a square layer. Here Xavier is the paper's, gain 1.)

# %%
import argparse

import matplotlib
import numpy as np

import minigrad as mg
from minigrad import functional as F, nn
from minigrad.lessons import Lesson

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description="Initialisation and activations")
parser.add_argument("--depth", type=int, default=12, help="hidden layers")
parser.add_argument("--width", type=int, default=256)
parser.add_argument("--batch", type=int, default=256)
parser.add_argument("--out", default="init_and_activations")
lesson = Lesson(parser)
args = lesson.args
rng = np.random.default_rng(0)

# %% [markdown]
# ## One layer: the second moment, not the variance
# A layer fed ReLU outputs (mean 0.40, variance 0.34, E[x^2] = 0.5 for N(0, 1) before the ReLU):
# which formula predicts the spread of its output?

# %%
z = rng.standard_normal((4096, args.width))
x_after_relu = np.maximum(z, 0)
weights = rng.normal(0.0, 0.05, (args.width, args.width))
measured = (x_after_relu @ weights).var()
second_moment = args.width * weights.var() * np.mean(x_after_relu ** 2)
variance = args.width * weights.var() * x_after_relu.var()
print(f"Var(W x) measured {measured:.4f}; fan_in Var(w) E[x^2] = {second_moment:.4f}; "
      f"fan_in Var(w) Var(x) = {variance:.4f}")
halved_moment = np.mean(x_after_relu ** 2) / np.mean(z ** 2)
halved_variance = x_after_relu.var() / z.var()
print(f"ReLU keeps {halved_moment:.3f} of E[z^2] and {halved_variance:.3f} of Var(z) "
      f"(theory: 1/2 and 1/2 - 1/(2 pi) = {0.5 - 0.5 / np.pi:.3f})")
lesson.claim(abs(second_moment / measured - 1) < 0.05 and variance / measured < 0.75,
             f"a layer's output variance is fan_in Var(w) E[x^2] ({second_moment:.4f} against "
             f"{measured:.4f} measured), not fan_in Var(w) Var(x) ({variance:.4f})")
lesson.claim(abs(halved_moment - 0.5) < 0.02 and abs(halved_variance - 0.341) < 0.02,
             f"ReLU halves E[z^2] ({halved_moment:.3f}), not the variance "
             f"({halved_variance:.3f})")

# %% [markdown]
# ## A deep stack: spread and gradient, layer by layer

# %%
class CentredSigmoid(nn.Module):
    """sigmoid(x) - 1/2: the same curve, moved down to be zero-centred."""

    def forward(self, x):
        return F.sigmoid(x) - 0.5


ACTIVATIONS = {"sigmoid": nn.Sigmoid, "sigmoid - 1/2": CentredSigmoid, "tanh": nn.Tanh,
               "relu": nn.ReLU}
INITS = {
    "naive N(0, 0.01^2)": lambda w: nn.init.normal_(w, 0.0, 0.01),
    "Xavier": lambda w: nn.init.xavier_normal_(w),
    "Kaiming": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
}
NAIVE = "naive N(0, 0.01^2)"
CASES = [("sigmoid", NAIVE), ("sigmoid - 1/2", NAIVE), ("sigmoid", "Xavier"), ("tanh", NAIVE),
         ("tanh", "Xavier"), ("relu", NAIVE), ("relu", "Xavier"), ("relu", "Kaiming")]
x = mg.tensor(rng.standard_normal((args.batch, args.width)).astype(np.float32))
labels = rng.integers(0, 10, args.batch)


def measure(activation, init):
    """Per hidden layer: the activations (batch, width) and the mean |dL/dW| of its weights."""
    mg.manual_seed(0)
    layers = []
    for _ in range(args.depth):
        layers += [nn.Linear(args.width, args.width), ACTIVATIONS[activation]()]
    model = nn.Sequential(*layers, nn.Linear(args.width, 10))
    for layer in model:
        if isinstance(layer, nn.Linear):
            INITS[init](layer.weight)
            nn.init.zeros_(layer.bias)
    outputs = []
    hooks = [layer.register_forward_hook(lambda m, i, out: outputs.append(out.data))
             for layer in model if isinstance(layer, ACTIVATIONS[activation])]
    F.cross_entropy(model(x), labels).backward()
    for hook in hooks:
        hook.remove()
    grads = [np.abs(layer.weight.grad).mean() for layer in model
             if isinstance(layer, nn.Linear)][:args.depth]
    return outputs, np.array(grads)


def input_dependent_spread(activations):
    """How much a unit's output varies from one input to the next (root mean square over the
    units of each unit's std over the batch): the part of the spread that carries the input."""
    return float(np.sqrt(np.mean(activations.var(axis=0))))


results = {case: measure(*case) for case in CASES}
spreads = {case: np.array([a.std() for a in outputs]) for case, (outputs, _) in results.items()}
grads = {case: g for case, (_, g) in results.items()}
print(f"\n{args.depth} hidden layers of {args.width}; mean |dL/dW| at the first and the last "
      f"hidden layer, and activation std there")
print(f"   {'activation, init':<33} {'|grad| layer 1':>15} {'layer ' + str(args.depth):>10} "
      f"{'ratio':>9}   {'std layer 1':>11} {'layer ' + str(args.depth):>9}")
for case in CASES:
    g, s = grads[case], spreads[case]
    with np.errstate(divide="ignore"):          # a gradient that underflowed to 0 gives inf
        print(f"   {', '.join(case):<33} {g[0]:>15.2e} {g[-1]:>10.2e} "
              f"{g[0] / g[-1]:>9.1e}   {s[0]:>11.3f} {s[-1]:>9.3f}")
print("   ratio = gradient at layer 1 / at the last hidden layer: far below 1, the first layers\n"
      "   hardly learn (vanishing gradients); near 1 with gradients of ~1e-13, nothing learns.")

# %% [markdown]
# ## The claims, measured on the stack

# %%
def shrink_per_layer(case):
    """The factor by which the activations' std falls per layer (geometric mean)."""
    s = spreads[case]
    return float((s[0] / s[-1]) ** (1 / (len(s) - 1)))


tanh_shrink, relu_shrink = shrink_per_layer(("tanh", NAIVE)), shrink_per_layer(("relu", NAIVE))
lesson.claim(4 < tanh_shrink < 8 and 6 < relu_shrink < 12,
             f"naive N(0, 0.01^2) weights shrink the signal {tanh_shrink:.1f}x per layer with "
             f"tanh and {relu_shrink:.1f}x with ReLU")

plateau = spreads[("sigmoid", NAIVE)]
carried = [input_dependent_spread(a) for a in results[("sigmoid", NAIVE)][0]]
centred = spreads[("sigmoid - 1/2", NAIVE)]


def by_layer(values):
    return " ".join(f"{value:.0e}" for value in values)


print(f"\nsigmoid, naive: std by layer {by_layer(plateau)}")
print(f"   of which varies with the input: {by_layer(carried)}")
print(f"sigmoid - 1/2, naive: std by layer {by_layer(centred)}")
print("   (from layer 4 or 5 on, what is left is float32's rounding of numbers near 1/2 and 0)")
carried_shrink = (carried[0] / carried[2]) ** 0.5             # per layer, before the rounding
lesson.claim(plateau[-1] > 0.01 and 15 < carried_shrink < 40 and centred[2] < 2 * carried[2],
             f"sigmoid's spread under naive weights stays at {plateau[-1]:.3f} (layer "
             f"{args.depth}), but the part that varies with the input shrinks "
             f"{carried_shrink:.0f}x per layer (0.16 x sigmoid's slope 1/4): the rest is a "
             f"fixed offset per unit from the outputs' mean 1/2; the zero-centred sigmoid - 1/2 "
             f"has no plateau ({centred[2]:.0e} at layer 3)")

sigmoid_ratio = grads[("sigmoid", "Xavier")][0] / grads[("sigmoid", "Xavier")][-1]
tanh_ratio = grads[("tanh", "Xavier")][0] / grads[("tanh", "Xavier")][-1]
lesson.claim(sigmoid_ratio < 1e-4 and 0.1 < tanh_ratio < 10,
             f"under Xavier the first layer gets {sigmoid_ratio:.0e} of the last hidden layer's "
             f"gradient with sigmoid (vanishing), {tanh_ratio:.1f} with tanh")
kaiming = spreads[("relu", "Kaiming")]
xavier = spreads[("relu", "Xavier")]
lesson.claim(0.5 < kaiming[-1] / kaiming[0] < 2 and xavier[-1] / xavier[0] < 0.05,
             f"with ReLU, Kaiming keeps the activations' std from {kaiming[0]:.2f} to "
             f"{kaiming[-1]:.2f} over {args.depth} layers; Xavier lets it fall from "
             f"{xavier[0]:.2f} to {xavier[-1]:.3f}")

# %%
figure, axes = plt.subplots(1, 2, figsize=(13, 4.8))
depths = np.arange(1, args.depth + 1)
for case in CASES:
    activation, init = case
    style = {"sigmoid": ":", "sigmoid - 1/2": "-.", "tanh": "--", "relu": "-"}[activation]
    colour = {NAIVE: "C3", "Xavier": "C0", "Kaiming": "C2"}[init]
    axes[0].semilogy(depths, spreads[case], style, color=colour, label=", ".join(case))
    axes[1].semilogy(depths, grads[case], style, color=colour, label=", ".join(case))
axes[0].set_title("spread of the activations (std) by layer")
axes[1].set_title("mean |dL/dW| by layer: the gradient reaching each layer")
for ax in axes:
    ax.set_xlabel("hidden layer (1 = next to the input)")
    ax.legend(fontsize=7)
figure.tight_layout()
figure.savefig(args.out + ".png", dpi=90)
print(f"wrote {args.out}.png")
