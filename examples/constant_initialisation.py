# %% [markdown]
# # Why not start every weight at the same value? Symmetry
#
#     python examples/constant_initialisation.py
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# If every weight of a layer starts equal, every hidden unit computes the same function of the
# input, so every unit receives the same gradient, takes the same step, and stays equal to the
# others -- forever, whatever the optimizer: the symmetry is never broken, and a layer of 8 units
# works like a layer of 1. Random initialisation exists to break it (its scale is another
# question: init_and_activations.py).
#
# Here a 2-8-1 tanh network learns XOR (four corners, each with a small cloud of points) from a
# constant start and from PyTorch's random default.

# %%
import argparse

import numpy as np

import minigrad as mg
from minigrad import functional as F, nn, optim
from minigrad.lessons import Lesson

parser = argparse.ArgumentParser(description="Why not constant initialisation")
parser.add_argument("--steps", type=int, default=500, help="Adam steps")
lesson = Lesson(parser)
args = lesson.args
rng = np.random.default_rng(0)
corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
corner_labels = np.array([0.0, 1.0, 1.0, 0.0])
cloud = np.repeat(corners, 25, axis=0) + rng.normal(0, 0.12, (100, 2))
cloud_labels = np.repeat(corner_labels, 25)


# %%
def network(constant=None):
    """2 -> 8 tanh -> 1, in float64; every weight `constant` (biases 0) if given."""
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    if constant is not None:
        for layer in (model[0], model[2]):
            nn.init.constant_(layer.weight, constant)
            nn.init.zeros_(layer.bias)
    return model


def train(model):
    """Adam on the cross-entropy; -> the largest difference between two hidden units' incoming
    weights after the first step, and the corners' accuracy at the end."""
    adam = optim.Adam(model.parameters(), lr=0.05)
    spread_after_first = None
    for _ in range(args.steps):
        logits = model(mg.tensor(cloud)).reshape(-1)
        loss = F.binary_cross_entropy_with_logits(logits, cloud_labels)
        adam.zero_grad()
        loss.backward()
        adam.step()
        if spread_after_first is None:
            spread_after_first = unit_spread(model)
    predictions = model(mg.tensor(corners)).data.reshape(-1) > 0
    return spread_after_first, float(np.mean(predictions == (corner_labels > 0.5)))


def unit_spread(model):
    """How different the hidden units are: the largest gap between two units' incoming weights
    (rows of the first layer's weight matrix, with their biases)."""
    first = np.hstack([model[0].weight.data, model[0].bias.data[:, None]])
    return float(np.abs(first - first[0]).max())


# %%
results = {}
for name, constant in (("constant 0.5", 0.5), ("random (PyTorch's default)", None)):
    model = network(constant)
    first_step, accuracy = train(model)
    results[name] = (first_step, unit_spread(model), accuracy)
    print(f"{name:<27} units differ by {first_step:.2e} after one step, {results[name][1]:.2e} "
          f"after {args.steps}; XOR corners right: {accuracy:.0%}")
constant, random = results["constant 0.5"], results["random (PyTorch's default)"]
lesson.claim(constant[1] == 0 and constant[2] <= 0.75 and random[1] > 0.1 and random[2] == 1,
             f"from a constant start the 8 hidden units stay exactly equal through {args.steps} "
             f"Adam steps (largest difference {constant[1]:.0e}) and the network gets "
             f"{constant[2]:.0%} of XOR's corners, no more than one unit could; from a random "
             f"start it gets {random[2]:.0%}")
