"""The `minigrad` command line: `minigrad train | evaluate | explain | explain-benchmark`.

    minigrad train                                  # LeNet-5 on the bundled MNIST, ~1 minute
    minigrad train --dataset shapes                 # AlexNet-lite on procedural shapes
    minigrad evaluate --model-path runs/lenet5-mnist/model.npz
    minigrad explain --model-path runs/lenet5-mnist/model.npz --index 7 --out explain.png
    minigrad explain-benchmark --dataset cluttered_mnist   # score every saliency method

Every subcommand is a subparser whose `set_defaults(run=...)` names the function that runs it.
Heavy imports (the engine, matplotlib) happen inside those functions, so `minigrad --help` is
instant.

What goes wrong is said in one line, `minigrad: error: ...`: arguments out of range (checked
before any work starts, exit 2, as argparse does), and the user's or the machine's mistakes met
later -- a corrupt file, a full disk, a diverging run (exit 1). A traceback means a bug in
minigrad; `--debug` shows the traceback of any error. Ctrl-C during `train` saves
`interrupted.npz`, prints the command that resumes, and exits 130.
"""
import argparse
import contextlib
import json
import math
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import minigrad
from minigrad.data import DATA_VERSIONS
from minigrad.apps.bench import register as _add_bench
from minigrad.apps.explain_cli import register as _add_saliency_commands
from minigrad.nn.checkpoint import write_atomically
from minigrad.runs import CHECKPOINT_NAME, INTERRUPTED_NAME
from minigrad.apps.options import (UsageError, add_debug_option, non_negative_float,
                                   non_negative_int, positive_float, positive_int)

CHECKPOINTS = (CHECKPOINT_NAME, INTERRUPTED_NAME)     # what --resume continues from
RUN_FILES = (*CHECKPOINTS, "model.npz", "metrics.json")
PLOTS = ("confusion.png", "curves.png", "feature_maps.png", "filters.png", "attention.png",
         "rollout.png")
