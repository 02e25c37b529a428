# %% [markdown]
# # What does each layer respond to? Feature visualisation on LeNet-5
#
#     python examples/feature_visualisation.py           # trains a LeNet-5 on MNIST (~1 minute)
#     python examples/feature_visualisation.py --tiny    # a few seconds, for the tests
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# Two ways to ask a trained network what a unit looks for (minigrad.saliency.features):
#
# 1. **Make it fire** (activation maximisation; Erhan et al. 2009, Simonyan et al. 2013): start
#    from noise and climb the gradient of the unit's activation with respect to the *input*,
#    the weights fixed. Alone, the climb finds high-frequency patterns no digit has; the usual
#    priors (Olah et al., "Feature Visualization", Distill 2017) keep it image-like: an L2
#    penalty on the pixels, a random jitter of a pixel or two at every step, a slight blur every
#    few steps, and pixels kept in [0, 1] like the digits'.
# 2. **Find what fires it** (Zeiler & Fergus 2014): the test digits on which a channel peaks
#    highest, and the patch of each that its strongest unit sees -- its *receptive field*,
#    computed from the geometry of the convolutions and pools below it.
#
# Writes feature_visualisation.png (the maximising inputs of every conv channel and every class)
# and feature_visualisation_patches.png (each conv2 channel's top patches).

# %%
import argparse

import numpy as np

import minigrad as mg
from minigrad import nn, optim
from minigrad.data import DataLoader, ScaleUint8, TensorDataset, mnist
from minigrad.lessons import Lesson
from minigrad.models import LeNet5
from minigrad.saliency import features, plot
from minigrad.train import train_epoch

parser = argparse.ArgumentParser(description="Feature visualisation on LeNet-5")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--steps", type=int, default=200, help="gradient-ascent steps")
parser.add_argument("--tiny", action="store_true", help="256 training digits, one epoch, "
                    "20 steps")
parser.add_argument("--out", default="feature_visualisation")
lesson = Lesson(parser)
args = lesson.args

images, labels = mnist("train")
test_images, test_labels = mnist("test")
if args.tiny:
    images, labels, test_images, test_labels = images[:256], labels[:256], test_images[:100], \
        test_labels[:100]
    args.epochs, args.steps = 1, 20
test_x = test_images.astype(np.float32) / 255

nn.manual_seed(0)
model = LeNet5()
loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True, seed=0,
                    transform=ScaleUint8())
optimizer = optim.Adam(model.parameters(), lr=3e-3)
for _ in range(args.epochs):
    train_epoch(model, loader, optimizer, progress=False)
model.eval()
print(model)

# %% [markdown]
# ## 1. Receptive fields: how much of the digit each layer's unit can see
#
# A k x k window of stride s on top of a field of r pixels, j apart, sees r + (k - 1) j pixels,
# j s apart. Checked against the gradient: a unit's d(unit)/d(input) is zero outside its field.

# %%
CONVS = {"conv1": "features.0", "conv2": "features.3"}
layers = {"conv1": "features.0", "pool1": "features.2", "conv2": "features.3",
          "pool2": "features.5"}
fields = {short: features.receptive_field(model, name) for short, name in layers.items()}
inside = []
for short, name in layers.items():
    field = fields[short]
    prefix = nn.Sequential(*list(model.features)[:int(name.split(".")[1]) + 1])
    x = mg.tensor(test_x[:1], requires_grad=True)
    out = prefix(x)
    i, j = out.shape[2] // 2, out.shape[3] // 2
    out[0, :, i, j].sum().backward()            # every channel's unit at the centre
    support = np.abs(x.grad.data[0, 0]) > 0
    top, left, bottom, right = field.box(i, j)
    outside = support.sum() - support[max(top, 0):bottom, max(left, 0):right].sum()
    inside.append(outside == 0)
    print(f"{short}: field {field.size[0]}x{field.size[1]} pixels, {field.jump[0]} apart; "
          f"unit ({i}, {j})'s gradient reaches {support.sum()} pixels, {outside} outside "
          f"rows {top}..{bottom - 1}, columns {left}..{right - 1}")
