"""A learner's own training loop, minigrad against PyTorch: images/s of the loop as anyone writes
it -- model(x), cross_entropy, zero_grad, backward, SGD step -- with no minigrad-specific call
(no `minigrad.kernels`, no allocator settings, nothing `minigrad train` does besides).

    python benchmarks/bench_plain_loop.py                  # LeNet-5 b64, b256, AlexNet-lite b64
    python benchmarks/bench_plain_loop.py --repeats 3 --only lenet5
    python benchmarks/bench_plain_loop.py --count --only lenet5      # ops a step, where it goes
    python benchmarks/bench_plain_loop.py --bound relu --bound relu+pool   # what fusion could buy

Target (issue #29): the same speed as `minigrad train`'s step (benchmarks/bench_train.py).
The protocol is bench_train.py's: every repeat of every engine in a fresh process of its own,
engines interleaved repeat after repeat, OpenBLAS variables unset (OPENBLAS_CORETYPE,
OPENBLAS_L2_SIZE), default threads; the same weights and the same random batch in both engines
(minigrad.apps.bench.write_case). The torch process is minigrad/apps/torch_twin.py's plain loop.

`--bound`: an upper bound on what fusing ReLU (and max pooling) into their neighbours could buy
(#29 asks whether bias+ReLU fused into the convolution's output copy, and ReLU+max-pool as one
op, would reach its targets). The same minigrad loop runs, interleaved with the other two, on
the same model with layers swapped in this script (the library is untouched):
- `relu`: every nn.ReLU removed (the convolutions' and the Linear layers'), so the step has no
  ReLU forward, no ReLU backward and no ReLU node. A fused op still computes max(0, y) in a
  copy it makes anyway and still masks the gradient in its backward, so it cannot be cheaper
  than no ReLU at all: the bound's gain is at least fusion's.
- `relu+pool`: the ReLUs removed AND each MaxPool2d replaced by the cheapest op of its output
  shape, x[:, :, :H-K+1:S, :W-K+1:S] (minigrad's getitem: the top-left element of each window,
  a strided view that the next layer copies once; its backward writes dY into zeros of x's
  shape). A fused ReLU+max-pool still has to read the whole convolution output once, find each
  window's max and keep its argmax, and its backward writes the same zeros-and-scatter dX:
  it does at least this op's work, so the bound's gain is at least fusion's. (Not bounded: a
  fusion reaching further, e.g. a convolution's backward reading the pool's sparse dY itself.)
The numbers change (no non-linearity, another sub-sampling), the shapes and the GEMMs do not.
The report gives each variant's img/s, its ratio to torch, and the share of the full step the
removed layers cost (1 - full step's rate / the bound's rate).
"""
import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

# the cases' table only: the worker imports nothing else of the harness before its loop
from minigrad import nn            # already imported by minigrad.apps.bench: costs nothing more
from minigrad.apps.bench import CASES, TORCH_TWIN, write_case

BOUNDS = {"relu": "no ReLU", "relu+pool": "no ReLU, pool"}     # --bound: the rows' labels


def plain_loop_rate(case_file, steps, bound=None):
    """The minigrad engine's process: img/s of `steps` steps of a loop a learner writes, on the
    model or, with `bound`, on the model with the layers of that bound (BOUNDS) swapped."""
    import numpy as np
    import minigrad
    import minigrad.functional as F
    from minigrad import optim
    from minigrad.apps.torch_twin import rate_of
    from minigrad.models import get_model

    case = np.load(case_file)
    model = get_model(str(case["name"]), in_channels=case["x"].shape[1])
    model.load_state_dict({key[len("state."):]: case[key] for key in case.files
                           if key.startswith("state.")})
    if bound:
        swap_layers(model, bound)
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = minigrad.tensor(case["x"]), case["y"]

    def step():                               # the learner's loop body, nothing else
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return rate_of(step, len(case["x"]), steps)


