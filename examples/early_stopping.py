# %% [markdown]
# # Capacity against overfitting, and early stopping with the best epoch restored
#
#     python examples/early_stopping.py
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# Two models learn 500 MNIST digits (a small training set, on purpose) and are measured after
# every epoch on 1,000 other digits:
#
# - a small one, logistic regression (784 -> 10, 7,850 weights): too little capacity to learn
#   the 500 digits by heart; its training and validation losses fall together, slowly, and
#   stay apart less;
# - a large one, an MLP 784-512-512-10 (669,706 weights): it can. Its training loss keeps
#   falling towards 0, while its validation loss reaches a lowest point at some epoch k and then
#   rises: from there on it learns the 500 digits, not digits. That is overfitting.
#
# Early stopping watches the validation loss: `fit(..., patience=5)` stops once 5 epochs in a
# row brought no new lowest value, and `restore_best=True` puts back the weights of the best
# epoch, so the model you keep is the one from epoch k, not the last one.

# %%
import argparse

import matplotlib
import numpy as np

from minigrad import nn, optim
from minigrad.data import DataLoader, ScaleUint8, TensorDataset, mnist
from minigrad.lessons import Lesson
from minigrad.runs import best_epoch
from minigrad.train import evaluate, fit

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description="Capacity, overfitting and early stopping")
parser.add_argument("--train-size", type=int, default=500, help="training digits")
parser.add_argument("--val-size", type=int, default=1000, help="validation digits")
parser.add_argument("--epochs", type=int, default=30)
parser.add_argument("--patience", type=int, default=5)
parser.add_argument("--out", default="early_stopping")
lesson = Lesson(parser)
args = lesson.args

images, labels = mnist("train")           # the bundled 4,000: training and validation apart
train_loader = DataLoader(TensorDataset(images[:args.train_size], labels[:args.train_size]),
                          50, shuffle=True, seed=0, transform=ScaleUint8())
val_loader = DataLoader(TensorDataset(images[-args.val_size:], labels[-args.val_size:]), 500,
                        transform=ScaleUint8())


def small():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def large():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512),
                         nn.ReLU(), nn.Linear(512, 10))


def train(make, **early_stopping):
    """The model and its history: Adam 1e-3, batches of 50, the same start for every run."""
    nn.manual_seed(0)
    model = make()
    history = fit(model, train_loader, val_loader, optim.Adam(model.parameters(), lr=1e-3),
                  args.epochs, progress=False, **early_stopping)
    return model, history


# %% [markdown]
# ## Every epoch, no stopping: the curves
# Both run all the epochs; `restore_best=True` alone (no patience) keeps the best weights
# while training goes on, and loads them at the end.

# %%
curves = {}
for name, make in (("small (784-10)", small), ("large (784-512-512-10)", large)):
    model, history = train(make, restore_best=True)
    best = best_epoch(history)
    curves[name] = model, history, best
    print(f"{name:<23} {model.num_parameters():>8,} weights: validation loss lowest after "
          f"epoch {best + 1} ({history['val_loss'][best]:.3f}, accuracy "
          f"{history['val_accuracy'][best]:.1%}), {history['val_loss'][-1]:.3f} after epoch "
          f"{args.epochs}; training loss {history['train_loss'][best]:.3f} -> "
          f"{history['train_loss'][-1]:.4f}")
(_, small_history, small_best), (large_model, large_history, large_best) = curves.values()
rise = large_history["val_loss"][-1] / large_history["val_loss"][large_best]
fall = large_history["train_loss"][large_best] / large_history["train_loss"][-1]
print(f"after its best epoch the large model's validation loss rose x{rise:.2f} while its "
      f"training loss fell x{fall:.0f}")
lesson.claim(large_best < args.epochs // 2 and rise > 1.1 and fall > 10
             and small_best == args.epochs - 1
             and small_history["val_loss"][-1] > large_history["val_loss"][large_best],
             f"on {args.train_size} digits the large model's validation loss is lowest after "
             f"epoch {large_best + 1} ({large_history['val_loss'][large_best]:.3f}) and then "
             f"rises x{rise:.2f} by epoch {args.epochs} while its training loss still falls "
             f"x{fall:.0f}; the small model's validation loss falls through all "
             f"{args.epochs} epochs, to {small_history['val_loss'][-1]:.3f}, still above the "
             f"large model's best: no overfitting, and less learnt")

# %% [markdown]
# ## With patience: stop, and restore the best epoch
# The same large model from the same start, with `patience`: it stops `patience` epochs after
# its best, and gives back that epoch's weights -- the very weights the run above kept.

# %%
stopped_model, stopped_history = train(large, patience=args.patience, restore_best=True)
stopped_best = best_epoch(stopped_history)
ran = len(stopped_history["val_loss"])
restored_loss = evaluate(stopped_model, val_loader)["loss"]
same_weights = all(np.array_equal(a, b) for a, b in zip(stopped_model.state_dict().values(),
                                                        large_model.state_dict().values()))
print(f"patience {args.patience}: stopped after epoch {ran} of {args.epochs}, restored epoch "
      f"{stopped_best + 1}; the restored model's validation loss {restored_loss:.6f}, the "
      f"best epoch's {stopped_history['val_loss'][stopped_best]:.6f}; the same weights as the "
      f"full run's best: {same_weights}")
lesson.claim(ran == large_best + 1 + args.patience and stopped_best == large_best
             and restored_loss == stopped_history["val_loss"][stopped_best] and same_weights,
             f"with patience {args.patience} fit stopped after epoch {ran} of {args.epochs} and "
             f"restored epoch {stopped_best + 1}: its validation loss is the best epoch's "
             f"exactly ({restored_loss:.4f}), and its weights are those the full run kept")

# %%
figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, (name, (_, history, best)) in zip(axes, curves.items()):
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    ax.plot(epochs, history["train_loss"], "o-", ms=3, label="training")
    ax.plot(epochs, history["val_loss"], "s-", ms=3, label="validation")
    ax.axvline(best + 1, color="0.5", ls=":", label=f"best epoch ({best + 1})")
    ax.set(title=name, xlabel="epoch", ylabel="cross-entropy")
    ax.legend()
axes[1].axvline(ran, color="C3", ls="--", label=f"patience {args.patience} stops ({ran})")
axes[1].legend()
figure.tight_layout()
figure.savefig(args.out + ".png", dpi=90)
print(f"wrote {args.out}.png")
