"""Training throughput and memory: images/s and peak RSS of full training steps (forward, loss,
backward, SGD step), minigrad against PyTorch CPU, and the peers DeZero, Chainer and tinygrad.

    python benchmarks/bench_train.py                 # LeNet-5 b64, b256, AlexNet-lite b64
    python benchmarks/bench_train.py --train         # + a whole `minigrad train` and its twin
    python benchmarks/bench_train.py --profile lenet5 --batch-size 64    # where the time goes

The protocol (issue #14): speed as a user's machine runs NumPy. Every engine runs in a fresh
process of its own, as its application runs it (minigrad with the library's default
`keep_freed_memory()`, since #29; `--malloc-defaults` adds a column without it), default threads,
under `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE` (`--machine-env` keeps the machine's own
OpenBLAS settings instead: the information column). Repeats of the engines are interleaved, so
that noise from other jobs hits all alike; the table gives the best and the median repeat of
each, the ratios within this run, and the peak RSS of each engine's process (its VmHWM: from
the process's start, libraries included). The load average is printed before and after.

The engines' processes are those of `minigrad bench` (minigrad/apps/bench.py): minigrad and torch
get the same architecture with the same weights and the same random batch; the torch process
(minigrad/apps/torch_twin.py) imports only NumPy and torch and rebuilds the net from the minigrad
model's layer list and state dict. The peers (benchmarks/peers.py) build the
same networks with their own initial weights: DeZero and Chainer LeNet-5 under `--peers-python`
(default: this Python), tinygrad LeNet-5 and AlexNet-lite under this Python, its first two
steps (kernel compilation, JIT capture) reported apart from the timed ones.
"""
import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from minigrad import nn
from minigrad.apps.bench import (CASES, TORCH_TWIN, describe, engine_command, make_case,
                                 minigrad_step, write_case)
from minigrad.models import get_model

HERE = Path(__file__).resolve().parent
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
PEERS = {"dezero": ("lenet5",), "chainer": ("lenet5",), "tinygrad": ("lenet5", "alexnet_lite")}
NUMPY1_PEERS = ("dezero", "chainer")           # they need NumPy 1: run under --peers-python


def child_env(machine_env):
    """The environment of every engine's process: the protocol's, or the machine's own."""
    env = dict(os.environ)
    if not machine_env:
        for name in OPENBLAS_OVERRIDES:
            env.pop(name, None)
    return env