def swap_layers(model, bound):
    """Rebuild each Sequential of `model` without its ReLUs and, for 'relu+pool', with every
    MaxPool2d replaced by WindowCorners (after the weights are loaded: the names shift)."""
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Sequential):
            kept = [WindowCorners(layer) if bound == "relu+pool" and
                    isinstance(layer, nn.MaxPool2d) else layer
                    for layer in child if not isinstance(layer, nn.ReLU)]
            setattr(model, name, nn.Sequential(*kept))


class WindowCorners(nn.Module):
    """A max pool's output shape at the least cost: y = x[:, :, :H-KH+1:SH, :W-KW+1:SW], the
    top-left element of each window (a strided view);  dL/dx = zeros with dL/dy at those."""

    def __init__(self, pool):
        super().__init__()
        if pool.padding or pool.ceil_mode:
            raise ValueError(f"WindowCorners: expected a MaxPool2d without padding or ceil_mode, "
                             f"got {pool!r}")
        self.kernel_size, self.stride = _pair(pool.kernel_size), _pair(pool.stride)

    def forward(self, x):
        (KH, KW), (SH, SW), (H, W) = self.kernel_size, self.stride, x.shape[2:]
        return x[:, :, :H - KH + 1:SH, :W - KW + 1:SW]


def _pair(size):
    return (size, size) if isinstance(size, int) else tuple(size)


def count_and_profile(case_file, steps=30):
    """The ops recorded in one step of the plain loop (Function.apply calls by op), then
    cProfile over `steps` steps with the time inside each function grouped by where it is."""
    import collections
    import cProfile
    import pstats
    from minigrad.function import Function
    plain_loop_rate(case_file, 1)                   # compiles, warms up, and builds the loop
    calls, apply = collections.Counter(), Function.apply.__func__

    def counted(cls, *inputs, **params):
        calls[cls.__name__] += 1
        return apply(cls, *inputs, **params)
    Function.apply = classmethod(counted)
    plain_loop_rate(case_file, 1)                   # two warm-up steps and one timed: 3 steps
    Function.apply = classmethod(apply)
    print(f"Function.apply calls a step: {sum(calls.values()) // 3}, "
          f"{ {name: n // 3 for name, n in calls.items()} }")
    profiler = cProfile.Profile()
    profiler.runcall(plain_loop_rate, case_file, steps)
    places = collections.Counter()
    for (path, _, name), (_, _, inside, _, _) in pstats.Stats(profiler).stats.items():
        places[_place(path, name)] += inside
    for place, seconds in places.most_common():
        print(f"  {place:<52}{1e3 * seconds / (steps + 2):7.2f} ms a step (under cProfile)")


def _place(path, name):
    if path == "~":                                 # C functions: NumPy, locks, builtins
        waiting = "acquire" in name or "put" in name or "wait" in name
        return "waiting on the other thread (locks, queues)" if waiting else "C: NumPy, builtins"
    for part, place in (("minigrad/kernels/", "kernels/ (Numba loops and their Python)"),
                        ("minigrad/ops/", "ops/ (the math, NumPy calls inside)"),
                        ("minigrad/function.py", "engine (function.py, tensor.py)"),
                        ("minigrad/tensor.py", "engine (function.py, tensor.py)"),
                        ("minigrad/nn/", "nn/ (modules)"), ("minigrad/optim/", "optim/")):
        if part in path:
            return place
    return "other Python (NumPy's wrappers, threading, the loop)"


def engine_command(engine, case_file, steps):
    """engine: 'minigrad', 'torch', or a bound's name (minigrad with those layers swapped)."""
    if engine == "torch":
        return [sys.executable, str(TORCH_TWIN), "jobs", json.dumps([["step", case_file, steps]])]
    bound = ["--bound", engine] if engine in BOUNDS else []
    return [sys.executable, __file__, "--worker", case_file, str(steps), *bound]


