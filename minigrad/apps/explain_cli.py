"""`minigrad explain` and `minigrad explain-benchmark`; `register(subparsers)` adds both.

    minigrad explain --model-path runs/x/model.npz --dataset mnist --index 7 --methods all \\
        --out explain.png
    minigrad explain-benchmark --dataset shapes --model-path runs/shapes/model.npz --n 500
"""
import numpy as np

from minigrad.saliency import LAYER_METHODS, METHODS, explain
from minigrad.apps.explain_benchmark import (ARCHITECTURES, BENCHMARK_METHODS, DATASETS,
                                         DEFAULT_ARCHITECTURE, SPLITS, format_table, load_dataset,
                                         load_model, run_benchmark, train_model)


def register(subparsers):
    """Add the `explain` and `explain-benchmark` sub-commands to an argparse subparsers."""
    command = subparsers.add_parser("explain", help="saliency maps of one image, as a picture")
    command.add_argument("--model-path", required=True, help="weights (.npz) of the model")
    command.add_argument("--dataset", default="mnist", choices=("mnist",) + DATASETS)
    command.add_argument("--model", choices=ARCHITECTURES,
                         help="architecture (default: the data set's usual one)")
    command.add_argument("--index", type=int, default=0, help="which test image")
    command.add_argument("--methods", default="all",
                         help=f"comma-separated, or 'all': {', '.join(METHODS)}")
    command.add_argument("--layer", help="layer for the CAM family (default: last conv)")
    command.add_argument("--target", type=int, help="class to explain (default: predicted)")
    command.add_argument("--out", default="explain.png")
    command.set_defaults(run=run_explain)

    bench = subparsers.add_parser("explain-benchmark",
                                  help="score every saliency method against ground-truth masks")
    bench.add_argument("--dataset", default="shapes", choices=DATASETS)
    bench.add_argument("--model-path", help="weights (.npz); without it a model is trained")
    bench.add_argument("--model", choices=ARCHITECTURES)
    bench.add_argument("--n", type=int, default=500, help="test images to score")
    bench.add_argument("--methods", default="all")
    bench.add_argument("--steps", type=int, default=16, help="of deletion/insertion curves")
    bench.add_argument("--expensive-n", type=int,
                       help="run SmoothGrad, IG, Score-CAM and occlusion on fewer images")
    bench.add_argument("--curve-n", type=int, help="deletion/insertion on fewer images")
    bench.add_argument("--layer", help="layer of the CAM-family methods (default: the ReLU "
                       "after the last Conv2d); choose it with --split validation")
    bench.add_argument("--split", default="test", choices=SPLITS,
                       help="images to score (validation: for choices such as --layer)")
    bench.add_argument("--epochs", type=int, default=4, help="when training")
    bench.add_argument("--train-size", type=int, default=12000, help="when training")
    bench.add_argument("--out", help="also write the table (Markdown) to this file")
    bench.set_defaults(run=run_benchmark_command)


def parse_methods(text, allowed):
    if text == "all":
        return list(allowed)
    methods = [name.strip() for name in text.split(",")]
    unknown = [name for name in methods if name not in METHODS]
    if unknown:
        raise SystemExit(f"unknown method(s) {unknown}; the methods are {list(METHODS)}")
    return methods


def one_test_image(dataset, index):
    """One test image (1, C, H, W) in [0, 1] and its label."""
    if dataset == "mnist":
        from minigrad.data import mnist
        images, labels = mnist("test")
        images = images.astype(np.float32) / 255
    else:
        images, labels, _ = load_dataset(dataset, index + 1)
    if not 0 <= index < len(images):
        raise SystemExit(f"--index must be in 0..{len(images) - 1}, got {index}")
    return images[index:index + 1], int(labels[index])


def run_explain(args):
    from minigrad.saliency.plot import overlay_grid
    model, preprocess = load_model(args.model_path,
                                   args.model or DEFAULT_ARCHITECTURE[args.dataset])
    image, label = one_test_image(args.dataset, args.index)
    image = preprocess(image)
    maps = {}
    for method in parse_methods(args.methods, METHODS):
        layer = args.layer if method in LAYER_METHODS else None
        try:
            maps[method] = explain(model, image, args.target, method, layer=layer)
        except ValueError as error:              # e.g. CAM on a model without a GAP head
            print(f"skipped {method}: {error}")
    overlay_grid(image, maps, titles=[f"label {label}"]).savefig(args.out, dpi=120)
    print(f"wrote {args.out}: {len(maps)} methods for test image {args.index} "
          f"(label {label}) of {args.dataset}")
    return 0


def run_benchmark_command(args):
    architecture = args.model or DEFAULT_ARCHITECTURE[args.dataset]
    if args.model_path:
        model, preprocess = load_model(args.model_path, architecture)
    else:
        preprocess = None
        print(f"training {architecture} on {args.train_size} {args.dataset} images ...")
        model, accuracy = train_model(args.dataset, args.train_size, args.epochs)
        print(f"test accuracy {accuracy:.1%}")
    rows = run_benchmark(args.dataset, model, args.n,
                         parse_methods(args.methods, BENCHMARK_METHODS), preprocess=preprocess,
                         steps=args.steps, expensive_n=args.expensive_n, curve_n=args.curve_n,
                         layer=args.layer, split=args.split)
    table = format_table(rows)
    print(table)
    if args.out:
        with open(args.out, "w") as file:
            file.write(table + "\n")
    return 0
