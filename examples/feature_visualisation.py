# %% [markdown]
# # What does each layer respond to? Feature visualisation on LeNet-5 (or a trained model)
#
#     python examples/feature_visualisation.py           # trains a LeNet-5 on MNIST (~1 minute)
#     python examples/feature_visualisation.py --tiny    # a few seconds, for the tests
#     python examples/feature_visualisation.py --model-path runs/shapes/model.npz --images 1000 \
#         --channels 8 --patch-layers conv1 conv2 conv3 conv5
#                                 # a model of `minigrad train`, e.g. AlexNet-lite on the shapes
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# Two ways to ask a trained network what a unit looks for (minigrad.saliency.features):
#
# 1. **Make it fire** (activation maximisation; Erhan et al. 2009, Simonyan et al. 2013): start
#    from noise and climb the gradient of the unit's activation with respect to the *input*,
#    the weights fixed. Alone, the climb finds high-frequency patterns no image has; the usual
#    priors (Olah et al., "Feature Visualization", Distill 2017) keep it image-like: an L2
#    penalty on the pixels, a random jitter of a pixel or two at every step, a slight blur every
#    few steps, and pixels kept in [0, 1] like the images'.
# 2. **Find what fires it** (Zeiler & Fergus 2014): the test images on which a channel peaks
#    highest, and the patch of each that its strongest unit sees -- its *receptive field*,
#    computed from the geometry of the convolutions and pools below it.
#
# Writes feature_visualisation.png (the maximising inputs of conv channels, cropped to their
# fields, and of every class) and feature_visualisation_patches_<layer>.png (each channel's top
# patches).

# %%
import argparse

import numpy as np

import minigrad as mg
from minigrad import nn, optim
from minigrad.apps.recipes import load_split, load_trained, recipe_for
from minigrad.data import SHAPE_CLASSES, DataLoader, ScaleUint8, TensorDataset, mnist
from minigrad.lessons import Lesson
from minigrad.models import LeNet5
from minigrad.nn.fuse import fuse_conv_bn
from minigrad.saliency import features, plot
from minigrad.saliency.core import in_batches, layer_activation, predict, resolve_layer
from minigrad.train import train_epoch

parser = argparse.ArgumentParser(description="Feature visualisation on LeNet-5")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--steps", type=int, default=200, help="gradient-ascent steps")
parser.add_argument("--model-path", help="a model.npz (or checkpoint.npz) of `minigrad train`: "
                    "look into it, on its data set's test split, instead of training LeNet-5")
parser.add_argument("--images", type=int, help="search only the first N test images")
parser.add_argument("--channels", type=int, default=16, help="maximise and show the first N "
                    "channels of each conv layer")
parser.add_argument("--patch-layers", nargs="+", default=["conv2"],
                    help="conv layers whose channels' top patches are drawn")
parser.add_argument("--tiny", action="store_true", help="256 training digits, one epoch, "
                    "100 test images, 20 steps")
parser.add_argument("--out", default="feature_visualisation")
lesson = Lesson(parser)
args = lesson.args

if args.tiny:
    args.epochs, args.steps, args.images = 1, 20, 100
if args.model_path:
    model, config = load_trained(args.model_path)
    recipe = recipe_for(config["dataset"], config["model"])
    test_images, test_labels = load_split(config["dataset"], "test", count=args.images)
    class_names = SHAPE_CLASSES if config["dataset"] == "shapes" else None
    mean, std = recipe.mean, recipe.std
else:
    images, labels = mnist("train")
    test_images, test_labels = mnist("test")
    if args.tiny:
        images, labels = images[:256], labels[:256]
    test_images, test_labels = test_images[:args.images], test_labels[:args.images]
    class_names, mean, std = None, (0.0,), (1.0,)      # LeNet-5 here learns from [0, 1] pixels
    nn.manual_seed(0)
    model = LeNet5()
    loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True, seed=0,
                        transform=ScaleUint8())
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(args.epochs):
        train_epoch(model, loader, optimizer, progress=False)
    model.eval()
print(model)
class_names = [str(c) for c in range(10)] if class_names is None else list(class_names)

