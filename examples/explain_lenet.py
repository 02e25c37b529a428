# %% [markdown]
# # Why did LeNet-5 read that digit? Every saliency method on a few MNIST test digits
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
#     python examples/explain_lenet.py                          # trains LeNet-5 first (~20 s)
#     python examples/explain_lenet.py --model-path runs/lenet5-mnist/model.npz   # `minigrad train`'s
#
# Writes explain_lenet.png (each method's map over each digit), explain_lenet_sanity.png (the
# model-randomisation sanity check) and explain_lenet_fixations.png (CNN-Fixations' trace), and
# prints the numbers behind them.

# %%
import argparse

import numpy as np

from minigrad import nn, optim, saliency
from minigrad.data import DataLoader, ScaleUint8, TensorDataset, mnist
from minigrad.models import LeNet5
from minigrad.saliency import metrics, plot
from minigrad.apps.explain_benchmark import load_model
from minigrad.train import train_epoch
from minigrad.lessons import Lesson

parser = argparse.ArgumentParser(description="Why did LeNet-5 read that digit? Every saliency method on a few MNIST test digits")
parser.add_argument("--model-path", help="weights to explain (default: train for one epoch)")
parser.add_argument("--count", type=int, default=4, help="test digits to explain")
parser.add_argument("--out", default="explain_lenet")
lesson = Lesson(parser)
args = lesson.args

# %%
# 1. A trained model, and a few test digits as the model wants them.
test_images, test_labels = mnist("test")
digits, labels = test_images[:args.count].astype(np.float32) / 255, test_labels[:args.count]
if args.model_path:
    model, preprocess = load_model(args.model_path, "lenet5")
else:
    images, train_labels = mnist("train")
    nn.manual_seed(0)
    model = LeNet5()
    train_epoch(model, DataLoader(TensorDataset(images, train_labels), batch_size=64,
                                  shuffle=True, seed=0, transform=ScaleUint8()),  # [0, 1]
                optim.Adam(model.parameters(), lr=3e-3), progress=False)
    model.eval()
    preprocess = lambda x: x                                          # noqa: E731
x = preprocess(digits)
print("predicted", saliency.core.predict(model, x).argmax(axis=1), "true", labels)

# %%
# 2. Every CNN method, explaining the true class. CAM is left out: LeNet-5 has no GAP layer; the
#    transformer methods read attention, which a CNN does not have, and the B-cos method needs
#    a B-cos network.
methods = [name for name in saliency.METHODS if name != "cam" and name not in
           saliency.TRANSFORMER_METHODS + saliency.BCOS_METHODS]
maps = {name: saliency.explain(model, x, labels, name) for name in methods}
plot.overlay_grid(digits, maps, titles=[f"digit {d}" for d in labels]).savefig(
    args.out + ".png", dpi=110)

# %%
# 3. How well does each map cover the digit's ink?
ink = digits[:, 0] > 0.3
energy = {}
for name, m in maps.items():
    energy[name] = metrics.energy_in_mask(m, ink).mean()
    print(f"{name:<22} pointing game {metrics.pointing_game(m, ink).mean():5.0%}   "
          f"energy on ink {energy[name]:5.1%}")
times_x = [energy[name] for name in ("grad_x_input", "integrated_gradients", "linearize")]
print(f"   careful: MNIST's background is exactly 0, so a map multiplied by the image\n"
      f"   (grad_x_input, integrated_gradients, linearize) has no energy off the strokes, whatever\n"
      f"   it says: their {min(times_x):.1%}-{max(times_x):.1%} ranks nothing "
      f"(examples/bcos_mnist.py shows\n   random numbers times x scoring as high)")

# %%
# 4. Integrated Gradients adds up to the score change: the gap is the integration error.
_, ig = saliency.explain(model, x, labels, "integrated_gradients", steps=128,
                         return_explanation=True)
relative_gap = ig.info["completeness_gap"] / ig.info["score_change"]
print("IG completeness gap / score change:", np.round(relative_gap, 4))
lesson.claim(np.abs(relative_gap).max() < 1e-3,
             f"Integrated Gradients adds up to the score change to {np.abs(relative_gap).max():.0e}"
             f" of it (128 steps)")

# %%
# 5. Sanity check: a method that explains the model must change when the model does.
cascades = {name: metrics.sanity_check(model, x, name, target=labels)
            for name in ("gradient", "vanilla", "guided_backprop", "gradcam")}
for name, cascade in cascades.items():
    print(f"sanity {name:<16}", "  ".join(f"{layer} {r:+.2f}" for layer, r in cascade))
plot.plot_sanity_cascade(cascades).savefig(args.out + "_sanity.png", dpi=110)
# cascade[1]: the correlation with the trained model's map once the top layer is randomised
top = {name: cascade[1][1] for name, cascade in cascades.items()}
lesson.claim(top["gradient"] < 0.5 < 0.8 < top["guided_backprop"],
             f"the sanity check tells the methods apart: with the top layer randomised the "
             f"gradient map changes (correlation {top['gradient']:+.2f} with the trained one), "
             f"guided backprop's hardly does ({top['guided_backprop']:+.2f}), as Adebayo et al. "
             f"found")

# %%
# 6. CNN-Fixations: the units that carried the evidence, layer by layer, down to the pixels.
_, fixations = saliency.explain(model, x[:1], labels[:1], "fixations", return_explanation=True)
for layer, points in fixations.info["points"][0]:
    print(f"fixations at {layer:<14} {len(points):4d} units")
plot.plot_fixations(digits[0], fixations.info["points"][0]).savefig(
    args.out + "_fixations.png", dpi=110)
print(f"wrote {args.out}.png, {args.out}_sanity.png, {args.out}_fixations.png")
