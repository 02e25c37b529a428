"""Does AlexNet-lite look at the shape? Saliency maps scored against ground-truth masks.

    minigrad train --dataset shapes         # once: AlexNet-lite -> runs/alexnet_lite_bn-shapes/
    python examples/explain_shapes.py --model-path runs/alexnet_lite_bn-shapes/model.npz
    python examples/explain_shapes.py       # or: a quick (and weaker) AlexNet-lite trained here

The `shapes` data set draws each shape on clutter and knows exactly which pixels are the
object, so every map can be scored: does its maximum fall on the object (pointing game), how
much of its mass does (energy in mask)? Three maps that know nothing about the model -- random,
a centre prior, the image's edges -- show what those scores mean. Then the same Grad-CAM at
every conv layer shows why the last one is the usual choice.
"""
import argparse

from minigrad import nn, saliency
from minigrad.saliency import metrics, plot
from minigrad.apps.explain_benchmark import load_dataset, load_model, train_model
from minigrad.saliency.layers import compare_layers, format_layer_table

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model-path", help="model.npz of `minigrad train --dataset shapes`, or "
                                         "an AlexNet-lite (batch_norm=True) state dict")
parser.add_argument("--n", type=int, default=100, help="test images to score")
parser.add_argument("--out", default="explain_shapes.png")
args = parser.parse_args()

if args.model_path:
    model, preprocess = load_model(args.model_path, "alexnet_lite_bn")
else:
    model, accuracy = train_model("shapes", n_train=4000, epochs=3)
    nn.save(model, "explain_shapes_model.npz")
    preprocess = lambda images: images                                  # noqa: E731
    print(f"trained AlexNet-lite: test accuracy {accuracy:.1%} (saved explain_shapes_model.npz)")

images, labels, masks = load_dataset("shapes", args.n)
x = preprocess(images)

# Each method's maps of the true class, scored against the masks, next to the baselines.
methods = ["vanilla", "grad_x_input", "guided_backprop", "gradcam", "gradcam++", "hirescam",
           "layercam", "fixations"]
maps = {name: saliency.explain(model, x, labels, name) for name in methods}
maps.update({f"baseline: {kind}": metrics.baseline_maps(kind, images)
             for kind in metrics.BASELINES})
print(f"{'map':<20} pointing  energy  box IoU")
for name, m in maps.items():
    print(f"{name:<20} {metrics.pointing_game(m, masks).mean():8.1%} "
          f"{metrics.energy_in_mask(m, masks).mean():7.1%} {metrics.box_iou(m, masks).mean():8.3f}")

# The layer-choice helper: Grad-CAM at every conv layer.
print(format_layer_table(compare_layers(model, x, masks, "gradcam", target=labels)))

shown = {name: m[:6] for name, m in maps.items() if not name.startswith("baseline")}
shown["mask"] = masks[:6].astype(float)
plot.overlay_grid(images[:6], shown).savefig(args.out, dpi=110)
print(f"wrote {args.out}")