# The model sees its recipe's normalised pixels (x - mean) / std; pixels in [0, 1] are a box
# [low, high] there, the same for every channel when mean and std are.
if len(set(mean)) != 1 or len(set(std)) != 1:
    raise SystemExit(f"this lesson keeps the climb in one box for all channels; the model's "
                     f"normalisation differs per channel (mean {mean}, std {std})")
low, high = (0 - mean[0]) / std[0], (1 - mean[0]) / std[0]
test_x = (test_images.astype(np.float32) / 255 - mean[0]) / std[0]


def to_pixels(x):
    return x * std[0] + mean[0]


# %% [markdown]
# ## 1. Receptive fields: how much of the image each layer's unit can see
#
# A k x k window of stride s on top of a field of r pixels, j apart, sees r + (k - 1) j pixels,
# j s apart. Checked against the gradient: a unit's d(unit)/d(input) is zero outside its field.
#
# A conv layer's *unit* here is what its ReLU receives: the conv's output, or its BatchNorm's
# when one follows (BatchNorm acts on each channel alone: the field is the conv's).

# %%
def stages(model):
    """{'conv1': name of its unit's layer, 'pool1': ..., ...} in order, and {'conv1': name of
    the ReLU after it, ...}, from model.features."""
    layers, relus, current = {}, {}, None
    for index, module in enumerate(model.features):
        name = f"features.{index}"
        if isinstance(module, nn.Conv2d):
            current = f"conv{sum(short.startswith('conv') for short in layers) + 1}"
            layers[current] = name
        elif isinstance(module, nn.BatchNorm2d):
            layers[current] = name
        elif isinstance(module, nn.ReLU):
            relus[current] = name
        elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
            layers[f"pool{sum(short.startswith('pool') for short in layers) + 1}"] = name
    return layers, relus


layers, relus = stages(model)
convs = [short for short in layers if short.startswith("conv")]
fields = {short: features.receptive_field(model, name) for short, name in layers.items()}
inside, centres, widths = [], {}, {}
for short, name in layers.items():
    field = fields[short]
    prefix = nn.Sequential(*list(model.features)[:int(name.split(".")[1]) + 1])
    x = mg.tensor(test_x[:1], requires_grad=True)
    out = prefix(x)
    i, j = centres[short] = out.shape[2] // 2, out.shape[3] // 2
    widths[short] = out.shape[1]
    out[0, :, i, j].sum().backward()            # every channel's unit at the centre
    support = np.abs(x.grad.data[0]).sum(axis=0) > 0
    top, left, bottom, right = field.box(i, j)
    outside = support.sum() - support[max(top, 0):bottom, max(left, 0):right].sum()
    inside.append(outside == 0)
    print(f"{short}: field {field.size[0]}x{field.size[1]} pixels, {field.jump[0]} apart; "
          f"unit ({i}, {j})'s gradient reaches {support.sum()} pixels, {outside} outside "
          f"rows {top}..{bottom - 1}, columns {left}..{right - 1}")
sizes = [fields[short].size[0] for short in layers]
lesson.claim(all(inside) and sizes == sorted(sizes) and sizes[0] < sizes[-1],
             f"deeper layers see more of the image: receptive fields of "
             f"{', '.join(map(str, sizes))} pixels a side ({', '.join(layers)}), and each centre "
             f"unit's input gradient stays inside its field")

# %% [markdown]
# ## 2. Make each unit fire: the centre unit of each conv channel, and each class
#
# A unit sees only its receptive field: outside it the gradient is zero and the pixels stay
# near their grey start (the small L2 penalty fades them only slowly), so the picture shows each
# maximiser cropped to its field: the conv1 ones are 5x5 patterns (the filters' signs), the
# conv2 ones fill LeNet-5's 14x14 field. A channel's *mean* over the map would not do for conv1:
# a linear filter's mean is sum(w) times the image's mean, maximised by a flat image.

# %%
SETTINGS = dict(shape=test_x.shape[1:], steps=args.steps, lr=0.05, l2=1e-3, jitter=1,
                blur_every=4, blur_sigma=0.5, value_range=(low, high))
# the unit at the centre of the first channels of each conv layer, and each class's logit
TARGETS = {short: [(c, *centres[short]) for c in range(min(args.channels, widths[short]))]
           for short in convs}
