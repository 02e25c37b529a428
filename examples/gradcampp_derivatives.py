# %% [markdown]
# # Grad-CAM++ checked from minigrad's own higher derivatives: its closed form, and when it holds
#
#     python examples/gradcampp_derivatives.py
#     python examples/gradcampp_derivatives.py --images 1 --limit 128     # a quick look
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
# Grad-CAM++ (Chattopadhay et al. 2018) weights each pixel of each channel A^k of a layer by
#
#     alpha_ij = d2Y/dA_ij^2 / (2 d2Y/dA_ij^2 + sum_ab A_ab d3Y/dA_ij^3),   Y = exp(S_c)   (eq. 10)
#
# and every implementation uses the closed form
#
#     alpha = g^2 / (2 g^2 + sum_ab A_ab g^3),   g = dS_c/dA   (eq. 19)
#
# which holds when S_c is piecewise linear in A: then Y's n-th derivative is Y g^n. Here the
# definition is computed as written, the second and third derivatives of exp(S_c) by autograd
# (`minigrad.saliency.cam.gradcampp_weights_by_definition`: create_graph=True, twice, one element
# of A at a time), and compared with minigrad's closed-form map (which drops the factor exp(S_c)),
# for a small CNN trained one epoch on the bundled MNIST:
#
#   - explaining the ReLU after the last conv, the head above (Flatten, Linear) is linear;
#   - explaining a conv followed by Tanh, the head is smooth, and the closed form's assumption fails.
#
# Claim (checked at the defaults): with the linear head the two maps agree to 1e-9 (relative);
# with the Tanh head they differ by more than 1%.

# %%
import argparse

import numpy as np

import minigrad as mg
from minigrad import functional as F, nn, optim
from minigrad.data import DataLoader, ScaleUint8, TensorDataset, mnist
from minigrad.lessons import Lesson
from minigrad.saliency import explain
from minigrad.saliency.cam import gradcampp_weights_by_definition

parser = argparse.ArgumentParser(description="Grad-CAM++'s closed form against its definition")
parser.add_argument("--images", type=int, default=3, help="test digits explained")
parser.add_argument("--limit", type=int, default=1000, help="training digits (one epoch)")
lesson = Lesson(parser)
args = lesson.args

# %% [markdown]
# ## 1. A small CNN, trained one epoch on the bundled MNIST
#
# The same network twice but for one layer: a ReLU after the last conv (the head above it,
# Flatten and Linear, is linear), or a Tanh (explaining the conv below it, the head is smooth).


# %%
def small_cnn(activation):
    """conv 1->4, ReLU, 2x2 max pool, conv 4->6, then `activation` (the layer explained is its
    output when it is a ReLU, its input when it is a Tanh), Flatten, Linear -> 10."""
    mg.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, stride=2, padding=1), activation(), nn.Flatten(),
                         nn.Linear(6 * 7 * 7, 10)).double()


def trained(model, images, labels):
    optimizer = optim.Adam(model.parameters(), 1e-3)
    for x, y in DataLoader(TensorDataset(images, labels), batch_size=50, shuffle=True, seed=0,
                           transform=ScaleUint8()):
        loss = F.cross_entropy(model(x.double()), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


# %% [markdown]
# ## 2. Grad-CAM++ two ways: the closed form (eq. 19), and the definition (eq. 10) by autograd
#
# The definition's second and third derivatives of exp(S_c) come from
# `gradcampp_weights_by_definition`; the closed-form map is multiplied by exp(S_c), the factor
# it drops, so that the two can be compared.


# %%
def both_maps(model, layer, x, target):
    """(closed-form map * exp(S_c), map by the definition), each (N, h, w)."""
    cut = int(layer) + 1
    activations = model[:cut](mg.tensor(x)).data
    weights = gradcampp_weights_by_definition(model[cut:], activations, target)
    scores = model(mg.tensor(x)).data[np.arange(len(x)), target]
    closed = explain(model, x, target=target, method="gradcam++", layer=layer, postprocess=())
    return closed * np.exp(scores)[:, None, None], (weights * activations).sum(axis=1)


# %% [markdown]
# ## 3. Above a ReLU and above a Tanh: how far apart the two maps are

# %%
images, labels = mnist("train")
test_images, test_labels = mnist("test")
x = test_images[:args.images].astype(np.float64) / 255
target = test_labels[:args.images]
print(f"a small CNN, one epoch on {args.limit} digits; Grad-CAM++ of {args.images} test "
      f"digit(s) for their true class\n")
differences = {}
for name, activation, layer in (("ReLU: the head is linear", nn.ReLU, "4"),
                                ("Tanh: the head is smooth", nn.Tanh, "3")):
    model = trained(small_cnn(activation), images[:args.limit], labels[:args.limit])
    closed, defined = both_maps(model, layer, x, target)
    difference = np.abs(closed - defined).max() / np.abs(defined).max()
    differences[name] = difference
    print(f"{name:<26} layer {layer} ({type(model[int(layer)]).__name__}): closed form vs "
          f"definition, max difference {difference:.1e} of the map's largest value")

linear, smooth = differences.values()
print("\nThe closed form is exact where the network above the layer is piecewise linear, as "
      "Grad-CAM++'s derivation assumes; above a smooth layer it can be far off.")
lesson.claim(linear < 1e-9 and smooth > 0.01,
             f"closed form and definition agree to {linear:.0e} of the map above a ReLU "
             f"(< 1e-9) and differ by {smooth:.0e} above a Tanh (> 1e-2)")
