# %% [markdown]
# # The perceptron and logistic regression on a 2-D toy set, then a hidden layer for XOR
#
#     python examples/perceptron_and_logistic_regression.py     # writes perceptron_and_logistic_regression.png
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# Both models draw a straight line, w . x + b = 0, through the plane; they differ in how they
# learn it. Logistic regression minimises the cross-entropy of p = sigmoid(w . x + b): every
# point pulls on the line, the more the less sure the model is about it. Rosenblatt's
# perceptron (1958) moves the line only for a point on the wrong side, by w += y x, b += y
# (y = +-1); here that rule is the gradient step of the "perceptron loss" relu(-y (w . x + b))
# with lr = 1, so the engine's backward does the learning in both cases.
#
# No straight line separates XOR: the best one gets 3 of its 4 corners (found below by trying
# every direction and threshold). The line *trained* on the cross-entropy does worse, 2 of 4:
# the corners are symmetric, so the loss is lowest for a line that commits to nothing
# (w . x + b ~ 0, p ~ 1/2 everywhere, loss ~ log 2), and which corners it gets right is
# chance. One hidden layer of tanh units bends the boundary and solves XOR.

import argparse

import matplotlib
import numpy as np

import minigrad as mg
from minigrad import functional as F, nn, optim
from minigrad.lessons import Lesson

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description="The perceptron and logistic regression")
parser.add_argument("--steps", type=int, default=500, help="gradient steps of each model")
parser.add_argument("--out", default="perceptron_and_logistic_regression")
lesson = Lesson(parser)
args = lesson.args
rng = np.random.default_rng(0)
mg.manual_seed(0)

# %%
# 1. Two Gaussian clouds, labels 0 and 1 (and y = -1 / +1 for the perceptron).
n = 100
points = np.vstack([rng.normal((-1.0, -1.0), 0.5, (n, 2)), rng.normal((1.0, 1.0), 0.5, (n, 2))])
labels = np.repeat([0.0, 1.0], n)
x, signs = mg.tensor(points), 2 * labels - 1


def accuracy(scores, targets):
    return float(np.mean((scores > 0) == (targets > 0.5)))


# %%
# 2. Logistic regression: gradient descent on the mean cross-entropy.
w, b = mg.tensor(np.zeros(2), requires_grad=True), mg.tensor(0.0, requires_grad=True)
gd = optim.SGD([w, b], lr=0.5)
for step in range(args.steps):
    loss = F.binary_cross_entropy_with_logits(x @ w + b, labels)
    gd.zero_grad()
    loss.backward()
    gd.step()
logistic = (w.data.copy(), float(b.data))
print(f"logistic regression: loss {loss.item():.4f}, accuracy "
      f"{accuracy((x @ w + b).data, labels):.1%}, w = {np.round(logistic[0], 3)}, "
      f"b = {logistic[1]:+.3f}")

# %%
# 3. The perceptron: one point at a time, a step only when the point is on the wrong side.
w = mg.tensor(rng.normal(0, 0.01, 2), requires_grad=True)   # nonzero: relu'(0) = 0 never moves
b = mg.tensor(0.0, requires_grad=True)
rule = optim.SGD([w, b], lr=1.0)
updates = epochs = 0
for epochs in range(1, 51):
    mistakes = 0
    for i in rng.permutation(len(points)):
        loss = F.relu(-signs[i] * (x[i] @ w + b))         # > 0 only on the wrong side
        if loss.item() > 0:
            rule.zero_grad()
            loss.backward()                               # grad w = -y x, grad b = -y
            rule.step()                                   # so w += y x, b += y
            mistakes += 1
    updates += mistakes
    if mistakes == 0:
        break
perceptron = (w.data.copy(), float(b.data))
print(f"perceptron: {updates} updates in {epochs} epochs, accuracy "
      f"{accuracy((x @ w + b).data, labels):.0%} " +
      ("(a pass without mistakes: it stops at the first line that separates the clouds, "
       "wherever that is)" if mistakes == 0 else
       "(still making mistakes: on data no line separates it never settles)"))

logistic_accuracy = accuracy((x @ mg.tensor(logistic[0]) + logistic[1]).data, labels)
perceptron_accuracy = accuracy((x @ w + b).data, labels)
lesson.claim(logistic_accuracy >= 0.99 and perceptron_accuracy == 1 and mistakes == 0,
             f"on two separable clouds the perceptron rule stops at a separating line (100% after "
             f"{updates} updates); logistic regression, which minimises a loss instead, gets "
             f"{logistic_accuracy:.1%}")

