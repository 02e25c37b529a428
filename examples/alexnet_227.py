# %% [markdown]
# # AlexNet at 227x227, layer by layer: shapes and parameter counts
#
#     python examples/alexnet_227.py
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# AlexNet (Krizhevsky, Sutskever and Hinton 2012) as the lectures draw it, on one stream (the
# paper split it over two GPUs): five convolutions, three max pools and three fully connected
# layers, from a 3x227x227 image to 1000 class scores. It is built here and walked through, not
# trained. Two things to see:
#
# 1. every spatial size follows from the one formula (W - K + 2P) / S + 1: 227 -> 55 -> 27 ->
#    27 -> 13 -> 13 -> 13 -> 13 -> 6;
# 2. the parameters are not where the computation is: the convolutions do most of the
#    multiply-adds, but the three fully connected layers hold ~94% of the ~62.4M weights
#    (the first one alone, 256*6*6 -> 4096, holds 37.7M).

# %%
import argparse
import re

import numpy as np

import minigrad as mg
from minigrad import nn
from minigrad.lessons import Lesson

parser = argparse.ArgumentParser(description="AlexNet at 227x227, layer by layer")
parser.add_argument("--image-size", type=int, default=227, help="side of the input image")
lesson = Lesson(parser)
args = lesson.args

# (name, out_channels, kernel, stride, padding) of each convolution and pool, in order; a pool
# has no channels of its own (None).
FEATURES = [("conv1", 96, 11, 4, 0), ("pool1", None, 3, 2, 0),
            ("conv2", 256, 5, 1, 2), ("pool2", None, 3, 2, 0),
            ("conv3", 384, 3, 1, 1), ("conv4", 384, 3, 1, 1), ("conv5", 256, 3, 1, 1),
            ("pool3", None, 3, 2, 0)]
FC_WIDTHS = (4096, 4096, 1000)


# %% [markdown]
# ## The formula, by hand
# Output side = (W - K + 2P) / S + 1 for a convolution or a pool; a convolution with C_in input
# channels and C_out kernels of K x K holds C_out * C_in * K * K weights and C_out biases, a
# fully connected layer n_in * n_out weights and n_out biases, a pool none.

# %%
def by_the_formula(image_size):
    """[(name, output shape (C, H, W) or (n,), parameter count, multiply-adds)] worked out by
    hand; a pool's comparisons are not multiply-adds."""
    rows, channels, side = [], 3, image_size
    for name, out_channels, kernel, stride, padding in FEATURES:
        if (side - kernel + 2 * padding) % stride:
            raise ValueError(f"{name}: ({side} - {kernel} + 2*{padding}) is not a multiple of "
                             f"the stride {stride} for a {image_size}-pixel image")
        side = (side - kernel + 2 * padding) // stride + 1
        if out_channels is None:
            rows.append((name, (channels, side, side), 0, 0))
        else:
            weights = out_channels * channels * kernel * kernel
            # every weight is used once at each of the side x side output positions
            rows.append((name, (out_channels, side, side), weights + out_channels,
                         weights * side * side))
            channels = out_channels
    width = channels * side * side                  # the flattened feature map
    for index, out in enumerate(FC_WIDTHS, start=6):
        rows.append((f"fc{index}", (out,), width * out + out, width * out))
        width = out
    return rows


formula = by_the_formula(args.image_size)
print(f"{'layer':<6} {'output':<16} {'parameters':>12} {'multiply-adds':>15}")
for name, shape, count, multiply_adds in formula:
    print(f"{name:<6} {str(shape):<16} {count:>12,} {multiply_adds:>15,}")
formula_total = sum(row[2] for row in formula)
total_multiply_adds = sum(row[3] for row in formula)
fc_multiply_adds = sum(row[3] for row in formula if row[0].startswith("fc"))
print(f"{'total':<23} {formula_total:>12,} {total_multiply_adds:>15,}")


# %% [markdown]
# ## The same network in minigrad, and what `nn.summary` says about it
# ReLU after every convolution and the first two fully connected layers, dropout before those
# two (the paper's 0.5): they change no shape and hold no parameter.

# %%
def alexnet():
    layers, channels = [], 3
    for name, out_channels, kernel, stride, padding in FEATURES:
        if out_channels is None:
            layers.append(nn.MaxPool2d(kernel, stride))
        else:
            layers += [nn.Conv2d(channels, out_channels, kernel, stride, padding), nn.ReLU()]
            channels = out_channels
    layers.append(nn.Flatten())
    width = int(np.prod(formula[len(FEATURES) - 1][1]))      # the last pool's C * H * W
    for index, out in enumerate(FC_WIDTHS):
        last = index == len(FC_WIDTHS) - 1
        layers += ([] if last else [nn.Dropout(0.5)]) + [nn.Linear(width, out)]
        layers += [] if last else [nn.ReLU()]
        width = out
    return nn.Sequential(*layers)


mg.manual_seed(0)
model = alexnet()
shapes = {}                     # each layer's output shape, recorded by a hook as summary runs


def record(module, inputs, output):
    shapes[module] = tuple(output.shape[1:])


for layer in model:
    layer.register_forward_hook(record)
table = nn.summary(model, (1, 3, args.image_size, args.image_size))
summary_total = int(re.search(r"Total params: ([\d,]+)", table)[1].replace(",", ""))

# %% [markdown]
# ## Do they agree?
# The layers with a name in the formula's list are the convolutions, the pools and the fully
# connected layers, in order.

# %%
named = [layer for layer in model if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.Linear))]
print(f"\n{'layer':<6} {'formula':<16} {'minigrad':<16} {'parameters':>12}  share")
agree = True
for (name, shape, count, _), layer in zip(formula, named):
    agree &= shapes[layer] == shape and layer.num_parameters() == count
    print(f"{name:<6} {str(shape):<16} {str(shapes[layer]):<16} {layer.num_parameters():>12,}  "
          f"{layer.num_parameters() / summary_total:6.1%}")
fully_connected = sum(layer.num_parameters() for layer in named if isinstance(layer, nn.Linear))
fc_share = fully_connected / summary_total
sides = [row[1][1] for row in formula if len(row[1]) == 3]
fc_work = fc_multiply_adds / total_multiply_adds
print(f"\nsides {sides}; total {summary_total:,} parameters (summary), {formula_total:,} (formula);"
      f" the fully connected layers hold {fully_connected:,} = {fc_share:.1%} of them and do"
      f" {fc_work:.1%} of the {total_multiply_adds / 1e9:.2f}G multiply-adds")
lesson.claim(agree and sides == [55, 27, 27, 13, 13, 13, 13, 6]
             and summary_total == formula_total == 62_378_344 and 0.93 < fc_share < 0.95
             and fc_work < 0.1,
             f"AlexNet at 227x227: (W - K + 2P)/S + 1 gives the sides {', '.join(map(str, sides))}"
             f" and nn.summary's shapes agree layer by layer; {summary_total:,} parameters by "
             f"the formula and by nn.summary, {fc_share:.1%} of them in the three fully "
             f"connected layers, which do {fc_work:.1%} of the multiply-adds")
