"""`minigrad explain` and `minigrad explain-benchmark`; `register(subparsers)` adds both.

    minigrad explain --model-path runs/x/model.npz --dataset mnist --index 7 --methods all \\
        --out explain.png
    minigrad explain-benchmark --dataset shapes --model-path runs/shapes/model.npz --n 500
    minigrad explain-benchmark --dataset shapes --data-check --n 2000    # before any training
"""
import sys
from pathlib import Path

import numpy as np

from minigrad.saliency import LAYER_METHODS, METHODS, explain
from minigrad.apps.options import UsageError, non_negative_int, positive_int
from minigrad.data import DATA_VERSIONS
from minigrad.apps.explain_benchmark import (ARCHITECTURES, DATASETS, DEFAULT_ARCHITECTURE,
                                             LAYER_COLUMNS, SANITY_COLUMNS, SANITY_METHODS,
                                             SPLITS, benchmark_methods, best_layer, data_check,
                                             format_table, layer_rows, load_dataset,
                                             load_model, run_benchmark, sanity_rows,
                                             train_model)


# One of each family, so that the default picture stays a readable grid; --methods all for every one.
SHOWN_METHODS = ("vanilla", "grad_x_input", "guided_backprop", "gradcam", "hirescam", "occlusion")


def register(subparsers):
    """Add the `explain` and `explain-benchmark` sub-commands to an argparse subparsers."""
    command = subparsers.add_parser("explain", help="saliency maps of one image, as a picture")
    command.add_argument("--model-path", required=True, help="weights (.npz) of the model")
    command.add_argument("--dataset", default="mnist", choices=("mnist",) + DATASETS)
    command.add_argument("--model", choices=ARCHITECTURES,
                         help="architecture (default: the data set's usual one)")
    command.add_argument("--index", default="0,1,2,3",
                         help="which test images, comma-separated: one row each")
    command.add_argument("--methods", default=",".join(SHOWN_METHODS),
                         help=f"one column each, comma-separated, or 'all': {', '.join(METHODS)}")
    command.add_argument("--layer", help="layer for the CAM family (default: last conv)")
    command.add_argument("--target", type=non_negative_int,
                         help="class to explain (default: predicted)")
    command.add_argument("--out", default="explain.png")
    command.set_defaults(run=run_explain)

    bench = subparsers.add_parser("explain-benchmark",
                                  help="score every saliency method against ground-truth masks")
    bench.add_argument("--dataset", default="shapes", choices=DATASETS)
    bench.add_argument("--model-path", help="weights (.npz); without it a model is trained")
    bench.add_argument("--model", choices=ARCHITECTURES)
    bench.add_argument("--n", type=positive_int, default=500, help="test images to score")
    bench.add_argument("--methods", default="all")
    bench.add_argument("--steps", type=positive_int, default=16,
                       help="of deletion/insertion curves")
    bench.add_argument("--expensive-n", type=positive_int,
                       help="run SmoothGrad, IG, Score-CAM and occlusion on fewer images")
    bench.add_argument("--curve-n", type=positive_int,
                       help="deletion/insertion on fewer images")
    bench.add_argument("--layer", help="layer of the CAM-family methods (default: the ReLU "
                       "after the last Conv2d); choose it with --split validation")
    bench.add_argument("--split", default="test", choices=SPLITS,
                       help="images to score (validation: for choices such as --layer)")
    bench.add_argument("--epochs", type=positive_int, default=4, help="when training")
    bench.add_argument("--train-size", type=positive_int, default=12000, help="when training")
    bench.add_argument("--data-check", action="store_true",
                       help="only score the baselines against the masks of --n images, with "
                            "no model: the check to run before training on a data set")
    bench.add_argument("--compare-layers", action="store_true",
                       help="only the pointing game of Grad-CAM and HiResCAM at every conv "
                            "layer, and the layer best for both (needs --split validation)")
    bench.add_argument("--sanity-n", type=non_negative_int, default=0,
                       help="also the model-randomisation test of every gradient and CAM "
                            "method, on the first N images")
    bench.add_argument("--out", help="also write the table (Markdown) to this file")
    bench.set_defaults(run=run_benchmark_command)


def parse_methods(text, allowed):
    if text == "all":
        return list(allowed)
    methods = [name.strip() for name in text.split(",")]
    unknown = [name for name in methods if name not in allowed]
    if unknown:
        raise UsageError(f"--methods: unknown method(s) {unknown}; the methods are "
                         f"{list(allowed)}", usage=True)
    return methods


def test_images(dataset, indices):
    """Test images (K, C, H, W) in [0, 1] and their labels, by index."""
    if dataset == "mnist":
        from minigrad.data import mnist
        images, labels = mnist("test")
        images = images.astype(np.float32) / 255
    else:
        images, labels, _ = load_dataset(dataset, max(indices) + 1)
    if max(indices) >= len(images):
        raise UsageError(f"--index must be in 0..{len(images) - 1}, got {max(indices)}",
                         usage=True)
    return images[indices], labels[indices]