# %% [markdown]
# ## XOR

# %%
# 4. XOR: the four corners, each with a little cloud around it.
corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
corner_labels = np.array([0.0, 1.0, 1.0, 0.0])
cloud = np.repeat(corners, 25, axis=0) + rng.normal(0, 0.12, (100, 2))
cloud_labels = np.repeat(corner_labels, 25)


def train(model, steps):
    adam = optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(model(mg.tensor(cloud)).reshape(-1),
                                                  cloud_labels)
        adam.zero_grad()
        loss.backward()
        adam.step()
    return model


def best_line_accuracy(points, targets):
    """The largest share of `points` any straight line classifies right: every direction (a
    degree apart), every threshold between two projections, both sides."""
    best = 0.0
    for angle in np.radians(np.arange(360)):
        projections = points @ np.array([np.cos(angle), np.sin(angle)])
        edges = np.sort(projections)
        for threshold in np.concatenate([[edges[0] - 1], (edges[:-1] + edges[1:]) / 2]):
            best = max(best, accuracy(projections - threshold, targets))
    return best


single = train(nn.Linear(2, 1).double(), args.steps)
hidden = train(nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).double(), args.steps)
corner_accuracy = {}
for name, model in (("one layer (a straight line)", single),
                    ("a hidden layer of 8 tanh units", hidden)):
    corner_accuracy[name] = accuracy(model(mg.tensor(corners)).data.reshape(-1), corner_labels)
    print(f"XOR, {name}: {corner_accuracy[name]:.0%} of the corners, "
          f"{accuracy(model(mg.tensor(cloud)).data.reshape(-1), cloud_labels):.0%} of the cloud")
best = best_line_accuracy(corners, corner_labels)
line_loss = F.binary_cross_entropy_with_logits(single(mg.tensor(cloud)).reshape(-1),
                                               cloud_labels).item()
scores = single(mg.tensor(corners)).data.reshape(-1)
print(f"XOR, the best straight line: {best:.0%} of the corners; the trained one has loss "
      f"{line_loss:.3f} (log 2 = {np.log(2):.3f}) and scores w . x + b = {np.round(scores, 2)}")
lesson.claim(best == 0.75 and corner_accuracy["one layer (a straight line)"] <= 0.75
             and corner_accuracy["a hidden layer of 8 tanh units"] == 1.0,
             f"on XOR the best straight line gets 3 of 4 corners, the one trained on the "
             f"cross-entropy {corner_accuracy['one layer (a straight line)']:.0%} of them (loss "
             f"{line_loss:.3f}, log 2 = {np.log(2):.3f}), one hidden layer of 8 tanh units all 4")

# %%
# The picture: the two lines on the clouds, and the two XOR decision regions.
figure, axes = plt.subplots(1, 3, figsize=(15, 4.6))
axes[0].scatter(*points[labels == 0].T, s=12, label="class 0")
axes[0].scatter(*points[labels == 1].T, s=12, label="class 1")
line_x = np.linspace(-4, 4, 2)
for (weights, bias), style, name in ((logistic, "k-", "logistic regression"),
                                     (perceptron, "r--", "perceptron")):
    axes[0].plot(line_x, -(weights[0] * line_x + bias) / weights[1], style, label=name)
axes[0].set_xlim(-4, 4), axes[0].set_ylim(-4, 4), axes[0].legend(fontsize=8)
axes[0].set_title("two lines through the same clouds: w . x + b = 0")
grid = np.stack(np.meshgrid(np.linspace(-0.5, 1.5, 120), np.linspace(-0.5, 1.5, 120)), -1)
for ax, model, title in ((axes[1], single, "XOR, one layer"),
                         (axes[2], hidden, "XOR, one hidden layer")):
    p = F.sigmoid(model(mg.tensor(grid.reshape(-1, 2)))).data.reshape(grid.shape[:2])
    ax.contourf(grid[..., 0], grid[..., 1], p, levels=[0, 0.5, 1], colors=["C0", "C1"],
                alpha=0.3)
    ax.scatter(*cloud[cloud_labels == 0].T, s=10, c="C0")
    ax.scatter(*cloud[cloud_labels == 1].T, s=10, c="C1")
    ax.set_title(title)
figure.tight_layout()
figure.savefig(args.out + ".png", dpi=90)
print(f"wrote {args.out}.png")