REPLACED_NAME = ".overwritten-run"         # where --overwrite keeps the old run for a while
MODEL_NAMES = ("lenet5", "alexnet_lite", "alexnet_lite_bn", "tiny_vit", "vit", "bcos_lenet",
               "bcos_alexnet_lite", "bcos_alexnet_lite_v2")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="minigrad",
        description="minigrad: a readable deep-learning engine on NumPy and Numba.")
    parser.add_argument("--version", action="version", version=f"minigrad {minigrad.__version__}")
    add_debug_option(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_train(commands)
    _add_evaluate(commands)
    _add_saliency_commands(commands)
    _add_bench(commands)
    for command in commands.choices.values():
        add_debug_option(command, default=argparse.SUPPRESS)    # after the command, too
        command.set_defaults(command_parser=command)
    return parser


def _add_train(commands):
    train = commands.add_parser(
        "train", help="train a model and write metrics.json, model.npz and plots",
        description="Train a model. Unset options take the data set's recipe "
                    "(minigrad/apps/recipes.py): bare `minigrad train` trains LeNet-5 on the "
                    "bundled MNIST subset to about 98% test accuracy in seconds to a minute.")
    train.add_argument("--dataset", default="mnist", choices=["mnist", "shapes", "cifar10"])
    train.add_argument("--model", choices=MODEL_NAMES, type=lambda name: name.replace("-", "_"),
                       help="default: the recipe's ('bcos-lenet' is bcos_lenet)")
    train.add_argument("--epochs", type=positive_int)
    train.add_argument("--batch-size", type=positive_int)
    train.add_argument("--lr", type=positive_float,
                       help="peak learning rate of the one-cycle schedule")
    train.add_argument("--optimizer", choices=["sgd", "adam"])
    train.add_argument("--weight-decay", type=non_negative_float)
    train.add_argument("--no-augment", dest="augment", action="store_false",
                       help="train without random shifts/flips")
    train.add_argument("--val-size", type=non_negative_int, default=0,
                       help="hold out the last N training images and validate on them (use "
                            "this to choose hyper-parameters); 0: report the test split")
    train.add_argument("--limit", type=positive_int,
                       help="train on the first N training images only")
    train.add_argument("--seed", type=non_negative_int, default=0)
    train.add_argument("--root", help="directory of the data set files (default: "
                                      "$MINIGRAD_DATA or ~/.cache/minigrad)")
    train.add_argument("--download", action="store_true",
                       help="fetch the data set's files if they are missing (needs internet)")
    train.add_argument("--out", help="output directory (default: runs/MODEL-DATASET); a "
                                     "directory that holds a run is never overwritten unless "
                                     "--overwrite")
    resume = train.add_mutually_exclusive_group()
    resume.add_argument("--resume", action="store_true",
                        help="continue the run in OUT from its checkpoint.npz or "
                             "interrupted.npz, whichever is further (same settings)")
    resume.add_argument("--overwrite", action="store_true",
                        help="delete the run already in OUT and start a new one")
    train.add_argument("--detect-anomaly", action="store_true",
                       help="check every op for NaN/inf and name the first that made one "
                            "(slower; see minigrad.detect_anomaly)")
    train.add_argument("--no-progress", dest="progress", action="store_false")
    train.add_argument("--no-keep-freed-memory", dest="keep_freed_memory", action="store_false",
                       help="have malloc give freed memory back to the OS, which minigrad "
                            "otherwise asks it to keep (to compare; see "
                            "minigrad.kernels.scratch.keep_freed_memory)")
    train.set_defaults(run=run_train)


def _add_evaluate(commands):
    evaluate = commands.add_parser("evaluate", help="evaluate a saved model.npz",
                                   description="Accuracy, loss and confusion matrix of a model "
                                               "saved by `minigrad train`.")
    evaluate.add_argument("--model-path", required=True,
                          help="model.npz, checkpoint.npz or interrupted.npz of a run directory")
    evaluate.add_argument("--split", default="test", choices=["train", "test"])
    evaluate.add_argument("--root", help="directory of the data set files")
    evaluate.add_argument("--download", action="store_true",
                          help="fetch the data set's files if they are missing")
    evaluate.add_argument("--confusion", help="also save the confusion matrix to this PNG")
    evaluate.set_defaults(run=run_evaluate)


def _resolve_config(args):
    """The run's settings: every option the user left unset comes from the recipe of the data
    set (and of the model, when it has its own)."""
    from minigrad.apps.recipes import recipe_for
    recipe = recipe_for(args.dataset, args.model)
    config = {name: getattr(args, name) if getattr(args, name) is not None
              else getattr(recipe, name)
              for name in ("model", "epochs", "batch_size", "lr", "optimizer", "weight_decay")}
    config.update(dataset=args.dataset, augment=args.augment, val_size=args.val_size,
                  seed=args.seed, limit=args.limit)
    if args.dataset in DATA_VERSIONS:          # generated: which version the model is trained on
        config["data_version"] = DATA_VERSIONS[args.dataset]
    if config["limit"] is not None and config["val_size"] >= config["limit"]:
        raise UsageError(f"--val-size {config['val_size']} must be smaller than --limit "
                         f"{config['limit']}", usage=True)
    args.model_name = config["model"]
    return config


def run_train(args):
    started = time.perf_counter()
    config = _resolve_config(args)
    out = Path(args.out or default_run_directory(config["model"], config["dataset"]))
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file, not a directory", usage=True)
    with _own_run_directory(out) as lock:       # from here on, no other process writes there
        if lock.stale_owner is not None:
            print(f"took over {lock.path} from process {lock.stale_owner}, which ended without "
                  f"releasing it", file=sys.stderr)
        _recover_replaced_run(out)
        _check_run_directory(args, out)
        return _train(args, config, out, started)


def _train(args, config, out, started):
    """Build everything (which checks the data, the model and the sizes), only then move an
    overwritten run aside, train, and write the final files."""
    from minigrad.kernels import scratch, uncached_kernels
    from minigrad.apps.recipes import build_training
    from minigrad.runs import Run
    from minigrad.train import fit

    if not args.keep_freed_memory:
        scratch.return_freed_memory()      # the library keeps freed memory by default (#29)
    print(f"minigrad train: {json.dumps(config)}\nwriting to {out}/", flush=True)
    if uncached_kernels():
        _compile_kernels()
    with _data_files(config["dataset"]):
        training = build_training(config, args.root, args.download)
    replaced = _move_run_aside(out) if args.overwrite else None
    try:
        with minigrad.detect_anomaly(args.detect_anomaly):
            history = fit(training.model, training.train_loader, training.eval_loader,
                          training.optimizer, config["epochs"], training.scheduler,
                          run=Run(out, resume=args.resume, config=config, replaces=replaced),
                          scheduler_step="batch", seed=config["seed"], progress=args.progress,
                          val_name=training.eval_name)
    finally:
        _recover_replaced_run(out)     # failed before its first checkpoint: the old run is back
    if history.get("interrupted"):
        print(f"minigrad train: interrupted; no final files were written. To continue:\n"
              f"  {_resume_command(args)}", file=sys.stderr)
        return 130                         # what a shell reports for a program ended by Ctrl-C
    _finish(training.model, config, history, training.eval_loader, training.eval_name, out,
            started)
    return 0


def _compile_kernels():
    """Run every Numba kernel once on a tiny input, so that all of them are compiled (and
    cached by Numba) now, with a word about it, instead of slowing down the first epoch."""
    import numpy as np
    from minigrad import functional as F
    print("compiling minigrad's Numba kernels (once per install; later runs load them from "
          "Numba's cache) ...", end=" ", flush=True)
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    x = minigrad.tensor(rng.random((1, 4, 6, 6), dtype=np.float32), requires_grad=True)
    for channels, stride in ((2, 1), (8, 1), (2, 2)):    # each layout of im2col / col2im
        w = minigrad.tensor(rng.random((channels, 4, 3, 3), dtype=np.float32),
                            requires_grad=True)
        F.conv2d(x, w, stride=stride, padding=1).sum().backward()
    F.max_pool2d(x, 2).sum().backward()
    F.avg_pool2d(x, 2).sum().backward()
    F.gelu(x)                                           # the erf kernel
    F.relu(x).sum().backward()
    print(f"{time.perf_counter() - started:.1f} s", flush=True)


@contextlib.contextmanager
def _own_run_directory(out):
    """Hold out/'s RunDirectoryLock within the block, once it is known that files can be written
    there; if they cannot: exit 2, before any work, and a directory the lock made is removed.
    The check comes after the lock, because until then another run started at the same moment
    may remove the (empty) directory as this one tests it."""
    from minigrad.runs import RunDirectoryInUse, RunDirectoryLock
    with contextlib.ExitStack() as stack:
        try:
            lock = stack.enter_context(RunDirectoryLock(out))
            # the lock does not prove it: a killed run's lock file opens without write access
            with tempfile.TemporaryFile(dir=out):
                pass
        except RunDirectoryInUse:
            raise
        except OSError as error:
            raise UsageError(f"--out {out}: cannot write there ({error.strerror or error})",
                             usage=True) from None
        yield lock


def _check_run_directory(args, out):
    """Refuse a finished or unfinished run in --out (unless --resume or --overwrite), or --resume
    with nothing to resume. Called with the directory locked: no other run can start in between.
    """
    existing = [name for name in RUN_FILES if (out / name).exists()]
    if args.resume and not set(CHECKPOINTS) & set(existing):
        raise UsageError(f"--resume: there is no checkpoint.npz or interrupted.npz in {out}/ to "
                         f"continue from; leave out --resume to start a new run", usage=True)
    if existing and not (args.resume or args.overwrite):
        raise UsageError(f"--out {out}/ already holds a run ({', '.join(existing)}); add "
                         f"--resume to continue it, --overwrite to replace it, or choose "
                         f"another --out", usage=True)


def _move_run_aside(out):
    """--overwrite, once everything else was checked: move the run in `out` to
    out/REPLACED_NAME, where it stays until the new run saves its first checkpoint (Run's
    `replaces`); -> that directory, or None if there was no run."""
    names = [name for name in RUN_FILES + PLOTS if (out / name).exists()]
    if not names:
        return None
    aside = out / REPLACED_NAME
    aside.mkdir()
    for name in names:
        os.replace(out / name, aside / name)
    print(f"--overwrite: moved the previous run's {', '.join(names)} to {aside}/; they are "
          f"deleted when this run saves its first checkpoint")
    return aside


def _recover_replaced_run(out):
    """An overwritten run still set aside: put it back if the run that replaces it saved
    nothing (it failed, or was killed, before its first checkpoint), else delete it."""
    aside = out / REPLACED_NAME
    if not aside.is_dir():
        return
    if any((out / name).exists() for name in CHECKPOINTS):
        shutil.rmtree(aside)
        return
    for path in aside.iterdir():
        os.replace(path, out / path.name)
    aside.rmdir()
    print(f"put the previous run back in {out}/: the run that was to overwrite it saved no "
          f"checkpoint", file=sys.stderr)


def default_run_directory(model, dataset):
    """runs/MODEL-DATASET, with the version of a generated data set (runs/...-shapes-v2), so
    that a model of an older version is never mistaken for one of this version."""
    version = f"-v{DATA_VERSIONS[dataset]}" if dataset in DATA_VERSIONS else ""
    return f"runs/{model}-{dataset}{version}"


def _resume_command(args):
    """The command line of this run with --resume: what the user types to continue it."""
    argv = [word for word in args.argv if word not in ("--resume", "--overwrite")]
    if "--out" not in argv and not any(word.startswith("--out=") for word in argv):
        argv += ["--out", args.out or default_run_directory(args.model_name, args.dataset)]
    return shlex.join(["minigrad"] + argv + ["--resume"])


@contextlib.contextmanager
def _data_files(dataset):
    """Within the block, a missing data file is a usage error that says which options to use."""
    try:
        yield
    except FileNotFoundError as error:
        what = str(error).split(";")[0]
        bundled = ", or leave out --root for the bundled subset" if dataset == "mnist" else ""
        raise UsageError(f"{what}: add --download to fetch the files (needs internet), or "
                         f"--root DIR where they are{bundled}") from None


def _finish(model, config, history, eval_loader, eval_name, out, started):
    """Final evaluation, then metrics.json, model.npz and the plots."""
    from minigrad import viz
    from minigrad.apps.recipes import VIT_MODELS, save_trained
    from minigrad.train import evaluate

    result = evaluate(model, eval_loader)
    seconds = time.perf_counter() - started
    print(f"{eval_name} accuracy {result['accuracy']:.2%}  loss {result['loss']:.4f}  "
          f"({seconds:.1f} s)")
    save_trained(model, config, out / "model.npz")
    metrics = {"config": config, "history": history, "evaluated_on": eval_name,
               "accuracy": result["accuracy"], "loss": result["loss"],
               "confusion": result["confusion"].tolist(), "train_seconds": seconds}
    write_atomically(out / "metrics.json",    # never half a file, as the checkpoints
                     lambda file: file.write(json.dumps(metrics, indent=1).encode()))
    viz.plot_curves(history, out / "curves.png", val_label=eval_name)
    viz.plot_confusion(result["confusion"], out / "confusion.png")
    first_image = next(iter(eval_loader))[0].numpy()[0]
    first_conv = _first_conv_name(model)
    if first_conv is not None:             # a B-cos network has none
        viz.plot_filters(model, out / "filters.png")
        viz.plot_feature_maps(model, first_conv, first_image, out / "feature_maps.png")
    if config["model"] in VIT_MODELS:          # what the attention does, for one test image
        from minigrad.saliency.plot import plot_attention_maps, plot_rollout
        plot_attention_maps(model, first_image).savefig(out / "attention.png", dpi=100)
        plot_rollout(model, first_image).savefig(out / "rollout.png", dpi=100)
    print(f"wrote {', '.join(sorted(p.name for p in out.iterdir() if not p.name.startswith('.')))}")


def _first_conv_name(model):
    """The name of the model's first Conv2d ('features.0' in LeNet-5, the patch embedding's
    'patch_embed.proj' in a ViT), whose feature maps the run shows; None if it has none."""
    from minigrad import nn
    return next((name for name, module in model.named_modules()
                 if isinstance(module, nn.Conv2d)), None)


def run_evaluate(args):
    from minigrad import viz
    from minigrad.apps.recipes import eval_loader, load_split, load_trained, recipe_for
    from minigrad.train import evaluate

    model, config = load_trained(args.model_path)
    with _data_files(config["dataset"]):
        images, labels = load_split(config["dataset"], args.split, args.root,
                                    download=args.download)
    result = evaluate(model, eval_loader(images, labels,
                                         recipe_for(config["dataset"], config["model"])))
    print(f"{config['model']} on {config['dataset']} {args.split} ({len(labels)} images): "
          f"accuracy {result['accuracy']:.2%}  loss {result['loss']:.4f}")
    print("confusion matrix (rows: true class, columns: predicted):")
    print(result["confusion"])
    if args.confusion:
        viz.plot_confusion(result["confusion"], args.confusion)
    return 0


def main(argv=None):
    """Run the command line; -> the exit status (0 ok, 1 error, 2 bad arguments, 130 Ctrl-C)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    args.argv = argv
    try:
        return args.run(args)
    except UsageError as error:
        if args.debug:
            raise
        if error.usage:                   # an argument's fault: argparse's form and exit 2
            args.command_parser.error(str(error))
        return _error(error)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("\nminigrad: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError, FloatingPointError) as error:
        from minigrad.runs import TrainingDiverged
        # the library's messages for bad input (ValueError, CheckpointError), a file or a disk
        # (OSError), a diverging run or --detect-anomaly's find; any other error is a bug
        if args.debug or (isinstance(error, RuntimeError) and
                          not isinstance(error, TrainingDiverged)):
            raise
        return _error(error)


def _error(error):
    message = str(error)
    if isinstance(error, OSError) and error.strerror:       # without the '[Errno 28]'
        message = error.strerror + (f": {error.filename}" if error.filename else "")
    print(f"minigrad: error: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
