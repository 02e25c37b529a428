"""The `minigrad` command line: `minigrad train | evaluate | explain | explain-benchmark`.

    minigrad train                                  # LeNet-5 on the bundled MNIST, ~1 minute
    minigrad train --dataset shapes                 # AlexNet-lite on procedural shapes
    minigrad evaluate --model-path runs/lenet5-mnist/model.npz
    minigrad explain --model-path runs/lenet5-mnist/model.npz --index 7 --out explain.png
    minigrad explain-benchmark --dataset cluttered_mnist   # score every saliency method

Every subcommand is a subparser whose `set_defaults(run=...)` names the function that runs it.
Heavy imports (the engine, matplotlib) happen inside those functions, so `minigrad --help` is
instant.
"""
import argparse
import json
import time
from pathlib import Path

import minigrad
from minigrad.apps.explain_cli import register as _add_saliency_commands


def build_parser():
    parser = argparse.ArgumentParser(
        prog="minigrad",
        description="minigrad: a readable deep-learning engine on NumPy and Numba.")
    parser.add_argument("--version", action="version", version=f"minigrad {minigrad.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_train(commands)
    _add_evaluate(commands)
    _add_saliency_commands(commands)
    return parser


def _add_train(commands):
    train = commands.add_parser(
        "train", help="train a model and write metrics.json, model.npz and plots",
        description="Train a model. Unset options take the data set's recipe "
                    "(minigrad/apps/recipes.py): bare `minigrad train` trains LeNet-5 on the "
                    "bundled MNIST subset to about 98% test accuracy in seconds to a minute.")
    train.add_argument("--dataset", default="mnist", choices=["mnist", "shapes", "cifar10"])
    train.add_argument("--model",
                       help="lenet5 | alexnet_lite | alexnet_lite_bn (default: the recipe's)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float, help="peak learning rate of the one-cycle schedule")
    train.add_argument("--optimizer", choices=["sgd", "adam"])
    train.add_argument("--weight-decay", type=float)
    train.add_argument("--no-augment", dest="augment", action="store_false",
                       help="train without random shifts/flips")
    train.add_argument("--val-size", type=int, default=0,
                       help="hold out the last N training images and validate on them (use "
                            "this to choose hyper-parameters); 0: report the test split")
    train.add_argument("--limit", type=int, help="train on the first N training images only")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--root", help="directory of the data set files (default: "
                                      "$MINIGRAD_DATA or ~/.cache/minigrad)")
    train.add_argument("--out", help="output directory (default: runs/MODEL-DATASET)")
    train.add_argument("--resume", action="store_true",
                       help="continue from OUT/checkpoint.npz")
    train.add_argument("--no-progress", dest="progress", action="store_false")
    train.add_argument("--no-keep-freed-memory", dest="keep_freed_memory", action="store_false",
                       help="let malloc give freed memory back to the OS as it likes (to "
                            "compare; see minigrad.kernels.scratch.keep_freed_memory)")
    train.set_defaults(run=run_train)


def _add_evaluate(commands):
    evaluate = commands.add_parser("evaluate", help="evaluate a saved model.npz",
                                   description="Accuracy, loss and confusion matrix of a model "
                                               "saved by `minigrad train`.")
    evaluate.add_argument("--model-path", required=True)
    evaluate.add_argument("--split", default="test", choices=["train", "test"])
    evaluate.add_argument("--root", help="directory of the data set files")
    evaluate.add_argument("--confusion", help="also save the confusion matrix to this PNG")
    evaluate.set_defaults(run=run_evaluate)


def _resolve_config(args):
    """The run's settings: every option the user left unset comes from the data set's recipe."""
    from minigrad.apps.recipes import RECIPES
    recipe = RECIPES[args.dataset]
    config = {name: getattr(args, name) if getattr(args, name) is not None
              else getattr(recipe, name)
              for name in ("model", "epochs", "batch_size", "lr", "optimizer", "weight_decay")}
    config.update(dataset=args.dataset, augment=args.augment, val_size=args.val_size,
                  seed=args.seed, limit=args.limit)
    return config, recipe


def run_train(args):
    from minigrad import nn
    from minigrad.kernels import scratch
    from minigrad.models import get_model
    from minigrad.apps.recipes import make_loaders, make_optimizer, model_kwargs, one_cycle
    from minigrad.train import TrainingDiverged, fit

    started = time.perf_counter()
    if args.keep_freed_memory:
        # Steps of one size, over and over: keeping freed pages for the next step saves the OS
        # zero-filling them again. In a bare loop of LeNet-5 steps that is 1.3-1.6x; here, loading
        # the data set happens to set malloc up much the same way, and opting in makes the speed
        # not depend on such accidents (benchmarks/README.md). A process-wide policy, so the
        # application opts in, not the library.
        scratch.keep_freed_memory()
    config, recipe = _resolve_config(args)
    out = Path(args.out or f"runs/{config['model']}-{config['dataset']}")
    out.mkdir(parents=True, exist_ok=True)
    print(f"minigrad train: {json.dumps(config)}\nwriting to {out}/", flush=True)
    train_loader, eval_loader, eval_name = make_loaders(
        config["dataset"], recipe, config["batch_size"], config["val_size"], config["augment"],
        config["seed"], args.root, config["limit"])
    nn.manual_seed(config["seed"])        # the same initial weights for the same seed
    model = get_model(config["model"], **model_kwargs(config))
    optimizer = make_optimizer(config["optimizer"], model.parameters(), config["lr"],
                               config["weight_decay"])
    scheduler = one_cycle(optimizer, config["lr"], config["epochs"], len(train_loader))
    try:
        history = fit(model, train_loader, eval_loader, optimizer, config["epochs"], scheduler,
                      checkpoint_dir=out, resume=args.resume, scheduler_step="batch",
                      seed=config["seed"], progress=args.progress, val_name=eval_name)
    except TrainingDiverged as error:
        print(error)
        return 1
    _finish(model, config, history, eval_loader, eval_name, out, started)
    return 0


def _finish(model, config, history, eval_loader, eval_name, out, started):
    """Final evaluation, then metrics.json, model.npz and the plots."""
    from minigrad import viz
    from minigrad.apps.recipes import save_trained
    from minigrad.train import evaluate

    result = evaluate(model, eval_loader)
    seconds = time.perf_counter() - started
    print(f"{eval_name} accuracy {result['accuracy']:.2%}  loss {result['loss']:.4f}  "
          f"({seconds:.1f} s)")
    save_trained(model, config, out / "model.npz")
    metrics = {"config": config, "history": history, "evaluated_on": eval_name,
               "accuracy": result["accuracy"], "loss": result["loss"],
               "confusion": result["confusion"].tolist(), "train_seconds": seconds}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    viz.plot_curves(history, out / "curves.png", val_label=eval_name)
    viz.plot_confusion(result["confusion"], out / "confusion.png")
    viz.plot_filters(model, out / "filters.png")
    first_image = next(iter(eval_loader))[0].numpy()[0]
    viz.plot_feature_maps(model, "features.0", first_image, out / "feature_maps.png")
    print(f"wrote {', '.join(sorted(p.name for p in out.iterdir() if not p.name.startswith('.')))}")


def run_evaluate(args):
    from minigrad import viz
    from minigrad.apps.recipes import RECIPES, eval_loader, load_split, load_trained
    from minigrad.train import evaluate

    model, config = load_trained(args.model_path)
    images, labels = load_split(config["dataset"], args.split, args.root)
    result = evaluate(model, eval_loader(images, labels, RECIPES[config["dataset"]]))
    print(f"{config['model']} on {config['dataset']} {args.split} ({len(labels)} images): "
          f"accuracy {result['accuracy']:.2%}  loss {result['loss']:.4f}")
    print("confusion matrix (rows: true class, columns: predicted):")
    print(result["confusion"])
    if args.confusion:
        viz.plot_confusion(result["confusion"], args.confusion)
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