sizes = [fields[short].size[0] for short in layers]
lesson.claim(all(inside) and sizes == sorted(sizes) and sizes[0] < sizes[-1],
             f"deeper layers see more of the digit: receptive fields of {', '.join(map(str, sizes))}"
             f" pixels a side (conv1, pool1, conv2, pool2), and each centre unit's input "
             f"gradient stays inside its field")

# %% [markdown]
# ## 2. Make each unit fire: the centre unit of each conv channel, and each class
#
# A unit sees only its receptive field: outside it the gradient is zero and the pixels stay
# near their grey start (the small L2 penalty fades them only slowly), so the conv1 maximisers
# are 5x5 patterns (the filters' signs) and the conv2 ones fill 14x14 -- the fields of part 1. A channel's *mean* over the map would not do for conv1: a linear
# filter's mean is sum(w) times the image's mean, maximised by a flat grey or white image.

# %%
SETTINGS = dict(shape=(1, 28, 28), steps=args.steps, lr=0.05, l2=1e-3, jitter=1,
                blur_every=4, blur_sigma=0.5, value_range=(0, 1))
maximisers, margins, best = {}, {}, {}
# the unit at the centre of each conv channel's map, and each class's logit
TARGETS = {"conv1": [(c, 14, 14) for c in range(6)], "conv2": [(c, 5, 5) for c in range(16)],
           "class": list(range(10))}
for short, targets in TARGETS.items():
    layer = CONVS.get(short)                      # the class logits: the model's output
    maximisers[short], _ = features.maximise_activation(model, targets, layer, **SETTINGS)
    reached = features.target_activation(model, maximisers[short], targets, layer)
    on_test = np.stack([features.target_activation(model, test_x, [t] * len(test_x), layer)
                        for t in targets])                       # (targets, test images)
    # how far above the best digit, in the test digits' own spread of that activation
    best[short] = on_test.max(axis=1)
    margins[short] = (reached - best[short]) / on_test.std(axis=1)
    print(f"{short}: the maximiser reaches {np.round(reached, 2)}\n"
          f"       the best test digit     {np.round(on_test.max(axis=1), 2)}")
# conv1's units are linear in a 5x5 patch, so their exact maximum over [0, 1] is known: the
# bias plus the positive weights (a pixel at 1 under each positive weight, 0 elsewhere)
conv1 = model.features[0]
exact = conv1.bias.data + np.maximum(conv1.weight.data, 0).sum(axis=(1, 2, 3))
reached_conv1 = features.target_activation(model, maximisers["conv1"], TARGETS["conv1"],
                                           "features.0")
share, best_share = reached_conv1 / exact, best["conv1"] / exact
print(f"conv1: the exact maximum       {np.round(exact, 2)}: the climb reaches "
      f"{share.min():.0%}..{share.max():.0%} of it (the L2 penalty and the blur cost the "
      f"rest), the best digit's patch {best_share.min():.0%}..{best_share.max():.0%}")
lowest = min(margins[short].min() for short in ("conv2", "class"))
lesson.claim(lowest > 0,
             f"gradient ascent from noise finds, for the centre unit of each of the 16 conv2 "
             f"channels and for each of the 10 classes, an input that drives it harder than "
             f"any of {len(test_x)} test digits does: above the best digit by at least "
             f"{lowest:.1f} (median {np.median(np.r_[margins['conv2'], margins['class']]):.1f})"
             f" standard deviations of the activation over the digits")
titles = {"class": [str(c) for c in range(10)]}
plot.plot_image_rows(maximisers, titles, value_range=(0, 1)).savefig(args.out + ".png", dpi=110)

# %% [markdown]
# ## 3. Find what fires each conv2 channel: its top test digits, cropped to its field
#
# Each row a channel of conv2 (after its ReLU), its 8 strongest digits, strongest first; above
# each patch its activation and (in brackets) the digit's class.

# %%
top = features.top_activating(model, test_x, "features.4", k=8)
patches = features.crop_patches(test_x, fields["conv2"], top)
plot.plot_top_patches(patches, top, test_labels, value_range=(0, 1)).savefig(
    args.out + "_patches.png", dpi=110)
print(f"wrote {args.out}.png and {args.out}_patches.png")
