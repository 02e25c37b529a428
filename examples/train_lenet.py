# %% [markdown]
# # Train LeNet-5 on the bundled MNIST digits, every step written out
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# `minigrad train` does exactly this in one command; here is what it does, to read:
#
#     python examples/train_lenet.py                       # ReLU + max pooling, ~98% in ~1 min
#     python examples/train_lenet.py --activation tanh --pooling avg     # closer to the 1998 net
#     python examples/train_lenet.py --epochs 1 --limit 256             # a quick look
#
# The hyper-parameters are those of `minigrad.apps.recipes.RECIPES["mnist"]`, chosen on a validation
# split carved from the training images (never on the test split).

# %%
import argparse
from pathlib import Path

from minigrad import nn, optim, viz
from minigrad.data import (Compose, DataLoader, Normalize, RandomCrop, ScaleUint8,
                           TensorDataset, mnist)
from minigrad.models import LeNet5
from minigrad.runs import Run
from minigrad.train import evaluate, fit
from minigrad.lessons import Lesson

parser = argparse.ArgumentParser(description="Train LeNet-5 on the bundled MNIST digits, every step written out")
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--activation", default="relu", choices=["relu", "tanh", "sigmoid"])
parser.add_argument("--pooling", default="max", choices=["max", "avg"])
parser.add_argument("--limit", type=int, help="train on the first N training digits only")
parser.add_argument("--out", default="runs/train_lenet")
lesson = Lesson(parser)
args = lesson.args

# %%
# 1. Data: 4,000 training and 1,000 test digits, uint8 (N, 1, 28, 28), labels 0..9.
train_images, train_labels = mnist("train")
train_images, train_labels = train_images[:args.limit], train_labels[:args.limit]
test_images, test_labels = mnist("test")
# The loader keeps the data set's uint8, as PyTorch's does: ScaleUint8 turns each batch into
# float32 in [0, 1] (what torchvision's ToTensor() does), asked for here, first.
scale = ScaleUint8()
normalize = Normalize(0.1307, 0.3081)      # MNIST's mean and std: inputs centred, unit spread
# Random shifts of up to 2 pixels: every epoch sees new variants of the same 4,000 digits.
augment = Compose([scale, RandomCrop(28, padding=2), normalize])
unaugmented = Compose([scale, normalize])
train_loader = DataLoader(TensorDataset(train_images, train_labels), batch_size=64,
                          shuffle=True, seed=0, transform=augment)
test_loader = DataLoader(TensorDataset(test_images, test_labels), batch_size=500,
                         transform=unaugmented)

# %%
# 2. Model, optimizer and learning-rate schedule.
nn.manual_seed(0)                          # the same initial weights every run
model = LeNet5(activation=args.activation, pooling=args.pooling)
nn.summary(model, (1, 1, 28, 28))
optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                      weight_decay=5e-4)
# One cycle: warm up to lr=0.05 over the first 15% of the steps, then anneal to ~0 (momentum
# kept at 0.9, as in `minigrad train`'s recipe, instead of PyTorch's default cycling).
scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, epochs=args.epochs,
                                          steps_per_epoch=len(train_loader), pct_start=0.15,
                                          cycle_momentum=False)

# %%
# 3. Train. (Every step allocates arrays of the same sizes as the step before; minigrad asks
# malloc to keep the freed memory rather than have the OS zero-fill fresh pages each time: see
# minigrad/kernels/scratch.py.)
# The test split is only watched each epoch, never used to choose anything.
out = Path(args.out)
history = fit(model, train_loader, test_loader, optimizer, args.epochs, scheduler,
              run=Run(out), scheduler_step="batch", val_name="test")

# %%
# 4. Evaluate and draw.
result = evaluate(model, test_loader)
print(f"test accuracy {result['accuracy']:.2%}")
lesson.claim(result["accuracy"] >= 0.975,
             f"LeNet-5 ({args.activation}, {args.pooling} pooling) reaches "
             f"{result['accuracy']:.2%} on the 1,000 test digits after {args.epochs} epochs on "
             f"4,000 training digits")
viz.plot_curves(history, out / "curves.png", val_label="test")
viz.plot_confusion(result["confusion"], out / "confusion.png")
viz.plot_filters(model, out / "filters.png")
viz.plot_feature_maps(model, "features.1", unaugmented(test_images[:1])[0],
                      out / "feature_maps.png")
print(f"plots in {out}/")
