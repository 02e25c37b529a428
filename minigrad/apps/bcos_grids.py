"""The lecture's B-cos pictures on the colour shapes, from two saved models:

    python -m minigrad.apps.bcos_grids --bcos-path runs/bcos-v2-shapes-final/model.npz \\
        --plain-path runs/v3-final-sgd-e8/model.npz --out bcos_shapes

writes bcos_shapes_correct.png (test images both models classify correctly) and
bcos_shapes_mistakes.png (the B-cos model's mistakes): each image titled "truth: heart /
predicted: triangle", the B-cos model's own explanation of the TRUE class (RGB+alpha), and the
plain model's Grad-CAM of the true class over the image (saliency.plot.plot_bcos_against_gradcam).

Both files are `minigrad train --dataset shapes` runs (recipes.load_trained); each model sees
its own recipe's input: the B-cos network [0, 1] images (its recipe's mean 0, std 1), the plain
AlexNet-lite images normalised by its recipe's mean and std.
"""
import argparse

import numpy as np

from minigrad.apps.options import positive_int
from minigrad.apps.recipes import load_split, load_trained, recipe_for, transforms
from minigrad.data import SHAPE_CLASSES
from minigrad.nn.bcos import is_bcos
from minigrad.saliency.core import predict
from minigrad.saliency.plot import plot_bcos_against_gradcam


def shapes_model(path, bcos):
    """(model, its input transform of uint8 images) of a `minigrad train --dataset shapes` run;
    refuses a model of another data set, and a plain model where a B-cos one is expected (and
    the other way round)."""
    model, config = load_trained(path)
    if config["dataset"] != "shapes":
        raise ValueError(f"{path}: expected a model trained on shapes, got one trained on "
                         f"{config['dataset']}")
    if is_bcos(model) != bcos:
        raise ValueError(f"{path}: expected a {'B-cos' if bcos else 'plain (non-B-cos)'} "
                         f"network, got {config['model']}")
    return model, transforms(recipe_for("shapes", config["model"]), augment=False)


def split_rows(labels, bcos_predicted, plain_predicted, rows):
    """(indices of the first `rows` images both models classify correctly, of the first `rows`
    the B-cos model gets wrong)."""
    both_right = np.flatnonzero((bcos_predicted == labels) & (plain_predicted == labels))
    bcos_wrong = np.flatnonzero(bcos_predicted != labels)
    return both_right[:rows], bcos_wrong[:rows]


def bcos_grids(bcos_path, plain_path, n=200, rows=6, plain_name="AlexNet-lite"):
    """{'correct': Figure, 'mistakes': Figure} on the first n shapes test images (a grid with
    no row to show is left out)."""
    bcos_model, bcos_input = shapes_model(bcos_path, bcos=True)
    plain_model, plain_input = shapes_model(plain_path, bcos=False)
    images, labels = load_split("shapes", "test", count=n)
    chosen = split_rows(labels, predict(bcos_model, bcos_input(images)).argmax(axis=1),
                        predict(plain_model, plain_input(images)).argmax(axis=1), rows)
    return {kind: plot_bcos_against_gradcam(images[index], labels[index], SHAPE_CLASSES,
                                            bcos_model, plain_model, bcos_input, plain_input,
                                            plain_name)
            for kind, index in zip(("correct", "mistakes"), chosen) if len(index)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minigrad.apps.bcos_grids",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--bcos-path", required=True, help="model.npz of `minigrad train "
                        "--dataset shapes --model bcos_alexnet_lite_v2`")
    parser.add_argument("--plain-path", required=True, help="model.npz of `minigrad train "
                        "--dataset shapes`")
    parser.add_argument("--n", type=positive_int, default=200, help="test images to look in")
    parser.add_argument("--rows", type=positive_int, default=6, help="images in each grid")
    parser.add_argument("--out", default="bcos_shapes", help="prefix of the two .png files")
    args = parser.parse_args(argv)
    for kind, figure in bcos_grids(args.bcos_path, args.plain_path, args.n, args.rows).items():
        figure.savefig(f"{args.out}_{kind}.png", dpi=110)
        print(f"wrote {args.out}_{kind}.png")


if __name__ == "__main__":
    main()
