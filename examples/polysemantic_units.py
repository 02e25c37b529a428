# %% [markdown]
# # Are a B-cos network's units less polysemantic than a plain network's?
#
#     python examples/polysemantic_units.py            # 5 seeds of each network (~20 s)
#     python examples/polysemantic_units.py --tiny     # a few seconds, for the tests
#     python examples/polysemantic_units.py --dataset shapes   # colour shapes (~5 minutes)
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# A unit is *polysemantic* when it responds to unrelated things. With class labels, the simplest
# proxies ask how mixed the classes are that drive a unit:
#
# - the **top-k class entropy**: the entropy (bits) of the classes of the k test images that
#   activate the unit most; 0 when all k are one digit, log2(10) = 3.32 at most;
# - the **class selectivity index** (Morcos et al. 2018): (mu_max - mu_-max) / (mu_max +
#   mu_-max) over the class-conditional mean activations; 1 when one class alone drives the
#   unit, 0 when every class drives it equally.
#
# The claim to test (B-cos papers and talks): B-cos networks are easier to interpret because
# their units respond to fewer unrelated things. Here a LeNet-5 and a B-cos LeNet of the same
# shape (models.bcos_lenet) are trained on the same digits with the same optimiser, several
# seeds each, and every unit of every layer is measured on the test set. `--dataset shapes` asks
# the same of the colour shapes (64x64, 10 classes; both networks' first convolution strides 2,
# the B-cos one in the v2 design): the claims below are MNIST's, printed there unchecked, and
# docs/saliency.md has both tables.
#
# Two things to know when reading the table. A conv channel's activation on an image is its
# map's maximum for the ranking (what its top patches show) and its mean for the selectivity
# index (as Morcos et al. average a feature map). And the index needs activations >= 0: the
# plain network's are (they come out of a ReLU), a B-cos unit's are signed (no ReLU; MaxOut of
# two units), so for B-cos the index measures the positive part, max(a, 0) -- the share of
# negative activations is printed beside it.

# %%
import argparse
import itertools
from functools import partial

import numpy as np

from minigrad import nn, optim
from minigrad.apps.recipes import load_split
from minigrad.data import (SHAPE_CLASSES, Compose, DataLoader, Normalize, ScaleUint8,
                           TensorDataset, mnist)
from minigrad.lessons import Lesson
from minigrad.models import LeNet5, bcos_lenet
from minigrad.saliency import features, plot, selectivity
from minigrad.saliency.core import predict
from minigrad.train import train_epoch

parser = argparse.ArgumentParser(description="Polysemantic units: plain vs B-cos LeNet")
parser.add_argument("--seeds", type=int, default=5, help="networks of each kind (4 or fewer "
                    "cannot show a difference at p < 0.05 after Holm's correction)")
parser.add_argument("--dataset", choices=("mnist", "shapes"), default="mnist",
                    help="the digits, or the colour shapes v3 (64x64: both networks' first "
                    "convolution strides 2)")
parser.add_argument("--epochs", type=int, help="default: 2 on mnist, 8 on shapes")
parser.add_argument("--lr", type=float, default=3e-3, help="Adam's learning rate, both networks")
parser.add_argument("--bcos-design", choices=("v1", "v2"),
                    help="models.bcos_lenet's design; default: v1 on mnist, v2 on shapes")
parser.add_argument("--k", type=int, default=20, help="top images per unit for the entropy")
parser.add_argument("--tiny", action="store_true", help="256 training images, 200 test images, "
                    "one epoch, one seed")
parser.add_argument("--out", default="polysemantic_units")
lesson = Lesson(parser)
args = lesson.args

train_count, test_count = (256, 200) if args.tiny else (None, None)
if args.dataset == "mnist":
    images, labels = (part[:train_count] for part in mnist("train"))
    test_images, test_labels = (part[:test_count] for part in mnist("test"))
    class_names, shape = [str(c) for c in range(10)], {}
else:
    images, labels = load_split("shapes", "train", count=train_count)
    test_images, test_labels = load_split("shapes", "test", count=test_count)
    class_names, shape = list(SHAPE_CLASSES), {"in_channels": 3, "image_size": 64}