TARGETS["class"] = list(range(len(class_names)))


def on_test_images(short):
    """Each target's activation on every test image: (targets, test images)."""
    if short == "class":
        return predict(model, test_x).T
    module, (i, j) = resolve_layer(model, layers[short]), centres[short]
    count = len(TARGETS[short])
    return in_batches(lambda chunk: layer_activation(model, chunk, module)[0][:, :count, i, j],
                      test_x, batch_size=128).T


maximisers, margins, best = {}, {}, {}
for short, targets in TARGETS.items():
    layer = layers.get(short)                     # the class logits: the model's output
    maximisers[short], _ = features.maximise_activation(model, targets, layer, **SETTINGS)
    reached = features.target_activation(model, maximisers[short], targets, layer)
    on_test = on_test_images(short)
    # how far above the best test image, in the test images' own spread of that activation
    best[short] = on_test.max(axis=1)
    margins[short] = (reached - best[short]) / on_test.std(axis=1)
    print(f"{short}: the maximiser reaches {np.round(reached, 2)}\n"
          f"{'':>{len(short)}}  the best test image     {np.round(best[short], 2)}")
# conv1's units are linear in their patch (with a BatchNorm after it: folded in), so their
# exact maximum over the pixel box is known: the bias plus, under each weight, the weight
# times whichever end of the box it prefers
conv1 = model.features[0]
if isinstance(model.features[1], nn.BatchNorm2d):
    conv1 = fuse_conv_bn(conv1, model.features[1])
weight = conv1.weight.data[:len(TARGETS["conv1"])]
bias = 0.0 if conv1.bias is None else conv1.bias.data[:len(weight)]
exact = bias + np.maximum(weight * low, weight * high).sum(axis=(1, 2, 3))
share, best_share = (features.target_activation(model, maximisers["conv1"], TARGETS["conv1"],
                                                layers["conv1"]) / exact, best["conv1"] / exact)
print(f"conv1: the exact maximum       {np.round(exact, 2)}: the climb reaches "
      f"{share.min():.0%}..{share.max():.0%} of it (the L2 penalty and the blur cost the "
      f"rest), the best test image's patch {best_share.min():.0%}..{best_share.max():.0%}")
climbed = [short for short in TARGETS if short != "conv1"]
lowest = min(margins[short].min() for short in climbed)
lesson.claim(lowest > 0,
             f"gradient ascent from noise finds, for the centre unit of each of the first "
             f"{args.channels} channels of {', '.join(climbed[:-1])} and for each of the "
             f"{len(class_names)} classes, an input that drives it harder than any of "
             f"{len(test_x)} test images does: above the best image by at least {lowest:.1f} "
             f"(median {np.median(np.concatenate([margins[s] for s in climbed])):.1f}) standard "
             f"deviations of the activation over the images")


def cropped(images, short):
    """The maximisers of a conv layer's centre units cut to the centre unit's field."""
    if short == "class":
        return images
    top, left, bottom, right = fields[short].box(*centres[short])
    return images[:, :, max(top, 0):bottom, max(left, 0):right]


rows = {short: to_pixels(cropped(images, short)) for short, images in maximisers.items()}
plot.plot_image_rows(rows, {"class": class_names}, value_range=(0, 1)).savefig(
    args.out + ".png", dpi=110)

# %% [markdown]
# ## 3. Find what fires each channel: its top test images, cropped to its field
#
# Each row a channel (after its ReLU), its 8 strongest images, strongest first; above each
# patch its activation and (in brackets) the image's class.

# %%
names = np.array(class_names)
for short in args.patch_layers:
    top = features.top_activating(model, test_x, relus[short], k=8)
    top = features.TopActivations(*(part[:args.channels] for part in top))
    patches = to_pixels(features.crop_patches(test_x, fields[short], top, fill=low))
    plot.plot_top_patches(patches, top, names[test_labels], value_range=(0, 1)).savefig(
        f"{args.out}_patches_{short}.png", dpi=110)
print(f"wrote {args.out}.png and "
      f"{', '.join(f'{args.out}_patches_{short}.png' for short in args.patch_layers)}")
