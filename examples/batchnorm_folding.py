# %% [markdown]
# # Folding BatchNorm into the convolution before it: the same outputs, fewer layers, faster
#
#     python examples/batchnorm_folding.py
#     python examples/batchnorm_folding.py --batch 16 --repeats 1     # a quick look
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# In eval mode a BatchNorm is a fixed affine map per channel, bn(z) = s z + t with
# s = gamma / sqrt(running_var + eps) and t = beta - running_mean * s. Applied to z = W x + b it
# is again a convolution: W' = s W (each output channel's kernel scaled), b' = s b + t.
#
# A common slide writes b' = b + beta - running_mean * s: it forgets to scale the conv's own
# bias b by s. For a conv without a bias (the usual choice before a BatchNorm) the two agree;
# with a bias the slide's formula is off by (1 - s) b in every output of the channel. The first
# part below folds a conv *with* a bias both ways.
#
# Then
# `nn.fuse.fuse(model)` replaces each Conv2d + BatchNorm2d pair by one Conv2d (and each
# BasicBlock's BatchNorms by Identity): one pass over the feature map instead of two, and nothing
# to change in the model's outputs but the rounding.
#
# Both models are first run in training mode over some shapes images, so that their running
# statistics are real ones, then compared in eval mode, and timed taking turns (the best of a few
# passes each: on a busy machine the ratio varies from run to run, so the speed is printed, not
# claimed).

# %%
import argparse
import os
import time

import numpy as np

import minigrad as mg
from minigrad import nn
from minigrad.data import shapes
from minigrad.lessons import Lesson
from minigrad.models import AlexNetLite

parser = argparse.ArgumentParser(description="Folding BatchNorm into the convolution before it")
parser.add_argument("--batch", type=int, default=64, help="images per timed forward pass")
parser.add_argument("--repeats", type=int, default=3, help="timed passes per model (best kept)")
lesson = Lesson(parser)
args = lesson.args


def small_resnet():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                         nn.ReLU(), nn.BasicBlock(16, 32, stride=2), nn.BasicBlock(32, 32),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))


# 32x32 images (shapes' generator at v2's canvas): the size AlexNet-lite was built for
images = shapes(max(args.batch, 64), size=32, seed=0)[0].astype(np.float32) / 255
x = mg.tensor((images[:args.batch] - 0.5) / 0.3)


# %% [markdown]
# ## A conv with a bias, folded by the slide's formula and by nn.fuse (in float64)

# %%
def slide_fold(conv, bn):
    """The slide's folding: W' = s W, b' = b + beta - running_mean * s (b not scaled by s)."""
    scale = bn.weight.data / np.sqrt(bn.running_var + bn.eps)
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                       padding=conv.padding).double()
    folded.weight.data[...] = conv.weight.data * scale[:, None, None, None]
    folded.bias.data[...] = conv.bias.data + bn.bias.data - bn.running_mean * scale
    return folded


mg.manual_seed(0)
conv, bn = nn.Conv2d(3, 16, 3, padding=1).double(), nn.BatchNorm2d(16).double()
x64 = x.double()
with mg.no_grad():
    for _ in range(20):                 # training mode: the running statistics reach the data's
        bn(conv(x64))
    bn.eval()
    reference = bn(conv(x64)).data
    slide = slide_fold(conv, bn)(x64).data
    fused = nn.fuse.fuse_conv_bn(conv, bn)(x64).data
slide_gap, fused_gap = np.abs(slide - reference).max(), np.abs(fused - reference).max()
scale = bn.weight.data / np.sqrt(bn.running_var + bn.eps)
print(f"a 3x3 conv with a bias (|b| up to {np.abs(conv.bias.data).max():.2f}) and a BatchNorm "
      f"(s from {scale.min():.2f} to {scale.max():.2f}), outputs of std {reference.std():.2f}:")
print(f"   the slide's b' = b + beta - mean s: max |difference| {slide_gap:.2f} "
      f"(max |(1 - s) b| = {np.abs((1 - scale) * conv.bias.data).max():.2f})")
print(f"   nn.fuse's    b' = s b + beta - mean s: max |difference| {fused_gap:.0e}")
lesson.claim(slide_gap > 0.05 and fused_gap < 1e-12,
             f"folding a conv with a bias, the slide's formula (bias not scaled by s) is off by "
             f"{slide_gap:.2f} on outputs of std {reference.std():.2f}, nn.fuse's by "
             f"{fused_gap:.0e}")


# %% [markdown]
# ## Whole networks: nn.fuse.fuse, outputs and speed

# %%
def best_times(*models):
    """For each model, the fastest of `repeats` eval forward passes over the batch, in seconds;
    the models take turns, so that a change in the machine's load hits them alike."""
    times = [[] for _ in models]
    with mg.no_grad():
        for _ in range(args.repeats):
            for model, spent in zip(models, times):
                started = time.perf_counter()
                model(x)
                spent.append(time.perf_counter() - started)
    return [min(spent) for spent in times]


print(f"load average {os.getloadavg()[0]:.1f}; eval forward passes of {args.batch} images, "
      f"best of {args.repeats}")
for name, make in (("AlexNet-lite with BatchNorm", lambda: AlexNetLite(batch_norm=True)),
                   ("small ResNet (BasicBlocks)", small_resnet)):
    mg.manual_seed(0)
    model = make()
    with mg.no_grad():                              # training mode: the running statistics move
        for start in range(0, 64, 16):
            model(mg.tensor((images[start:start + 16] - 0.5) / 0.3))
    model.eval()
    fused = nn.fuse.fuse(model)
    with mg.no_grad():
        before, after = model(x).data, fused(x).data
    batchnorms = [sum(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in net.modules())
                  for net in (model, fused)]
    gap = np.abs(before - after).max() / np.abs(before).max()
    same_class = np.mean(before.argmax(1) == after.argmax(1))
    with mg.no_grad():
        model(x), fused(x)                          # warm up (the first pass allocates)
    slow, fast = best_times(model, fused)
    print(f"\n{name}: BatchNorm layers {batchnorms[0]} -> {batchnorms[1]}, "
          f"{model.num_parameters():,} -> {fused.num_parameters():,} parameters")
    print(f"   outputs unchanged: max |difference| / max |output| = {gap:.1e}, "
          f"the same class for {same_class:.0%} of the images")
    print(f"   forward: {slow * 1e3:.1f} ms -> {fast * 1e3:.1f} ms, {slow / fast:.2f}x faster")
    lesson.claim(batchnorms[1] == 0 and gap < 1e-5 and same_class == 1,
                 f"{name}: nn.fuse.fuse removes its {batchnorms[0]} BatchNorms and changes the "
                 f"outputs by {gap:.0e} of their size, the same class for every image")