# B-cos v1 (MaxOut, fixed scales) stayed at chance on the shapes (10.7% validation after 6
# epochs), as on cluttered MNIST; v2 (BatchNorm-like scaling, temperature 1) learns there
design = args.bcos_design or {"mnist": "v1", "shapes": "v2"}[args.dataset]
args.epochs = args.epochs or {"mnist": 2, "shapes": 8}[args.dataset]
if args.tiny:
    args.epochs, args.seeds, args.k = 1, 1, 10
test_x = test_images.astype(np.float32) / 255

# the same four layers in both networks: each conv's and each hidden fc's output, as the next
# layer takes it: after the ReLU in the plain network; a B-cos layer is its own non-linearity
# (in v2, after the uncentred BatchNorm that rescales each unit)
BCOS_LAYERS = {"v1": {"conv1": "features.0", "conv2": "features.2", "fc1": "classifier.0",
                      "fc2": "classifier.1"},
               "v2": {"conv1": "features.1", "conv2": "features.4", "fc1": "classifier.1",
                      "fc2": "classifier.3"}}
LAYERS = {"LeNet-5": {"conv1": "features.1", "conv2": "features.4", "fc1": "classifier.2",
                      "fc2": "classifier.4"},
          "B-cos LeNet": BCOS_LAYERS[design]}
BCOS = {"v1": {}, "v2": {"design": "v2", "temperature": 1.0}}[design]
BUILD = {"LeNet-5": partial(LeNet5, **shape), "B-cos LeNet": partial(bcos_lenet, **shape, **BCOS)}
# Each network's inputs. B-cos takes pixels in [0, 1] (it encodes them as [x, 1 - x]). The
# plain LeNet-5 takes the shapes as `minigrad train`'s shapes recipe normalises them: from
# [0, 1] pixels its logits hardly differ between images at initialisation, and seed 1 stayed at
# chance (10.0% test after 8 epochs, at lr 3e-3 and at 1e-3).
TRANSFORM = {"LeNet-5": (Compose([ScaleUint8(), Normalize(0.5, 0.3)])
                         if args.dataset == "shapes" else ScaleUint8()),
             "B-cos LeNet": ScaleUint8()}
inputs = {name: transform(test_images) for name, transform in TRANSFORM.items()}


# %% [markdown]
# ## 1. Train both networks, seed by seed, on the same images in the same order

# %%
def train(name, seed):
    """A network trained for args.epochs with Adam (lr args.lr, batch 64)."""
    nn.manual_seed(seed)
    model = BUILD[name]()
    loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True, seed=seed,
                        transform=TRANSFORM[name])
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    for _ in range(args.epochs):
        train_epoch(model, loader, optimizer, progress=False)
    return model.eval()


def measure(model, layer, x):
    """(per-unit top-k entropy, selectivity index of max(a, 0), of max(-a, 0), share of a < 0)
    on the test inputs x. The negative part's index is the control: in a ReLU network it is all
    zeros (NaN)."""
    peaks = features.unit_activations(model, x, layer, reduce="max")
    means = features.unit_activations(model, x, layer, reduce="mean")
    entropy = selectivity.top_k_class_entropy(peaks, test_labels, args.k)
    positive, negative = (selectivity.class_selectivity_index(np.maximum(sign * means, 0),
                                                              test_labels) for sign in (1, -1))
    return entropy, positive, negative, float((means < 0).mean())


results, models = {}, {}
for name in BUILD:
    for seed in range(args.seeds):
        model = train(name, seed)
        accuracy = (predict(model, inputs[name]).argmax(axis=1) == test_labels).mean()
        for short, layer in LAYERS[name].items():
            results[name, seed, short] = measure(model, layer, inputs[name]) + (accuracy,)
        models[name, seed] = model
        print(f"{name:<12} seed {seed}: test accuracy {accuracy:.1%}")

# %% [markdown]
# ## 2. The table: medians over the units of each layer, then mean +- spread over the seeds
#
# Lower entropy and higher selectivity index: more selective (less polysemantic) units. "no
# top k": the share of units left out because their top k is not defined -- dead, or active on
# fewer than k digits (the rest tie at 0). "a < 0": how often a unit's mean activation on a
# digit is negative.

# %%
def over_seeds(name, short, column, summary):
    """summary(a layer's per-unit values) for each seed -> (mean, spread) over the seeds."""
    values = [summary(results[name, seed, short][column]) for seed in range(args.seeds)]
    return np.mean(values), np.std(values)