def measure(engines, case_file, steps, repeats, env):
    """{engine: [(img/s, peak MB) per repeat]}, each run a fresh process, engines interleaved
    repeat after repeat so that noise hits all alike."""
    from bench_train import run_measured
    runs = {engine: [] for engine in engines}
    for _ in range(repeats):
        for engine, results in runs.items():
            lines, _ = run_measured(engine_command(engine, case_file, steps), env)
            reply = json.loads(lines[-1])
            results.append((reply["results"][0], reply["peak_mb"]))
    return runs


def report(name, batch_size, runs):
    """One line (minigrad against torch), or with bounds one row per variant: its img/s, its
    ratio to torch and the share of the full step that the layers it lacks cost."""
    from bench_train import summary
    (mine, mine_median, _), (theirs, theirs_median, _) = summary(runs["minigrad"]), \
        summary(runs["torch"])
    if len(runs) == 2:
        print(f"{name:<13}{batch_size:>5}{mine:>10,.0f}{mine_median:>9,.0f}{theirs:>10,.0f}"
              f"{theirs_median:>9,.0f}   {mine / theirs:5.2f}x {mine_median / theirs_median:5.2f}x",
              flush=True)
        return
    for engine, results in runs.items():
        best, median, _ = summary(results)
        line = (f"{name:<13}{batch_size:>5}  {BOUNDS.get(engine, engine):<15}{best:>9,.0f}"
                f"{median:>9,.0f}{best / theirs:>8.2f}x{median / theirs_median:>6.2f}x")
        if engine in BOUNDS:           # the removed layers' time / the full step's time
            line += f"{1 - mine / best:>8.0%}{1 - mine_median / median:>7.0%}"
        print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=sorted({name for name, *_ in CASES}), action="append")
    parser.add_argument("--count", action="store_true",
                        help="count the ops of one minigrad step and profile it, in this process")
    parser.add_argument("--bound", choices=sorted(BOUNDS), action="append",
                        help="also run minigrad without ReLU ('relu') or without ReLU and with "
                             "max pools as strided slices ('relu+pool'): what fusing them could "
                             "buy at most (repeatable)")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        from minigrad.apps.torch_twin import peak_rss_mb
        rate = plain_loop_rate(args.worker[0], int(args.worker[1]), args.bound and args.bound[0])
        print(json.dumps({"results": [rate], "peak_mb": peak_rss_mb()}))
        return
    from bench_train import child_env
    if args.count:
        with tempfile.TemporaryDirectory() as tmp:
            for name, batch_size, image_shape, steps in CASES:
                if not args.only or name in args.only:
                    print(f"\n{name}, batch {batch_size}")
                    write_case(f"{tmp}/case.npz", name, batch_size, image_shape)
                    count_and_profile(f"{tmp}/case.npz")
        return
    env = child_env(machine_env=False)
    engines = ["minigrad", *dict.fromkeys(args.bound or ()), "torch"]
    print(f"load average {os.getloadavg()[0]:.2f}; repeats {args.repeats}; plain loops")
    if args.bound:
        print(f"{'model':<13}{'batch':>5}  {'minigrad ...':<15}{'img/s':>12}{'/ torch':>14}"
              f"{'removed share':>16}\n{'':<35}{'best':>9}{'median':>9}{'best':>9}"
              f"{'median':>7}{'best':>8}{'median':>7}")
    else:
        print(f"{'model':<13}{'batch':>5}{'minigrad img/s':>19}{'torch img/s':>19}"
              f"{'minigrad/torch':>17}\n{'':<18}{'best':>10}{'median':>9}{'best':>10}"
              f"{'median':>9}{'best':>9}{'median':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, batch_size, image_shape, steps in CASES:
            if args.only and name not in args.only:
                continue
            case_file = str(Path(tmp) / f"{name}-{batch_size}.npz")
            write_case(case_file, name, batch_size, image_shape)
            report(name, batch_size, measure(engines, case_file, steps, args.repeats, env))
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
