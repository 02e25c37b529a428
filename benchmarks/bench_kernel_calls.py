"""Per-call time of the max-pooling kernels (forward and backward apart) and of conv2d
forward+backward at LeNet-5's and AlexNet-lite's shapes, for two source trees of minigrad at once:

    python benchmarks/bench_kernel_calls.py OLD_TREE NEW_TREE [--rounds 5] [--calls 30]
                                            [--only pool|conv]

e.g. OLD_TREE a `git worktree add --detach /tmp/old <commit>` of the commit before a change and
NEW_TREE `.`. Each round runs one fresh process per tree (PYTHONPATH=TREE), the trees
alternating, OpenBLAS's tuning variables unset; a process times each case `--calls` times and
keeps its best. The table gives each tree's best over the rounds and the ratios new/old of the
best and of the median round: on a shared machine, ratios within one run are the figures to
quote, not the milliseconds. (`python benchmarks/bench_kernel_calls.py --one TREE` is one
process's measurement, as JSON.)
"""
import argparse
import json
import os
import subprocess
import sys
import time

POOLS = [("LeNet pool1 2/2", (64, 6, 28, 28), 2, 2), ("LeNet pool2 2/2", (64, 16, 10, 10), 2, 2),
         ("AlexNet-lite pool1 3/2", (64, 64, 32, 32), 3, 2),
         ("AlexNet-lite pool2 3/2", (64, 192, 15, 15), 3, 2),
         ("AlexNet-lite pool3 3/2", (64, 128, 7, 7), 3, 2)]
# name, N, C_in, C_out, H (= W), kernel, padding
CONVS = [("LeNet conv1", 64, 1, 6, 28, 5, 2), ("LeNet conv2", 64, 6, 16, 14, 5, 0),
         ("AlexNet-lite conv1", 64, 3, 64, 32, 5, 2), ("AlexNet-lite conv2", 64, 64, 192, 15, 5, 2),
         ("AlexNet-lite conv5", 64, 256, 128, 7, 3, 1)]


def best_ms(run, calls):
    """The fastest of `calls` calls, in ms, after two warm-up calls."""
    run(), run()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return 1e3 * min(times)


def pool_cases(calls, rng):
    """{case: ms}: each pool's forward kernel, and its backward through the op (whose kernel's
    arguments changed in #29)."""
    import numpy as np
    from minigrad import kernels
    from minigrad.ops.pool import _pool_geometry, max_pool2d
    from minigrad.tensor import Tensor
    results = {}
    for name, shape, k, s in POOLS:
        x = rng.standard_normal(shape).astype(np.float32)
        geometry = _pool_geometry(x, k, s, 0, False, "max_pool2d")
        op = max_pool2d(Tensor(x, requires_grad=True), k, s)._ctx     # keeps what backward needs
        dy = rng.standard_normal(op.x_shape[:2] + geometry[2:4]).astype(np.float32)
        results[f"{name} forward"] = best_ms(lambda: kernels.max_pool2d_forward(x, *geometry),
                                             calls)
        results[f"{name} backward"] = best_ms(lambda: op.backward(dy), calls)
    return results


def conv_cases(calls, rng):
    """{case: ms}: conv2d forward+backward (dx, dW and db) through the op."""
    import numpy as np
    import minigrad as mg
    from minigrad.ops.conv import conv2d
    results = {}
    for name, N, C, OC, H, K, P in CONVS:
        x = rng.standard_normal((N, C, H, H)).astype(np.float32)
        w = (rng.standard_normal((OC, C, K, K)) / np.sqrt(C * K * K)).astype(np.float32)
        b = rng.standard_normal(OC).astype(np.float32)

        def run():
            tensors = [mg.Tensor(a, requires_grad=True) for a in (x, w, b)]
            y = conv2d(*tensors, padding=P)
            y.backward(np.ones(y.shape, dtype=y.dtype))
        results[f"{name} f+b"] = best_ms(run, max(5, calls // 3))
    return results


def measure(only, calls):
    import numpy as np
    rng = np.random.default_rng(0)
    results = {}
    if only in (None, "pool"):
        results.update(pool_cases(calls, rng))
    if only in (None, "conv"):
        results.update(conv_cases(calls, rng))
    return results


def run_tree(tree, args):
    """One fresh process of `tree` -> {case: ms}."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["PYTHONPATH"] = os.path.abspath(tree)
    command = [sys.executable, os.path.abspath(__file__), "--one", "--calls", str(args.calls)] + \
        (["--only", args.only] if args.only else [])
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd="/")
    if done.returncode:
        raise RuntimeError(f"the process of {tree} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", help="OLD_TREE NEW_TREE")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--only", choices=["pool", "conv"])
    parser.add_argument("--one", action="store_true", help="measure the minigrad on sys.path")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.only, args.calls)))
        return
    if len(args.trees) != 2:
        parser.error(f"expected two trees, OLD_TREE NEW_TREE, got {args.trees}")
    rounds = {tree: [] for tree in args.trees}
    for _ in range(args.rounds):                    # interleaved: the load hits both alike
        for tree in args.trees:
            rounds[tree].append(run_tree(tree, args))
    old, new = (rounds[tree] for tree in args.trees)
    print(f"load average {os.getloadavg()[0]:.1f}; best ms of {args.rounds} rounds")
    for case in old[0]:
        best = [min(r[case] for r in runs) for runs in (old, new)]
        median = [sorted(r[case] for r in runs)[len(runs) // 2] for runs in (old, new)]
        print(f"{case:34s} old {best[0]:9.3f}  new {best[1]:9.3f}  new/old best "
              f"{best[1] / best[0]:.2f}x, median {median[1] / median[0]:.2f}x")


if __name__ == "__main__":
    main()