def cell(mean_and_spread):
    mean, spread = mean_and_spread
    return "-" if np.isnan(mean) else f"{mean:.2f} +- {spread:.2f}"


def median_of_live(values):
    """The median over the units whose measure is defined (not NaN); NaN if none is."""
    return np.nan if np.isnan(values).all() else np.nanmedian(values)


table = ["| layer | network | units | top-k entropy (bits) | selectivity index of max(a, 0) "
         "| of max(-a, 0) | no top k | a < 0 |", "|---|---|---|---|---|---|---|---|"]
entropy, index = {}, {}
for short in LAYERS["LeNet-5"]:
    for name in BUILD:
        units = len(results[name, 0, short][0])
        entropy[name, short], index[name, short], negative_part = (
            over_seeds(name, short, column, median_of_live) for column in (0, 1, 2))
        no_top_k = over_seeds(name, short, 0, lambda e: np.isnan(e).mean())[0]
        negative = over_seeds(name, short, 3, float)[0]
        table.append(f"| {short} | {name} | {units} | {cell(entropy[name, short])} | "
                     f"{cell(index[name, short])} | {cell(negative_part)} | {no_top_k:.0%} | "
                     f"{negative:.0%} |")
accuracy = {name: np.mean([results[name, s, "conv1"][4] for s in range(args.seeds)])
            for name in BUILD}
print(f"\nmedians over each layer's units (those with a defined measure), mean +- std over "
      f"{args.seeds} seed(s); "
      f"{len(test_x)} test images ({args.dataset}), k = {args.k}; {args.epochs} epoch(s) of "
      f"{len(images)} images; test accuracy LeNet-5 {accuracy['LeNet-5']:.1%}, B-cos "
      f"{accuracy['B-cos LeNet']:.1%}\n")
print("\n".join(table))
with open(args.out + ".md", "w") as file:
    file.write("\n".join(table) + "\n")

# %% [markdown]
# ## 3. What the table says
#
# The means hide how far the seeds spread, so each layer is judged seed by seed: do the B-cos
# networks' median entropies sit on one side of the LeNet-5s' more than chance would put them
# there? The test is Mann-Whitney's, done exactly: U counts the (B-cos seed, LeNet-5 seed) pairs
# where B-cos is more mixed (a tie counts a half), and p is the share of all the ways to split the
# pooled seeds into two groups of these sizes (252 for 5 and 5) whose U is at least as far from the
# middle. Four layers are tested, so the four p are corrected by Holm's method (the smallest times
# 4, the next times 3 ..., never below the one before), and a layer differs when its corrected p is
# below 0.05. With 3 seeds each no split could show it (the smallest p is 2/20 = 0.1), nor with 4
# once Holm's correction multiplies the smallest, 2/70, by 4 (0.11), which is why the lesson trains
# 5 of each (2/252 times 4 is 0.032) -- and why, at 5, a layer can differ only when its B-cos seeds
# and its LeNet-5 seeds (almost) do not overlap: "no clear difference" is not "no difference".
#
# By the top-k entropy -- which only ranks images, so a signed unit and a rectified one are
# measured alike -- no layer shows the B-cos units more selective (less mixed); at conv2 they lean
# the other way (more mixed in the uncorrected test, not after Holm's). Read the medians with the
# "no top k" column: they are over live units, and a third of LeNet-5's fc units are dead or nearly
# so (their top k is a tie at 0), where B-cos has none -- a difference the entropy does not count.
# The selectivity index says the opposite, but it reads max(a, 0), and a B-cos unit is negative on
# a third to nine tenths of the digits: what survives rectification is sparse, and sparse looks
# selective. The control shows it: the *negative* half of the same B-cos fc units, max(-a, 0),
# scores as "selective" as the positive half, and higher than LeNet-5's units do.

# %%
def seed_medians(name, short):
    """The median top-k entropy of a layer's live units, one per seed."""
    return [median_of_live(results[name, seed, short][0]) for seed in range(args.seeds)]


def mann_whitney_u(a, b):
    """The pairs (a_i, b_j) with a_i > b_j, ties counted a half."""
    a, b = np.asarray(a)[:, None], np.asarray(b)[None, :]
    return (a > b).sum() + 0.5 * (a == b).sum()


