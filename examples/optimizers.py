# %% [markdown]
# # SGD, momentum, RMSprop and Adam side by side: on the Rosenbrock valley, then on MNIST
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
#     python examples/optimizers.py                 # writes optimizers.png
#     python examples/optimizers.py --steps 200 --epochs 1 --limit 512     # a quick look
#
# Rosenbrock's function f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 has its minimum at (1, 1) at the
# bottom of a long, curved, flat-floored valley with steep walls: plain gradient descent crosses
# the valley back and forth and crawls along its floor; momentum accumulates the consistent
# along-the-floor part of the gradient; RMSprop and Adam divide each coordinate's step by the
# running size of its gradients, so the steep and the flat direction move at similar speeds.
# The same four then train one small MLP on the bundled MNIST digits.
#
# On the valley SGD and momentum take the same lr (1e-3; SGD diverges from 3e-3 on), so the
# difference is the momentum alone. RMSprop's and Adam's steps are about lr long whatever the
# gradient's size, so their lr is a distance (1e-2, 5e-2): RMSprop ends up jittering around the
# minimum at about that distance, Adam's momentum damps the jitter. On MNIST the rates are each
# optimizer's usual starting point (SGD 0.1, Adam 1e-3 ...), not tuned on the test digits: the
# test accuracy is printed only to show where each one got.

# %%
import argparse

import matplotlib
import numpy as np

import minigrad as mg
from minigrad import functional as F, nn, optim
from minigrad.data import DataLoader, ScaleUint8, TensorDataset, mnist
from minigrad.train import evaluate
from minigrad.lessons import Lesson

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description="SGD, momentum, RMSprop and Adam side by side")
parser.add_argument("--steps", type=int, default=3000, help="steps on the Rosenbrock function")
parser.add_argument("--epochs", type=int, default=3, help="epochs on MNIST")
parser.add_argument("--limit", type=int, help="train on the first N MNIST digits only")
parser.add_argument("--out", default="optimizers")
lesson = Lesson(parser)
args = lesson.args

# (name, constructor, Rosenbrock lr, MNIST lr)
OPTIMIZERS = [
    ("SGD", lambda p, lr: optim.SGD(p, lr), 1e-3, 0.1),
    ("momentum 0.9", lambda p, lr: optim.SGD(p, lr, momentum=0.9), 1e-3, 0.01),
    ("RMSprop", lambda p, lr: optim.RMSprop(p, lr), 1e-2, 1e-3),
    ("Adam", lambda p, lr: optim.Adam(p, lr), 5e-2, 1e-3),
]


def rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


# %%
# 1. The valley: every optimizer from the same start, the same number of steps.
print(f"1. Rosenbrock from (-1.2, 1), {args.steps} steps: where each one got "
      f"(the minimum is f(1, 1) = 0)")
paths, distance = {}, {}
for name, make, lr, _ in OPTIMIZERS:
    p = mg.tensor(np.array([-1.2, 1.0]), requires_grad=True)
    optimizer = make([p], lr)
    path = [p.data.copy()]
    for _ in range(args.steps):
        loss = rosenbrock(p)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        path.append(p.data.copy())
    paths[name] = np.array(path)
    distance[name] = np.hypot(*(p.data - 1))
    print(f"   {name:<13} lr {lr:<7g} -> ({p.data[0]:+.3f}, {p.data[1]:+.3f}), "
          f"f = {rosenbrock(p).item():.2e}, distance to (1, 1) {distance[name]:.3f}")
lesson.claim(distance["SGD"] > 0.1 and max(distance["momentum 0.9"], distance["Adam"]) < 1e-3,
             f"on Rosenbrock's valley, {args.steps} steps from (-1.2, 1): SGD stops "
             f"{distance['SGD']:.2f} from the minimum, momentum at the same lr and Adam reach it "
             f"(to {max(distance['momentum 0.9'], distance['Adam']):.0e})")

# %%
# 2. MNIST: a 784-128-10 MLP, the same initial weights for every optimizer.
images, labels = mnist("train")
images, labels = images[:args.limit], labels[:args.limit]
test_images, test_labels = mnist("test")
# The loader keeps the uint8 pixels, as PyTorch's does: ScaleUint8 makes them float32 in [0, 1].
test_loader = DataLoader(TensorDataset(test_images, test_labels), batch_size=500,
                         transform=ScaleUint8())
print(f"\n2. MNIST, a 784-128-10 MLP, {args.epochs} epochs of {len(images)} digits, batch 64")
curves, accuracies = {}, {}
for name, make, _, lr in OPTIMIZERS:
    mg.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = make(model.parameters(), lr)
    loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True, seed=0,
                        transform=ScaleUint8())
    losses = []
    for epoch in range(args.epochs):
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    curves[name] = np.array(losses)
    result = evaluate(model, test_loader)
    accuracies[name] = result["accuracy"]
    print(f"   {name:<13} lr {lr:<7g} last-epoch training loss {np.mean(losses[-len(loader):]):.3f}"
          f", test accuracy {result['accuracy']:.1%}")
lesson.claim(min(accuracies.values()) > 0.85,
             f"each of the four trains the MNIST MLP to {min(accuracies.values()):.1%}-"
             f"{max(accuracies.values()):.1%} test accuracy in {args.epochs} epochs (rates not "
             f"tuned)")

# %%
# The picture: the paths over the valley's contours, and the training-loss curves.
figure, axes = plt.subplots(1, 3, figsize=(16, 4.6))
gx, gy = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-1, 3, 300))
axes[0].contour(gx, gy, (1 - gx) ** 2 + 100 * (gy - gx ** 2) ** 2,
                levels=np.logspace(-1, 3.5, 14), colors="0.7", linewidths=0.7)
for name, path in paths.items():
    axes[0].plot(path[:, 0], path[:, 1], lw=1.2, label=name)
    axes[1].semilogy([rosenbrock(q) for q in path], label=name)
axes[0].plot(1, 1, "k*", ms=12)
axes[0].set_xlim(-2, 2), axes[0].set_ylim(-1, 3), axes[0].legend(fontsize=8)
axes[0].set_title("Rosenbrock: the paths (star: the minimum)")
axes[1].set_xlabel("step"), axes[1].set_ylabel("f"), axes[1].legend(fontsize=8)
axes[1].set_title("Rosenbrock: f along the way")
window = 20
for name, losses in curves.items():
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    axes[2].plot(smooth, label=name)
axes[2].set_xlabel("batch"), axes[2].set_ylabel(f"training loss (mean of {window} batches)")
axes[2].set_ylim(0, 2.5), axes[2].legend(fontsize=8)
axes[2].set_title("MNIST MLP: training loss")
figure.tight_layout()
figure.savefig(args.out + ".png", dpi=90)
print(f"wrote {args.out}.png")