def parse_indices(text):
    try:
        indices = [int(word) for word in text.split(",")]
    except ValueError:
        indices = [-1]
    if min(indices) < 0:
        raise UsageError(f"--index: expected integers >= 0 separated by commas, got {text!r}",
                         usage=True)
    return indices


def picture_path(out):
    """Where --out's picture goes: OUT itself, OUT/explain.png for a directory, OUT.png for a
    name without an extension (which matplotlib would add unasked); checked before any work."""
    path = Path(out)
    if path.is_dir():
        path = path / "explain.png"
    elif not path.suffix:
        path = path.with_name(path.name + ".png")
    if not path.parent.is_dir():
        raise UsageError(f"--out {out}: the directory {path.parent} does not exist",
                         usage=True)
    return path


def class_namer(dataset):
    """label -> what a reader calls it: the shape's name for shapes, the digit otherwise."""
    from minigrad.data import SHAPE_CLASSES
    return (lambda label: SHAPE_CLASSES[label]) if dataset == "shapes" else str


def run_explain(args):
    from minigrad import Tensor
    from minigrad.functional import softmax
    from minigrad.saliency.core import predict
    from minigrad.saliency.plot import overlay_grid
    indices = parse_indices(args.index)
    methods = parse_methods(args.methods, METHODS)
    picture = picture_path(args.out)
    model, preprocess = load_model(args.model_path,
                                   args.model or DEFAULT_ARCHITECTURE[args.dataset])
    images, labels = test_images(args.dataset, indices)
    x = preprocess(images)
    maps, failures = {}, {}
    for method in methods:
        layer = args.layer if method in LAYER_METHODS else None
        try:
            maps[method] = explain(model, x, args.target, method, layer=layer)
        except ValueError as error:              # e.g. CAM on a model without a GAP head
            failures[method] = str(error)
            print(f"skipped {method}: {error}", file=sys.stderr)
    if not maps:
        raise UsageError(f"every method failed ({', '.join(failures)}), so nothing was drawn; "
                         f"the first said: {next(iter(failures.values()))}")
    probabilities = softmax(Tensor(predict(model, x)), axis=1).data
    name = class_namer(args.dataset)
    titles = [f"true {name(label)}\npredicted {name(p.argmax())} ({p.max():.0%})"
              for label, p in zip(labels, probabilities)]
    overlay_grid(images, maps, titles=titles).savefig(picture, dpi=100)
    print(f"wrote {picture}: {len(maps)} methods (rows: test images {indices}) of "
          f"{args.dataset}")
    return 0


def run_benchmark_command(args):
    title = (f"{args.dataset} v{DATA_VERSIONS[args.dataset]}, {args.split} split, "
             f"{args.n} images")
    if args.compare_layers and args.split == "test":
        raise UsageError("--compare-layers chooses a layer: run it on --split validation, "
                         "never on the test images the layer is then scored on", usage=True)
    if args.data_check:
        rows = data_check(args.dataset, args.n, args.split)
        return _print_text(f"data check (baselines only, no model): {title}\n\n"
                           f"{format_table(rows)}\n", args.out)
    architecture = args.model or DEFAULT_ARCHITECTURE[args.dataset]
    if args.model_path:
        model, preprocess = load_model(args.model_path, architecture, args.dataset)
    else:
        preprocess = None
        print(f"training {architecture} on {args.train_size} {args.dataset} images ...")
        model, accuracy = train_model(args.dataset, args.train_size, args.epochs,
                                      architecture=architecture)
        print(f"test accuracy {accuracy:.1%}")
    if args.compare_layers:
        return _compare_layers(args, model, preprocess, title)
    methods = parse_methods(args.methods, benchmark_methods(architecture))
    rows = run_benchmark(args.dataset, model, args.n, methods, preprocess=preprocess,
                         steps=args.steps, expensive_n=args.expensive_n, curve_n=args.curve_n,
                         layer=args.layer, split=args.split)
    text = f"explain-benchmark: {title}\n\n{format_table(rows)}\n"
    randomised = [method for method in methods if method in SANITY_METHODS]
    if args.sanity_n and randomised:
        images, labels, _ = load_dataset(args.dataset, args.sanity_n, args.split)
        sanity = sanity_rows(model, images if preprocess is None else preprocess(images),
                             labels, randomised, layer=args.layer)
        text += (f"\nmodel randomisation (Spearman correlation with the trained model's maps "
                 f"after re-initialising the top layer / every layer):\n\n"
                 f"{format_table(sanity, SANITY_COLUMNS)}\n")
    return _print_text(text, args.out)


def _compare_layers(args, model, preprocess, title):
    images, _, masks = load_dataset(args.dataset, args.n, args.split)
    rows = layer_rows(model, images if preprocess is None else preprocess(images), masks)
    return _print_text(f"pointing game per layer: {title}\n\n"
                       f"{format_table(rows, LAYER_COLUMNS)}\n\n"
                       f"best for both (the higher minimum): {best_layer(rows)}\n", args.out)


def _print_text(text, out):
    """Print the text (its title names the data set's version); write it to `out` too."""
    print(text, end="")
    if out:
        with open(out, "w") as file:
            file.write(text)
    return 0