def exact_p(a, b):
    """Two-sided p of U: the share of the splits of a + b into groups of len(a) and len(b)
    whose U is at least as far from its middle, len(a) len(b) / 2, as the observed one."""
    pooled, middle = np.concatenate([a, b]), len(a) * len(b) / 2
    observed = abs(mann_whitney_u(a, b) - middle)
    splits = [np.isin(np.arange(len(pooled)), chosen)
              for chosen in itertools.combinations(range(len(pooled)), len(a))]
    return np.mean([abs(mann_whitney_u(pooled[s], pooled[~s]) - middle) >= observed
                    for s in splits])


def holm(p_values):
    """Holm's step-down correction of several p: sorted ascending, the i-th (from 0) times
    (m - i), never below the one before, at most 1."""
    order = np.argsort(p_values)
    scaled = np.minimum(1, np.maximum.accumulate(
        [(len(p_values) - i) * p_values[j] for i, j in enumerate(order)]))
    corrected = np.empty(len(p_values))
    corrected[order] = scaled
    return corrected


def direction(bcos, plain, corrected_p):
    """'B-cos more mixed' or 'B-cos less mixed' (the side U is on) when the corrected p < 0.05,
    else 'no clear difference'."""
    if corrected_p >= 0.05:
        return "no clear difference"
    more = mann_whitney_u(bcos, plain) > len(bcos) * len(plain) / 2
    return f"B-cos {'more' if more else 'less'} mixed"


medians = {short: (seed_medians("B-cos LeNet", short), seed_medians("LeNet-5", short))
           for short in LAYERS["LeNet-5"]}
raw_p = {short: exact_p(*pair) for short, pair in medians.items()}
corrected = dict(zip(raw_p, holm(list(raw_p.values()))))
verdict = {short: f"{direction(*medians[short], corrected[short])} (p = {raw_p[short]:.3f}, "
                  f"{corrected[short]:.3f} after Holm)" for short in raw_p}
for short, (bcos, plain) in medians.items():
    print(f"{short}: B-cos " + " ".join(f"{e:.2f}" for e in bcos) +
          " | LeNet-5 " + " ".join(f"{e:.2f}" for e in plain) + f" bits: {verdict[short]}")
lesson.claim(not any(v.startswith("B-cos less") for v in verdict.values()),
             "by the top-k class entropy no layer shows the B-cos LeNet's units more "
             "class-selective than LeNet-5's (exact Mann-Whitney test over the seeds, "
             "Holm-corrected): " +
             ", ".join(f"{s}: {verdict[s]}" for s in verdict) +
             f" (conv2: {entropy['B-cos LeNet', 'conv2'][0]:.2f} vs "
             f"{entropy['LeNet-5', 'conv2'][0]:.2f} bits)")
negative_index = {short: over_seeds("B-cos LeNet", short, 2, median_of_live)[0]
                  for short in ("fc1", "fc2")}
lesson.claim(all(negative_index[s] > index["LeNet-5", s][0] for s in negative_index),
             "the selectivity index cannot settle it for signed units: the negative half "
             "max(-a, 0) of the B-cos fc units scores " +
             ", ".join(f"{negative_index[s]:.2f} ({s})" for s in negative_index) +
             ", above LeNet-5's units (" +
             ", ".join(f"{index['LeNet-5', s][0]:.2f}" for s in negative_index) + ")")

# %% [markdown]
# ## 4. The units' top images: fc1's most and least mixed units, seed 0 of each network
#
# Each row one unit, its 8 strongest test images, strongest first, titled with their class.

# %%
rows, titles = {}, {}
for name in BUILD:
    model, layer = models[name, 0], LAYERS[name]["fc1"]
    unit_entropy = results[name, 0, "fc1"][0]
    live = np.flatnonzero(~np.isnan(unit_entropy))
    chosen = live[np.argsort(unit_entropy[live], kind="stable")]
    top = features.top_activating(model, inputs[name], layer, k=8)
    for unit in np.concatenate([chosen[:3], chosen[-3:]]):
        label = f"{name}\nunit {unit}: {unit_entropy[unit]:.1f} bits"
        rows[label] = test_x[top.indices[unit]]
        titles[label] = [class_names[test_labels[i]] for i in top.indices[unit]]
plot.plot_image_rows(rows, titles, value_range=(0, 1)).savefig(args.out + ".png", dpi=110)
print(f"wrote {args.out}.md and {args.out}.png")
