# %% [markdown]
# # SGD on one example at a time, on mini-batches, on the whole training set
#
#     python examples/sgd_one_versus_batches.py
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# The gradient of the mean loss over a batch of B examples estimates the gradient over the
# whole training set. With B = 1 (the original "stochastic" gradient descent) each step follows
# one example: many cheap, noisy steps. With B = N (full-batch gradient descent) each step is
# exact but sees every example once: one step per epoch. Mini-batches sit in between, and are
# what everyone uses. Here the same MLP learns the same 2,000 MNIST digits for the same number
# of epochs -- the same examples seen -- with B = 1, 32 and 2,000, and the same learning rate:
#
# - the loss of each step's batch is noisier the smaller the batch: at the same weights, the
#   mean of B losses drawn from the N has a spread sqrt(B (N - 1) / (N - B)) times smaller
#   (about sqrt(B)); along the training curves the factor is larger still, since by then the two
#   runs' models differ too;
# - an epoch of B = 1 takes N Python-level steps, each too small to keep NumPy busy; an epoch of
#   mini-batches takes N / B steps of matrix products: far less wall time;
# - but per epoch the B = 1 run takes 2,000 steps where B = 2,000 takes one: with the same
#   learning rate it gets much further per epoch. The batch size trades noise and wall time
#   against the number of updates (and the learning rate should grow with B to make up).

# %%
import argparse
import time

import matplotlib
import numpy as np

from minigrad import functional as F, nn, optim
from minigrad.data import DataLoader, ScaleUint8, TensorDataset, mnist
from minigrad.lessons import Lesson
from minigrad.tensor import Tensor, no_grad
from minigrad.train import evaluate, train_step

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description="SGD on one example against mini-batches")
parser.add_argument("--train-size", type=int, default=2000, help="training digits")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--batch", type=int, default=32, help="the mini-batch size")
parser.add_argument("--lr", type=float, default=0.05)
parser.add_argument("--out", default="sgd_one_versus_batches")
lesson = Lesson(parser)
args = lesson.args

images, labels = mnist("train")
images, labels = images[:args.train_size], labels[:args.train_size]
whole_set = DataLoader(TensorDataset(images, labels), 500, transform=ScaleUint8())
BATCH_SIZES = {"one example": 1, f"mini-batches of {args.batch}": args.batch,
               f"full batch ({args.train_size})": args.train_size}


# %%
def train(batch_size):
    """Plain SGD from the same start: the loss of every step's batch, the training set's loss
    after each epoch, the wall seconds of each epoch, and the trained model."""
    nn.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
    optimizer = optim.SGD(model.parameters(), lr=args.lr)
    loader = DataLoader(TensorDataset(images, labels), batch_size, shuffle=True, seed=0,
                        transform=ScaleUint8())
    step_losses, epoch_losses, epoch_seconds = [], [], []
    for epoch in range(args.epochs):
        loader.set_epoch(epoch)
        started = time.perf_counter()
        model.train()
        for x, y in loader:
            step_losses.append(train_step(model, x, y, optimizer)[0])
        epoch_seconds.append(time.perf_counter() - started)
        epoch_losses.append(evaluate(model, whole_set)["loss"])
    return np.array(step_losses), epoch_losses, epoch_seconds, model


# %%
runs = {name: train(size) for name, size in BATCH_SIZES.items()}
print(f"{args.train_size} digits, {args.epochs} epochs, SGD lr {args.lr}, an MLP 784-100-10\n")
print(f"{'':<24} {'steps':>6} {'spread of a step':>17} {'s / epoch':>10}  training loss after "
      f"each epoch")
spread = {}
for name, (step_losses, epoch_losses, epoch_seconds, _) in runs.items():
    last_epoch = step_losses[-len(step_losses) // args.epochs:]
    # the spread of the step losses in the last epoch, where the loss itself changes least
    spread[name] = np.std(last_epoch)            # 0 for the full batch: one step an epoch
    shown = f"{spread[name]:.3f}" if len(last_epoch) > 1 else "-"
    print(f"{name:<24} {len(step_losses):>6} {shown:>17} "
          f"{np.median(epoch_seconds):>10.3f}  " + ", ".join(f"{v:.3f}" for v in epoch_losses))

# %% [markdown]
# ## The same spread at the same weights
# The curves above compare two different models. At one model's weights (the mini-batch run's,
# at the end), every example's loss, and the means of many random batches of B of them:
# averaging shrinks the spread by sqrt(B (N - 1) / (N - B)), B's square root corrected for
# drawing without replacement from N.

# %%
def spread_at_the_same_weights(model, batch_size, shuffles=50):
    """(spread of one example's loss, spread of a batch's mean loss) over the training set."""
    model.eval()
    with no_grad():
        x = ScaleUint8()(images)
        losses = F.cross_entropy(model(Tensor(x)), labels, reduction="none").data
    generator = np.random.default_rng(1)
    batches = len(losses) // batch_size
    means = [losses[generator.permutation(len(losses))[:batches * batch_size]]
             .reshape(batches, batch_size).mean(axis=1) for _ in range(shuffles)]
    return losses.std(), np.concatenate(means).std()


single, batched = spread_at_the_same_weights(runs[f"mini-batches of {args.batch}"][3],
                                             args.batch)
n = args.train_size
predicted = np.sqrt(args.batch * (n - 1) / (n - args.batch))
print(f"at the same weights: one example's loss spreads {single:.3f}, the mean of "
      f"{args.batch} {batched:.3f}: x{single / batched:.2f} (predicted x{predicted:.2f})")

# %%
one, mini, full = runs.values()
noisier = spread["one example"] / spread[f"mini-batches of {args.batch}"]
slower = np.median(one[2]) / np.median(mini[2])
print(f"\nalong the curves one example's step losses spread x{noisier:.1f} wider than "
      f"mini-batches of {args.batch}; its epochs take x{slower:.1f} the wall time")
lesson.claim(noisier > 3 and slower > 3 and abs(single / batched / predicted - 1) < 0.15,
             f"same {args.train_size} digits and {args.epochs} epochs: one-example SGD's "
             f"per-step loss spreads x{noisier:.1f} wider than with mini-batches of "
             f"{args.batch} (at the same weights x{single / batched:.2f}, predicted "
             f"x{predicted:.2f}), and its epochs "
             f"take x{slower:.1f} the wall time ({np.median(one[2]):.2f} s against "
             f"{np.median(mini[2]):.3f} s)")
lesson.claim(one[1][-1] < mini[1][-1] < full[1][-1],
             f"with the same learning rate {args.lr}, the training loss after {args.epochs} "
             f"epochs is {one[1][-1]:.3f} for one example at a time ({len(one[0])} steps), "
             f"{mini[1][-1]:.3f} for mini-batches ({len(mini[0])} steps) and {full[1][-1]:.3f} "
             f"for the full batch ({len(full[0])} steps): per epoch, more updates get further")

# %%
figure, ax = plt.subplots(figsize=(9, 4))
for name, (step_losses, *_) in runs.items():
    seen = np.linspace(0, args.epochs, len(step_losses) + 1)[1:]     # in epochs
    ax.plot(seen, step_losses, lw=0.4 if len(step_losses) > 1000 else 1.5,
            marker="o" if len(step_losses) < 10 else None, label=name,
            alpha=0.5 if len(step_losses) > 1000 else 1)
ax.set(xlabel="epochs (examples seen / training set)", ylabel="loss of the step's batch",
       ylim=(0, 5), title="the same examples seen, three batch sizes")
ax.legend()
figure.tight_layout()
figure.savefig(args.out + ".png", dpi=90)
print(f"wrote {args.out}.png")
