"""A learner's own training loop, minigrad against PyTorch: images/s of the loop as anyone writes
it -- model(x), cross_entropy, zero_grad, backward, SGD step -- with no minigrad-specific call
(no `minigrad.kernels`, no allocator settings, nothing `minigrad train` does besides).

    python benchmarks/bench_plain_loop.py                  # LeNet-5 b64, b256, AlexNet-lite b64
    python benchmarks/bench_plain_loop.py --repeats 3 --only lenet5
    python benchmarks/bench_plain_loop.py --count --only lenet5      # ops a step, where it goes

Target (issue #29): the same speed as `minigrad train`'s step (benchmarks/bench_train.py).
The protocol is bench_train.py's: every repeat of every engine in a fresh process of its own,
engines interleaved repeat after repeat, OpenBLAS variables unset (OPENBLAS_CORETYPE,
OPENBLAS_L2_SIZE), default threads; the same weights and the same random batch in both engines
(minigrad.apps.bench.write_case). The torch process is minigrad/apps/torch_twin.py's plain loop.
"""
import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

# the cases' table only: the worker imports nothing else of the harness before its loop
from minigrad.apps.bench import CASES, TORCH_TWIN, write_case


def plain_loop_rate(case_file, steps):
    """The minigrad engine's process: img/s of `steps` steps of a loop a learner writes."""
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
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = minigrad.tensor(case["x"]), case["y"]

    def step():                               # the learner's loop body, nothing else
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return rate_of(step, len(case["x"]), steps)


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
    if engine == "torch":
        return [sys.executable, str(TORCH_TWIN), "jobs", json.dumps([["step", case_file, steps]])]
    return [sys.executable, __file__, "--worker", case_file, str(steps)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=sorted({name for name, *_ in CASES}), action="append")
    parser.add_argument("--count", action="store_true",
                        help="count the ops of one minigrad step and profile it, in this process")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        from minigrad.apps.torch_twin import peak_rss_mb
        rate = plain_loop_rate(args.worker[0], int(args.worker[1]))
        print(json.dumps({"results": [rate], "peak_mb": peak_rss_mb()}))
        return
    from bench_train import child_env, run_measured, summary
    if args.count:
        with tempfile.TemporaryDirectory() as tmp:
            for name, batch_size, image_shape, steps in CASES:
                if not args.only or name in args.only:
                    print(f"\n{name}, batch {batch_size}")
                    write_case(f"{tmp}/case.npz", name, batch_size, image_shape)
                    count_and_profile(f"{tmp}/case.npz")
        return
    env = child_env(machine_env=False)
    print(f"load average {os.getloadavg()[0]:.2f}; repeats {args.repeats}; plain loops")
    print(f"{'model':<13}{'batch':>5}{'minigrad img/s':>19}{'torch img/s':>19}"
          f"{'minigrad/torch':>17}\n{'':<18}{'best':>10}{'median':>9}{'best':>10}{'median':>9}"
          f"{'best':>9}{'median':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, batch_size, image_shape, steps in CASES:
            if args.only and name not in args.only:
                continue
            case_file = str(Path(tmp) / f"{name}-{batch_size}.npz")
            write_case(case_file, name, batch_size, image_shape)
            runs = {"minigrad": [], "torch": []}
            for _ in range(args.repeats):       # interleaved, so that noise hits both alike
                for engine, results in runs.items():
                    lines, _ = run_measured(engine_command(engine, case_file, steps), env)
                    reply = json.loads(lines[-1])
                    results.append((reply["results"][0], reply["peak_mb"]))
            mine, theirs = summary(runs["minigrad"]), summary(runs["torch"])
            print(f"{name:<13}{batch_size:>5}{mine[0]:>10,.0f}{mine[1]:>9,.0f}{theirs[0]:>10,.0f}"
                  f"{theirs[1]:>9,.0f}   {mine[0] / theirs[0]:5.2f}x {mine[1] / theirs[1]:5.2f}x",
                  flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
