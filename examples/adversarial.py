# %% [markdown]
# # Adversarial inputs: changes you cannot see that change the answer
#
#     python examples/adversarial.py             # trains LeNet-5 first; ~30 s on 2 cores
#     python examples/adversarial.py --tiny      # a few seconds, for the tests
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# Training moves the weights against the gradient of the loss. Nothing stops us from moving the
# *input* along it instead: add to every pixel a small step in the direction that raises the
# loss of the true class. FGSM (Goodfellow et al. 2015) takes one step of size eps, x + eps *
# sign(dL/dx); PGD (Madry et al. 2018) takes several smaller ones, each projected back so that
# no pixel ever moves by more than eps, starting from a random point of that box. Both keep the
# pixels in [0, 1]. The change is bounded by eps in every pixel, so at eps = 0.15 no grey level
# moves by more than 38 of 255, and yet the network's accuracy collapses.
#
# Here: LeNet-5 trained for a few seconds on the bundled MNIST digits, the accuracy of the test
# digits against eps for both attacks, and the fooled digits next to their saliency maps.

# %%
import argparse

import numpy as np
from matplotlib.figure import Figure

from minigrad import nn, optim, saliency
from minigrad.adversarial import fgsm, pgd
from minigrad.data import DataLoader, ScaleUint8, TensorDataset, mnist
from minigrad.lessons import Lesson
from minigrad.models import LeNet5
from minigrad.saliency.core import predict
from minigrad.train import train_epoch

parser = argparse.ArgumentParser(description="Adversarial inputs: FGSM and PGD on LeNet-5")
parser.add_argument("--epochs", type=int, default=3, help="epochs on the 4,000 training digits")
parser.add_argument("--test", type=int, default=500, help="test digits to attack")
parser.add_argument("--eps", default="0.02,0.05,0.1,0.15,0.2,0.3",
                    help="the largest pixel changes to try, comma-separated")
parser.add_argument("--steps", type=int, default=10, help="PGD steps (size 2.5 eps / steps)")
parser.add_argument("--shown", type=float, default=0.15, help="eps of the pictured digits")
parser.add_argument("--tiny", action="store_true", help="512 training digits, 64 test digits")
parser.add_argument("--out", default="adversarial.png")
lesson = Lesson(parser)
args = lesson.args
epsilons = [float(e) for e in args.eps.split(",")]

# %%
# 1. LeNet-5, one of whose training runs takes seconds: the 4,000 bundled digits, Adam.
images, labels = mnist("train")
if args.tiny:
    images, labels = images[:512], labels[:512]
nn.manual_seed(0)
model = LeNet5()
loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True, seed=0,
                    transform=ScaleUint8())                                   # pixels in [0, 1]
optimizer = optim.Adam(model.parameters(), lr=3e-3)
for _ in range(args.epochs):
    train_epoch(model, loader, optimizer, progress=False)
model.eval()
test_images, test_labels = mnist("test")
count = 64 if args.tiny else args.test
x, y = test_images[:count].astype(np.float32) / 255, test_labels[:count]


def accuracy(inputs):
    return (predict(model, inputs).argmax(axis=1) == y).mean()


clean = accuracy(x)
print(f"LeNet-5 after {args.epochs} epochs: {clean:.1%} of {count} test digits right")

# %%
# 2. Accuracy against eps. PGD's step is 2.5 eps / steps (Madry et al.'s choice: enough to
#    cross the box and come back), from a random start.
rows = []
attacked = {}
for eps in epsilons:
    one_step = fgsm(model, x, y, eps).data
    projected = pgd(model, x, y, eps, alpha=2.5 * eps / args.steps, steps=args.steps).data
    attacked[eps] = projected
    rows.append((eps, accuracy(one_step), accuracy(projected), np.abs(projected - x).max(),
                 np.abs(projected - x).mean()))
