# %% [markdown]
# # Does a CNN look at the shape? Saliency maps scored against ground-truth masks
#
#     python examples/explain_shapes.py     # trains a small CNN here (~3 minutes), explains it
#     minigrad train --dataset shapes       # or: AlexNet-lite -> runs/alexnet_lite_bn-shapes-v3/
#     python examples/explain_shapes.py --model-path runs/alexnet_lite_bn-shapes-v3/model.npz
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# The `shapes` data set (v3: 3x64x64 colour shapes on clutter) draws each shape and knows
# exactly which pixels are the object, so every map can be scored: does its maximum fall on the
# object (pointing game), how much of its mass does (energy in mask)? Three maps that know
# nothing about the model -- random, a centre prior, the image's edges -- show what those scores
# mean: on 2,000 test images the centre prior points into the object 45.0% of the time, the
# edges 35.2%, random 20.8%. Then the same Grad-CAM at every conv layer shows why the last one
# is the usual choice.
#
# Without --model-path the lesson trains `small_cnn` here (a 5x5 convolution with stride 2, as
# AlexNet-lite's first one on shapes v3, then three 3x3 conv blocks with BatchNorm and global
# average pooling) with the shapes recipe's SGD + one-cycle schedule on 6,000 images for 8
# epochs: 43.6% on 500 validation images (seed 7, never the test images), about 75 s of CPU
# time. Shapes is hard to learn for a small network on a few thousand images, so the model is
# far from AlexNet-lite's 82.45% (25 minutes on 16,000 images). Its maps are therefore also
# scored on the test images it classifies correctly: what does a network that got the answer
# right look at? On the validation images it got right, Grad-CAM pointed into the object 79.4%
# of the time, against 45.9% for the centre prior, the best baseline. (With --model-path on the
# 82.45% AlexNet-lite of `minigrad train --dataset shapes`, on the 403 of 500 test images it
# gets right: Grad-CAM 77.2%, HiResCAM 83.6%, the centre prior 42.9%.)
#
# With global average pooling right after the last conv block, the gradient of a class score
# is the same at every position of that block's output, so HiResCAM (gradient times activation,
# position by position) and Grad-CAM (the gradient averaged first) draw the same map here. On
# AlexNet-lite (--model-path), whose last features feed fully connected layers, they differ.

# %%
import argparse

import numpy as np

import minigrad as mg
from minigrad import nn, optim, saliency
from minigrad.apps.explain_benchmark import load_dataset, load_model
from minigrad.data import DataLoader, TensorDataset
from minigrad.lessons import Lesson
from minigrad.saliency import metrics, plot
from minigrad.saliency.layers import compare_layers, format_layer_table
from minigrad.train import evaluate, fit

parser = argparse.ArgumentParser(description="Does a CNN look at the shape?")
parser.add_argument("--model-path", help="model.npz of `minigrad train --dataset shapes`, or "
                                         "an AlexNet-lite (batch_norm=True) state dict")
parser.add_argument("--train-size", type=int, default=6000, help="images to train on")
parser.add_argument("--epochs", type=int, default=8)
parser.add_argument("--val-n", type=int, default=500, help="validation images to check it on")
parser.add_argument("--n", type=int, default=500, help="test images to score")
parser.add_argument("--out", default="explain_shapes.png")
lesson = Lesson(parser)
args = lesson.args


# %%
def small_cnn(width=16, classes=10):
    """3 x 64 x 64 -> 5x5 conv with stride 2 (32x32), max pool (16x16), 3x3 conv, max pool
    (8x8), two 3x3 convs (each conv with BatchNorm and ReLU) -> (4*width) x 8 x 8 -> global
    average pooling -> Linear."""
    def block(cin, cout, kernel=3, stride=1):
        return [nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU()]
    return nn.Sequential(*block(3, width, 5, 2), nn.MaxPool2d(2), *block(width, 2 * width),
                         nn.MaxPool2d(2), *block(2 * width, 4 * width),
                         *block(4 * width, 4 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4 * width, classes))


if args.model_path:
    model, preprocess = load_model(args.model_path, "alexnet_lite_bn", "shapes")
else:
    images, labels, _ = load_dataset("shapes", args.train_size, split="train")
    nn.manual_seed(0)
    model = small_cnn()
    loader = DataLoader(TensorDataset(images, labels), 64, shuffle=True, seed=0)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, 0.05, epochs=args.epochs,
                                              steps_per_epoch=len(loader), pct_start=0.15)
    fit(model, loader, None, optimizer, args.epochs, scheduler, scheduler_step="batch")
    model.eval()
    preprocess = lambda images: images                                  # noqa: E731
    held_out, held_out_labels, _ = load_dataset("shapes", args.val_n, split="validation")
    accuracy = evaluate(model, DataLoader(TensorDataset(held_out, held_out_labels), 250))
    print(f"small CNN: {accuracy['accuracy']:.1%} on {args.val_n} validation images")

# %% [markdown]
# ## Each method's maps of the true class, scored against the masks, next to the baselines
# On all the test images, and on those the model classifies correctly.

# %%
images, labels, masks = load_dataset("shapes", args.n)
x = preprocess(images)
with mg.no_grad():
    correct = model(mg.tensor(x)).data.argmax(1) == labels
print(f"test accuracy {correct.mean():.1%} on {args.n} test images; {correct.sum()} correct")

methods = ["vanilla", "grad_x_input", "guided_backprop", "gradcam", "gradcam++", "hirescam",
           "layercam", "fixations"]
maps = {name: saliency.explain(model, x, labels, name) for name in methods}
maps.update({f"baseline: {kind}": metrics.baseline_maps(kind, images)
             for kind in metrics.BASELINES})
pointing = {name: metrics.pointing_game(m, masks) for name, m in maps.items()}
print(f"{'map':<20} pointing  energy  box IoU   pointing on the correct ones")
for name, m in maps.items():
    print(f"{name:<20} {pointing[name].mean():8.1%} {metrics.energy_in_mask(m, masks).mean():7.1%} "
          f"{metrics.box_iou(m, masks).mean():8.3f}   {pointing[name][correct].mean():8.1%}")
print(f"Grad-CAM against HiResCAM: max difference of the maps "
      f"{np.abs(maps['gradcam'] - maps['hirescam']).max():.1e}")

# %% [markdown]
# ## The layer-choice helper: Grad-CAM at every conv layer

# %%
print(format_layer_table(compare_layers(model, x, masks, "gradcam", target=labels)))

# %%
shown = {name: m[:6] for name, m in maps.items() if not name.startswith("baseline")}
shown["mask"] = masks[:6].astype(float)
plot.overlay_grid(images[:6], shown).savefig(args.out, dpi=110)
print(f"wrote {args.out}")

# %% [markdown]
# ## The claim
# On the test images it classifies correctly, the small CNN's Grad-CAM and HiResCAM point into
# the object at least 20 points more often than the best map that knows nothing about the model.

# %%
best_baseline = max(pointing[f"baseline: {kind}"][correct].mean() for kind in metrics.BASELINES)
cams = {name: pointing[name][correct].mean() for name in ("gradcam", "hirescam")}
lesson.claim(min(cams.values()) >= best_baseline + 0.20,
             f"on the {correct.sum()} of {args.n} test images the model classifies correctly, "
             f"Grad-CAM points into the object {cams['gradcam']:.1%} of the time and HiResCAM "
             f"{cams['hirescam']:.1%}, against {best_baseline:.1%} for the best baseline (centre, "
             f"edges or random; the claim: at least 20 points more)")