def run_measured(command, env):
    """Run a child process; -> (its output lines, wall seconds)."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    return done.stdout.strip().splitlines(), time.perf_counter() - started


def run_case(spec, steps, repeats, engines, env, peers_python):
    """({engine: [(img/s, peak MB) per repeat] or 'why it does not run'}, {peer: its NumPy})."""
    results, notes = {engine: [] for engine in engines}, {}
    with tempfile.TemporaryDirectory() as tmp:
        case_file = str(Path(tmp) / "case.npz")
        write_case(case_file, *spec)
        for _ in range(repeats):                 # interleaved, so that noise hits all alike
            for engine in engines:
                if isinstance(results[engine], str):
                    continue
                command = [peers_python if engine in NUMPY1_PEERS else sys.executable,
                           str(HERE / "peers.py"), engine, str(spec[1]), str(steps), spec[0]] \
                    if engine in PEERS else \
                    engine_command(engine, [["step", case_file, steps]])
                reply = json.loads(run_measured(command, env)[0][-1])
                if "error" in reply:
                    results[engine] = f"does not run ({reply['about']}): {reply['error']}"
                    continue
                results[engine].append((reply.get("rate") or reply["results"][0],
                                        reply["peak_mb"]))
                if engine in PEERS:              # what it ran on; its first two steps, s
                    notes.setdefault(engine, [reply["about"]]).append(
                        "{:.1f}+{:.1f}".format(*reply["first_steps_s"]))
    return results, notes


def summary(runs):
    rates = [rate for rate, _ in runs]
    return max(rates), float(np.median(rates)), float(np.median([peak for _, peak in runs]))


def report_case(spec, results, notes):
    name, batch_size, _ = spec
    mine = summary(results["minigrad"])
    theirs = summary(results["torch"]) if "torch" in results else None
    line = f"{name:<13}{batch_size:>5}{mine[0]:>10,.0f}{mine[1]:>9,.0f}"
    if theirs:
        line += (f"{theirs[0]:>10,.0f}{theirs[1]:>9,.0f}   {mine[0] / theirs[0]:5.2f}x"
                 f" {mine[1] / theirs[1]:5.2f}x   {mine[2]:6.0f} {theirs[2]:6.0f} "
                 f"{mine[2] / theirs[2]:5.2f}x")
    else:
        line += f"   (no torch)   {mine[2]:6.0f}"
    print(line, flush=True)
    for engine, runs in results.items():
        if engine in ("minigrad", "torch"):
            continue
        if isinstance(runs, str):
            print(f"   {engine}: {runs}", flush=True)
            continue
        best, median, peak = summary(runs)
        vs = f", {best / theirs[0]:.2f}x / {median / theirs[1]:.2f}x torch" if theirs else ""
        print(f"   {engine}: best {best:,.0f} img/s, median {median:,.0f}{vs}, "
              f"peak {peak:.0f} MB; {notes[engine][0]}; first two steps "
              f"{', '.join(notes[engine][1:])} s", flush=True)


def train_data_file(path):
    """The bundled MNIST splits that `minigrad train` uses, for the torch twin."""
    from minigrad.apps.recipes import load_split
    (train_x, train_y), (test_x, test_y) = load_split("mnist", "train"), load_split("mnist", "test")
    np.savez(path, train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y)


def bench_train_command(repeats, env):
    """A whole `minigrad train` (bare, its defaults) and the same job in torch, interleaved."""
    from minigrad.apps.recipes import RECIPES
    recipe = RECIPES["mnist"]
    nn.manual_seed(0)
    config = dict(layers=describe(get_model(recipe.model)), epochs=recipe.epochs,
                  batch_size=recipe.batch_size, lr=recipe.lr, weight_decay=recipe.weight_decay,
                  mean=recipe.mean[0], std=recipe.std[0], shift=recipe.shift, seed=0)
    print(f"\nwhole `minigrad train` (LeNet-5, bundled MNIST, {recipe.epochs} epochs) and the "
          f"same job in torch; wall s, test accuracy, peak RSS MB")
    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "mnist.npz")
        train_data_file(data)
        for repeat in range(repeats):            # a fresh --out each time: a whole new run
            lines, seconds = run_measured([sys.executable, __file__, "--train-worker",
                                           str(Path(tmp) / f"run{repeat}")], env)
            accuracy = next(line for line in lines if " accuracy " in line).split()[2]
            print(f"  minigrad train: {seconds:5.1f} s  {accuracy:>7}  "
                  f"{json.loads(lines[-1])['peak_mb']:5.0f} MB", flush=True)
            lines, seconds = run_measured(
                [sys.executable, str(TORCH_TWIN), "train", data, json.dumps(config)],
                env)
            reply = json.loads(lines[-1])
            print(f"  torch twin:     {seconds:5.1f} s  {reply['accuracy']:7.2%}  "
                  f"{reply['peak_mb']:5.0f} MB", flush=True)


def profile(name, batch_size, steps=20, top=25):
    """cProfile of minigrad training steps, sorted by time spent inside each function."""
    model, x, y = make_case(name, batch_size, (3, 32, 32) if name == "alexnet_lite"
                            else (1, 28, 28))
    step = minigrad_step(model, x, y)
    step()
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [step() for _ in range(steps)])
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=[name for name, *_ in CASES], action="append",
                        help="only this model (repeatable)")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--peers-python", default=sys.executable,
                        help="the Python that runs DeZero and Chainer (default: this one)")
    parser.add_argument("--machine-env", action="store_true",
                        help="keep the machine's OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (information)")
    parser.add_argument("--malloc-defaults", action="store_true",
                        help="also time minigrad with MINIGRAD_KEEP_FREED_MEMORY=0")
    parser.add_argument("--train", action="store_true",
                        help="also run a whole `minigrad train` and its torch twin")
    parser.add_argument("--profile", choices=["lenet5", "alexnet_lite"],
                        help="profile this model instead of benchmarking")
    parser.add_argument("--batch-size", type=int, default=64, help="with --profile")
    parser.add_argument("--train-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_worker:              # bare `minigrad train`, then this process's peak RSS
        from minigrad.apps.torch_twin import peak_rss_mb
        from minigrad.apps.cli import main as minigrad_main
        code = minigrad_main(["train", "--no-progress", "--out", args.train_worker])
        print(json.dumps({"peak_mb": peak_rss_mb()}))
        raise SystemExit(code)
    if args.profile:
        profile(args.profile, args.batch_size)
        return
    try:
        import torch  # noqa: F401  (only to know whether the torch twin can run)
        have_torch = not args.no_torch
    except ImportError:
        have_torch = False
        print("(torch not installed: minigrad only)")
    env = child_env(args.machine_env)
    overrides = {name: env[name] for name in OPENBLAS_OVERRIDES if name in env}
    print(f"load average {os.getloadavg()[0]:.2f}; OpenBLAS overrides in the engines' "
          f"environment: {overrides or 'none'}; repeats {args.repeats}")
    print(f"{'model':<13}{'batch':>5}{'minigrad img/s':>19}{'torch img/s':>19}"
          f"{'minigrad/torch':>17}{'peak RSS MB':>21}")
    print(f"{'':<18}{'best':>10}{'median':>9}{'best':>10}{'median':>9}"
          f"{'best':>9}{'median':>7}{'minigrad':>11}{'torch':>7}{'ratio':>6}")
    for spec_steps in CASES:
        *spec, steps = spec_steps
        if args.only and spec[0] not in args.only:
            continue
        engines = ["minigrad"] + (["minigrad-malloc-defaults"] if args.malloc_defaults else []) \
            + (["torch"] if have_torch else []) \
            + ([] if args.no_peers else [peer for peer, models in PEERS.items()
                                         if spec[0] in models])
        report_case(spec, *run_case(spec, steps, args.repeats, engines, env, args.peers_python))
    if args.train:
        bench_train_command(max(1, args.repeats // 2), env)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