print(f"\n| eps  | of 255 | FGSM   | PGD-{args.steps:<2} | PGD: largest change | mean change |")
print("|------|--------|--------|--------|---------------------|-------------|")
print(f"| 0    |      0 | {clean:6.1%} | {clean:6.1%} |               0     |     0       |")
for eps, fgsm_accuracy, pgd_accuracy, largest, mean in rows:
    print(f"| {eps:<4g} | {eps * 255:6.1f} | {fgsm_accuracy:6.1%} | {pgd_accuracy:6.1%} | "
          f"{largest:19.3f} | {mean:11.3f} |")

# %% [markdown]
# PGD is the stronger attack at every eps: FGSM's single step trusts the gradient at x all the
# way to the edge of the box, while PGD looks again after each small step. Madry et al. use PGD
# as the measure of a network's robustness for that reason. Notice the *mean* change: most
# pixels of a digit are background, and the attack moves them too (the network reads them).

# %%
# 3. The fooled digits at eps = args.shown, with the vanilla gradient of the class the network
#    says, before and after. The perturbation is drawn on its own scale: white = no change,
#    red = a pixel raised, blue = lowered.
shown = attacked.get(args.shown, attacked[epsilons[-1]])
shown_eps = args.shown if args.shown in attacked else epsilons[-1]
before, after = predict(model, x).argmax(axis=1), predict(model, shown).argmax(axis=1)
fooled = np.nonzero((before == y) & (after != y))[0][:5]
maps_before = saliency.explain(model, x[fooled], before[fooled], "vanilla")
maps_after = saliency.explain(model, shown[fooled], after[fooled], "vanilla")
fig = Figure(figsize=(8, 1.7 * max(len(fooled), 1) + 0.4))
columns = ("digit", "its map", f"+ PGD (eps {shown_eps:g})", "the change", "its map")
axes = np.asarray(fig.subplots(max(len(fooled), 1), 5, squeeze=False))
for row, i in enumerate(fooled):
    change = shown[i, 0] - x[i, 0]
    pictures = [(x[i, 0], "gray", 0, 1), (maps_before[row], "jet", 0, 1),
                (shown[i, 0], "gray", 0, 1), (change, "bwr", -shown_eps, shown_eps),
                (maps_after[row], "jet", 0, 1)]
    for ax, (picture, colours, low, high) in zip(axes[row], pictures):
        ax.imshow(picture, cmap=colours, vmin=low, vmax=high)
    axes[row, 0].set_ylabel(f"{y[i]} -> {after[i]}", fontsize=9)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
for ax, title in zip(axes[0], columns):
    ax.set_title(title, fontsize=9)
fig.savefig(args.out, dpi=110)
print(f"\nwrote {args.out}: {len(fooled)} digits read right before PGD at eps {shown_eps:g} "
      f"and wrong after (true -> said)")

# %% [markdown]
# The adversarial digit is still plainly its digit to us, under a faint grey haze. The change
# has a sign pattern you can read: on the black background (0) a pixel can only go up, on the
# white stroke (1) only down, since both are clamped to [0, 1]. The map of the new answer shows
# where that answer's evidence now is: spread over the stroke and the background, not a new
# shape. A saliency map explains *this* decision of *this* network, fooled or not: it does not
# tell you that the decision was sound.

# %%
# 4. The claims, checked at the default settings.
#    (The largest change is eps up to float32 rounding: x + eps is rounded to float32.)
by_eps = {eps: (f, p, largest) for eps, f, p, largest, _ in rows}
if 0.15 in by_eps and 0.3 in by_eps:
    f15, p15, largest15 = by_eps[0.15]
    lesson.claim(clean >= 0.9 and p15 < 0.25 and largest15 <= 0.15 + 1e-6,
                 f"PGD with eps = 0.15 (no pixel changed by more than {largest15:.3f}, 38 of "
                 f"255 grey levels) takes LeNet-5 from {clean:.1%} to {p15:.1%} of the test "
                 f"digits, below 25% (FGSM: {f15:.1%}); at eps = 0.3 PGD leaves "
                 f"{by_eps[0.3][1]:.1%}")
lesson.claim(all(p <= f for _, f, p, _, _ in rows),
             "PGD's accuracy is at most FGSM's at every eps: "
             + ", ".join(f"{eps:g}: {p:.1%} vs {f:.1%}" for eps, f, p, _, _ in rows))
