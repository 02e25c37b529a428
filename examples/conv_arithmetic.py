# %% [markdown]
# # Convolution arithmetic: how padding, stride and dilation set the output size
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
#     python examples/conv_arithmetic.py                   # prints the lesson, writes conv_arithmetic.png
#     python examples/conv_arithmetic.py --out figs/conv   # elsewhere
#
# Along each axis, a convolution with kernel k, stride s, padding p (each side) and dilation d
# maps an input of n pixels to
#
#     out = floor((n + 2p - d(k - 1) - 1) / s) + 1
#
# because the dilated kernel spans d(k - 1) + 1 pixels, and it fits at every s-th position of the
# padded input. The script checks this formula against a real convolution over hundreds of
# settings, shows the three padding modes, works one strided example by hand, and shows that a
# 1x1 convolution is a Linear layer applied to every pixel.

# %%
import argparse
import itertools

import matplotlib
import numpy as np

import minigrad as mg
from minigrad import functional as F
from minigrad.lessons import Lesson

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description="Convolution arithmetic")
parser.add_argument("--max-size", type=int, default=9, help="largest input side checked")
parser.add_argument("--out", default="conv_arithmetic")
lesson = Lesson(parser)
args = lesson.args
rng = np.random.default_rng(0)


def output_size(n, k, s=1, p=0, d=1):
    """The formula of the lecture, for one axis."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


# %%
# 1. The formula against the engine: every (n, k, s, p, d) whose dilated kernel fits.
checked, disagreements = 0, []
for n, k, s, p, d in itertools.product(range(1, args.max_size + 1), range(1, 5), range(1, 4),
                                       range(0, 3), range(1, 3)):
    if d * (k - 1) + 1 > n + 2 * p:
        continue                                        # the kernel does not fit even once
    x = mg.tensor(rng.standard_normal((1, 1, n, n)))
    y = F.conv2d(x, mg.tensor(rng.standard_normal((1, 1, k, k))), stride=s, padding=p,
                 dilation=d)
    expected = output_size(n, k, s, p, d)
    if y.shape[2:] != (expected, expected):
        disagreements.append(f"n={n} k={k} s={s} p={p} d={d}: formula {expected}, conv2d "
                             f"{y.shape[2:]}")
    checked += 1
agreed = "all" if not disagreements else f"{checked - len(disagreements)} of the"
print(f"1. out = floor((n + 2p - d(k-1) - 1) / s) + 1 agrees with conv2d in {agreed} {checked} "
      f"cases (n <= {args.max_size}, k <= 4, s <= 3, p <= 2, d <= 2)")
lesson.claim(not disagreements, f"the output-size formula agrees with conv2d in all {checked} "
             f"settings" + (f"; not in {disagreements[:3]}" if disagreements else ""))

# %%
# 2. The three padding modes, for a 7-pixel input.
print("\n2. padding modes (input 7 x 7)")
print("   kernel  'valid' (p=0)   'same' (out = in)   'full' (p = k-1: every partial overlap)")
padding_sizes = {}
for k in (3, 4, 5):
    padding_sizes[k] = sizes = tuple(
        F.conv2d(mg.tensor(np.ones((1, 1, 7, 7))), mg.tensor(np.ones((1, 1, k, k))),
                 padding=mode).shape[2] for mode in ("valid", "same", "full"))
    print(f"   {k}x{k}     {sizes[0]:>6}          {sizes[1]:>6}              {sizes[2]:>6}")
print("   'same' with an even kernel pads one more pixel at the bottom/right (as PyTorch);"
      "\n   PyTorch has no 'full': there it is padding=k-1.")

# %%
# 3. One example by hand: stride 2, padding 1, a 3x3 kernel on a 5x5 input.
x = np.arange(25.0).reshape(5, 5)
kernel = np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]])              # a discrete Laplacian
padded = np.pad(x, 1)
by_hand = np.array([[np.sum(padded[i:i + 3, j:j + 3] * kernel) for j in range(0, 5, 2)]
                    for i in range(0, 5, 2)])                        # windows at 0, 2, 4
engine = F.conv2d(mg.tensor(x[None, None]), mg.tensor(kernel[None, None]), stride=2,
                  padding=1).data[0, 0]
print(f"\n3. 5x5 input, 3x3 Laplacian, stride 2, padding 1 -> {output_size(5, 3, 2, 1)}x"
      f"{output_size(5, 3, 2, 1)}\n   by hand (windows start at 0, 2, 4 of the padded input):")
print("   " + str(by_hand).replace("\n", "\n   "))
print(f"   conv2d agrees: {np.array_equal(by_hand, engine)}")
lesson.claim(np.array_equal(by_hand, engine) and padding_sizes[3] == (5, 7, 9)
             and padding_sizes[5] == (3, 7, 11),
             "'valid', 'same' and 'full' give 5, 7, 9 for a 3x3 kernel on 7 pixels (3, 7, 11 "
             "for 5x5), and a stride-2 convolution worked by hand equals conv2d's")

# %%
# 4. Dilation spreads the same k x k weights over d(k-1)+1 pixels: more context, no more weights.
print("\n4. dilation: a 3x3 kernel covers", ", ".join(f"{d * 2 + 1}x{d * 2 + 1} at d={d}"
                                                   for d in (1, 2, 3)), "(still 9 weights)")

# %%
# 5. A 1x1 convolution is a Linear layer applied to the channel vector of every pixel.
N, C, H, W, OC = 2, 5, 4, 3, 7
x = mg.tensor(rng.standard_normal((N, C, H, W)))
conv = mg.nn.Conv2d(C, OC, 1).double()
linear = mg.nn.Linear(C, OC).double()
linear.weight.data[...] = conv.weight.data[:, :, 0, 0]                # (OC, C)
linear.bias.data[...] = conv.bias.data
per_pixel = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)        # (N, H, W, C) -> ... OC
gap = np.abs(conv(x).data - per_pixel.data).max()
print(f"\n5. 1x1 conv ({C} -> {OC} channels) vs the same Linear at each of the {H * W} pixels: "
      f"max difference {gap:.1e}")
lesson.claim(gap < 1e-12, f"a 1x1 conv equals a Linear applied at every pixel (max difference "
             f"{gap:.0e})")

# %%
# The picture: where the windows of a 3x3 kernel land for three settings on a 5x5 input.
settings = [("stride 1, padding 0", 1, 0, 1), ("stride 2, padding 1", 2, 1, 1),
            ("stride 1, padding 0, dilation 2", 1, 0, 2)]
figure, axes = plt.subplots(1, 3, figsize=(12, 4.6))
for ax, (title, s, p, d) in zip(axes, settings):
    size = 5 + 2 * p
    ax.add_patch(plt.Rectangle((-0.5, -0.5), size, size, color="0.9"))            # padding
    ax.add_patch(plt.Rectangle((p - 0.5, p - 0.5), 5, 5, color="0.7"))             # input
    out = output_size(5, 3, s, p, d)
    for i, j in sorted({(0, 0), (out - 1, out - 1)}):          # the first and the last window
        taps = [(i * s + d * a, j * s + d * b) for a in range(3) for b in range(3)]
        ax.scatter([t[1] for t in taps], [t[0] for t in taps], s=120, alpha=0.7,
                   label=f"taps of output ({i}, {j})")
    ax.set_xlim(-0.5, size - 0.5), ax.set_ylim(size - 0.5, -0.5)
    ax.set_xticks(range(size)), ax.set_yticks(range(size)), ax.set_aspect("equal")
    ax.set_title(f"{title}\n5x5 -> {out}x{out}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), fontsize=8, ncol=2)
figure.suptitle("Where a 3x3 kernel's taps land (light: padding, grey: the 5x5 input)")
figure.savefig(args.out + ".png", dpi=90)
print(f"\nwrote {args.out}.png")
